#include "Tray.h"

#include "EngineClient.h"
#include "ServerList.h"
#include "SiteUrls.h"

#include <QAction>
#include <QFontMetrics>
#include <QMenu>
#include <QSystemTrayIcon>

Tray::Tray(EngineClient* client, QObject* parent) : QObject(parent), servers_(new ServerList(client, this)) { init(); }

Tray::Tray(ServerList* servers, QObject* parent) : QObject(parent), servers_(servers) { init(); }

void Tray::init()
{
    icon_ = new QSystemTrayIcon(this);
    menu_ = new QMenu;
    pause_ = new QAction(tr("Pause notifications"), this);
    menu_->setObjectName("trayMenu");
    menu_->setToolTipsVisible(true);
    pause_->setCheckable(true);
    firstFixed_ = menu_->addSeparator();
    menu_->addAction(tr("Open console"), this, [this] { emit openConsole({}); });
    menu_->addAction(pause_);
    menu_->addAction(tr("Quit Lido"), this, &Tray::quitRequested);
    icon_->setContextMenu(menu_);
    icon_->setIcon(healthIcon(health_));
    icon_->setToolTip(tr("Lido"));
    connect(icon_, &QSystemTrayIcon::activated, this, [this](QSystemTrayIcon::ActivationReason r) {
        if (r == QSystemTrayIcon::Trigger || r == QSystemTrayIcon::DoubleClick)
            emit openConsole({});
    });
    connect(icon_, &QSystemTrayIcon::messageClicked, this, [this] {
        if (lastNotifiedServer_ == 0)
            emit openConsole(lastNotifiedPool_);
        emit openServer(lastNotifiedServer_, lastNotifiedPool_);
    });
    connect(servers_, &ServerList::changed, this, &Tray::update);
    connect(servers_, &ServerList::added, this, &Tray::update);
    connect(menu_, &QMenu::aboutToShow, this, [this] {
        if (servers_->count() <= 1)
            populate(0);
    });
    connect(servers_, &ServerList::removed, this, &Tray::update);
    if (available())
        icon_->show();
    update();
}

Tray::~Tray() { delete menu_; }

bool Tray::available() const { return QSystemTrayIcon::isSystemTrayAvailable(); }

QMenu* Tray::serverMenu(int server) const
{
    return servers_->count() > 1 && server >= 0 && size_t(server) < menus_.size() ? menus_[size_t(server)].menu : nullptr;
}

QMenu* Tray::poolMenu(int server, const QString& pool) const
{
    if (server < 0 || size_t(server) >= menus_.size())
        return nullptr;
    const_cast<Tray*>(this)->populate(server);
    const auto& m = menus_[size_t(server)].poolMenus;
    auto it = m.find(pool);
    return it == m.end() ? nullptr : it->second;
}

QAction* Tray::poolAction(int server, const QString& pool, const QString& verb) const
{
    if (QMenu* m = poolMenu(server, pool))
        for (QAction* sub : m->actions())
            if (sub->data().toString() == verb)
                return sub;
    return nullptr;
}

void Tray::rebuildServers()
{
    for (QAction* a : menu_->actions())
        if (a->menu()) {
            menu_->removeAction(a);
            a->menu()->deleteLater();
        }
    menus_.assign(size_t(servers_->count()), {});
    if (servers_->count() <= 1) {
        menus_.resize(1);
        menus_[0].menu = menu_;
        return;
    }
    for (int i = 0; i < servers_->count(); ++i) {
        auto* m = new QMenu(servers_->at(i).name, menu_);
        m->setToolTipsVisible(true);
        menus_[size_t(i)].menu = m;
        menus_[size_t(i)].state = m->addAction(QString()); // the server's summary or why it cannot be reached
        menus_[size_t(i)].state->setEnabled(false);
        m->addAction(tr("Open console"), this, [this, i] { emit openServer(i, {}); });
        m->addSeparator();
        connect(m, &QMenu::aboutToShow, this, [this, i] { populate(i); });
        menu_->insertMenu(firstFixed_, m);
    }
}

void Tray::setBrowseUrls(int server, const std::map<QString, QStringList>& urls)
{
    if (browse_[server] == urls)
        return;
    browse_[server] = urls;
    if (size_t(server) < menus_.size())
        menus_[size_t(server)].pools.clear(); // made again, with the entries, when next shown
}

