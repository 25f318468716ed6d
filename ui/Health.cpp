#include "Health.h"

#include <QApplication>
#include <QObject>
#include <QPainter>
#include <QPixmap>

ServerHealth healthOf(const lido::engine::Snapshot& snap)
{
    ServerHealth h;
    // One entry per application pool (a pool may run several FastCGI applications, or none).
    for (const auto& c : snap.cgi)
        h.poolStates.emplace(QString::fromStdString(c.pool), PoolState{!c.stopped, false, QString::fromStdString(c.stoppedReason)});
    for (const auto& p : snap.fastcgi) {
        PoolState& entry = h.poolStates.emplace(QString::fromStdString(p.pool), PoolState{}).first->second;
        if (!p.running) {
            entry.running = false;
            entry.reason = QString::fromStdString(p.stoppedReason);
        }
    }
    for (auto& [name, state] : h.poolStates) {
        state.rapidFail = !state.running && state.reason.contains("rapid-fail");
        h.poolsFailed += state.rapidFail;
        if (state.rapidFail)
            h.failedPools << name;
        h.poolsStopped += !state.running && !state.rapidFail;
        h.poolsStarted += state.running;
    }
    h.pools = int(h.poolStates.size());
    for (const auto& s : snap.sites) {
        bool failed = s.state.rfind("Failed", 0) == 0;
        h.sitesServing += s.started;
        h.sitesFailed += failed;
        h.sitesStopped += !s.started && !failed;
        h.requestsPerSecond += s.requestsPerSecond;
    }
    h.sites = int(snap.sites.size());
    h.health = h.poolsFailed || h.sitesFailed ? Health::Failed : h.poolsStopped || h.sitesStopped ? Health::Degraded : Health::Healthy;
    return h;
}

QString ServerHealth::summary() const
{
    return QObject::tr("%1 of %2 sites serving, %3 of %4 pools started%5, %6 req/s")
        .arg(sitesServing)
        .arg(sites)
        .arg(poolsStarted)
        .arg(pools)
        .arg(poolsFailed ? QObject::tr(" (%1 stopped by rapid-fail protection)").arg(failedPools.join(", ")) : QString())
        .arg(requestsPerSecond, 0, 'f', 0);
}

namespace {

QIcon paintedHealthIcon(Health h)
{
    QColor fill = h == Health::Healthy ? QColor(46, 160, 67) : h == Health::Degraded ? QColor(219, 154, 4) : QColor(207, 34, 46);
    QPixmap pm(64, 64);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    p.setBrush(fill);
    p.setPen(QPen(fill.darker(150), 4));
    p.drawEllipse(QRectF(6, 6, 52, 52));
    p.setPen(QPen(Qt::white, 7, Qt::SolidLine, Qt::RoundCap));
    if (h == Health::Healthy) {
        p.drawLine(QPointF(20, 33), QPointF(29, 42));
        p.drawLine(QPointF(29, 42), QPointF(45, 23));
    } else if (h == Health::Degraded) {
        p.drawLine(QPointF(32, 18), QPointF(32, 36));
        p.drawPoint(QPointF(32, 46));
    } else { // a cross, so that failed differs from degraded by more than its colour
        p.drawLine(QPointF(22, 22), QPointF(42, 42));
        p.drawLine(QPointF(42, 22), QPointF(22, 42));
    }
    return QIcon(pm);
}

} // namespace

QIcon healthIcon(Health h)
{
    // Looked up once: a theme lookup per row and second costs more than the rest of an update.
    static const QIcon icons[3] = {QIcon::fromTheme("lido-healthy", paintedHealthIcon(Health::Healthy)),
                                   QIcon::fromTheme("lido-degraded", paintedHealthIcon(Health::Degraded)),
                                   QIcon::fromTheme("lido-failed", paintedHealthIcon(Health::Failed))};
    return icons[static_cast<int>(h)];
}

QIcon styleIcon(QStyle::StandardPixmap which)
{
    static std::map<int, QIcon> cache;
    auto it = cache.find(int(which));
    if (it == cache.end())
        it = cache.emplace(int(which), QApplication::style()->standardIcon(which)).first;
    return it->second;
}
