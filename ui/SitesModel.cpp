#include "SitesModel.h"
#include "Health.h"

#include <QApplication>
#include <QColor>
#include <QDateTime>
#include <QFont>
#include <QTimeZone>
#include <algorithm>
#include <QStyle>
#include <unordered_map>

SitesModel::SitesModel(QObject* parent) : QAbstractTableModel(parent) {}

void SitesModel::setSites(const std::vector<SiteInfo>& sites)
{
    beginResetModel();
    rows_.clear();
    for (const SiteInfo& s : sites)
        rows_.push_back(Row{s, {}, false});
    endResetModel();
}

void SitesModel::setSnapshot(const lido::engine::Snapshot& s)
{
    std::unordered_map<std::string, const lido::engine::SiteMetrics*> byName; // one pass, not rows x sites
    for (const auto& m : s.sites)
        byName.emplace(m.name, &m);
    snapshotTime_ = std::chrono::system_clock::to_time_t(s.time);
    for (Row& r : rows_) {
        auto it = byName.find(r.info.name.toStdString());
        r.known = it != byName.end();
        r.metrics = r.known ? *it->second : lido::engine::SiteMetrics{};
    }
    if (!rows_.empty())
        emit dataChanged(index(0, State), index(static_cast<int>(rows_.size()) - 1, ColumnCount - 1));
}

QString SitesModel::siteName(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].info.name : QString();
}

QStringList SitesModel::urls(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) ? rows_[static_cast<size_t>(row)].info.urls : QStringList();
}

bool SitesModel::started(int row) const
{
    return row >= 0 && row < static_cast<int>(rows_.size()) && rows_[static_cast<size_t>(row)].metrics.started;
}

int SitesModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : static_cast<int>(rows_.size()); }
int SitesModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

namespace {

std::time_t soonest(const lido::engine::SiteMetrics& m)
{
    std::time_t t = 0;
    for (const auto& c : m.certificates)
        if (t == 0 || c.notAfter < t)
            t = c.notAfter;
    return t;
}

// The soonest expiry of a site's certificates, as a person reads it: "expires in 12 days".
QString certificateText(const lido::engine::SiteMetrics& m, std::time_t now)
{
    if (m.certificates.empty())
        return {};
    long long left = soonest(m) - now;
    auto count = [](long long n, const char* one, const char* many) { return n == 1 ? SitesModel::tr(one) : SitesModel::tr(many).arg(n); };
    if (left <= 0)
        return -left < 86400 ? SitesModel::tr("expired") : count(-left / 86400, "expired 1 day ago", "expired %1 days ago");
    if (left < 86400)
        return count(std::max(1LL, left / 3600), "expires in 1 hour", "expires in %1 hours");
    return count((left + 86399) / 86400, "expires in 1 day", "expires in %1 days");
}

} // namespace

QVariant SitesModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= static_cast<int>(rows_.size()))
        return {};
    const Row& r = rows_[static_cast<size_t>(index.row())];
    const auto& m = r.metrics;
    bool failed = m.state.rfind("Failed", 0) == 0;
    if (role == Qt::DisplayRole) {
        switch (index.column()) {
        case Name: return r.info.name;
        case State: return r.known ? QString::fromStdString(m.state) : tr("Not running");
        case Bindings: return r.info.urls.isEmpty() ? r.info.bindings : r.info.urls.join(", ");
        case RequestsPerSecond: return QString::number(m.requestsPerSecond, 'f', 0);
        case Connections: return QVariant::fromValue<qlonglong>(m.openConnections);
        case Status2xx: return QVariant::fromValue<qulonglong>(m.status2xx);
        case Status4xx: return QVariant::fromValue<qulonglong>(m.status4xx);
        case Status5xx: return QVariant::fromValue<qulonglong>(m.status5xx);
        case Certificate: return certificateText(m, snapshotTime_);
        case Applications: return r.info.applications;
        }
    }
    if (index.column() == Certificate && !m.certificates.empty()) {
        long long left = soonest(m) - snapshotTime_;
        if (role == Qt::ForegroundRole && left < 14 * 86400)
            return left <= 0 ? QColor(176, 0, 32) : QColor(150, 110, 0);
        if (role == Qt::ToolTipRole) {
            QStringList lines;
            for (const auto& c : m.certificates)
                lines << tr("%1: %2, valid until %3 (%4)")
                             .arg(QString::fromStdString(c.host.empty() ? tr("without SNI").toStdString() : c.host),
                                  QString::fromStdString(c.subject),
                                  QDateTime::fromSecsSinceEpoch(c.notAfter, QTimeZone::utc()).toString("yyyy-MM-dd HH:mm 'UTC'"),
                                  QString::fromStdString(c.file));
            return lines.join('\n');
        }
    }
    if (index.column() == Bindings && !r.info.urls.isEmpty()) { // a link: a click browses it
        if (role == Qt::ForegroundRole)
            return QColor(0, 90, 180);
        if (role == Qt::FontRole) {
            QFont f;
            f.setUnderline(true);
            return f;
        }
        if (role == Qt::ToolTipRole)
            return tr("%1\nClick to browse %2").arg(r.info.bindings, r.info.urls.first());
    }
    if (role == Qt::DecorationRole && index.column() == Name)
        return styleIcon(m.started ? QStyle::SP_DialogApplyButton
                                                   : failed  ? QStyle::SP_MessageBoxCritical
                                                             : QStyle::SP_MediaStop);
    if (role == Qt::ToolTipRole)
        return QString::fromStdString(m.state);
    if (role == Qt::ForegroundRole && index.column() == State && !m.started)
        return failed ? QColor(176, 0, 32) : QColor(150, 110, 0);
    return {};
}

QVariant SitesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Name: return tr("Site");
    case State: return tr("State");
    case Bindings: return tr("Bindings");
    case RequestsPerSecond: return tr("Requests/s");
    case Connections: return tr("Connections");
    case Status2xx: return tr("2xx");
    case Status4xx: return tr("4xx");
    case Status5xx: return tr("5xx");
    case Certificate: return tr("Certificate");
    case Applications: return tr("Applications");
    }
    return {};
}
