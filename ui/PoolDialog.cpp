#include "PoolDialog.h"
#include "Health.h"

#include "EngineClient.h"
#include "InstancesTable.h"
#include "TimeChart.h"

#include <QComboBox>
#include <QDateTime>
#include <QGridLayout>
#include <QLabel>
#include <QListWidget>
#include <QStyle>
#include <QTableWidget>

PoolDialog::PoolDialog(EngineClient* client, const QString& pool, QWidget* parent)
    : QDialog(parent), client_(client), pool_(pool),
      instances_(new TimeChart(tr("Instances and queue"), {tr("instances"), tr("busy"), tr("queue")}, 300)),
      latency_(new TimeChart(tr("Requests/s (left) and p99 latency over the last minute in ms (right)"), {tr("requests/s"), tr("p99 ms (last minute)")}, 300, nullptr, 1)),
      failures_(new TimeChart(tr("Failures per second by cause"), {tr("crash"), tr("timeout"), tr("queue full"), tr("protocol"), tr("stderr"), tr("ping")}, 300)),
      events_(new QListWidget), summary_(new QLabel), instanceTable_(new InstancesTable(client)), range_(new QComboBox)
{
    setWindowTitle(tr("Application pool %1").arg(pool));
    instances_->setAxes(tr("count"), true);
    latency_->setAxes(tr("requests/s"), false, tr("ms"), false);
    failures_->setAxes(tr("failures/s"), false);
    setObjectName("poolDialog");
    events_->setObjectName("poolEvents");
    events_->setIconSize(QSize(16, 16));
    summary_->setWordWrap(true);
    range_->setObjectName("poolChartRange");
    range_->addItems({tr("Last 5 minutes"), tr("Last hour")});
    connect(range_, &QComboBox::currentIndexChanged, this, [this](int i) {
        for (TimeChart* c : {instances_, latency_, failures_})
            c->setSpan(i == 1 ? 3600 : 300, i == 1 ? 10 : 1);
        replay();
    });
    auto* grid = new QGridLayout(this);
    grid->addWidget(summary_, 0, 0);
    grid->addWidget(range_, 0, 1, Qt::AlignRight | Qt::AlignTop);
    grid->addWidget(instances_, 1, 0);
    grid->addWidget(latency_, 1, 1);
    grid->addWidget(failures_, 2, 0);
    grid->addWidget(events_, 2, 1);
    grid->addWidget(instanceTable_, 3, 0, 1, 2);
    instanceTable_->table()->setMaximumHeight(130);
    resize(1100, 820);
    connect(client_, &EngineClient::snapshotReady, this, &PoolDialog::refresh);
    // The engine's own five minutes of this pool, when it kept more than the pools page saw.
    connect(client_, &EngineClient::poolHistoryReady, this, [this](const QString& asked, bool hour, const std::vector<lido::engine::PoolPoint>& points) {
        if (asked != pool_ || hour || points.size() + 1 <= samples_.size())
            return;
        std::deque<PoolsPage::Point> seen;
        for (const lido::engine::PoolPoint& e : points) {
            PoolsPage::Point p;
            p.rps = e.requestsPerSecond, p.busy = e.busy, p.total = e.total, p.queued = e.queued, p.p99 = e.p99Ms, p.causes = e.failures;
            seen.push_back(p);
        }
        if (!samples_.empty())
            samples_.erase(samples_.begin(), samples_.end() - 1); // its own newest stays
        seed(seen);
    });
    client_->requestPoolHistory(pool_, false);
    refresh();
}

void PoolDialog::seed(const std::deque<PoolsPage::Point>& seen)
{
    std::vector<Sample> before;
    for (const PoolsPage::Point& p : seen) {
        std::vector<double> causes(p.causes.begin(), p.causes.end());
        before.push_back(Sample{p.total, p.busy, p.queued, p.rps, p.p99, causes});
    }
    // The newest point the page saw is the second this page's own first one covers.
    if (!before.empty() && !samples_.empty())
        before.pop_back();
    samples_.insert(samples_.begin(), before.begin(), before.end());
    replay();
}

void PoolDialog::replay()
{
    bool hour = range_->currentIndex() == 1;
    for (TimeChart* c : {instances_, latency_, failures_})
        c->clear();
    size_t step = hour ? 10 : 1;
    size_t from = samples_.size() > 300 * step ? samples_.size() - 300 * step : 0;
    for (size_t i = from; i < samples_.size(); i += step) {
        Sample m = samples_[i];
        for (size_t k = i + 1; k < std::min(i + step, samples_.size()); ++k) {
            const Sample& o = samples_[k];
            m.total = std::max(m.total, o.total), m.busy = std::max(m.busy, o.busy), m.queued = std::max(m.queued, o.queued);
            m.rps = std::max(m.rps, o.rps), m.p99 = std::max(m.p99, o.p99);
            for (size_t c = 0; c < m.failures.size(); ++c)
                m.failures[c] = std::max(m.failures[c], o.failures[c]);
        }
        instances_->append({m.total, m.busy, m.queued});
        latency_->append({m.rps, m.p99});
        failures_->append(m.failures);
    }
}

