#pragma once
// What IIS Manager shows as a site's feature pages: the system.webServer settings in effect for a
// site, an application or a path, each with where it comes from (server, location path='', site,
// application, path), from config::effectiveSettings. Read-only; edits go to where a setting is
// written, in the configuration tree.
#include <QWidget>
#include <memory>
#include <string>

class QLabel;
class QTreeWidget;

namespace lido::config {
class Config;
struct ConfigElement;
}

class EffectiveView : public QWidget {
    Q_OBJECT
public:
    explicit EffectiveView(QWidget* parent = nullptr);
    // For the element selected in the configuration tree: a site, an application, a location,
    // or anything else (the server's own settings).
    void showFor(const std::shared_ptr<const lido::config::Config>& config, const lido::config::ConfigElement* element,
                 const lido::config::ConfigElement* site);
    QTreeWidget* tree() const { return tree_; }
    QLabel* title() const { return title_; }
    std::string site() const { return site_; }
    std::string urlPath() const { return url_; }

private:
    QLabel* title_;
    QTreeWidget* tree_;
    std::string site_, url_;
};
