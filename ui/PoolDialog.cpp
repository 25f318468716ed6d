#include "PoolDialog.h"

#include "EngineClient.h"
#include "TimeChart.h"

#include <QDateTime>
#include <QGridLayout>
#include <QLabel>
#include <QListWidget>
#include <QStyle>

PoolDialog::PoolDialog(EngineClient* client, const QString& pool, QWidget* parent)
    : QDialog(parent), client_(client), pool_(pool),
      instances_(new TimeChart(tr("Instances and queue"), {tr("instances"), tr("busy"), tr("queue")}, 300)),
      latency_(new TimeChart(tr("Requests/s (left) and p99 latency in ms (right)"), {tr("requests/s"), tr("p99 ms")}, 300, nullptr, 1)),
      failures_(new TimeChart(tr("Failures per second by cause"), {tr("crash"), tr("timeout"), tr("queue full"), tr("protocol"), tr("stderr"), tr("ping")}, 300)),
      events_(new QListWidget), summary_(new QLabel)
{
    setWindowTitle(tr("Application pool %1").arg(pool));
    setObjectName("poolDialog");
    events_->setObjectName("poolEvents");
    events_->setIconSize(QSize(16, 16));
    summary_->setWordWrap(true);
    auto* grid = new QGridLayout(this);
    grid->addWidget(summary_, 0, 0, 1, 2);
    grid->addWidget(instances_, 1, 0);
    grid->addWidget(latency_, 1, 1);
    grid->addWidget(failures_, 2, 0);
    grid->addWidget(events_, 2, 1);
    resize(1100, 680);
    connect(client_, &EngineClient::snapshotReady, this, &PoolDialog::refresh);
    refresh();
}

void PoolDialog::refresh()
{
    auto snap = client_->snapshot();
    double total = 0, busy = 0, queued = 0, rps = 0, p99 = 0;
    std::map<std::string, uint64_t> now{{"crash", 0}, {"timeout", 0}, {"queue full", 0}, {"protocol", 0}, {"stderr", 0}, {"ping", 0}};
    QString state = tr("started");
    for (const auto& p : snap.fastcgi) {
        if (QString::fromStdString(p.pool) != pool_)
            continue;
        total += p.starting + p.idle + p.busy + p.draining;
        busy += p.busy;
        queued += p.queued;
        rps += p.requestsPerSecond;
        p99 = std::max(p99, p.p99Ms);
        now["crash"] += p.crashes;
        now["timeout"] += p.timeouts;
        now["queue full"] += p.queueFull;
        now["protocol"] += p.protocolErrors;
        now["stderr"] += p.stderrFailures;
        now["ping"] += p.pingFailures;
        if (!p.running)
            state = tr("stopped: %1").arg(QString::fromStdString(p.stoppedReason));
    }
    instances_->append({total, busy, queued});
    latency_->append({rps, p99});
    std::vector<double> perCause;
    for (const char* cause : {"crash", "timeout", "queue full", "protocol", "stderr", "ping"})
        perCause.push_back(first_ ? 0.0 : static_cast<double>(now[cause] - std::min(now[cause], lastFailures_[cause])));
    failures_->append(perCause);
    lastFailures_ = now;
    first_ = false;
    summary_->setText(tr("<b>%1</b>: %2 — %3 instances (%4 busy), %5 queued, %6 req/s, p99 %7 ms; failures: %8 crash, %9 timeout, "
                         "%10 queue full, %11 protocol, %12 stderr, %13 ping")
                          .arg(pool_.toHtmlEscaped(), state.toHtmlEscaped())
                          .arg(total).arg(busy).arg(queued).arg(rps, 0, 'f', 0).arg(p99, 0, 'f', 1)
                          .arg(now["crash"]).arg(now["timeout"]).arg(now["queue full"]).arg(now["protocol"]).arg(now["stderr"]).arg(now["ping"]));
    for (const auto& e : client_->eventsSince(lastSeq_)) {
        lastSeq_ = e.seq;
        if (e.source.rfind("pool " + pool_.toStdString(), 0) != 0 || e.severity == lido::log::Severity::Debug)
            continue;
        QStyle::StandardPixmap icon = e.severity == lido::log::Severity::Error     ? QStyle::SP_MessageBoxCritical
                                      : e.severity == lido::log::Severity::Warning ? QStyle::SP_MessageBoxWarning
                                                                                   : QStyle::SP_MessageBoxInformation;
        QString when = QDateTime::fromSecsSinceEpoch(std::chrono::system_clock::to_time_t(e.time)).toString("HH:mm:ss");
        events_->insertItem(0, new QListWidgetItem(style()->standardIcon(icon), when + "  " + QString::fromStdString(e.message)));
        while (events_->count() > 200)
            delete events_->takeItem(events_->count() - 1);
    }
}