QString PoolDialog::summaryText() const { return summary_->text(); }

void PoolDialog::refresh()
{
    const auto& snap = client_->snapshot();
    double total = 0, busy = 0, queued = 0, rps = 0, p99 = 0;
    uint64_t timed = 0; // the requests p99 is over (the last minute's)
    std::map<std::string, uint64_t> now{{"crash", 0}, {"timeout", 0}, {"queue full", 0}, {"protocol", 0}, {"stderr", 0}, {"ping", 0}};
    QString state = tr("started");
    QString advice;
    for (const auto& p : snap.fastcgi) {
        if (QString::fromStdString(p.pool) != pool_)
            continue;
        total += p.starting + p.idle + p.busy + p.draining;
        busy += p.busy;
        queued += p.queued;
        rps += p.requestsPerSecond;
        if (p.latencyRequests > 0)
            p99 = std::max(p99, p.p99Ms), timed += p.latencyRequests;
        now["crash"] += p.crashes;
        now["timeout"] += p.timeouts;
        now["queue full"] += p.queueFull;
        now["protocol"] += p.protocolErrors;
        now["stderr"] += p.stderrFailures;
        now["ping"] += p.pingFailures;
        if (!p.running)
            state = tr("stopped: %1").arg(QString::fromStdString(p.stoppedReason));
        if (!p.advice.empty())
            advice = QString::fromStdString(p.advice);
    }
    std::vector<double> perCause;
    for (const char* cause : {"crash", "timeout", "queue full", "protocol", "stderr", "ping"})
        perCause.push_back(first_ ? 0.0 : static_cast<double>(now[cause] - std::min(now[cause], lastFailures_[cause])));
    lastFailures_ = now;
    first_ = false;
    samples_.push_back(Sample{total, busy, queued, rps, p99, perCause});
    if (samples_.size() > 3600)
        samples_.erase(samples_.begin());
    // The hour view shows a point every 10 s: the largest of each ten (a spike stays visible).
    bool hour = range_->currentIndex() == 1;
    if (!hour) {
        instances_->append({total, busy, queued});
        latency_->append({rps, p99});
        failures_->append(perCause);
    } else if (samples_.size() % 10 == 0) {
        replay();
    }
    instanceTable_->show(pool_, snap);
    QString latency = timed ? tr("p99 %1 ms over the last minute's %2 requests").arg(p99, 0, 'f', 1).arg(timed) : tr("no request in the last minute (no p99)");
    summary_->setText(tr("<b>%1</b>: %2 — %3 instances (%4 busy), %5 queued, %6 req/s, %7; failures: %8 crash, %9 timeout, "
                         "%10 queue full, %11 protocol, %12 stderr, %13 ping")
                          .arg(pool_.toHtmlEscaped(), state.toHtmlEscaped())
                          .arg(total).arg(busy).arg(queued).arg(rps, 0, 'f', 0).arg(latency)
                          .arg(now["crash"]).arg(now["timeout"]).arg(now["queue full"]).arg(now["protocol"]).arg(now["stderr"]).arg(now["ping"]) +
                      (advice.isEmpty() ? QString() : tr("<br><span style=\"color:#a06000\">⚠ Warning: %1</span>").arg(advice.toHtmlEscaped())));
    for (const auto& e : client_->eventsSince(lastSeq_)) {
        lastSeq_ = e.seq;
        if (e.source.rfind("pool " + pool_.toStdString(), 0) != 0 || e.severity == lido::log::Severity::Debug)
            continue;
        QStyle::StandardPixmap icon = e.severity == lido::log::Severity::Error     ? QStyle::SP_MessageBoxCritical
                                      : e.severity == lido::log::Severity::Warning ? QStyle::SP_MessageBoxWarning
                                                                                   : QStyle::SP_MessageBoxInformation;
        QString when = QDateTime::fromSecsSinceEpoch(std::chrono::system_clock::to_time_t(e.time)).toString("HH:mm:ss");
        events_->insertItem(0, new QListWidgetItem(styleIcon(icon), when + "  " + QString::fromStdString(e.message)));
        while (events_->count() > 200)
            delete events_->takeItem(events_->count() - 1);
    }
}
