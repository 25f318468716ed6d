#include "PoolsModel.h"
#include "Health.h"

#include <QApplication>
#include <QColor>
#include <QStyle>
#include <cmath>
#include <unordered_map>

PoolsModel::PoolsModel(QObject* parent) : QAbstractTableModel(parent) {}

PoolsModel::Row PoolsModel::named(const QString& name)
{
    Row r;
    r.name = name;
    return r;
}

void PoolsModel::setPools(const QStringList& names)
{
    beginResetModel();
    rows_.clear();
    for (const QString& n : names)
        rows_.push_back(named(n));
    endResetModel();
}

void PoolsModel::setSnapshot(const lido::engine::Snapshot& s)
{
    // One pass over the snapshot into a table by name, then one pass over the rows: with 1,000
    // pools a rows-by-pools scan (and its string conversions) cost a fifth of a core at 1 Hz.
    std::unordered_map<std::string, Row> byName;
    for (const auto& p : s.fastcgi) {
        Row& fresh = byName[p.pool];
        fresh.hasFastCgi = true;
        fresh.running = fresh.running && p.running;
        if (!p.running)
            fresh.reason = QString::fromStdString(p.stoppedReason);
        if (!p.advice.empty())
            fresh.advice = QString::fromStdString(p.advice);
        if (p.running && p.retryInSeconds > 0) {
            fresh.retryIn = std::max(fresh.retryIn, p.retryInSeconds);
            fresh.failedStarts = std::max(fresh.failedStarts, p.failedStarts);
        }
        if (!p.identity.empty())
            fresh.identity = QString::fromStdString(p.identity);
        fresh.busy += p.busy;
        fresh.idle += p.idle;
        fresh.total += p.starting + p.idle + p.busy + p.draining;
        fresh.queued += p.queued;
        fresh.perSecond += p.requestsPerSecond;
        if (p.latencyRequests > 0) {
            fresh.p99 = std::max(fresh.p99, p.p99Ms);
            fresh.latencyRequests += p.latencyRequests;
        }
        fresh.failures += p.crashes + p.timeouts + p.queueFull + p.protocolErrors + p.stderrFailures + p.pingFailures;
    }
    for (const auto& c : s.cgi) {
        Row& fresh = byName[c.pool];
        fresh.cgiRunning = c.running;
        if (!c.identity.empty())
            fresh.identity = QString::fromStdString(c.identity);
        fresh.cgiQueued = c.queued;
        if (c.stopped) { // the application pool itself (lidoctl stop pool): every application answers 503
            fresh.running = false;
            if (!c.stoppedReason.empty())
                fresh.reason = QString::fromStdString(c.stoppedReason);
        }
        fresh.failures += c.misbehaving + c.timeouts + c.rejected + c.spawnFailures;
    }
    for (Row& r : rows_) {
        auto it = byName.find(r.name.toStdString());
        Row kept = std::move(r); // name, details and recent figures are not the snapshot's
        r = it == byName.end() ? Row{} : std::move(it->second);
        r.name = std::move(kept.name);
        r.details = std::move(kept.details);
        r.failures5m = kept.failures5m;
        r.lastEvent = std::move(kept.lastEvent);
    }
    if (!rows_.empty())
        emit dataChanged(index(0, 0), index(static_cast<int>(rows_.size()) - 1, ColumnCount - 1));
}

void PoolsModel::setDetails(const std::map<QString, Details>& details)
{
    for (Row& r : rows_)
        if (auto it = details.find(r.name); it != details.end())
            r.details = it->second;
    if (!rows_.empty())
        emit dataChanged(index(0, Identity), index(static_cast<int>(rows_.size()) - 1, Applications));
}

void PoolsModel::setRecent(const QString& pool, uint64_t failures5m, const QString& lastEvent)
{
    for (size_t i = 0; i < rows_.size(); ++i)
        if (rows_[i].name == pool) {
            rows_[i].failures5m = failures5m;
            if (!lastEvent.isEmpty())
                rows_[i].lastEvent = lastEvent;
            emit dataChanged(index(static_cast<int>(i), Failures5m), index(static_cast<int>(i), LastEvent));
        }
}

