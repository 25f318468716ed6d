#include "ServersPage.h"

#include "ChangesDialog.h"
#include "EngineClient.h"
#include "ServerList.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

ServersPage::ServersPage(ServerList* servers, QWidget* parent)
    : QWidget(parent), servers_(servers), table_(new QTableWidget), compare_(new QPushButton(tr("&Compare configurations…")))
{
    setObjectName("serversPage");
    table_->setObjectName("serversTable");
    table_->setColumnCount(Columns);
    table_->setHorizontalHeaderLabels({tr("Server"), tr("Link"), tr("Sites serving"), tr("Pools started / stopped / failed"), tr("Requests/s"),
                                       tr("5xx/s"), tr("Configuration"), tr("Last error")});
    table_->verticalHeader()->hide();
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->horizontalHeader()->setStretchLastSection(true);
    // A long reason (ssh's words, a socket path) is elided; the whole of it is the cell's tooltip.
    table_->horizontalHeader()->setMaximumSectionSize(340);
    table_->setTextElideMode(Qt::ElideRight);
    table_->setWordWrap(false);
    compare_->setObjectName("compareServers");
    compare_->setToolTip(tr("The running configurations of the two selected servers (or of the selected one and this machine), "
                            "side by side, exportable as a diff or a lidoctl script"));
    connect(compare_, &QPushButton::clicked, this, [this] {
        QList<int> rows;
        for (const QModelIndex& i : table_->selectionModel()->selectedRows())
            rows << i.row();
        std::sort(rows.begin(), rows.end());
        if (rows.size() == 1 && rows.front() != 0)
            rows.prepend(0);
        if (rows.size() >= 2)
            compare(rows[0], rows[1])->show();
    });
    connect(table_, &QTableWidget::cellDoubleClicked, this, [this](int row, int) { emit openRequested(row); });
    auto* bottom = new QHBoxLayout;
    auto* hint = new QLabel(tr("A configuration marked ≠ differs from the one most servers run."));
    hint->setEnabled(false);
    bottom->addWidget(hint, 1);
    bottom->addWidget(compare_);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(table_, 1);
    layout->addLayout(bottom);
    connect(servers_, &ServerList::added, this, &ServersPage::fill);
    connect(servers_, &ServerList::removed, this, &ServersPage::fill);
    connect(servers_, &ServerList::changed, this, [this](int) {
        for (int i = 0; i < servers_->count(); ++i)
            update(i); // one server's version marks the others
        table_->resizeColumnsToContents();
    });
    fill();
}

void ServersPage::fill()
{
    table_->setRowCount(servers_->count());
    for (int i = 0; i < servers_->count(); ++i)
        update(i);
    table_->resizeColumnsToContents();
}

void ServersPage::update(int i)
{
    if (i < 0 || i >= table_->rowCount())
        return;
    const ServerList::Server& s = servers_->at(i);
    bool reachable = servers_->link(i) == ServerList::Link::Reachable;
    auto set = [&](int column, const QString& text, const QString& tip = {}) {
        QTableWidgetItem* item = table_->item(i, column);
        if (!item) {
            item = new QTableWidgetItem;
            table_->setItem(i, column, item);
        }
        item->setText(text);
        item->setToolTip(tip.isEmpty() ? text : tip);
        if (column >= Sites && column <= Errors)
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
        return item;
    };
    QTableWidgetItem* name = set(Server, s.name, s.destination.isEmpty() ? tr("this machine") : tr("ssh -T %1 lidoctl bridge").arg(s.destination));
    name->setIcon(healthIcon(servers_->link(i) == ServerList::Link::Unreachable ? Health::Failed : s.health.health));
    QTableWidgetItem* link = set(Link, servers_->linkText(i));
    link->setForeground(servers_->link(i) == ServerList::Link::Unreachable ? QBrush(QColor(176, 0, 32)) : table_->palette().text());
    const ServerHealth& h = s.health;
    set(Sites, reachable ? tr("%1 of %2").arg(h.sitesServing).arg(h.sites) : QString());
    set(Pools, reachable ? QString("%1 / %2 / %3").arg(h.poolsStarted).arg(h.poolsStopped).arg(h.poolsFailed) : QString(),
        h.failedPools.isEmpty() ? QString() : tr("stopped by rapid-fail protection: %1").arg(h.failedPools.join(", ")));
    set(Rps, reachable ? QString::number(h.requestsPerSecond, 'f', h.requestsPerSecond < 10 ? 1 : 0) : QString());
    set(Errors, reachable ? QString::number(s.errorsPerSecond, 'f', s.errorsPerSecond < 10 ? 1 : 0) : QString());
    QString version = servers_->configVersion(i);
    bool differs = servers_->configDiffers(i);
    QTableWidgetItem* v = set(Version, version.isEmpty() ? QString() : (differs ? QString("≠ ") : QString()) + version.left(12),
                              differs ? tr("Differs from the configuration most servers run (%1)").arg(version) : version);
    QFont f = v->font();
    f.setBold(differs);
    v->setFont(f);
    v->setForeground(differs ? QBrush(QColor(176, 96, 0)) : table_->palette().text());
    set(LastError, s.lastError.isEmpty() ? tr("none") : s.lastError);
}

ChangesDialog* ServersPage::compare(int a, int b)
{
    const ServerList::Server& from = servers_->at(a);
    const ServerList::Server& to = servers_->at(b);
    auto* d = new ChangesDialog(QString(), nullptr, this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    EngineClient* ca = from.client;
    EngineClient* cb = to.client;
    d->addSource(tr("Running on %1").arg(from.name), "server:a", [ca] { return ca ? ca->runningConfigText() : QString(); });
    d->addSource(tr("Running on %1").arg(to.name), "server:b", [cb] { return cb ? cb->runningConfigText() : QString(); });
    d->setWindowTitle(tr("Export changes — %1 against %2").arg(from.name, to.name));
    d->compare("server:a", "server:b");
    return d;
}
