#include "engine/Engine.h"
#include "engine/EngineImpl.h"

namespace lido::engine {

// A new FastCGI pool starts, unless its application pool is stopped (lidoctl stop pool): then
// it stays stopped with that reason until the pool is started.
void Engine::Impl::startUnlessStopped(Shared& shared, const std::string& key, pool::FastCgiPool& p)
{
    p.start(); // its upkeep (tick, monitored file) runs either way
    std::string name = key.substr(0, key.find('\x1f'));
    auto ap = shared.pools.find(name);
    if (auto kept = keptStopped.find(name); kept != keptStopped.end()) {
        events->add(log::Severity::Warning, "pool " + name, "pool.kept-stopped",
                    "pool " + name + " stays stopped after the configuration change: " + kept->second +
                        ". Start it when the fault is mended (lidoctl start pool " + name + ", or Start in the console)");
        std::string why = kept->second.substr(0, kept->second.find(" (kept after")) + " (kept after the configuration changed; an administrator starts it)";
        p.stop(why);
        if (ap != shared.pools.end() && !ap->second.stopped.empty()) // the application pool says it too
            ap->second.stopped = stoppedPools[name] = why;
    } else if (ap != shared.pools.end() && !ap->second.stopped.empty()) {
        p.stop(ap->second.stopped); // queued after start on the pool's strand
    }
}

// IIS's rapid-fail protection stops the application pool, not one of its programs: once a
// FastCGI pool of P has been stopped by it, every application of P answers 503, static files
// and CGI too, until an administrator starts P (as for lidoctl stop pool P). Checked by the
// ticker; an apply in progress may need this thread, so then it is the next second's turn.
// metrics: this tick's, of every FastCGI pool.
void Engine::Impl::stopPoolsThatRapidFailed(const Shared& shared, const std::vector<pool::PoolMetrics>& metrics)
{
    std::map<std::string, std::string> tripped;
    for (const pool::PoolMetrics& m : metrics) {
        const std::string& name = m.pool;
        auto ap = shared.pools.find(name);
        if (ap == shared.pools.end() || !ap->second.stopped.empty() || tripped.count(name))
            continue;
        if (!m.running && m.stoppedReason.find("stopped by rapid-fail protection") != std::string::npos)
            tripped.emplace(name, m.stoppedReason.find(" (kept after") != std::string::npos
                                      ? m.stoppedReason
                                      : m.stoppedReason + "; it stays stopped until an administrator starts it");
    }
    for (const auto& [name, why] : tripped) {
        std::unique_lock guard(applyMutex, std::try_to_lock);
        if (!guard.owns_lock() || !running)
            return;
        if (!stoppedPools.emplace(name, why).second)
            continue;
        auto old = current();
        auto next = build(old->config, old.get());
        listeners->sync(*next);
        slot->store(next);
        for (const auto& [key, p] : next->fastcgi) // its other programs stop with it
            if (p && key.substr(0, key.find('\x1f')) == name && p->metrics().running)
                p->stop(why);
        events->add(log::Severity::Error, "pool " + name, "pool.application-stopped",
                    "application pool " + name + " stopped: all its applications answer 503, static files and CGI too, until an " +
                        "administrator starts it (lidoctl start pool " + name + ", or Start in the console); " + why);
    }
}

void Engine::Impl::retirePools(const Shared& old, const Shared& next, const std::string& why)
{
    for (auto& [key, p] : old.fastcgi) {
        auto it = next.fastcgi.find(key);
        if (p && (it == next.fastcgi.end() || it->second != p)) {
            p->retire(why);
            std::lock_guard lock(retiredMutex);
            retired.push_back(p);
        }
    }
}

void Engine::Impl::tick()
{
    ticker->expires_after(std::chrono::seconds(1));
    ticker->async_wait([this](const asio::error_code& ec) {
        if (ec)
            return;
        auto shared = current();
        HistoryPoint p;
        p.time = std::chrono::system_clock::now();
        for (auto& [name, s] : shared->sites) {
            uint64_t now = s->counters->requests.load();
            double perSecond = static_cast<double>(now - s->counters->lastRequests);
            s->counters->perSecond = perSecond;
            s->counters->lastRequests = now;
            p.requestsPerSecond += perSecond;
            p.errors5xx += s->counters->status[5].load();
            if (s->accessLog)
                s->accessLog->flush();
        }
        std::map<std::string, PoolSample> pools; // each application pool's figures, for its charts
        for (auto& [name, pool] : shared->pools) {
            auto m = pool.limiter->metrics();
            p.cgiRunning += m.running;
            p.cgiQueued += m.queued;
            PoolSample& s = pools[name];
            s.pool = name;
            s.busy += m.running;
            s.total += m.running;
            s.queued += m.queued;
        }
        std::vector<pool::PoolMetrics> metrics; // read once: the history and the rapid-fail check
        metrics.reserve(shared->fastcgi.size());
        for (const auto& [key, fp] : shared->fastcgi)
            if (fp)
                metrics.push_back(fp->metrics());
        for (const pool::PoolMetrics& m : metrics) {
            auto it = pools.find(m.pool);
            if (it == pools.end())
                continue;
            PoolSample& s = it->second;
            s.requestsPerSecond += m.requestsPerSecond;
            s.busy += m.busy;
            s.total += m.starting + m.idle + m.busy + m.draining;
            s.queued += m.queued;
            if (m.latencyRequests > 0)
                s.p99Ms = std::max(s.p99Ms, m.p99Ms);
            auto byCause = pool::failuresByCause(m);
            for (size_t i = 0; i < byCause.size(); ++i)
                s.failuresTotal[i] += byCause[i];
        }
        std::vector<PoolSample> samples;
        samples.reserve(pools.size());
        for (auto& [name, s] : pools)
            samples.push_back(std::move(s));
        {
            std::lock_guard lock(historyMutex);
            history.push_back(p);
            while (history.size() > 3600)
                history.pop_front();
            poolHistory.record(p.time, samples);
        }
        listeners->tick();
        stopPoolsThatRapidFailed(*shared, metrics);
        checkCertificates(*shared);
        acme->tick();
        {
            std::lock_guard lock(retiredMutex);
            std::erase_if(retired, [](const std::shared_ptr<pool::FastCgiPool>& r) { return r->drained(); });
        }
        events->flush();
        tick();
    });
}

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>())
{
    impl_->options = std::move(options);
    std::string file = impl_->options.logDirectory.empty() ? std::string() : impl_->options.logDirectory + "/lido-events.log";
    if (!impl_->options.logDirectory.empty())
        ::mkdir(impl_->options.logDirectory.c_str(), 0755);
    impl_->events = std::make_shared<log::EventLog>(file, impl_->options.logToStderr);
    auto clock = impl_->options.clock ? impl_->options.clock : [] { return std::time(nullptr); };
    impl_->acme = std::make_unique<acme::AcmeManager>(impl_->events, clock);
    impl_->acme->onIssued([impl = impl_.get()](const std::string& host) { impl->acmeIssued(host); });
    // A client that disconnects must not kill the engine with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
}

