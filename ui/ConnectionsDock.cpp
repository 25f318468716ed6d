#include "ConnectionsDock.h"

#include "EngineClient.h"
#include "ServerList.h"

#include <QInputDialog>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QToolBar>
#include <QTreeWidget>
#include <QVBoxLayout>

ConnectionsDock::ConnectionsDock(ServerList* servers, int current, QWidget* parent)
    : QDockWidget(tr("Connections"), parent), servers_(servers), list_(new QTreeWidget), current_(current)
{
    setObjectName("connectionsDock");
    list_->setObjectName("connections");
    // One column, two lines a server: its name, then its state, so that a narrow dock shows both.
    list_->setColumnCount(1);
    list_->setHeaderHidden(true);
    list_->setRootIsDecorated(false);
    list_->setUniformRowHeights(false);
    list_->setIconSize(QSize(22, 22));
    list_->setTextElideMode(Qt::ElideRight);
    list_->setContextMenuPolicy(Qt::CustomContextMenu);
    auto* bar = new QToolBar;
    bar->setIconSize(QSize(16, 16));
    QAction* add = bar->addAction(tr("Connect…"), this, &ConnectionsDock::connectRequested);
    add->setToolTip(tr("Connect to a server over SSH (ssh -T user@host lidoctl bridge)"));
    QAction* open = bar->addAction(tr("Open"), this, [this] {
        if (QTreeWidgetItem* i = list_->currentItem())
            emit openRequested(i->data(0, Qt::UserRole).toInt());
    });
    QAction* remove = bar->addAction(tr("Remove"), this, [this] {
        QTreeWidgetItem* i = list_->currentItem();
        int server = i ? i->data(0, Qt::UserRole).toInt() : 0;
        if (server > 0 && QMessageBox::question(this, tr("Remove"), tr("Stop watching %1?").arg(servers_->at(server).name)) == QMessageBox::Yes)
            servers_->remove(server);
    });
    open->setObjectName("openServer");
    remove->setObjectName("removeServer");
    connect(list_, &QTreeWidget::currentItemChanged, this, [remove](QTreeWidgetItem* i) {
        remove->setEnabled(i && i->data(0, Qt::UserRole).toInt() > 0);
    });
    connect(list_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* i) { emit openRequested(i->data(0, Qt::UserRole).toInt()); });
    connect(list_, &QTreeWidget::customContextMenuRequested, this, [this, open, remove](const QPoint& p) {
        if (!list_->itemAt(p))
            return;
        QMenu m;
        m.addAction(open);
        m.addAction(remove);
        m.exec(list_->viewport()->mapToGlobal(p));
    });
    auto* w = new QWidget;
    auto* layout = new QVBoxLayout(w);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(bar);
    layout->addWidget(list_);
    setWidget(w);
    connect(servers_, &ServerList::added, this, &ConnectionsDock::fill);
    connect(servers_, &ServerList::removed, this, [this](int removed) {
        if (current_ > removed)
            --current_;
        fill();
    });
    connect(servers_, &ServerList::changed, this, &ConnectionsDock::update);
    fill();
}

void ConnectionsDock::fill()
{
    list_->clear();
    for (int i = 0; i < servers_->count(); ++i) {
        auto* item = new QTreeWidgetItem(list_);
        item->setData(0, Qt::UserRole, i);
        if (i == current_) {
            QFont f = item->font(0);
            f.setBold(true);
            item->setFont(0, f);
        }
        update(i);
    }
}

void ConnectionsDock::update(int i)
{
    QTreeWidgetItem* item = i >= 0 ? list_->topLevelItem(i) : nullptr;
    if (!item)
        return;
    const ServerList::Server& s = servers_->at(i);
    ServerList::Link link = servers_->link(i);
    Health h = link == ServerList::Link::Unreachable ? Health::Failed : s.health.health;
    item->setIcon(0, healthIcon(h));
    QString state = link == ServerList::Link::Reachable ? s.health.summary() : servers_->linkText(i);
    item->setText(0, s.name + "\n" + state);
    item->setData(0, StateRole, state);
    QString how = s.destination.isEmpty() ? tr("This machine's engine (%1)").arg(s.client ? s.client->where() : tr("none"))
                                          : tr("ssh -T %1 lidoctl bridge").arg(s.destination);
    item->setToolTip(0, s.name + "\n" + how + "\n" + servers_->linkText(i) + (link == ServerList::Link::Reachable ? "\n" + s.health.summary() : QString()));
    item->setForeground(0, link == ServerList::Link::Unreachable ? QBrush(QColor(176, 0, 32)) : list_->palette().text());
}

int askAndConnect(ServerList* servers, QWidget* parent)
{
    bool ok = false;
    QString d = QInputDialog::getText(parent, QObject::tr("Connect to server"),
                                      QObject::tr("Server ([user@]host[:port]), reached with ssh -T … lidoctl bridge:\n"
                                                  "your keys, agent and ~/.ssh/config are used; the server's lidod must let you in."),
                                      QLineEdit::Normal, {}, &ok);
    if (!ok || d.trimmed().isEmpty())
        return -1;
    return servers->add(d);
}
