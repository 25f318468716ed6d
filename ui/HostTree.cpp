#include "HostTree.h"
#include "Health.h"

#include <QHash>

#include "EngineClient.h"
#include "config/Config.h"
#include "routing/SiteMap.h"

#include <QApplication>
#include <QHeaderView>
#include <QStyle>
#include <map>
#include <set>

using lido::config::ConfigElement;

namespace {

enum Role { Kind = Qt::UserRole, Name, ShownState };

// Cached (styleIcon): the tree sets one per site and pool every second.
QIcon stateIcon(bool running, bool failed)
{
    return styleIcon(running ? QStyle::SP_DialogApplyButton : failed ? QStyle::SP_MessageBoxCritical : QStyle::SP_MediaStop);
}

} // namespace

HostTree::HostTree(EngineClient* client, QWidget* parent) : QTreeWidget(parent), client_(client)
{
    setObjectName("hostTree");
    setHeaderHidden(true);
    setUniformRowHeights(true);
    connect(this, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
        for (QTreeWidgetItem* i = item; i; i = i->parent()) {
            if (i->data(0, Kind).toString() == "pool") {
                emit poolActivated(i->data(0, Name).toString());
                return;
            }
            if (i->data(0, Kind).toString() == "site") {
                emit siteActivated(i->data(0, Name).toString());
                return;
            }
        }
    });
    if (client_)
        connect(client_, &EngineClient::snapshotReady, this, &HostTree::refresh);
}

void HostTree::setConfig(std::shared_ptr<const lido::config::Config> config)
{
    clear();
    sites_ = new QTreeWidgetItem(this, {tr("Sites")});
    pools_ = new QTreeWidgetItem(this, {tr("Application Pools")});
    auto q = [](const std::string& s) { return QString::fromStdString(s); };
    for (const ConfigElement* site : config->sites()) {
        auto* s = new QTreeWidgetItem(sites_, {q(site->get("name"))});
        s->setData(0, Kind, "site");
        s->setData(0, Name, q(site->get("name")));
        for (const ConfigElement* app : site->childrenNamed("application")) {
            auto* a = new QTreeWidgetItem(s, {q(app->get("path")) + "  (" + q(app->get("applicationPool")) + ")"});
            a->setToolTip(0, tr("Application %1 in pool %2").arg(q(app->get("path")), q(app->get("applicationPool"))));
            for (const ConfigElement* vdir : app->childrenNamed("virtualDirectory")) {
                auto* v = new QTreeWidgetItem(a, {q(vdir->get("path")) + " → " + q(vdir->get("physicalPath"))});
                v->setToolTip(0, q(vdir->get("physicalPath")));
            }
        }
    }
    // Under each pool the FastCGI programs its applications can reach (as the engine runs them),
    // not every program some handler names.
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> fastcgi; // pool -> (program, arguments)
    for (const auto& [pool, program, arguments] : lido::routing::SiteMap::build(*config)->reachableFastCgi())
        fastcgi[pool].emplace_back(program, arguments);
    // "CGI programs" under the pools whose applications a CGI handler covers: one of the server's
    // handlers covers every application; one in a <location> those at or under its path.
    auto isCgi = [](const ConfigElement* handlers) {
        for (const ConfigElement* h : handlers ? handlers->childrenNamed("add") : std::vector<const ConfigElement*>{})
            if (h->get("modules").find("CgiModule") != std::string::npos)
                return true;
        return false;
    };
    bool serverCgi = isCgi(config->section("handlers"));
    std::set<std::string> cgiPools;
    for (const ConfigElement* site : config->sites()) {
        std::vector<std::string> prefixes;
        if (serverCgi)
            prefixes.push_back("/");
        for (const auto& l : config->locationsOf(site->get("name")))
            if (l.webServer && isCgi(l.webServer->child("handlers")))
                prefixes.push_back(l.prefix);
        for (const ConfigElement* app : site->childrenNamed("application")) {
            std::string path = app->get("path");
            path += path.ends_with('/') ? "" : "/";
            for (const std::string& prefix : prefixes)
                if (prefix.starts_with(path) || path.starts_with(prefix))
                    cgiPools.insert(app->get("applicationPool"));
        }
    }
    for (const ConfigElement* pool : config->pools()) {
        auto* p = new QTreeWidgetItem(pools_, {q(pool->get("name"))});
        p->setData(0, Kind, "pool");
        p->setData(0, Name, q(pool->get("name")));
        for (const auto& [programPath, args] : fastcgi[pool->get("name")]) {
            // The program's name and its arguments; the full path in the tooltip.
            QString program = q(programPath);
            QString arguments = q(args);
            auto* f = new QTreeWidgetItem(p, {tr("FastCGI %1").arg(program.section('/', -1) + (arguments.isEmpty() ? "" : " " + arguments))});
            f->setData(0, Kind, "fastcgi");
            f->setData(0, Name, program + (arguments.isEmpty() ? "" : " " + arguments));
        }
        if (cgiPools.count(pool->get("name")))
            new QTreeWidgetItem(p, {tr("CGI programs")});
    }
    expandToDepth(1);
    refresh();
}