Engine::~Engine() { stop(std::chrono::milliseconds(0)); }

bool Engine::running() const { return impl_->running; }
std::shared_ptr<log::EventLog> Engine::events() const { return impl_->events; }
std::shared_ptr<const config::Config> Engine::config() const
{
    auto shared = impl_->current();
    return shared ? shared->config : nullptr;
}

Result<void> Engine::start(std::shared_ptr<const config::Config> config)
{
    std::lock_guard guard(impl_->applyMutex);
    if (impl_->running)
        return fail("the engine is already running");
    if (!config->valid())
        return fail("the configuration has errors; the engine does not start with it");
    impl_->health->stopping = false;
    impl_->runtimeDir = impl_->options.runtimeDirectory;
    if (impl_->runtimeDir.empty()) {
        // systemd's RuntimeDirectory= first (the packaged service: /run/lido, owned by lido).
        const char* service = std::getenv("RUNTIME_DIRECTORY");
        const char* xdg = std::getenv("XDG_RUNTIME_DIR");
        impl_->runtimeDir = service && *service ? std::string(service)
                            : xdg               ? std::string(xdg) + "/lido"
                            : ::geteuid() == 0  ? "/run/lido"
                                                : "/tmp/lido-" + std::to_string(::geteuid());
    }
    ::mkdir(impl_->runtimeDir.c_str(), 0711);
    if (int stale = pool::FastCgiPool::removeStaleSockets(impl_->runtimeDir))
        impl_->events->add(log::Severity::Info, "engine", "engine.stale-sockets",
                           std::to_string(stale) + " FastCGI socket" + (stale == 1 ? "" : "s") + " left in " + impl_->runtimeDir +
                               " by an engine that is no longer running removed");
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    impl_->listeners = std::make_unique<Listeners>(impl_->slot, impl_->events);
    // Half the cores by default, at least one: the applications need the rest. Measured on two
    // cores with the client on one (README, "I/O threads"): one thread serves FastCGI 15-25 %
    // faster than two, which wake each other, and static files as fast.
    impl_->listeners->start(impl_->options.threads > 0 ? impl_->options.threads : static_cast<int>(std::max(1u, cores / 2)));
    auto shared = impl_->build(config, nullptr);
    // Listeners first (they mark the sites that cannot bind), then the view is published and
    // never written again; a connection accepted in between gets the short 503.
    std::string failures = impl_->listeners->sync(*shared);
    impl_->slot->store(shared);
    for (auto& [key, p] : shared->fastcgi)
        impl_->startUnlessStopped(*shared, key, *p);

    // The status listener: only when configured (lido/statusListener), loopback by default.
    if (const ConfigElement* sl = config->section("lido/statusListener"); sl && config::parseBool(sl->get("enabled")).value_or(true)) {
        auto info = config::parseBindingInfo(sl->get("bindingInformation"));
        std::vector<std::string> allow;
        std::stringstream list(sl->get("allow"));
        for (std::string a; std::getline(list, a, ',');)
            if (auto t = config::trim(a); !t.empty())
                allow.push_back(t);
        Engine* engine = this;
        auto slot = impl_->slot;
        auto health = [slot](const std::string& site) {
            auto view = slot->load();
            return !view ? Health{503, "stopping"} : site.empty() ? engineHealth(*view) : siteHealth(*view, site);
        };
        auto pages = statusDispatcher([engine](bool full) { return engine->snapshot(full); }, health, allow, std::chrono::steady_clock::now());
        std::string error = impl_->listeners->openStatus({info->ip, info->port}, pages);
        if (!error.empty())
            impl_->events->add(log::Severity::Error, "engine", "status.bind-failed",
                               "the status listener cannot bind " + sl->get("bindingInformation") + ": " + error);
    }
    impl_->listeners->runOnFirst([this] {
        impl_->ticker = std::make_unique<asio::steady_timer>(impl_->listeners->io());
        impl_->tick();
    });
    impl_->running = true;
    const DescriptorLimit& d = impl_->listeners->descriptors();
    impl_->events->add(log::Severity::Info, "engine", "engine.descriptors",
                       "open-file limit " + std::to_string(d.soft) +
                           (d.soft != d.before ? " (the soft limit " + std::to_string(d.before) + " raised to the hard limit)"
                                               : " (soft and hard limit " + std::to_string(d.hard) + ")") +
                           "; at most " + std::to_string(shared->maxConnections) + " connections at once");
    for (const auto& [name, s] : shared->sites)
        if (s->failure.empty() && s->config->autoStart)
            impl_->events->add(log::Severity::Info, "site " + name, "site.started", "site " + name + " started");
    if (!failures.empty())
        return fail(failures);
    return {};
}

