#include "InstancesTable.h"

#include "EngineClient.h"

#include <QAction>
#include <QHeaderView>
#include <QTableWidget>
#include <QToolBar>
#include <QVBoxLayout>

InstancesTable::InstancesTable(EngineClient* client, QWidget* parent)
    : QWidget(parent), client_(client), table_(new QTableWidget(0, 7))
{
    auto* bar = new QToolBar;
    recycle_ = bar->addAction(tr("Recycle instance"));
    recycle_->setObjectName("recycleInstance");
    recycle_->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_I));
    recycle_->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    recycle_->setEnabled(false);
    table_->setObjectName("instancesTable");
    table_->setHorizontalHeaderLabels({tr("PID"), tr("State"), tr("Requests"), tr("RSS MiB"), tr("CPU s"), tr("Uptime"), tr("Current URL")});
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->verticalHeader()->hide();
    table_->horizontalHeader()->setStretchLastSection(true);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(bar);
    layout->addWidget(table_);
    connect(table_, &QTableWidget::itemSelectionChanged, this, [this] { recycle_->setEnabled(table_->currentRow() >= 0); });
    connect(recycle_, &QAction::triggered, this, [this] {
        int row = table_->currentRow();
        if (row >= 0 && !pool_.isEmpty())
            client_->recycleInstance(pool_, table_->item(row, 0)->text().toInt());
    });
}

void InstancesTable::show(const QString& pool, const lido::engine::Snapshot& snapshot)
{
    if (pool != pool_) {
        table_->clearSelection();
        table_->setCurrentCell(-1, -1);
        pool_ = pool;
    }
    int keepPid = table_->currentRow() >= 0 ? table_->item(table_->currentRow(), 0)->text().toInt() : 0;
    std::vector<const lido::engine::InstanceMetrics*> rows;
    for (const auto& p : snapshot.fastcgi)
        if (QString::fromStdString(p.pool) == pool)
            for (const auto& in : p.instances)
                rows.push_back(&in);
    table_->setRowCount(static_cast<int>(rows.size()));
    int reselect = -1;
    for (size_t r = 0; r < rows.size(); ++r) {
        const auto& in = *rows[r];
        int uptime = static_cast<int>(in.uptimeSeconds);
        QStringList cells{QString::number(in.pid), lido::engine::stateName(in.state), QString::number(in.requests),
                          QString::number(static_cast<double>(in.rssBytes) / 1048576.0, 'f', 1), QString::number(in.cpuSeconds, 'f', 2),
                          QString("%1:%2:%3").arg(uptime / 3600).arg(uptime / 60 % 60, 2, 10, QChar('0')).arg(uptime % 60, 2, 10, QChar('0')),
                          QString::fromStdString(in.currentUrl)};
        for (int c = 0; c < cells.size(); ++c) {
            QTableWidgetItem* item = table_->item(static_cast<int>(r), c);
            if (!item)
                table_->setItem(static_cast<int>(r), c, item = new QTableWidgetItem);
            item->setText(cells[c]);
        }
        if (in.pid == keepPid)
            reselect = static_cast<int>(r);
    }
    if (reselect >= 0 && reselect != table_->currentRow())
        table_->selectRow(reselect);
    recycle_->setEnabled(table_->currentRow() >= 0 && reselect >= 0);
}
