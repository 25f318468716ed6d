#pragma once
// The tray: an icon whose colour tells the overall health (green: every pool and site serving;
// amber: something stopped on purpose; red: a pool stopped by rapid-fail protection or a site that
// cannot bind), a one-line summary as tooltip, a menu with each pool's state and Start / Stop /
// Recycle, Open console, Pause notifications, Quit; a notification, with the reason, when a pool is
// stopped by rapid-fail protection or a site fails to bind (clicking it opens that pool).
#include <QObject>
#include <QString>
#include <cstdint>

class EngineClient;
class QMenu;
class QAction;
class QSystemTrayIcon;

class Tray : public QObject {
    Q_OBJECT
public:
    enum class Health { Healthy, Degraded, Failed };
    Tray(EngineClient* client, QObject* parent = nullptr);
    ~Tray() override;

    // False where no tray host runs: the console then says so and behaves as a normal window.
    bool available() const;
    Health health() const { return health_; }
    QString summary() const { return summary_; }
    QMenu* menu() const { return menu_; }
    QSystemTrayIcon* icon() const { return icon_; }
    QAction* pauseAction() const { return pause_; }
    QAction* poolAction(const QString& pool, const QString& verb) const; // verb: Start, Stop, Recycle

signals:
    void openConsole(const QString& pool); // empty: just the window
    void quitRequested();
    void notified(const QString& title, const QString& message, const QString& pool);

private:
    void update();
    void rebuildMenu(const QStringList& pools);

    EngineClient* client_;
    QSystemTrayIcon* icon_;
    QMenu* menu_;
    QAction* pause_;
    QAction* firstFixed_ = nullptr; // the first entry after the pools
    QStringList pools_;
    Health health_ = Health::Healthy;
    QString summary_;
    QString lastNotifiedPool_;
    uint64_t lastSeq_ = 0;
    bool seenFirstSnapshot_ = false;
};
