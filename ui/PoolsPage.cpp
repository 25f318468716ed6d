#include "PoolsPage.h"

#include "EngineClient.h"
#include "PageSupport.h"
#include "PoolDialog.h"
#include "PoolsModel.h"
#include "TimeChart.h"

#include <QAction>
#include <QComboBox>
#include <QMenu>
#include <QDateTime>
#include <QTableWidget>
#include <QSettings>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>
#include <deque>
#include <unordered_map>

PoolsPage::PoolsPage(EngineClient* client, QWidget* parent)
    : QWidget(parent), client_(client), model_(new PoolsModel(this)), proxy_(new QSortFilterProxyModel(this)), filter_(new QLineEdit),
      table_(new QTableView), reason_(new QLabel), chart_(new TimeChart(tr("Selected pool: requests/s (left), busy instances and queue (right)"),
                                                                  {tr("requests/s"), tr("busy instances"), tr("queue")}, 300, nullptr, 1))
{
    pages::setUpFilteredTable(table_, proxy_, model_, filter_, tr("Filter pools"), PoolsModel::Name);
    table_->setObjectName("poolsTable");
    table_->horizontalHeader()->setStretchLastSection(true);
    reason_->setWordWrap(true);
    reason_->setStyleSheet("color: #b00020");

    auto* bar = new QToolBar;
    start_ = bar->addAction(tr("Start"));
    stop_ = bar->addAction(tr("Stop"));
    recycle_ = bar->addAction(tr("Recycle"));
    start_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    stop_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_T));
    recycle_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    auto act = [this](lido::engine::PoolAction a) {
        QString pool = selectedPool();
        if (!pool.isEmpty())
            client_->controlPool(pool, a);
    };
    connect(start_, &QAction::triggered, this, [act] { act(lido::engine::PoolAction::Start); });
    connect(stop_, &QAction::triggered, this, [act] { act(lido::engine::PoolAction::Stop); });
    connect(recycle_, &QAction::triggered, this, [act] { act(lido::engine::PoolAction::Recycle); });
    bar->addWidget(filter_);
    range_ = new QComboBox;
    range_->setObjectName("chartRange");
    range_->addItems({tr("Last 5 minutes"), tr("Last hour")});
    range_->setToolTip(tr("What the chart shows"));
    range_->setCurrentIndex(QSettings().value("pools/chartRange", 0).toInt() == 1 ? 1 : 0);
    bar->addWidget(range_);
    if (hourView())
        chart_->setSpan(3600, 10);
    connect(range_, &QComboBox::currentIndexChanged, this, [this](int i) {
        QSettings().setValue("pools/chartRange", i);
        chart_->setSpan(i == 1 ? 3600 : 300, i == 1 ? 10 : 1);
        replayChart();
    });

    // The selected pool's instances, with "recycle this instance".
    auto* details = new QWidget;
    auto* detailsLayout = new QVBoxLayout(details);
    detailsLayout->setContentsMargins(0, 0, 0, 0);
    detailsLayout->addWidget(reason_);
    auto* instanceBar = new QToolBar;
    recycleInstance_ = instanceBar->addAction(tr("Recycle instance"));
    recycleInstance_->setObjectName("recycleInstance");
    recycleInstance_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_I));
    recycleInstance_->setEnabled(false);
    instances_ = new QTableWidget(0, 7);
    instances_->setObjectName("instancesTable");
    instances_->setHorizontalHeaderLabels({tr("PID"), tr("State"), tr("Requests"), tr("RSS MiB"), tr("CPU s"), tr("Uptime"), tr("Current URL")});
    instances_->setSelectionBehavior(QAbstractItemView::SelectRows);
    instances_->setSelectionMode(QAbstractItemView::SingleSelection);
    instances_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    instances_->verticalHeader()->hide();
    instances_->horizontalHeader()->setStretchLastSection(true);
    instances_->setMaximumHeight(110);
    detailsLayout->addWidget(instanceBar);
    detailsLayout->addWidget(instances_);
    connect(instances_, &QTableWidget::itemSelectionChanged, this, [this] { recycleInstance_->setEnabled(instances_->currentRow() >= 0); });
    connect(recycleInstance_, &QAction::triggered, this, [this] {
        int row = instances_->currentRow();
        if (row >= 0 && !selectedPool().isEmpty())
            client_->recycleInstance(selectedPool(), instances_->item(row, 0)->text().toInt());
    });
    pages::layOutPage(this, bar, table_, details, chart_);

    // Double-click (or Enter) opens the pool; the context menu has everything the toolbar has.
    connect(table_, &QTableView::activated, this, [this] { openPool(selectedPool()); });
    table_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(table_, &QTableView::customContextMenuRequested, this, [this](const QPoint& at) {
        QString pool = selectedPool();
        if (pool.isEmpty())
            return;
        QMenu menu(this);
        menu.addAction(tr("Open %1").arg(pool), this, [this, pool] { openPool(pool); });
        menu.addSeparator();
        menu.addAction(start_);
        menu.addAction(stop_);
        menu.addAction(recycle_);
        menu.addSeparator();
        menu.addAction(tr("Edit settings…"), this, [this, pool] { emit editRequested(pool); });
        menu.exec(table_->viewport()->mapToGlobal(at));
    });

    connect(client_, &EngineClient::snapshotReady, this, &PoolsPage::refresh);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &PoolsPage::selectionChanged);
}