Result<std::string> Engine::apply(std::shared_ptr<const config::Config> config)
{
    std::lock_guard guard(impl_->applyMutex);
    if (!impl_->running)
        return fail("the engine is not running");
    if (!config->valid())
        return fail("the configuration has errors; the running configuration stays");
    auto old = impl_->current();
    auto changes = config::semanticDiff(*old->config, *config);
    if (changes.empty())
        return std::string("no changes");
    std::string summary = config::formatSemanticDiff(changes);
    while (!summary.empty() && summary.back() == '\n')
        summary.pop_back();
    auto next = impl_->build(config, old.get());
    // New listeners first, then the new view goes live, then what is gone is closed: a binding
    // that stays is never closed, and a request finds its site at every moment.
    std::string failures = impl_->listeners->sync(*next);
    for (auto& [key, p] : next->fastcgi) {
        auto it = old->fastcgi.find(key);
        if (it == old->fastcgi.end() || it->second != p)
            impl_->startUnlessStopped(*next, key, *p);
    }
    impl_->slot->store(next);
    impl_->retirePools(*old, *next, "the configuration changed");
    std::set<std::string> before, after;
    for (auto& [name, s] : old->sites)
        before.insert(name);
    for (auto& [name, s] : next->sites) {
        after.insert(name);
        if (!before.count(name) && s->failure.empty() && s->config->autoStart)
            impl_->events->add(log::Severity::Info, "site " + name, "site.started", "site " + name + " started");
    }
    for (const std::string& name : before)
        if (!after.count(name))
            impl_->events->add(log::Severity::Info, "site " + name, "site.stopped", "site " + name + " removed");
    impl_->events->addAudit(log::Severity::Info, "engine", "config.applied", "configuration applied: " + summary);
    if (!failures.empty())
        summary += "\n(applied, but " + failures + ")"; // the sites concerned are marked failed, with events
    return summary;
}

