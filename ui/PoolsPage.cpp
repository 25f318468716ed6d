#include "PoolsPage.h"

#include "EngineClient.h"
#include "PoolsModel.h"
#include "TimeChart.h"

#include <QAction>
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
      table_(new QTableView), reason_(new QLabel), chart_(new TimeChart(tr("Selected pool: requests/s (left), busy instances and queue (right)"),
                                                                  {tr("requests/s"), tr("busy instances"), tr("queue")}, 300, nullptr, 1))
{
    proxy_->setSourceModel(model_);
    proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy_->setFilterKeyColumn(PoolsModel::Name);
    filter_->setPlaceholderText(tr("Filter pools"));
    filter_->setClearButtonEnabled(true);
    connect(filter_, &QLineEdit::textChanged, proxy_, &QSortFilterProxyModel::setFilterFixedString);
    table_->setObjectName("poolsTable");
    table_->setModel(proxy_);
    table_->setSortingEnabled(true);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->verticalHeader()->hide();
    table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 8);
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

    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addWidget(bar);
    topLayout->addWidget(table_, 1);
    topLayout->addWidget(reason_);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(chart_);
    split->setStretchFactor(0, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);

    connect(client_, &EngineClient::snapshotReady, this, &PoolsPage::refresh);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &PoolsPage::selectionChanged);
}

void PoolsPage::setPools(const QStringList& names)
{
    model_->setPools(names);
    history_.clear();
    if (model_->rowCount() > 0)
        table_->selectRow(0);
    refresh();
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
    table_->resizeColumnsToContents();
    for (int row = 0; row < model_->rowCount(); ++row) {
        QString name = model_->poolName(row);
        Point p{0, 0, 0};
        for (const auto& f : snapshot.fastcgi)
            if (QString::fromStdString(f.pool) == name) {
                p.rps += f.requestsPerSecond;
                p.busy += f.busy;
                p.queued += f.queued;
            }
        for (const auto& c : snapshot.cgi)
            if (QString::fromStdString(c.pool) == name) {
                p.busy += c.running;
                p.queued += c.queued;
            }
        auto& h = history_[name];
        h.push_back(p);
        if (h.size() > 300)
            h.pop_front();
        if (name == selectedPool())
            chart_->append({p.rps, p.busy, p.queued});
    }
    QModelIndex i = table_->currentIndex();
    QString why = i.isValid() ? model_->stoppedReason(proxy_->mapToSource(i).row()) : QString();
    reason_->setText(why);
    reason_->setVisible(!why.isEmpty());
}

void PoolsPage::selectionChanged()
{
    chart_->clear();
    for (const Point& p : history_[selectedPool()])
        chart_->append({p.rps, p.busy, p.queued});
    QModelIndex i = table_->currentIndex();
    QString why = i.isValid() ? model_->stoppedReason(proxy_->mapToSource(i).row()) : QString();
    reason_->setText(why);
    reason_->setVisible(!why.isEmpty());
}
