#pragma once
// The Connections dock (IIS Manager's Connections pane): this machine first, then the servers
// added with File → Connect to server…, each with its health icon (the tray's colour rule), its
// summary line, and whether it can be reached (with ssh's own words when not). Double-click (or
// Open) opens the server's console window; Remove forgets a server.
#include <QDockWidget>

class ServerList;
class QTreeWidget;

class ConnectionsDock : public QDockWidget {
    Q_OBJECT
public:
    // current: the server the window shows (drawn in bold).
    ConnectionsDock(ServerList* servers, int current, QWidget* parent = nullptr);
    QTreeWidget* list() const { return list_; }
    // Each row's text is "NAME\nSTATE"; the state line alone, under this role.
    static constexpr int StateRole = Qt::UserRole + 1;

signals:
    void openRequested(int server);
    void connectRequested();

private:
    void fill();
    void update(int server);

    ServerList* servers_;
    QTreeWidget* list_;
    int current_;
};

// File → Connect to server…: asks for [user@]host[:port] and adds it; the index, or -1.
int askAndConnect(ServerList* servers, QWidget* parent);
