#pragma once
// The tray: an icon whose colour tells the overall health of every connected server (green: every
// pool and site serving; amber: something stopped on purpose; red: a pool stopped by rapid-fail
// protection, a site that cannot bind, or a server that cannot be reached), a summary as tooltip,
// a menu with each pool's state and Start / Stop / Recycle (with several servers, a submenu per
// server, then per pool), Open console, Pause notifications, Quit; a notification, with the reason,
// when a pool is stopped by rapid-fail protection, a site fails to bind or a server becomes
// unreachable; it names the server, and clicking it opens that pool.
#include "Health.h"

#include <QObject>
#include <QString>
#include <QStringList>
#include <cstdint>
#include <map>
#include <vector>

class EngineClient;
class ServerList;
class QMenu;
class QAction;
class QSystemTrayIcon;

class Tray : public QObject {
    Q_OBJECT
public:
    using Health = ::Health;
    Tray(EngineClient* client, QObject* parent = nullptr); // this machine only
    Tray(ServerList* servers, QObject* parent = nullptr);
    ~Tray() override;

    // False where no tray host runs: the console then says so and behaves as a normal window.
    bool available() const;
    Health health() const { return health_; }
    QString summary() const { return summary_; }
    QMenu* menu() const { return menu_; }
    QSystemTrayIcon* icon() const { return icon_; }
    QAction* pauseAction() const { return pause_; }
    QAction* poolAction(const QString& pool, const QString& verb) const { return poolAction(0, pool, verb); } // verb: Start, Stop, Recycle
    QAction* poolAction(int server, const QString& pool, const QString& verb) const;
    QMenu* serverMenu(int server) const; // with several servers: its submenu
    // Browse entries in each pool's submenu: its applications' URLs (from the configuration).
    void setBrowseUrls(int server, const std::map<QString, QStringList>& urls);

signals:
    void openConsole(const QString& pool); // this machine's; empty: just the window
    void openServer(int server, const QString& pool);
    void quitRequested();
    void notified(const QString& title, const QString& message, const QString& pool);

private:
    void init();
    void update();
    void rebuildServers();
    // A server's pool submenus are made when its menu opens (or poolAction asks), and kept live
    // while it is open: a thousand pools cost nothing until somebody looks.
    void populate(int server);
    QMenu* poolMenu(int server, const QString& pool) const;

    ServerList* servers_;
    QSystemTrayIcon* icon_;
    QMenu* menu_;
    QAction* pause_;
    QAction* firstFixed_ = nullptr; // the first entry after the pools
    QStringList layout_; // the servers the menu was built for
    struct ServerMenu {
        QMenu* menu = nullptr; // the server's submenu, or the tray menu itself with one server
        QAction* state = nullptr;
        QStringList pools;
        std::map<QString, QMenu*> poolMenus;
    };
    std::vector<ServerMenu> menus_;
    Health health_ = Health::Healthy;
    QString summary_;
    int lastNotifiedServer_ = 0;
    QString lastNotifiedPool_;
    struct Seen {
        uint64_t lastSeq = 0;
        bool firstSnapshot = false;
        bool unreachable = false;
    };
    std::map<const EngineClient*, Seen> seen_;
    std::map<int, std::map<QString, QStringList>> browse_;
};