void PoolsPage::setPools(const QStringList& names)
{
    model_->setPools(names);
    failureHistory_.clear();
    history_.clear();
    hourHistory_.clear();
    sized_ = false;
    if (model_->rowCount() > 0)
        table_->selectRow(0);
    refresh();
}

void PoolsPage::setDetails(const std::map<QString, PoolsModel::Details>& details) { model_->setDetails(details); }

PoolDialog* PoolsPage::openPool(const QString& pool)
{
    if (pool.isEmpty())
        return nullptr;
    auto* dialog = new PoolDialog(client_, pool, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
    return dialog;
}

QString PoolsPage::selectedPool() const
{
    QModelIndex i = table_->currentIndex();
    return i.isValid() ? model_->poolName(proxy_->mapToSource(i).row()) : QString();
}

void PoolsPage::refresh()
{
    auto snapshot = client_->snapshot();
    model_->setSnapshot(snapshot);
    std::unordered_map<std::string, Point> points; // one pass, not rows x pools
    for (const auto& f : snapshot.fastcgi) {
        Point& p = points[f.pool];
        p.rps += f.requestsPerSecond;
        p.busy += f.busy;
        p.queued += f.queued;
    }
    for (const auto& c : snapshot.cgi) {
        Point& p = points[c.pool];
        p.busy += c.running;
        p.queued += c.queued;
    }
    QString selected = selectedPool();
    bool tenth = ++tick_ % 10 == 0;
    for (int row = 0; row < model_->rowCount(); ++row) {
        QString name = model_->poolName(row);
        auto it = points.find(name.toStdString());
        Point p = it == points.end() ? Point{0, 0, 0} : it->second;
        auto& h = history_[name];
        h.push_back(p);
        if (h.size() > 300)
            h.pop_front();
        if (tenth) {
            auto& hour = hourHistory_[name];
            hour.push_back(p);
            if (hour.size() > 360)
                hour.pop_front();
        }
        if (name == selected && (!hourView() || tenth))
            chart_->append({p.rps, p.busy, p.queued});
    }
    // Failures in the last five minutes, and each pool's newest event.
    for (int row = 0; row < model_->rowCount(); ++row) {
        auto& h = failureHistory_[model_->poolName(row)];
        h.push_back(model_->failures(row));
        if (h.size() > 301)
            h.pop_front();
        model_->setRecent(model_->poolName(row), h.back() - h.front(), {});
    }
    for (const auto& e : client_->eventsSince(lastEventSeq_)) {
        lastEventSeq_ = e.seq;
        if (e.severity == lido::log::Severity::Debug || e.source.rfind("pool ", 0) != 0)
            continue;
        QString pool = QString::fromStdString(e.source.substr(5, e.source.find(' ', 5) - 5));
        QString when = QDateTime::fromSecsSinceEpoch(std::chrono::system_clock::to_time_t(e.time)).toString("HH:mm:ss");
        auto& h = failureHistory_[pool];
        model_->setRecent(pool, h.empty() ? 0 : h.back() - h.front(), when + " " + QString::fromStdString(e.message));
    }
    // Columns fit their contents when a pool's state changes, not every second (measuring every
    // cell of 1,000 rows each second is what cost a fifth of a core).
    int stopped = 0;
    for (int row = 0; row < model_->rowCount(); ++row)
        stopped += !model_->stoppedReason(row).isEmpty();
    if ((!sized_ || stopped != stoppedWhenSized_) && model_->rowCount() > 0 && !snapshot.fastcgi.empty()) {
        table_->resizeColumnsToContents();
        table_->setColumnWidth(PoolsModel::State, std::min(table_->columnWidth(PoolsModel::State), 420));
        sized_ = true;
        stoppedWhenSized_ = stopped;
    }
    QModelIndex i = table_->currentIndex();
    QString why = i.isValid() ? model_->stoppedReason(proxy_->mapToSource(i).row()) : QString();
    reason_->setText(why);
    reason_->setVisible(!why.isEmpty());
    showInstances(snapshot);
}

void PoolsPage::showInstances(const lido::engine::Snapshot& snapshot)
{
    QString pool = selectedPool();
    int keepPid = instances_->currentRow() >= 0 ? instances_->item(instances_->currentRow(), 0)->text().toInt() : 0;
    std::vector<const lido::engine::InstanceMetrics*> rows;
    for (const auto& p : snapshot.fastcgi)
        if (QString::fromStdString(p.pool) == pool)
            for (const auto& in : p.instances)
                rows.push_back(&in);
    instances_->setRowCount(static_cast<int>(rows.size()));
    static const char* states[] = {"starting", "idle", "busy", "draining", "stopping", "stopped", "failed"};
    int reselect = -1;
    for (size_t r = 0; r < rows.size(); ++r) {
        const auto& in = *rows[r];
        int uptime = static_cast<int>(in.uptimeSeconds);
        QStringList cells{QString::number(in.pid), states[static_cast<int>(in.state)], QString::number(in.requests),
                          QString::number(static_cast<double>(in.rssBytes) / 1048576.0, 'f', 1), QString::number(in.cpuSeconds, 'f', 2),
                          QString("%1:%2:%3").arg(uptime / 3600).arg(uptime / 60 % 60, 2, 10, QChar('0')).arg(uptime % 60, 2, 10, QChar('0')),
                          QString::fromStdString(in.currentUrl)};
        for (int c = 0; c < cells.size(); ++c) {
            QTableWidgetItem* item = instances_->item(static_cast<int>(r), c);
            if (!item)
                instances_->setItem(static_cast<int>(r), c, item = new QTableWidgetItem);
            item->setText(cells[c]);
        }
        if (in.pid == keepPid)
            reselect = static_cast<int>(r);
    }
    if (reselect >= 0 && reselect != instances_->currentRow())
        instances_->selectRow(reselect);
    recycleInstance_->setEnabled(instances_->currentRow() >= 0 && reselect >= 0);
}

bool PoolsPage::hourView() const { return range_->currentIndex() == 1; }

void PoolsPage::replayChart()
{
    chart_->clear();
    for (const Point& p : (hourView() ? hourHistory_ : history_)[selectedPool()])
        chart_->append({p.rps, p.busy, p.queued});
}

void PoolsPage::selectionChanged()
{
    replayChart();
    instances_->clearSelection();
    instances_->setCurrentCell(-1, -1);
    showInstances(client_->snapshot());
    QModelIndex i = table_->currentIndex();
    QString why = i.isValid() ? model_->stoppedReason(proxy_->mapToSource(i).row()) : QString();
    reason_->setText(why);
    reason_->setVisible(!why.isEmpty());
}