void Tray::populate(int server)
{
    if (server < 0 || server >= servers_->count() || size_t(server) >= menus_.size())
        return;
    ServerMenu& sm = menus_[size_t(server)];
    const ServerList::Server& s = servers_->at(server);
    QStringList names;
    for (const auto& [name, state] : s.health.poolStates)
        names << name;
    if (names != sm.pools) {
        for (auto& [name, m] : sm.poolMenus) {
            sm.menu->removeAction(m->menuAction());
            m->deleteLater();
        }
        sm.poolMenus.clear();
        EngineClient* client = s.client;
        for (const QString& name : names) {
            auto* sub = new QMenu(name, sm.menu);
            sub->menuAction()->setData(name);
            sub->setToolTipsVisible(true);
            QAction* reason = sub->addAction(QString()); // why it is stopped (elided; whole in its tooltip), hidden while it runs
            reason->setData(QString("Reason"));
            reason->setEnabled(false);
            reason->setVisible(false);
            for (const char* verb : {"Start", "Stop", "Recycle"}) {
                QAction* a = sub->addAction(tr(verb));
                a->setData(QString(verb));
                lido::engine::PoolAction action = QString(verb) == "Start"  ? lido::engine::PoolAction::Start
                                                  : QString(verb) == "Stop" ? lido::engine::PoolAction::Stop
                                                                            : lido::engine::PoolAction::Recycle;
                connect(a, &QAction::triggered, this, [client, name, action] { client->controlPool(name, action); });
            }
            if (auto b = browse_.find(server); b != browse_.end())
                if (auto u = b->second.find(name); u != b->second.end() && !u->second.isEmpty()) {
                    sub->addSeparator();
                    addBrowseActions(sub, u->second);
                }
            if (sm.menu == menu_)
                menu_->insertMenu(firstFixed_, sub);
            else
                sm.menu->addMenu(sub);
            sm.poolMenus[name] = sub;
        }
        sm.pools = names;
    }
    bool unreachable = servers_->link(server) == ServerList::Link::Unreachable;
    for (const auto& [name, state] : s.health.poolStates) {
        QMenu* m = sm.poolMenus[name];
        QString title = name + " — " + (state.running ? tr("Started") : state.rapidFail ? tr("Stopped by rapid-fail protection") : tr("Stopped"));
        if (m->title() == title && m->property("unreachable").toBool() == unreachable && m->property("reason").toString() == state.reason)
            continue; // unchanged: nothing to redraw
        m->setTitle(title);
        m->setProperty("unreachable", unreachable);
        m->setProperty("reason", state.reason);
        m->setIcon(healthIcon(state.running ? Health::Healthy : state.rapidFail ? Health::Failed : Health::Degraded));
        for (QAction* sub : m->actions()) {
            if (sub->data().toString() == "Reason") {
                sub->setVisible(!state.running && !state.reason.isEmpty());
                sub->setText(QFontMetrics(m->font()).elidedText(state.reason, Qt::ElideRight, 420));
                sub->setToolTip(state.reason);
                continue;
            }
            if (sub->objectName() == "browse" || sub->isSeparator())
                continue;
            sub->setEnabled(!unreachable && (sub->data().toString() == "Start" ? !state.running : state.running));
        }
    }
}

void Tray::update()
{
    QStringList layout;
    for (int i = 0; i < servers_->count(); ++i)
        layout << servers_->at(i).name;
    if (layout != layout_ || menus_.empty()) {
        rebuildServers();
        layout_ = layout;
    }
    bool several = servers_->count() > 1;
    Health overall = Health::Healthy;
    QStringList lines;
    for (int i = 0; i < servers_->count(); ++i) {
        const ServerList::Server& s = servers_->at(i);
        if (!s.client)
            continue;
        bool unreachable = servers_->link(i) == ServerList::Link::Unreachable;
        Health h = unreachable ? Health::Failed : s.health.health;
        overall = std::max(overall, h);
        QString line = unreachable ? servers_->linkText(i) : s.health.summary();
        lines << (several ? s.name + ": " + line : tr("Lido: %1").arg(line));
        ServerMenu& sm = menus_[size_t(i)];
        if (several && sm.state) {
            sm.menu->setIcon(healthIcon(h));
            if (sm.state->toolTip() != line) {
                sm.state->setText(QFontMetrics(sm.menu->font()).elidedText(line, Qt::ElideRight, 420));
                sm.state->setToolTip(line);
            }
        }
        if (sm.menu && sm.menu->isVisible())
            populate(i); // live while it is open
    }
    if (health_ != overall) // the tray host redraws what it is sent: only a change
        icon_->setIcon(healthIcon(overall));
    health_ = overall;
    if (summary_ != lines.join("\n")) {
        summary_ = lines.join("\n");
        icon_->setToolTip(summary_);
    }

    // Notifications for what needs a person: rapid-fail stops, sites that cannot bind, expiring
    // certificates, a server that cannot be reached. With several servers each names its server.
    for (int i = 0; i < servers_->count(); ++i) {
        const ServerList::Server& s = servers_->at(i);
        if (!s.client)
            continue;
        Seen& seen = seen_[s.client];
        auto notify = [&](QString title, const QString& message, const QString& pool) {
            if (several)
                title = tr("%1: %2").arg(s.name, title);
            lastNotifiedServer_ = i;
            lastNotifiedPool_ = pool;
            if (available())
                icon_->showMessage(title, message, QSystemTrayIcon::Critical, 15000);
            emit notified(title, message, pool);
        };
        bool unreachable = servers_->link(i) == ServerList::Link::Unreachable;
        if (unreachable != seen.unreachable) {
            seen.unreachable = unreachable;
            if (unreachable && !pause_->isChecked())
                notify(tr("Server unreachable"), s.remote ? s.remote->linkError() : QString(), {});
        }
        for (const auto& e : s.client->eventsSince(seen.lastSeq)) {
            seen.lastSeq = e.seq;
            QString title, pool;
            if (e.code == "pool.rapid-fail") {
                pool = QString::fromStdString(e.source).section(' ', 1, 1);
                title = tr("Pool %1 stopped").arg(pool);
            } else if (e.code == "site.bind-failed") {
                title = tr("A site cannot serve");
            } else if (e.code == "tls.certificate-expiring" || e.code == "tls.certificate-expired") {
                title = e.code == "tls.certificate-expired" ? tr("A certificate has expired") : tr("A certificate expires soon");
            } else {
                continue;
            }
            // What happened before the console started is in the Events dock; a certificate's
            // expiry is told once, at the engine's start, and is still worth a notification then.
            bool certificate = e.code.rfind("tls.certificate-", 0) == 0;
            if (pause_->isChecked() || (!seen.firstSnapshot && !certificate))
                continue;
            notify(title, QString::fromStdString(e.message), pool);
        }
        if (!s.client->snapshot().sites.empty() || !s.client->eventsSince(0).empty())
            seen.firstSnapshot = true;
    }
}
