#include "EditSession.h"

#include "config/Config.h"

#include <QFile>
#include <QFileInfo>

using lido::config::Config;
using lido::config::ConfigElement;

EditSession::EditSession(QObject* parent) : QObject(parent)
{
    // Writers save by renaming a new file over the old one (Lido's own saves, editors, deploys):
    // the folder is watched too, and the file again after each change.
    quiet_.setSingleShot(true);
    quiet_.setInterval(300);
    connect(&quiet_, &QTimer::timeout, this, &EditSession::check);
    connect(&watcher_, &QFileSystemWatcher::fileChanged, this, [this] { quiet_.start(); });
    connect(&watcher_, &QFileSystemWatcher::directoryChanged, this, [this] { quiet_.start(); });
}

void EditSession::stash(const QString& elementPath, const Edits& edits)
{
    if (elementPath.isEmpty())
        return;
    if (edits.empty())
        stashed_.erase(elementPath);
    else
        stashed_[elementPath] = edits;
}

EditSession::Edits EditSession::take(const QString& elementPath)
{
    auto it = stashed_.find(elementPath);
    if (it == stashed_.end())
        return {};
    Edits edits = std::move(it->second);
    stashed_.erase(it);
    return edits;
}

void EditSession::follow(const QString& file, const std::string& loadedText)
{
    loaded_ = loadedText;
    if (file == file_)
        return;
    stopFollowing();
    file_ = file;
    watcher_.addPath(file);
    watcher_.addPath(QFileInfo(file).absolutePath());
}

void EditSession::stopFollowing()
{
    if (!watcher_.files().isEmpty())
        watcher_.removePaths(watcher_.files());
    if (!watcher_.directories().isEmpty())
        watcher_.removePaths(watcher_.directories());
    file_.clear();
    quiet_.stop();
}

void EditSession::check()
{
    if (file_.isEmpty())
        return;
    if (!watcher_.files().contains(file_))
        watcher_.addPath(file_); // renamed over: the new file
    QFile f(file_);
    if (!f.open(QIODevice::ReadOnly))
        return; // between a writer's unlink and rename, or gone: the next change says more
    QByteArray text = f.readAll();
    if (text.toStdString() != loaded_)
        emit changedOnDisk();
}

namespace {

const ConfigElement* byPath(const ConfigElement& e, const std::string& path)
{
    if (e.path == path)
        return &e;
    for (const ConfigElement& c : e.children) // the whole tree: asked only when the file changed under edits
        if (const ConfigElement* found = byPath(c, path))
            return found;
    return nullptr;
}

} // namespace

QStringList EditSession::conflicts(const Config& before, const Config& after, const std::map<QString, Edits>& pending)
{
    QStringList out;
    for (const auto& [path, edits] : pending) {
        const ConfigElement* was = byPath(before.root(), path.toStdString());
        const ConfigElement* now = byPath(after.root(), path.toStdString());
        for (const auto& [attribute, value] : edits) {
            std::string name = attribute.toStdString();
            const std::string* old = was ? was->find(name) : nullptr;
            const std::string* fresh = now ? now->find(name) : nullptr;
            if (!now)
                out << tr("%1 was removed on disk (your %2=%3 has nowhere to go)").arg(path, attribute, value);
            else if ((old == nullptr) != (fresh == nullptr) || (old && *old != *fresh))
                out << tr("%1 of %2 changed on disk from %3 to %4 (yours: %5)")
                           .arg(attribute, path, old ? QString::fromStdString(*old) : tr("(not set)"),
                                fresh ? QString::fromStdString(*fresh) : tr("(not set)"), value);
        }
    }
    return out;
}
