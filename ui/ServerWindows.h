#pragma once
// One console window per server, as virt-manager opens one per machine: this machine's is the main
// window; another server's opens on demand (Connections dock, Servers overview, tray) and shows its
// pools, sites, requests and events live, with its running configuration read-only.
#include <QObject>
#include <QPointer>
#include <map>

class EngineClient;
class MainWindow;
class ServerList;
class Tray;

class ServerWindows : public QObject {
    Q_OBJECT
public:
    ServerWindows(ServerList* servers, MainWindow* main, QObject* parent = nullptr);
    ~ServerWindows() override;
    // The server's window, shown and raised (on that pool when given); opened if need be.
    MainWindow* open(int server, const QString& pool = {});
    MainWindow* windowOf(int server) const;
    void setTray(Tray* tray);

private:
    ServerList* servers_;
    MainWindow* main_;
    std::map<const EngineClient*, QPointer<MainWindow>> windows_;
};