QTreeWidgetItem* HostTree::poolItem(const QString& name) const
{
    for (int i = 0; pools_ && i < pools_->childCount(); ++i)
        if (pools_->child(i)->data(0, Name).toString() == name)
            return pools_->child(i);
    return nullptr;
}

QTreeWidgetItem* HostTree::siteItem(const QString& name) const
{
    for (int i = 0; sites_ && i < sites_->childCount(); ++i)
        if (sites_->child(i)->data(0, Name).toString() == name)
            return sites_->child(i);
    return nullptr;
}

void HostTree::refresh()
{
    if (!client_ || !sites_)
        return;
    const auto& snap = client_->snapshot();
    // By name once (a lookup per site would scan them all), and an item changed only when its state
    // did: each change is a repaint, and a thousand a second was most of the GUI thread's time.
    QHash<QString, QTreeWidgetItem*> sites;
    for (int i = 0; i < sites_->childCount(); ++i)
        sites.insert(sites_->child(i)->data(0, Name).toString(), sites_->child(i));
    auto show = [](QTreeWidgetItem* item, bool running, bool failed, const QString& tip) {
        int state = running ? 0 : failed ? 1 : 2;
        if (item->data(0, ShownState).isValid() && item->data(0, ShownState).toInt() == state && item->toolTip(0) == tip)
            return;
        item->setData(0, ShownState, state);
        item->setIcon(0, stateIcon(running, failed));
        item->setToolTip(0, tip);
    };
    for (const auto& s : snap.sites)
        if (QTreeWidgetItem* item = sites.value(QString::fromStdString(s.name)))
            show(item, s.started, s.state.rfind("Failed", 0) == 0, QString::fromStdString(s.name + ": " + s.state));
    // A pool is running unless one of its FastCGI process pools is stopped (with the reason).
    std::map<QString, std::pair<bool, QString>> pools;
    std::map<std::pair<QString, QString>, const lido::engine::PoolMetrics*> processPools;
    for (const auto& p : snap.fastcgi) {
        auto& state = pools.emplace(QString::fromStdString(p.pool), std::make_pair(true, QString())).first->second;
        if (!p.running) {
            state.first = false;
            state.second = QString::fromStdString(p.stoppedReason);
        }
        processPools[{QString::fromStdString(p.pool), QString::fromStdString(p.application)}] = &p;
    }
    for (int i = 0; i < pools_->childCount(); ++i) {
        QTreeWidgetItem* item = pools_->child(i);
        QString name = item->data(0, Name).toString();
        auto it = pools.find(name);
        bool running = it == pools.end() || it->second.first;
        show(item, running, !running && it->second.second.contains("rapid-fail"),
             running ? tr("%1: started").arg(name) : tr("%1: stopped: %2").arg(name, it->second.second));
        for (int c = 0; c < item->childCount(); ++c) {
            QTreeWidgetItem* f = item->child(c);
            if (f->data(0, Kind).toString() != "fastcgi")
                continue;
            auto pp = processPools.find({name, f->data(0, Name).toString()});
            if (pp == processPools.end()) {
                f->setToolTip(0, tr("not used by an application of this pool"));
                continue;
            }
            const auto& m = *pp->second;
            show(f, m.running, m.stoppedReason.find("rapid-fail") != std::string::npos,
                 f->data(0, Name).toString() + ": " +
                     (m.running ? tr("%1 busy, %2 idle, %3 queued, %4 req/s").arg(m.busy).arg(m.idle).arg(m.queued).arg(m.requestsPerSecond, 0, 'f', 0)
                                : tr("stopped: %1").arg(QString::fromStdString(m.stoppedReason))));
        }
    }
}
