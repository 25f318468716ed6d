#pragma once
// What the Configuration page keeps between the elements it shows and the file on disk:
// - the pending edits of every element, not only the one shown (moving to another element keeps
//   them; Apply saves them all at once; leaving asks first);
// - the file followed on disk: a change made by somebody else (lidoctl, an editor, a deploy)
//   is reported once it has been quiet for a moment, so that the page shows what the engine
//   now runs, with the pending edits kept on top and the attributes changed under them named.
#include <QFileSystemWatcher>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lido::config {
class Config;
}

class EditSession : public QObject {
    Q_OBJECT
public:
    using Edits = std::vector<std::pair<QString, QString>>; // (attribute, value)
    explicit EditSession(QObject* parent = nullptr);

    // An element's pending edits while another one is shown (empty: none).
    void stash(const QString& elementPath, const Edits& edits);
    Edits take(const QString& elementPath);
    const std::map<QString, Edits>& stashed() const { return stashed_; }
    void clear() { stashed_.clear(); }

    // Follows FILE: changedOnDisk() once its text differs from the text last loaded.
    void follow(const QString& file, const std::string& loadedText);
    void stopFollowing();
    void setLoaded(const std::string& text) { loaded_ = text; }

    // The pending edits whose attribute the file changed under them: "queueLength of
    // applicationPools/add[@name='php'] changed on disk from 1000 to 2000 (yours: 500)".
    static QStringList conflicts(const lido::config::Config& before, const lido::config::Config& after,
                                 const std::map<QString, Edits>& pending);

signals:
    void changedOnDisk();

private:
    void check();
    std::map<QString, Edits> stashed_;
    QFileSystemWatcher watcher_;
    QTimer quiet_;
    QString file_;
    std::string loaded_;
};
