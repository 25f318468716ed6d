#include "ServerList.h"

#include "EngineClient.h"

#include <QDateTime>
#include <QSettings>
#include <QSysInfo>

#include <algorithm>
#include <map>

ServerList::ServerList(EngineClient* local, QObject* parent) : QObject(parent)
{
    auto s = std::make_unique<Server>();
    s->name = tr("This computer (%1)").arg(QSysInfo::machineHostName());
    s->client = local;
    s->remote = qobject_cast<RemoteEngineClient*>(local);
    Server* raw = s.get();
    servers_.push_back(std::move(s));
    if (local) {
        connect(local, &EngineClient::snapshotReady, this, [this, raw] { refresh(raw); });
        if (raw->remote)
            connect(raw->remote, &RemoteEngineClient::linkChanged, this, [this, raw] { emit changed(indexOf(raw->client)); });
        refresh(raw);
    }
}

ServerList::~ServerList()
{
    for (auto& s : servers_)
        if (s->destination.size())
            delete s->remote;
}

int ServerList::indexOf(const EngineClient* client) const
{
    for (size_t i = 0; i < servers_.size(); ++i)
        if (servers_[i]->client == client)
            return int(i);
    return -1;
}

ServerList::Link ServerList::link(int i) const
{
    const Server& s = at(i);
    if (!s.remote)
        return s.client ? Link::Reachable : Link::Unreachable; // in this process
    switch (s.remote->link()) {
    case RemoteEngineClient::Link::Connected: return Link::Reachable;
    case RemoteEngineClient::Link::Unreachable: return Link::Unreachable;
    default: return Link::Connecting;
    }
}

QString ServerList::linkText(int i) const
{
    const Server& s = at(i);
    if (!s.client)
        return tr("no engine (the file is only viewed)");
    switch (link(i)) {
    case Link::Reachable: return s.remote ? tr("reachable") : tr("in this process");
    case Link::Connecting: return tr("connecting…");
    case Link::Unreachable: return tr("unreachable: %1").arg(s.remote ? s.remote->linkError() : QString());
    }
    return {};
}

QString ServerList::configVersion(int i) const
{
    const Server& s = at(i);
    return s.client && link(i) == Link::Reachable ? QString::fromStdString(s.client->snapshot().configHash) : QString();
}

bool ServerList::configDiffers(int i) const
{
    QString mine = configVersion(i);
    if (mine.isEmpty())
        return false;
    std::map<QString, int> votes;
    for (int j = 0; j < count(); ++j)
        if (QString v = configVersion(j); !v.isEmpty())
            ++votes[v];
    if (votes.size() < 2)
        return false;
    int best = 0;
    for (const auto& [v, n] : votes)
        best = std::max(best, n);
    if (votes[mine] < best)
        return true;
    // A tie: the odd one out is whoever differs from this machine (or from the first listed).
    int ties = 0;
    for (const auto& [v, n] : votes)
        ties += n == best;
    if (ties < 2)
        return false;
    for (int j = 0; j < count(); ++j)
        if (QString v = configVersion(j); !v.isEmpty())
            return v != mine;
    return false;
}

int ServerList::add(const QString& destination, bool remember)
{
    QString d = destination.trimmed();
    for (int i = 1; i < count(); ++i)
        if (at(i).destination == d)
            return i;
    auto s = std::make_unique<Server>();
    s->name = d;
    s->destination = d;
    s->remote = new RemoteEngineClient;
    s->remote->setRetryInterval(retryMs_);
    s->client = s->remote;
    Server* raw = s.get();
    connect(raw->remote, &EngineClient::snapshotReady, this, [this, raw] { refresh(raw); });
    connect(raw->remote, &RemoteEngineClient::linkChanged, this, [this, raw] { emit changed(indexOf(raw->client)); });
    servers_.push_back(std::move(s));
    int index = count() - 1;
    if (remember)
        save();
    emit added(index);
    raw->remote->connectOverSsh(d);
    return index;
}

int ServerList::addClient(const QString& name, EngineClient* client)
{
    auto s = std::make_unique<Server>();
    s->name = name;
    s->client = client;
    Server* raw = s.get();
    connect(client, &EngineClient::snapshotReady, this, [this, raw] { refresh(raw); });
    servers_.push_back(std::move(s));
    emit added(count() - 1);
    refresh(raw);
    return count() - 1;
}

void ServerList::remove(int i)
{
    if (i <= 0 || i >= count())
        return;
    std::unique_ptr<Server> s = std::move(servers_[size_t(i)]);
    servers_.erase(servers_.begin() + i);
    save();
    emit removed(i);
    if (s->destination.isEmpty())
        return; // not ours
    s->remote->disconnect();
    s->remote->deleteLater(); // a window may still hold it until it closes
}

void ServerList::restore()
{
    for (const QString& d : QSettings().value("connections/servers").toStringList())
        if (!d.trimmed().isEmpty())
            add(d, false);
}

void ServerList::save() const
{
    QStringList list;
    for (int i = 1; i < count(); ++i)
        if (!at(i).destination.isEmpty())
            list << at(i).destination;
    QSettings().setValue("connections/servers", list);
}

void ServerList::refresh(Server* s)
{
    const lido::engine::Snapshot& snap = s->client->snapshot();
    s->health = healthOf(snap);
    uint64_t total5xx = 0;
    for (const auto& site : snap.sites)
        total5xx += site.status5xx;
    if (s->lastTime.time_since_epoch().count() && snap.time > s->lastTime) {
        double seconds = std::chrono::duration<double>(snap.time - s->lastTime).count();
        s->errorsPerSecond = total5xx >= s->last5xx ? double(total5xx - s->last5xx) / seconds : 0;
    }
    s->last5xx = total5xx;
    s->lastTime = snap.time;
    for (const auto& e : s->client->eventsSince(s->lastSeq)) {
        s->lastSeq = e.seq;
        if (e.severity == lido::log::Severity::Error)
            s->lastError = QDateTime::fromSecsSinceEpoch(std::chrono::system_clock::to_time_t(e.time)).toString("yyyy-MM-dd HH:mm:ss") + " " +
                           QString::fromStdString(e.code + ": " + e.message);
    }
    emit changed(indexOf(s->client));
}
