#include "engine/Engine.h"

#include "config/ConfigDiff.h"
#include "config/Values.h"
#include "engine/Router.h"
#include "engine/Settings.h"
#include "engine/StatusPage.h"
#include "engine/View.h"

#include <asio.hpp>
#include <atomic>
#include <csignal>
#include <deque>
#include <fcntl.h>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <thread>

namespace lido::engine {

using config::ConfigElement;
using namespace routing; // SiteMap, HandlerMapping, ...

namespace {

struct Worker {
    asio::io_context io{1};
    std::map<EndpointKey, std::unique_ptr<asio::ip::tcp::acceptor>> acceptors; // touched on this worker's thread only
    std::map<EndpointKey, std::unique_ptr<asio::steady_timer>> acceptBackoff;   // after EMFILE/ENFILE
    std::thread thread;
};

// accept() errors that mean "no descriptor or memory left": accepting again at once would fail
// again at once (a busy loop on every core), so the listener waits a little.
bool outOfDescriptors(const asio::error_code& ec)
{
    return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}
constexpr std::chrono::milliseconds kAcceptBackoff{100};

// The open-file limit: the soft limit is raised to the hard one at start, as nginx and lighttpd
// do, and the engine keeps a quarter of it (at least 64) for pools, logs and files.
struct DescriptorLimit {
    uint64_t soft = 0, hard = 0, before = 0;
};
DescriptorLimit raiseDescriptorLimit()
{
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    DescriptorLimit d{rl.rlim_cur, rl.rlim_max, rl.rlim_cur};
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised{rl.rlim_max, rl.rlim_max};
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            d.soft = rl.rlim_max;
    }
    return d;
}
int64_t connectionsFor(uint64_t softLimit)
{
    uint64_t reserve = std::max<uint64_t>(64, softLimit / 4);
    return softLimit > reserve ? static_cast<int64_t>(softLimit - reserve) : 16;
}

// Runs fn on the worker's thread and waits for it (listeners are opened and closed there).
template <typename Fn>
auto runOn(Worker& w, Fn fn) -> decltype(fn())
{
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(w.io, [&task] { task(); });
    return result.get();
}

std::string describeEndpoint(const EndpointKey& k) { return k.first + ":" + std::to_string(k.second); }

} // namespace

struct Engine::Impl {
    EngineOptions options;
    std::string runtimeDir;
    std::shared_ptr<SharedSlot> slot = std::make_shared<SharedSlot>();
    std::mutex applyMutex; // one apply (or start/stop) at a time
    std::set<std::string> stoppedSites; // by the administrator (under applyMutex)
    std::vector<std::unique_ptr<Worker>> workers;
    std::map<EndpointKey, std::shared_ptr<std::atomic<int64_t>>> endpointConnections;
    std::shared_ptr<std::atomic<int64_t>> openConnections = std::make_shared<std::atomic<int64_t>>(0); // all listeners
    DescriptorLimit descriptors;
    // Spare descriptors, given up when accept() finds none left: the open connections then still
    // have some to open files with, and new connections are answered 503 with them (shed) until
    // the number of open connections falls well below where it ran out.
    std::mutex spareMutex;
    std::vector<int> spares;
    std::atomic<int64_t> pressureCeiling{std::numeric_limits<int64_t>::max()};
    static constexpr size_t kSpares = 16;

    void takeSpares()
    {
        std::lock_guard lock(spareMutex);
        while (spares.size() < kSpares) {
            int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                break;
            spares.push_back(fd);
        }
    }
    ~Impl() { releaseSpares(); } // the engine's own descriptors go with it
    bool releaseSpares()
    {
        std::lock_guard lock(spareMutex);
        if (spares.empty())
            return false;
        for (int fd : spares)
            ::close(fd);
        spares.clear();
        return true;
    }
    std::vector<std::shared_ptr<pool::FastCgiPool>> retired; // replaced pools still finishing their requests
    std::mutex retiredMutex;
    size_t nextWorker = 0;
    std::shared_ptr<log::EventLog> events;
    mutable std::mutex historyMutex;
    std::deque<HistoryPoint> history;
    std::unique_ptr<asio::steady_timer> ticker;
    std::unique_ptr<asio::ip::tcp::acceptor> statusAcceptor;
    std::shared_ptr<http::Dispatcher> statusPages;
    std::atomic<bool> running{false};

