#include "PoolsPage.h"

#include "EngineClient.h"
#include "PageSupport.h"
#include "SiteUrls.h"
#include "InstancesTable.h"
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

PoolsPage::PoolsPage(EngineClient* client, QWidget* parent)
    : QWidget(parent), client_(client), model_(new PoolsModel(this)), proxy_(new QSortFilterProxyModel(this)), filter_(new QLineEdit),
      table_(new QTableView), reason_(new QLabel), chart_(new TimeChart(tr("Selected pool: requests/s and failures/s (left), busy instances and queue (right)"),
                                                                  {tr("requests/s"), tr("failures/s"), tr("busy instances"), tr("queue")}, 300, nullptr, 2))
{
    pages::setUpFilteredTable(table_, proxy_, model_, filter_, tr("Filter pools"), PoolsModel::Name);
    chart_->setAxes(tr("requests/s"), false, tr("count"), true);
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
    bar->addSeparator();
    QAction* edit = bar->addAction(tr("Edit"));
    QAction* add = bar->addAction(tr("Add…"));
    QAction* remove = bar->addAction(tr("Remove…"));
    edit->setToolTip(tr("The selected pool's settings in the Configuration page (F2)"));
    edit->setShortcut(QKeySequence(Qt::Key_F2));
    add->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_N));
    remove->setShortcut(QKeySequence::Delete);
    bar->addSeparator();
    browse_ = bar->addAction(tr("Browse"));
    browse_->setObjectName("browsePool");
    browse_->setToolTip(tr("The selected pool's first application in the browser (the context menu has each of them)"));
    browse_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_B));
    connect(browse_, &QAction::triggered, this, [this] {
        if (QStringList urls = selectedUrls(); !urls.isEmpty())
            browse(urls.first());
    });
    for (QAction* a : {edit, add, remove})
        a->setShortcutContext(Qt::WidgetWithChildrenShortcut); // on this page, not over the configuration grid
    connect(edit, &QAction::triggered, this, [this] {
        if (QString p = selectedPool(); !p.isEmpty())
            emit editRequested(p);
    });
    connect(add, &QAction::triggered, this, &PoolsPage::addRequested);
    connect(remove, &QAction::triggered, this, [this] {
        if (QString p = selectedPool(); !p.isEmpty())
            emit removeRequested(p);
    });
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
    instances_ = new InstancesTable(client_);
    instances_->table()->setMaximumHeight(110);
    detailsLayout->addWidget(instances_);
    running_ = new QTableWidget(0, 6);
    running_->setObjectName("runningRequests");
    running_->setHorizontalHeaderLabels({tr("Running for"), tr("Phase"), tr("Client"), tr("PID"), tr("Site"), tr("URL")});
    running_->horizontalHeader()->setStretchLastSection(true);
    running_->verticalHeader()->hide();
    running_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    running_->setSelectionBehavior(QAbstractItemView::SelectRows);
    running_->setMaximumHeight(110);
    running_->setToolTip(tr("The selected pool's requests running now, oldest first"));
    detailsLayout->addWidget(running_);
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
        menu.addAction(tr("Add a pool…"), this, [this] { emit addRequested(); });
        menu.addAction(tr("Remove %1…").arg(pool), this, [this, pool] { emit removeRequested(pool); });
        if (QStringList urls = selectedUrls(); !urls.isEmpty()) {
            menu.addSeparator();
            addBrowseActions(&menu, urls);
        }
        menu.exec(table_->viewport()->mapToGlobal(at));
    });

    connect(client_, &EngineClient::snapshotReady, this, &PoolsPage::refresh);
    connect(client_, &EngineClient::poolHistoryReady, this, &PoolsPage::takeHistory);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &PoolsPage::selectionChanged);
}

