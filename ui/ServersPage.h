#pragma once
// The Servers overview: one row per connected server with its sites serving, pools started /
// stopped / failed, requests/s, 5xx/s, the running configuration's version (a hash of its text)
// and its last error event. A server whose configuration differs from the others' is marked.
// "Compare configurations…" opens Export changes on two servers' running configurations.
#include <QWidget>

class ServerList;
class QTableWidget;
class QPushButton;
class ChangesDialog;

class ServersPage : public QWidget {
    Q_OBJECT
public:
    explicit ServersPage(ServerList* servers, QWidget* parent = nullptr);
    QTableWidget* table() const { return table_; }
    // Export changes between the running configurations of servers a and b (shown, not modal).
    ChangesDialog* compare(int a, int b);

    enum Column { Server, Link, Sites, Pools, Rps, Errors, Version, LastError, Columns };

signals:
    void openRequested(int server);

private:
    void fill();
    void update(int i);

    ServerList* servers_;
    QTableWidget* table_;
    QPushButton* compare_;
};