    std::shared_ptr<Shared> current() const { return slot->load(); }

    void acceptStatus()
    {
        statusAcceptor->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !statusAcceptor->is_open())
                return;
            if (outOfDescriptors(ec)) {
                reportAcceptFailure("the status listener", ec);
                auto wait = std::make_shared<asio::steady_timer>(statusAcceptor->get_executor(), kAcceptBackoff);
                wait->async_wait([this, wait](const asio::error_code& e) {
                    if (!e && statusAcceptor && statusAcceptor->is_open())
                        acceptStatus();
                });
                return;
            }
            if (!ec)
                http::startConnection(std::move(socket), statusPages, http::Limits{});
            acceptStatus();
        });
    }

    void reportAcceptFailure(const std::string& where, const asio::error_code& ec, bool shedding = false)
    {
        events->add(log::Severity::Warning, "engine", "engine.accept-failed",
                    "accept() failed on " + where + ": " + ec.message() + " (" + std::to_string(openConnections->load()) +
                        " connections open; open-file limit " + std::to_string(descriptors.soft) + "); open connections are served, " +
                        (shedding ? "new ones get 503 until descriptors are free again (lido/limits/@maxConnections is too high for this limit)"
                                  : "new ones wait in the listen queue and are accepted again in " + std::to_string(kAcceptBackoff.count()) + " ms"));
    }

    void accept(Worker& worker, asio::ip::tcp::acceptor& acceptor, EndpointKey key, std::shared_ptr<std::atomic<int64_t>> count)
    {
        acceptor.async_accept([this, &worker, &acceptor, key, count](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open())
                return;
            if (outOfDescriptors(ec) && releaseSpares()) {
                // Shed from here on: connections past this many are answered 503 and closed.
                pressureCeiling = std::max<int64_t>(1, openConnections->load());
                reportAcceptFailure(describeEndpoint(key), ec, true);
                accept(worker, acceptor, key, count);
                return;
            }
            if (outOfDescriptors(ec)) {
                reportAcceptFailure(describeEndpoint(key), ec);
                auto& timer = worker.acceptBackoff[key];
                if (!timer)
                    timer = std::make_unique<asio::steady_timer>(worker.io);
                timer->expires_after(kAcceptBackoff);
                timer->async_wait([this, &worker, &acceptor, key, count](const asio::error_code& e) {
                    if (!e && acceptor.is_open())
                        accept(worker, acceptor, key, count);
                });
                return;
            }
            if (!ec) {
                uint64_t generation = slot->generation.load(std::memory_order_acquire);
                auto shared = current();
                const EndpointInfo* ep = nullptr;
                if (shared)
                    if (auto it = shared->endpoints.find(key); it != shared->endpoints.end())
                        ep = &it->second;
                int64_t open = openConnections->load();
                bool engineFull = ep && (open >= shared->maxConnections || open >= pressureCeiling.load());
                if (!ep || engineFull || static_cast<uint64_t>(count->load()) >= ep->maxConnections) {
                    // Over the engine's or the site's limit (or a listener being removed): a short
                    // 503 and close, as IIS does, instead of running out of descriptors.
                    static const std::string busy = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                    asio::error_code ignored;
                    socket.non_blocking(true, ignored);
                    socket.write_some(asio::buffer(busy), ignored);
                    socket.close(ignored);
                    if (engineFull)
                        events->add(log::Severity::Warning, "engine", "engine.connection-limit",
                                    std::to_string(openConnections->load()) + " connections open, the engine's limit (" +
                                        std::to_string(shared->maxConnections) + ", from lido/limits/@maxConnections or the open-file limit " +
                                        std::to_string(descriptors.soft) + "): new connections get 503");
                } else {
                    auto dispatcher = siteDispatcher(slot, shared, generation, *ep);
                    ++*count;
                    ++*openConnections;
                    auto counted = std::shared_ptr<void>(nullptr, [count, total = openConnections](void*) {
                        --*count;
                        --*total;
                    });
                    http::Limits limits = shared->limits;
                    if (!ep->sites.empty())
                        limits.idleTimeout = ep->sites.front()->config->connectionTimeout;
                    limits.headerTimeout = std::min(limits.headerTimeout, limits.idleTimeout);
                    http::startConnection(std::move(socket), std::make_shared<CountingDispatcher>(dispatcher, counted), limits);
                }
            }
            accept(worker, acceptor, key, count);
        });
    }

    // Keeps the endpoint's connection count exact: the count drops when the connection's
    // dispatcher goes, whatever the reason.
    class CountingDispatcher final : public http::Dispatcher {
    public:
        CountingDispatcher(std::shared_ptr<http::Dispatcher> d, std::shared_ptr<void> token) : d_(std::move(d)), token_(std::move(token)) {}
        void dispatch(std::shared_ptr<http::Responder> r) override { d_->dispatch(std::move(r)); }
        std::string errorBody(int status, const http::Request& req, const std::string& detail) override
        {
            return d_->errorBody(status, req, detail);
        }
        // Once. (The token holds no pointer, only a deleter: testing it as a bool was always false,
        // which is why the sites' open-connection counts never dropped.)
        void connectionClosed() override
        {
            if (closed_)
                return;
            closed_ = true;
            d_->connectionClosed();
            token_.reset();
        }

    private:
        std::shared_ptr<http::Dispatcher> d_;
        std::shared_ptr<void> token_;
        bool closed_ = false;
    };

    // Opens a listener for key on every worker; an error string when it cannot be bound.
    std::string openListener(const EndpointKey& key)
    {
        auto count = endpointConnections.emplace(key, std::make_shared<std::atomic<int64_t>>(0)).first->second;
        std::string failure;
        for (auto& w : workers) {
            Worker* raw = w.get();
            std::string why = runOn(*raw, [this, raw, key, count]() -> std::string {
                asio::error_code ec;
                std::string ip = key.first;
                if (ip.size() > 2 && ip.front() == '[')
                    ip = ip.substr(1, ip.size() - 2);
                auto addr = asio::ip::make_address(ip, ec);
                auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(raw->io);
                asio::ip::tcp::endpoint endpoint(addr, key.second);
                if (!ec)
                    acceptor->open(endpoint.protocol(), ec);
                if (!ec)
                    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
                if (!ec) {
                    int one = 1;
                    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
                    acceptor->bind(endpoint, ec);
                }
                if (!ec)
                    acceptor->listen(asio::socket_base::max_listen_connections, ec);
                if (ec)
                    return ec.message();
                accept(*raw, *acceptor, key, count);
                raw->acceptors[key] = std::move(acceptor);
                return {};
            });
            if (!why.empty() && failure.empty())
                failure = "cannot bind " + describeEndpoint(key) + ": " + why;
        }
        if (!failure.empty())
            closeListener(key);
        return failure;
    }

    void closeListener(const EndpointKey& key)
    {
        for (auto& w : workers) {
            Worker* raw = w.get();
            runOn(*raw, [raw, key] {
                auto it = raw->acceptors.find(key);
                if (it == raw->acceptors.end())
                    return 0;
                asio::error_code ignored;
                it->second->close(ignored);
                raw->acceptBackoff.erase(key); // a waiting back-off completes with operation_aborted
                // The pending accept completes with operation_aborted later: the acceptor must
                // outlive it, so it is destroyed from a posted handler after that completion.
                auto doomed = std::shared_ptr<asio::ip::tcp::acceptor>(std::move(it->second));
                raw->acceptors.erase(it);
                asio::post(raw->io, [doomed] {});
                return 0;
            });
        }
    }

    // Builds the request path's view of a configuration. Site counters, access logs, CGI limiters
    // and FastCGI pools of `old` are reused where their settings did not change.
    std::shared_ptr<Shared> build(std::shared_ptr<const config::Config> config, const Shared* old)
    {
        auto shared = std::make_shared<Shared>();
        shared->config = config;
        shared->events = events;
        {
            const ConfigElement* l = config->section("lido/log");
            std::string level = l ? l->get("level") : "info";
            events->setMinimum(level == "trace" || level == "debug" ? log::Severity::Debug
                               : level == "warn"                    ? log::Severity::Warning
                               : level == "error"                   ? log::Severity::Error
                                                                    : log::Severity::Info);
        }
        std::vector<std::string> warnings;
        shared->map = SiteMap::build(*config, &warnings);
        for (const std::string& w : warnings)
            events->add(log::Severity::Warning, "engine", "config.unsupported", w);
        if (const ConfigElement* rl = config->section("security/requestFiltering/requestLimits")) {
            shared->limits.maxUrl = config::parseUInt(rl->get("maxUrl")).value_or(4096);
            shared->limits.maxQueryString = config::parseUInt(rl->get("maxQueryString")).value_or(2048);
            shared->limits.maxContentLength = config::parseUInt(rl->get("maxAllowedContentLength")).value_or(30000000);
        }
        if (const ConfigElement* he = config->section("httpErrors"))
            shared->errorMode = he->get("errorMode");
        shared->filter = RequestFilter(config->section("security/requestFiltering"));
        shared->maxConnections = connectionsFor(descriptors.soft);
        if (const ConfigElement* l = config->section("lido/limits"))
            if (auto n = config::parseUInt(l->get("maxConnections")); n && *n > 0)
                shared->maxConnections = static_cast<int64_t>(*n);
        if (const ConfigElement* c = config->section("cgi")) {
            shared->cgiTimeout = std::chrono::milliseconds(config::parseTimeSpan(c->get("timeout")).value_or(900000));
        }

        unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        for (const ConfigElement* p : config->pools()) {
            PoolRuntime rt;
            std::string name = p->get("name");
            auto maxConcurrent = static_cast<int>(config::parseUInt(p->get("cgiMaxConcurrent")).value_or(0));
            if (maxConcurrent == 0)
                maxConcurrent = static_cast<int>(std::max(4u, 2 * cores));
            auto queue = config::parseUInt(p->get("cgiQueueLength")).value_or(1000);
            auto wait = std::chrono::milliseconds(config::parseTimeSpan(p->get("cgiQueueTimeout")).value_or(30000));
            rt.limiterKey = std::to_string(maxConcurrent) + "/" + std::to_string(queue) + "/" + std::to_string(wait.count());
            if (old)
                if (auto it = old->pools.find(name); it != old->pools.end() && it->second.limiterKey == rt.limiterKey)
                    rt.limiter = it->second.limiter;
            if (!rt.limiter)
                rt.limiter = std::make_shared<cgi::CgiLimiter>(name, maxConcurrent, queue, wait);
            rt.identity = poolIdentity(*p, *config);
            if (!rt.identity.error.empty())
                events->add(log::Severity::Error, "pool " + name, "pool.identity", rt.identity.error + "; its programs do not start");
            rt.limits = processLimits(p->child("processModel"));
            shared->pools.emplace(name, std::move(rt));
        }

        // FastCGI pools: every application pool that serves an application, with every FastCGI
        // application a handler names. A pool whose settings are unchanged is the same object.
        std::vector<std::pair<std::string, std::string>> fastCgiApps; // scriptProcessor split
        for (const HandlerMapping& h : shared->map->handlers())
            if (h.module == Module::FastCgi) {
                auto bar = h.scriptProcessor.find('|');
                fastCgiApps.emplace_back(config::expandEnvironment(h.scriptProcessor.substr(0, bar)),
                                         bar == std::string::npos ? std::string() : h.scriptProcessor.substr(bar + 1));
            }
        std::set<std::string> usedPools;
        for (const SiteConfig& site : shared->map->sites())
            for (const Application& a : site.applications)
                usedPools.insert(a.pool);
        for (const std::string& poolName : usedPools) {
            const ConfigElement* poolElement = config->pool(poolName);
            if (!poolElement)
                continue;
            for (const auto& [fullPath, args] : fastCgiApps) {
                std::string key = fastCgiKey(poolName, fullPath, args);
                if (shared->fastcgi.count(key))
                    continue;
                for (const ConfigElement* app : config->fastCgiApplications()) {
                    if (config::expandEnvironment(app->get("fullPath")) != fullPath || app->get("arguments") != args)
                        continue;
                    auto settings = fastCgiSettings(*app, *poolElement, runtimeDir, shared->pools.at(poolName).identity);
                    if (old)
                        if (auto it = old->fastcgi.find(key); it != old->fastcgi.end() && it->second && it->second->settings() == settings) {
                            shared->fastcgi[key] = it->second;
                            break;
                        }
                    // Each pool's strand lives on one worker; pools are spread over the workers.
                    auto& io = workers[nextWorker++ % workers.size()]->io;
                    shared->fastcgi[key] = std::make_shared<pool::FastCgiPool>(io, std::move(settings), events);
                    break;
                }
            }
        }

        for (const SiteConfig& site : shared->map->sites()) {
            auto state = std::make_unique<SiteState>();
            state->config = &site;
            std::string logDir = site.logDirectory;
            if (logDir.empty() && !options.logDirectory.empty())
                logDir = options.logDirectory + "/W3SVC" + std::to_string(site.id);
            state->accessLogKey = logDir + "|" + site.logPeriod + "|" + (site.logEnabled ? "1" : "0");
            if (old)
                if (auto it = old->sites.find(site.name); it != old->sites.end()) {
                    state->counters = it->second->counters;
                    if (it->second->accessLogKey == state->accessLogKey)
                        state->accessLog = it->second->accessLog;
                }
            if (!state->accessLog)
                state->accessLog = std::make_shared<log::AccessLog>(logDir, site.logPeriod, site.logEnabled);
            state->stopped = stoppedSites.count(site.name) > 0;
            state->filter = shared->filter.forSite(*config, site.name);
            SiteState* raw = state.get();
            shared->sites.emplace(site.name, std::move(state));
            if (!site.autoStart || raw->stopped)
                continue;
            for (const auto& b : site.bindings) {
                EndpointInfo& ep = shared->endpoints[EndpointKey(b.ip == "*" ? std::string("0.0.0.0") : b.ip, b.port)];
                ep.maxConnections = std::max(ep.maxConnections, site.maxConnections);
                if (std::find(ep.sites.begin(), ep.sites.end(), raw) == ep.sites.end())
                    ep.sites.push_back(raw);
            }
        }
        return shared;
    }

    // Opens the listeners `next` has and the running set lacks, closes those it no longer has;
    // marks the sites of a listener that cannot be bound as failed (with an event).
    std::string syncListeners(Shared& next)
    {
        std::set<EndpointKey> open;
        for (auto& [key, a] : workers.front()->acceptors)
            open.insert(key);
        // (acceptors are only touched on worker threads; the key set changes only here, under applyMutex)
        std::string failures;
        for (auto& [key, ep] : next.endpoints) {
            if (open.count(key))
                continue;
            std::string why = openListener(key);
            if (why.empty())
                continue;
            for (SiteState* s : ep.sites) {
                s->failure = why;
                events->add(log::Severity::Error, "site " + s->config->name, "site.bind-failed", "site " + s->config->name + " cannot serve: " + why);
            }
            failures += (failures.empty() ? "" : "; ") + why;
        }
        for (const EndpointKey& key : open)
            if (!next.endpoints.count(key)) {
                closeListener(key);
                events->add(log::Severity::Info, "engine", "listener.closed", "stopped listening on " + describeEndpoint(key));
            }
        return failures;
    }

    void retirePools(const Shared& old, const Shared& next, const std::string& why)
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

    void tick()
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
            for (auto& [name, pool] : shared->pools) {
                auto m = pool.limiter->metrics();
                p.cgiRunning += m.running;
                p.cgiQueued += m.queued;
            }
            {
                std::lock_guard lock(historyMutex);
                history.push_back(p);
                while (history.size() > 3600)
                    history.pop_front();
            }
            if (int64_t ceiling = pressureCeiling.load(); ceiling != std::numeric_limits<int64_t>::max() &&
                                                            openConnections->load() < ceiling * 3 / 4) {
                takeSpares();
                std::lock_guard lock(spareMutex);
                if (spares.size() == kSpares) {
                    pressureCeiling = std::numeric_limits<int64_t>::max();
                    events->add(log::Severity::Info, "engine", "engine.descriptors-recovered",
                                std::to_string(openConnections->load()) + " connections open: descriptors are free again, new connections are accepted");
                }
            }
            {
                std::lock_guard lock(retiredMutex);
                std::erase_if(retired, [](const std::shared_ptr<pool::FastCgiPool>& r) { return r->drained(); });
            }
            events->flush();
            tick();
        });
    }
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>())
{
    impl_->options = std::move(options);
    std::string file = impl_->options.logDirectory.empty() ? std::string() : impl_->options.logDirectory + "/lido-events.log";
    if (!impl_->options.logDirectory.empty())
        ::mkdir(impl_->options.logDirectory.c_str(), 0755);
    impl_->events = std::make_shared<log::EventLog>(file, impl_->options.logToStderr);
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
    impl_->runtimeDir = impl_->options.runtimeDirectory;
    if (impl_->runtimeDir.empty()) {
        const char* xdg = std::getenv("XDG_RUNTIME_DIR");
        impl_->runtimeDir = xdg ? std::string(xdg) + "/lido" : ::geteuid() == 0 ? "/run/lido" : "/tmp/lido-" + std::to_string(::geteuid());
    }
    ::mkdir(impl_->runtimeDir.c_str(), 0711);
    impl_->descriptors = raiseDescriptorLimit();
    impl_->takeSpares();

    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    int threads = impl_->options.threads > 0 ? impl_->options.threads : static_cast<int>(cores);
    impl_->workers.clear();
    impl_->endpointConnections.clear();
    for (int t = 0; t < threads; ++t) {
        auto w = std::make_unique<Worker>();
        Worker* raw = w.get();
        w->thread = std::thread([raw] {
            auto work = asio::make_work_guard(raw->io);
            raw->io.run();
        });
        impl_->workers.push_back(std::move(w));
    }
    auto shared = impl_->build(config, nullptr);
    // Listeners first (they mark the sites that cannot bind), then the view is published and
    // never written again; a connection accepted in between gets the short 503.
    std::string failures = impl_->syncListeners(*shared);
    impl_->slot->store(shared);
    for (auto& [key, p] : shared->fastcgi)
        p->start();

    // The status listener: only when configured (lido/statusListener), loopback by default.
    if (const ConfigElement* sl = config->section("lido/statusListener"); sl && config::parseBool(sl->get("enabled")).value_or(true)) {
        auto info = config::parseBindingInfo(sl->get("bindingInformation"));
        std::vector<std::string> allow;
        std::stringstream list(sl->get("allow"));
        for (std::string a; std::getline(list, a, ',');)
            if (auto t = config::trim(a); !t.empty())
                allow.push_back(t);
        Engine* engine = this;
        impl_->statusPages = statusDispatcher([engine] { return engine->snapshot(); }, allow, std::chrono::steady_clock::now());
        std::string error = runOn(*impl_->workers.front(), [this, info]() -> std::string {
            asio::error_code ec;
            std::string ip = info->ip == "*" ? "0.0.0.0" : info->ip;
            asio::ip::tcp::endpoint endpoint(asio::ip::make_address(ip, ec), info->port);
            impl_->statusAcceptor = std::make_unique<asio::ip::tcp::acceptor>(impl_->workers.front()->io);
            if (!ec)
                impl_->statusAcceptor->open(endpoint.protocol(), ec);
            if (!ec)
                impl_->statusAcceptor->set_option(asio::socket_base::reuse_address(true), ec);
            if (!ec)
                impl_->statusAcceptor->bind(endpoint, ec);
            if (!ec)
                impl_->statusAcceptor->listen(asio::socket_base::max_listen_connections, ec);
            if (ec) {
                impl_->statusAcceptor.reset();
                return ec.message();
            }
            impl_->acceptStatus();
            return {};
        });
        if (!error.empty())
            impl_->events->add(log::Severity::Error, "engine", "status.bind-failed",
                               "the status listener cannot bind " + sl->get("bindingInformation") + ": " + error);
    }
    runOn(*impl_->workers.front(), [this] {
        impl_->ticker = std::make_unique<asio::steady_timer>(impl_->workers.front()->io);
        impl_->tick();
        return 0;
    });
    impl_->running = true;
    const DescriptorLimit& d = impl_->descriptors;
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
    std::string failures = impl_->syncListeners(*next);
    for (auto& [key, p] : next->fastcgi) {
        auto it = old->fastcgi.find(key);
        if (it == old->fastcgi.end() || it->second != p)
            p->start();
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

void Engine::stop(std::chrono::milliseconds grace)
{
    std::lock_guard guard(impl_->applyMutex);
    if (!impl_->running)
        return;
    impl_->running = false;
    if (impl_->statusAcceptor)
        asio::post(impl_->workers.front()->io, [this] {
            asio::error_code ignored;
            impl_->statusAcceptor->close(ignored);
        });
    for (auto& w : impl_->workers)
        asio::post(w->io, [raw = w.get()] {
            for (auto& [key, a] : raw->acceptors) {
                asio::error_code ignored;
                a->close(ignored);
            }
        });
    // In-flight requests finish within the grace period (the count drops as connections close).
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto busy = [this] {
        for (auto& [key, c] : impl_->endpointConnections)
            if (c->load() > 0)
                return true;
        return false;
    };
    while (busy() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : impl_->workers)
        w->io.stop();
    for (auto& w : impl_->workers)
        if (w->thread.joinable())
            w->thread.join();
    auto shared = impl_->current();
    for (auto& [name, s] : shared->sites)
        if (s->accessLog)
            s->accessLog->flush();
    impl_->ticker.reset();
    impl_->statusAcceptor.reset();
    // Kills the instances (signalGroup SIGKILL) before the strands go.
    for (auto& [key, p] : shared->fastcgi)
        p.reset();
    impl_->retired.clear();
    // What stays readable after a stop: the configuration (the console still shows it), no pools.
    auto stopped = std::make_shared<Shared>();
    stopped->config = shared->config;
    stopped->map = shared->map;
    stopped->events = impl_->events;
    impl_->slot->store(std::move(stopped));
    shared.reset();
    for (auto& w : impl_->workers)
        w->acceptors.clear();
    impl_->workers.clear(); // closes sockets and pipes; CGI children die with their thread (PR_SET_PDEATHSIG)
    impl_->events->add(log::Severity::Info, "engine", "engine.stopped", "the engine stopped");
    impl_->events->flush();
}

Snapshot Engine::snapshot() const
{
    Snapshot snap;
    snap.time = std::chrono::system_clock::now();
    auto shared = impl_->current();
    if (!shared)
        return snap;
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
        snap.sites.push_back(m);
    }
    for (const auto& [name, p] : shared->pools) {
        snap.cgi.push_back(p.limiter->metrics());
        snap.cgi.back().identity = p.identity.shown;
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
    for (auto& [key, p] : shared->fastcgi) {
        if (!p || key.substr(0, key.find('\x1f')) != name)
            continue;
        switch (action) {
        case PoolAction::Start: p->restart(); break;
        case PoolAction::Stop: p->stop("stopped by the administrator"); break;
        case PoolAction::Recycle: p->recycle("recycled by the administrator"); break;
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
        if (p && key.substr(0, key.find('\x1f')) == name && p->recycleInstance(pid, "recycled by the administrator"))
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
    std::string failures = impl_->syncListeners(*next);
    impl_->slot->store(next);
    impl_->events->add(log::Severity::Info, "site " + name, stop ? "site.stopped" : "site.started",
                       "site " + name + (stop ? " stopped by the administrator" : " started"));
    if (!failures.empty())
        return fail(failures);
    return {};
}

std::vector<HistoryPoint> Engine::history() const
{
    std::lock_guard lock(impl_->historyMutex);
    return {impl_->history.begin(), impl_->history.end()};
}

} // namespace lido::engine
