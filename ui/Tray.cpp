#include "Tray.h"

#include "EngineClient.h"

#include <QAction>
#include <QFontMetrics>
#include <QMenu>
#include <QPainter>
#include <QPixmap>
#include <QSystemTrayIcon>

namespace {

QIcon paintedHealthIcon(Tray::Health h)
{
    QColor fill = h == Tray::Health::Healthy ? QColor(46, 160, 67) : h == Tray::Health::Degraded ? QColor(219, 154, 4) : QColor(207, 34, 46);
    QPixmap pm(64, 64);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setBrush(fill);
    p.setPen(QPen(fill.darker(150), 4));
    p.drawEllipse(QRectF(6, 6, 52, 52));
    p.setPen(QPen(Qt::white, 7, Qt::SolidLine, Qt::RoundCap));
    if (h == Tray::Health::Healthy) {
        p.drawLine(QPointF(20, 33), QPointF(29, 42));
        p.drawLine(QPointF(29, 42), QPointF(45, 23));
    } else if (h == Tray::Health::Degraded) {
        p.drawLine(QPointF(32, 18), QPointF(32, 36));
        p.drawPoint(QPointF(32, 46));
    } else { // a cross, so that failed differs from degraded by more than its colour
        p.drawLine(QPointF(22, 22), QPointF(42, 42));
        p.drawLine(QPointF(42, 22), QPointF(22, 42));
    }
    return QIcon(pm);
}

// The installed theme's icons (hicolor/scalable/status/lido-*.svg, from the lido-console
// package) when there are, else the same drawn here.
QIcon healthIcon(Tray::Health h)
{
    const char* name = h == Tray::Health::Healthy ? "lido-healthy" : h == Tray::Health::Degraded ? "lido-degraded" : "lido-failed";
    return QIcon::fromTheme(QString::fromLatin1(name), paintedHealthIcon(h));
}

} // namespace

Tray::Tray(EngineClient* client, QObject* parent)
    : QObject(parent), client_(client), icon_(new QSystemTrayIcon(this)), menu_(new QMenu), pause_(new QAction(tr("Pause notifications"), this))
{
    menu_->setObjectName("trayMenu");
    pause_->setCheckable(true);
    firstFixed_ = menu_->addSeparator();
    menu_->addAction(tr("Open console"), this, [this] { emit openConsole({}); });
    menu_->addAction(pause_);
    menu_->addAction(tr("Quit Lido"), this, &Tray::quitRequested);
    icon_->setContextMenu(menu_);
    icon_->setIcon(healthIcon(health_));
    icon_->setToolTip(tr("Lido"));
    connect(icon_, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason r) {
        if (r == QSystemTrayIcon::Trigger || r == QSystemTrayIcon::DoubleClick)
            emit openConsole({});
    });
    connect(icon_, &QSystemTrayIcon::messageClicked, this, [this] { emit openConsole(lastNotifiedPool_); });
    connect(client_, &EngineClient::snapshotReady, this, &Tray::update);
    if (available())
        icon_->show();
    update();
}

Tray::~Tray() { delete menu_; }

bool Tray::available() const { return QSystemTrayIcon::isSystemTrayAvailable(); }

QAction* Tray::poolAction(const QString& pool, const QString& verb) const
{
    for (QAction* a : menu_->actions())
        if (a->menu() && a->data().toString() == pool)
            for (QAction* sub : a->menu()->actions())
                if (sub->data().toString() == verb)
                    return sub;
    return nullptr;
}

void Tray::rebuildMenu(const QStringList& pools)
{
    for (QAction* a : menu_->actions())
        if (a->menu()) {
            menu_->removeAction(a);
            a->menu()->deleteLater();
        }
    for (const QString& name : pools) {
        auto* sub = new QMenu(name, menu_);
        sub->menuAction()->setData(name);
        sub->setToolTipsVisible(true);
        QAction* reason = sub->addAction(QString()); // why it is stopped (elided; whole in its tooltip), hidden while it runs
        reason->setData(QString("Reason"));
        reason->setEnabled(false);
        reason->setVisible(false);
        for (const char* verb : {"Start", "Stop", "Recycle"}) {
            QAction* a = sub->addAction(tr(verb));
            a->setData(QString(verb));
            lido::engine::PoolAction action = QString(verb) == "Start"  ? lido::engine::PoolAction::Start
                                              : QString(verb) == "Stop" ? lido::engine::PoolAction::Stop
                                                                        : lido::engine::PoolAction::Recycle;
            connect(a, &QAction::triggered, this, [this, name, action] { client_->controlPool(name, action); });
        }
        menu_->insertMenu(firstFixed_, sub);
    }
    pools_ = pools;
}