void Engine::reopenLogs()
{
    auto reopened = impl_->events->reopen();
    int sites = 0;
    for (auto& [name, s] : impl_->current()->sites)
        if (s->accessLog) {
            s->accessLog->reopen();
            ++sites;
        }
    if (reopened)
        impl_->events->add(log::Severity::Info, "engine", "log.reopened",
                           "log files reopened: the event log and the access logs of " + std::to_string(sites) + " site" + (sites == 1 ? "" : "s"));
    else
        impl_->events->add(log::Severity::Error, "engine", "log.reopen-failed", "the event log could not be reopened: " + reopened.error());
}

void Engine::stop(std::chrono::milliseconds grace)
{
    std::lock_guard guard(impl_->applyMutex);
    if (!impl_->running)
        return;
    impl_->running = false;
    impl_->health->stopping = true;
    impl_->listeners->stop(grace);
    auto shared = impl_->current();
    for (auto& [name, s] : shared->sites)
        if (s->accessLog)
            s->accessLog->flush();
    impl_->ticker.reset();
    // Kills the instances (signalGroup SIGKILL) before the strands go.
    for (auto& [key, p] : shared->fastcgi)
        p.reset();
    impl_->retired.clear();
    // What stays readable after a stop: the configuration (the console still shows it), no pools.
    auto stopped = std::make_shared<Shared>();
    stopped->config = shared->config;
    stopped->map = shared->map;
    stopped->events = impl_->events;
    stopped->health = impl_->health;
    impl_->slot->store(std::move(stopped));
    shared.reset();
    impl_->listeners->clear(); // closes sockets and pipes; CGI children die with their thread (PR_SET_PDEATHSIG)
    impl_->events->add(log::Severity::Info, "engine", "engine.stopped", "the engine stopped");
    impl_->events->flush();
}

void Engine::drain(bool on, const std::string& why)
{
    {
        std::lock_guard lock(impl_->health->mutex);
        if (impl_->health->draining == on)
            return;
        impl_->health->reason = why;
        impl_->health->draining = on;
    }
    impl_->events->addAudit(log::Severity::Info, "engine", on ? "engine.draining" : "engine.undrained",
                            on ? "draining (" + why + "): /health answers 503 while requests are served on"
                               : "no longer draining (" + why + "): /health answers 200");
}

bool Engine::draining() const { return impl_->health->draining || impl_->health->stopping; }

Snapshot Engine::snapshot(bool withRequests) const
{
    Snapshot snap;
    snap.withRequests = withRequests;
    if (withRequests)
        snap.requests = impl_->board->list();
    snap.time = std::chrono::system_clock::now();
    snap.version = LIDO_VERSION;
    snap.draining = draining();
    auto shared = impl_->current();
    if (!shared)
        return snap;
    snap.configHash = shared->configHash;
    for (const auto& [name, s] : shared->sites) {
        SiteMetrics m;
        m.name = name;
        m.id = s->config->id;
        m.started = impl_->running && s->failure.empty() && s->config->autoStart && !s->stopped;
        m.state = !s->failure.empty() ? "Failed: " + s->failure : m.started ? "Started" : s->stopped ? "Stopped: stopped by the administrator" : "Stopped";
        const SiteCounters& c = *s->counters;
        m.requests = c.requests;
        m.requestsPerSecond = c.perSecond;
        m.status1xx = c.status[1];
        m.status2xx = c.status[2];
        m.status3xx = c.status[3];
        m.status4xx = c.status[4];
        m.status5xx = c.status[5];
        m.openConnections = c.connections;
        for (const auto& [key, ep] : shared->endpoints)
            if (ep.tls && std::find(ep.sites.begin(), ep.sites.end(), s.get()) != ep.sites.end())
                for (const http::CertificateFacts& f : ep.tls->certificates())
                    m.certificates.push_back({f.host, f.subject, f.file, f.notAfter});
        snap.sites.push_back(m);
    }
    for (const auto& [name, p] : shared->pools) {
        snap.cgi.push_back(p.limiter->metrics());
        snap.cgi.back().identity = p.settings.identity.shown;
        snap.cgi.back().stopped = !p.stopped.empty() || !impl_->running;
        snap.cgi.back().stoppedReason = p.stopped;
    }
    for (const auto& [key, p] : shared->fastcgi)
        if (p)
            snap.fastcgi.push_back(p->metrics());
    return snap;
}

