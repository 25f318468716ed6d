#pragma once
// The host at a glance, left of every page: Sites (→ applications → virtual directories) and
// Application Pools (→ their FastCGI process pools and the CGI handler), each item with a state
// icon and a tooltip that says why. Activating an item shows it on its page.
#include <QTreeWidget>
#include <memory>

class EngineClient;

namespace lido::config {
class Config;
}

class HostTree : public QTreeWidget {
    Q_OBJECT
public:
    HostTree(EngineClient* client, QWidget* parent = nullptr);
    void setConfig(std::shared_ptr<const lido::config::Config> config);
    QTreeWidgetItem* poolItem(const QString& name) const;
    QTreeWidgetItem* siteItem(const QString& name) const;

signals:
    void poolActivated(const QString& name);
    void siteActivated(const QString& name);

private:
    void refresh();
    EngineClient* client_;
    QTreeWidgetItem* sites_ = nullptr;
    QTreeWidgetItem* pools_ = nullptr;
};