uint64_t PoolsModel::failures(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].failures : 0;
}

PoolsModel::Load PoolsModel::load(int row) const
{
    if (row < 0 || row >= static_cast<int>(rows_.size()))
        return {};
    const Row& r = rows_[static_cast<size_t>(row)];
    return Load{r.perSecond, static_cast<double>(r.busy + r.cgiRunning), static_cast<double>(r.queued + r.cgiQueued),
                static_cast<double>(r.total + r.cgiRunning), r.latencyRequests > 0 ? r.p99 : 0.0};
}

QString PoolsModel::poolName(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].name : QString();
}

QString PoolsModel::advice(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].advice : QString();
}

QStringList PoolsModel::urls(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].details.urls : QStringList();
}

QString PoolsModel::stoppedReason(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].reason : QString();
}

bool PoolsModel::running(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) && rows_[static_cast<size_t>(row)].running;
}

int PoolsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int PoolsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant PoolsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= static_cast<int>(rows_.size()))
        return {};
    const Row& r = rows_[static_cast<size_t>(index.row())];
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name: return r.name;
        case State:
            if (!r.running)
                return tr("Stopped: %1").arg(r.reason);
            if (r.retryIn > 0) // Supervisor's BACKOFF: the administrator sees the pool trying
                return tr("Failing to start, retrying in %1 s (%2)")
                    .arg(std::max(1, static_cast<int>(std::ceil(r.retryIn))))
                    .arg(r.failedStarts == 1 ? tr("1 failed start in a row") : tr("%1 failed starts in a row").arg(r.failedStarts));
            return r.advice.isEmpty() ? tr("Started") : tr("Started; warning: %1").arg(r.advice);
        case Instances: return r.hasFastCgi ? tr("%1 busy / %2 idle / %3").arg(r.busy).arg(r.idle).arg(r.total) : QString("-");
        case Queue: return r.queued + r.cgiQueued;
        case RequestsPerSecond: return QString::number(r.perSecond, 'f', 0);
        case P99: return r.hasFastCgi && r.latencyRequests > 0 ? QString::number(r.p99, 'f', 1) : QString("-"); // no request: no p99
        case Failures: return QVariant::fromValue<qulonglong>(r.failures);
        case Cgi: return tr("%1 running").arg(r.cgiRunning);
        case Failures5m: return QVariant::fromValue<qulonglong>(r.failures5m);
        case Identity: return r.identity.isEmpty() ? r.details.identity : r.identity;
        case Applications: return r.details.applications;
        case LastEvent: return r.lastEvent;
        }
    }
    if (role == Qt::DecorationRole && index.column() == Name)
        return styleIcon(!r.running           ? QStyle::SP_MessageBoxCritical
                                                   : !r.advice.isEmpty() ? QStyle::SP_MessageBoxWarning
                                                                         : QStyle::SP_DialogApplyButton);
    if (role == Qt::ToolTipRole)
        return !r.running ? r.reason : !r.advice.isEmpty() ? r.advice : r.name;
    if (role == Qt::ForegroundRole && index.column() == State && !r.running)
        return QColor(176, 0, 32);
    if (role == Qt::ForegroundRole && index.column() == State && !r.advice.isEmpty())
        return QColor(160, 96, 0);
    return {};
}

QVariant PoolsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal && role == Qt::ToolTipRole && section == P99)
        return tr("99th percentile of the time from queueing to the last byte, over the requests of the last minute (at most "
                  "the last 1,000); \"-\" when there was none");
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name: return tr("Pool");
    case State: return tr("State");
    case Instances: return tr("FastCGI instances");
    case Queue: return tr("Queue");
    case RequestsPerSecond: return tr("Requests/s");
    case P99: return tr("p99 ms");
    case Failures: return tr("Failures");
    case Cgi: return tr("CGI");
    case Failures5m: return tr("Failures 5 min");
    case Identity: return tr("Identity");
    case Applications: return tr("Applications");
    case LastEvent: return tr("Last event");
    }
    return {};
}