void PoolsPage::setPools(const QStringList& names)
{
    // A reload keeps what the charts have of the pools that remain, and the selection.
    QString selected = selectedPool();
    model_->setPools(names);
    auto keepOnly = [&](auto& byPool) {
        for (auto it = byPool.begin(); it != byPool.end();)
            it = names.contains(it->first) ? std::next(it) : byPool.erase(it);
    };
    keepOnly(failureHistory_);
    keepOnly(history_);
    keepOnly(lastCauses_);
    keepOnly(hourHistory_);
    sized_ = false;
    int row = -1;
    for (int r = 0; r < model_->rowCount() && row < 0 && !selected.isEmpty(); ++r)
        if (model_->poolName(r) == selected)
            row = r;
    if (model_->rowCount() > 0)
        table_->selectRow(row >= 0 ? proxy_->mapFromSource(model_->index(row, 0)).row() : 0);
    replayChart();
    refresh();
}

QTableWidget* PoolsPage::instances() const { return instances_->table(); }
QAction* PoolsPage::recycleInstanceAction() const { return instances_->recycleAction(); }

void PoolsPage::setDetails(const std::map<QString, PoolsModel::Details>& details)
{
    model_->setDetails(details);
    sized_ = false; // refit with the new texts
    updateActions(); // Browse follows the URLs
}

void PoolsPage::takeHistory(const QString& pool, bool hour, const std::vector<lido::engine::PoolPoint>& points)
{
    auto& mine = (hour ? hourHistory_ : history_)[pool];
    if (points.size() <= mine.size())
        return;
    mine.clear();
    for (const lido::engine::PoolPoint& e : points) {
        Point p;
        p.rps = e.requestsPerSecond;
        p.busy = e.busy;
        p.total = e.total;
        p.queued = e.queued;
        p.p99 = e.p99Ms;
        p.causes = e.failures;
        for (uint16_t f : e.failures)
            p.failures += f;
        if (hour)
            p.failures /= 10.0f; // per second over its ten
        mine.push_back(p);
    }
    if (pool == selectedPool() && hour == hourView())
        replayChart();
}

const std::deque<PoolsPage::Point>& PoolsPage::historyOf(const QString& pool) const
{
    static const std::deque<Point> none;
    auto it = history_.find(pool);
    return it == history_.end() ? none : it->second;
}

PoolDialog* PoolsPage::openPool(const QString& pool)
{
    if (pool.isEmpty())
        return nullptr;
    auto* dialog = new PoolDialog(client_, pool, this);
    dialog->seed(historyOf(pool)); // the minutes this page has seen, at once
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
    return dialog;
}

QStringList PoolsPage::selectedUrls() const
{
    QModelIndex i = table_->currentIndex();
    return i.isValid() ? model_->urls(proxy_->mapToSource(i).row()) : QStringList();
}

QString PoolsPage::selectedPool() const
{
    QModelIndex i = table_->currentIndex();
    return i.isValid() ? model_->poolName(proxy_->mapToSource(i).row()) : QString();
}

void PoolsPage::refresh()
{
    const auto& snapshot = client_->snapshot();
    model_->setSnapshot(snapshot); // sums each pool's figures once; the chart reads them from there
    QString selected = selectedPool();
    bool tenth = ++tick_ % 10 == 0;
    std::map<QString, std::array<uint64_t, 6>> causes; // cumulative, by pool
    for (const auto& f : snapshot.fastcgi) {
        auto& c = causes[QString::fromStdString(f.pool)];
        auto now = lido::pool::failuresByCause(f);
        for (size_t i = 0; i < now.size(); ++i)
            c[i] += now[i];
    }
    for (int row = 0; row < model_->rowCount(); ++row) {
        QString name = model_->poolName(row);
        PoolsModel::Load load = model_->load(row);
        // Failures in the last five minutes (the table), and in the last second (the chart).
        auto& failed = failureHistory_[name];
        uint64_t before = failed.empty() ? model_->failures(row) : failed.back();
        failed.push_back(model_->failures(row));
        if (failed.size() > 301)
            failed.pop_front();
        model_->setRecent(name, failed.back() - failed.front(), {});
        Point p;
        p.rps = static_cast<float>(load.requestsPerSecond);
        p.failures = static_cast<float>(failed.back() - std::min(before, failed.back()));
        p.busy = static_cast<float>(load.busy);
        p.queued = static_cast<float>(load.queued);
        p.total = static_cast<float>(load.total);
        p.p99 = static_cast<float>(load.p99);
        if (auto c = causes.find(name); c != causes.end()) {
            auto last = lastCauses_.find(name);
            for (size_t i = 0; i < 6 && last != lastCauses_.end(); ++i)
                p.causes[i] = static_cast<uint16_t>(std::min<uint64_t>(65535, c->second[i] - std::min(c->second[i], last->second[i])));
            lastCauses_[name] = c->second;
        }
        auto& h = history_[name];
        h.push_back(p);
        if (h.size() > 300)
            h.pop_front();
        if (tenth) {
            // The hour's point: failures/s over its ten seconds, so that none between two points is lost.
            size_t back = std::min<size_t>(10, failed.size() - 1);
            p.failures = static_cast<float>(failed.back() - std::min(failed[failed.size() - 1 - back], failed.back())) / 10.0f;
            auto& hour = hourHistory_[name];
            hour.push_back(p);
            if (hour.size() > 360)
                hour.pop_front();
        }
        if (name == selected && (!hourView() || tenth))
            chart_->append({p.rps, p.failures, p.busy, p.queued});
    }
    // Each pool's newest event.
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
    updateActions();
    showInstances(snapshot);
}