Result<void> Engine::controlPool(const std::string& name, PoolAction action)
{
    auto shared = impl_->current();
    if (!shared || !shared->config->pool(name))
        return fail("no application pool '" + name + "'");
    if (action != PoolAction::Recycle) {
        // The application pool itself, as IIS's: stopped, all its applications answer 503
        // (static and CGI too); the state survives configuration applies until it is started.
        std::lock_guard guard(impl_->applyMutex);
        if (!impl_->running)
            return fail("the engine is not running");
        bool stop = action == PoolAction::Stop;
        bool changed = stop ? impl_->stoppedPools.emplace(name, "stopped by the administrator").second : impl_->stoppedPools.erase(name) > 0;
        if (changed) {
            auto old = impl_->current();
            auto next = impl_->build(old->config, old.get());
            impl_->listeners->sync(*next);
            impl_->slot->store(next);
            impl_->events->addAudit(log::Severity::Info, "pool " + name, stop ? "pool.stopped" : "pool.started",
                                    "application pool " + name + (stop ? " stopped by the administrator: its applications answer 503" : " started"));
        }
        shared = impl_->current();
    }
    for (auto& [key, p] : shared->fastcgi) {
        if (!p || key.substr(0, key.find('\x1f')) != name)
            continue;
        switch (action) {
        case PoolAction::Start: p->restart(); break;
        case PoolAction::Stop: p->stop("stopped by the administrator"); break;
        case PoolAction::Recycle: p->recycle("by the administrator"); break;
        }
    }
    return {};
}

Result<void> Engine::recycleInstance(const std::string& name, int pid)
{
    auto shared = impl_->current();
    if (!shared || !shared->config->pool(name))
        return fail("no application pool '" + name + "'");
    for (auto& [key, p] : shared->fastcgi)
        if (p && key.substr(0, key.find('\x1f')) == name && p->recycleInstance(pid, "by the administrator"))
            return {};
    return fail("no running instance with pid " + std::to_string(pid) + " in application pool '" + name + "'");
}

Result<void> Engine::controlSite(const std::string& name, SiteAction action)
{
    std::lock_guard guard(impl_->applyMutex);
    auto old = impl_->current();
    if (!impl_->running || !old)
        return fail("the engine is not running");
    if (!old->sites.count(name))
        return fail("no site '" + name + "'");
    bool stop = action == SiteAction::Stop;
    if (stop == (impl_->stoppedSites.count(name) > 0))
        return {}; // already so
    if (stop)
        impl_->stoppedSites.insert(name);
    else
        impl_->stoppedSites.erase(name);
    auto next = impl_->build(old->config, old.get());
    std::string failures = impl_->listeners->sync(*next);
    impl_->slot->store(next);
    impl_->events->add(log::Severity::Info, "site " + name, stop ? "site.stopped" : "site.started",
                       "site " + name + (stop ? " stopped by the administrator" : " started"));
    if (!failures.empty())
        return fail(failures);
    return {};
}

std::vector<log::RunningRequest> Engine::requests(const std::string& pool) const
{
    return impl_->board->list(pool);
}

std::vector<TraceSummary> Engine::traces(const std::string& site, size_t limit) const
{
    std::vector<TraceSummary> out;
    auto shared = impl_->current();
    if (!shared)
        return out;
    for (const auto& [name, state] : shared->sites)
        if (state->traces && (site.empty() || name == site))
            for (TraceSummary& t : state->traces->list())
                out.push_back(std::move(t));
    // Newest first; within one millisecond the later file of a site (fr000012 after fr000011).
    std::sort(out.begin(), out.end(), [](const TraceSummary& a, const TraceSummary& b) { return a.time != b.time ? a.time > b.time : a.id > b.id; });
    if (out.size() > limit)
        out.resize(limit);
    return out;
}

Result<std::string> Engine::trace(const std::string& id) const
{
    // "W3SVC1/fr000012"
    auto slash = id.find('/');
    auto siteId = id.rfind("W3SVC", 0) == 0 && slash != std::string::npos ? config::parseUInt(id.substr(5, slash - 5)) : std::nullopt;
    auto shared = impl_->current();
    if (siteId && shared)
        for (const auto& [name, state] : shared->sites)
            if (state->traces && state->config->id == *siteId)
                return state->traces->read(id.substr(slash + 1));
    return fail("no trace " + id + " (ids look like W3SVC1/fr000012: lidoctl traces lists them)");
}

std::vector<HistoryPoint> Engine::history() const
{
    std::lock_guard lock(impl_->historyMutex);
    return {impl_->history.begin(), impl_->history.end()};
}

std::vector<PoolPoint> Engine::poolHistory(const std::string& pool, bool hour) const
{
    std::lock_guard lock(impl_->historyMutex);
    return impl_->poolHistory.of(pool, hour);
}

} // namespace lido::engine
