#include "ServerWindows.h"

#include "MainWindow.h"
#include "ServerList.h"
#include "Tray.h"

ServerWindows::ServerWindows(ServerList* servers, MainWindow* main, QObject* parent) : QObject(parent), servers_(servers), main_(main)
{
    connect(main_, &MainWindow::serverRequested, this, [this](int server, const QString& pool) { open(server, pool); });
    // A server removed from the list takes its window with it (before its client goes).
    connect(servers_, &ServerList::removed, this, [this](int) {
        for (auto it = windows_.begin(); it != windows_.end();)
            if (servers_->indexOf(it->first) < 0) {
                delete it->second.data();
                it = windows_.erase(it);
            } else {
                ++it;
            }
    });
}

ServerWindows::~ServerWindows()
{
    for (auto& [client, window] : windows_)
        delete window.data();
}

MainWindow* ServerWindows::windowOf(int server) const
{
    if (server == 0)
        return main_;
    auto it = server > 0 && server < servers_->count() ? windows_.find(servers_->at(server).client) : windows_.end();
    return it == windows_.end() ? nullptr : it->second.data();
}

MainWindow* ServerWindows::open(int server, const QString& pool)
{
    if (server < 0 || server >= servers_->count())
        return nullptr;
    MainWindow* w = windowOf(server);
    if (!w) {
        const ServerList::Server& s = servers_->at(server);
        w = new MainWindow(s.client, servers_);
        w->setAttribute(Qt::WA_DeleteOnClose);
        w->showRunningConfigurationOf(s.name);
        connect(w, &MainWindow::serverRequested, this, [this](int other, const QString& p) { open(other, p); });
        windows_[s.client] = w;
    }
    if (!pool.isEmpty())
        w->showPool(pool);
    w->show();
    w->raise();
    w->activateWindow();
    return w;
}

void ServerWindows::setTray(Tray* tray)
{
    connect(tray, &Tray::openServer, this, [this](int server, const QString& pool) {
        if (server > 0)
            open(server, pool);
    });
}