// Start for a stopped pool, Stop and Recycle for a running one: what the selection allows.
void PoolsPage::updateActions()
{
    QModelIndex i = table_->currentIndex();
    bool selected = i.isValid();
    bool running = selected && model_->running(proxy_->mapToSource(i).row());
    start_->setEnabled(selected && !running);
    stop_->setEnabled(running);
    recycle_->setEnabled(running);
    browse_->setEnabled(!selectedUrls().isEmpty());
}

void PoolsPage::showInstances(const lido::engine::Snapshot& snapshot)
{
    QString pool = selectedPool();
    instances_->show(pool, snapshot);
    std::vector<const lido::log::RunningRequest*> mine;
    for (const auto& r : snapshot.requests)
        if (QString::fromStdString(r.pool) == pool)
            mine.push_back(&r);
    running_->setRowCount(static_cast<int>(mine.size()));
    for (int row = 0; row < running_->rowCount(); ++row) {
        const auto& r = *mine[static_cast<size_t>(row)];
        QString elapsed = r.elapsedMs < 1000 ? tr("%1 ms").arg(qRound(r.elapsedMs)) : tr("%1 s").arg(r.elapsedMs / 1000.0, 0, 'f', 1);
        QStringList cells = {elapsed, QString::fromUtf8(lido::log::phaseName(r.phase)), QString::fromStdString(r.client),
                             r.pid ? QString::number(r.pid) : QString("–"), QString::fromStdString(r.site), QString::fromStdString(r.method + " " + r.url)};
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = running_->item(row, c);
            if (!item)
                running_->setItem(row, c, item = new QTableWidgetItem);
            item->setText(cells[c]);
        }
    }
    if (!mine.empty())
        for (int c = 0; c < running_->columnCount() - 1; ++c) // the URL takes the rest
            running_->resizeColumnToContents(c);
}

bool PoolsPage::hourView() const { return range_->currentIndex() == 1; }

void PoolsPage::replayChart()
{
    chart_->clear();
    for (const Point& p : (hourView() ? hourHistory_ : history_)[selectedPool()])
        chart_->append({p.rps, p.failures, p.busy, p.queued});
}

void PoolsPage::selectionChanged()
{
    // What the engine kept of the pool may be more than this page has seen (a console just
    // started or attached, the service running for hours): asked, taken when longer.
    if (QString pool = selectedPool(); !pool.isEmpty()) {
        client_->requestPoolHistory(pool, false);
        client_->requestPoolHistory(pool, true);
    }
    replayChart();
    showInstances(client_->snapshot());
    QModelIndex i = table_->currentIndex();
    QString why = i.isValid() ? model_->stoppedReason(proxy_->mapToSource(i).row()) : QString();
    reason_->setText(why);
    reason_->setVisible(!why.isEmpty());
    updateActions();
}