void Tray::update()
{
    auto snap = client_->snapshot();
    // One entry per application pool (a pool may run several FastCGI applications, or none).
    std::map<QString, std::pair<bool, QString>> pools; // name -> running, reason
    for (const auto& c : snap.cgi)
        pools.emplace(QString::fromStdString(c.pool), std::make_pair(!c.stopped, QString::fromStdString(c.stoppedReason)));
    for (const auto& p : snap.fastcgi) {
        auto& entry = pools.emplace(QString::fromStdString(p.pool), std::make_pair(true, QString())).first->second;
        if (!p.running) {
            entry.first = false;
            entry.second = QString::fromStdString(p.stoppedReason);
        }
    }
    QStringList names;
    for (const auto& [name, state] : pools)
        names << name;
    if (names != pools_)
        rebuildMenu(names);
    int stopped = 0, failed = 0, started = 0;
    QStringList failedNames;
    for (const auto& [name, state] : pools) {
        bool rapid = state.second.contains("rapid-fail");
        failed += rapid;
        if (rapid)
            failedNames << name;
        stopped += !state.first && !rapid;
        started += state.first;
        for (QAction* a : menu_->actions())
            if (a->menu() && a->data().toString() == name) {
                a->menu()->setTitle(name + " — " + (state.first ? tr("Started") : rapid ? tr("Stopped by rapid-fail protection") : tr("Stopped")));
                a->menu()->setIcon(healthIcon(state.first ? Health::Healthy : rapid ? Health::Failed : Health::Degraded));
                for (QAction* sub : a->menu()->actions()) {
                    if (sub->data().toString() == "Reason") {
                        sub->setVisible(!state.first && !state.second.isEmpty());
                        sub->setText(QFontMetrics(a->menu()->font()).elidedText(state.second, Qt::ElideRight, 420));
                        sub->setToolTip(state.second);
                        continue;
                    }
                    sub->setEnabled(sub->data().toString() == "Start" ? !state.first : state.first);
                }
            }
    }
    int sitesUp = 0, sitesFailed = 0, sitesStopped = 0;
    double rps = 0;
    for (const auto& s : snap.sites) {
        sitesUp += s.started;
        sitesFailed += s.state.rfind("Failed", 0) == 0;
        sitesStopped += !s.started && s.state.rfind("Failed", 0) != 0;
        rps += s.requestsPerSecond;
    }
    health_ = failed || sitesFailed ? Health::Failed : stopped || sitesStopped ? Health::Degraded : Health::Healthy;
    summary_ = tr("Lido: %1 of %2 sites serving, %3 of %4 pools started%5, %6 req/s")
                   .arg(sitesUp)
                   .arg(snap.sites.size())
                   .arg(started)
                   .arg(pools.size())
                   .arg(failed ? tr(" (%1 stopped by rapid-fail protection)").arg(failedNames.join(", ")) : QString())
                   .arg(rps, 0, 'f', 0);
    icon_->setIcon(healthIcon(health_));
    icon_->setToolTip(summary_);

    // Notifications for what needs a person: rapid-fail stops and sites that cannot bind.
    auto events = client_->eventsSince(lastSeq_);
    for (const auto& e : events) {
        lastSeq_ = e.seq;
        QString title, pool;
        if (e.code == "pool.rapid-fail") {
            pool = QString::fromStdString(e.source).section(' ', 1, 1);
            title = tr("Pool %1 stopped").arg(pool);
        } else if (e.code == "site.bind-failed") {
            title = tr("A site cannot serve");
        } else if (e.code == "tls.certificate-expiring" || e.code == "tls.certificate-expired") {
            title = e.code == "tls.certificate-expired" ? tr("A certificate has expired") : tr("A certificate expires soon");
        } else {
            continue;
        }
        QString message = QString::fromStdString(e.message);
        // What happened before the console started is in the Events dock; a certificate's expiry
        // is told once, at the engine's start, and is still worth a notification then.
        bool certificate = e.code.rfind("tls.certificate-", 0) == 0;
        if (pause_->isChecked() || (!seenFirstSnapshot_ && !certificate))
            continue;
        lastNotifiedPool_ = pool;
        if (available())
            icon_->showMessage(title, message, QSystemTrayIcon::Critical, 15000);
        emit notified(title, message, pool);
    }
    seenFirstSnapshot_ = true;
}
