#include "engine/Listeners.h"

#include "engine/Router.h"
#include "http/ProxyProtocol.h"

#include <asio.hpp>
#include <fcntl.h>
#include <future>
#include <limits>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace lido::engine {

namespace {

// accept() errors that mean "no descriptor or memory left": accepting again at once would fail
// again at once (a busy loop on every core), so the listener waits a little.
bool outOfDescriptors(const asio::error_code& ec)
{
    return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}
constexpr std::chrono::milliseconds kAcceptBackoff{100};
constexpr int64_t kNoCeiling = std::numeric_limits<int64_t>::max();

std::string describeEndpoint(const EndpointKey& k) { return k.first + ":" + std::to_string(k.second); }

// Past a limit (or on a listener being removed): a short 503 and close, as IIS does, instead of
// running out of descriptors.
void refuse(asio::ip::tcp::socket& socket)
{
    static const std::string busy = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    asio::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(asio::buffer(busy), ignored);
    socket.close(ignored);
}

// Keeps the endpoint's connection count exact: the count drops when the connection's
// dispatcher goes, whatever the reason.
class CountingDispatcher final : public http::Dispatcher {
public:
    CountingDispatcher(std::shared_ptr<http::Dispatcher> d, std::shared_ptr<void> token) : d_(std::move(d)), token_(std::move(token)) {}
    void dispatch(std::shared_ptr<http::Responder> r) override { d_->dispatch(std::move(r)); }
    std::string errorBody(int status, const http::Request& req, const std::string& detail) override { return d_->errorBody(status, req, detail); }
    std::shared_ptr<http::Dispatcher> forStream() override { return d_->forStream(); }
    void protocolEvent(const std::string& kind, const std::string& detail) override { d_->protocolEvent(kind, detail); }
    // Once. (The token holds no pointer, only a deleter: testing it as a bool is always false.)
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

} // namespace

// One acceptor of one endpoint on one worker. pages: the status listener's fixed dispatcher.
struct Listeners::Endpoint {
    Endpoint(asio::io_context& io, EndpointKey k) : acceptor(io), backoff(io), key(std::move(k)) {}
    asio::ip::tcp::acceptor acceptor;
    asio::steady_timer backoff; // after EMFILE/ENFILE
    EndpointKey key;
    std::shared_ptr<std::atomic<int64_t>> count;
    std::shared_ptr<http::Dispatcher> pages;
};

// An io_context whose pending handlers can be destroyed before any io_context is: a handler
// pending on one worker may hold an object whose timers or sockets are on another.
struct WorkerContext : asio::io_context {
    using asio::io_context::io_context;
    void destroyHandlers() { shutdown(); }
};

struct Listeners::Worker {
    WorkerContext io{1};
    std::map<EndpointKey, std::shared_ptr<Endpoint>> endpoints; // touched on this worker's thread only
    std::shared_ptr<Endpoint> status;
    std::shared_ptr<http::ConnectionSet> connections = std::make_shared<http::ConnectionSet>(); // what a stop closes gracefully
    std::thread thread;
    template <typename Fn>
    auto run(Fn fn) -> decltype(fn()) // on this worker's thread, waited for
    {
        std::packaged_task<decltype(fn())()> task(std::move(fn));
        auto result = task.get_future();
        asio::post(io, [&task] { task(); });
        return result.get();
    }
};

Listeners::Listeners(std::shared_ptr<SharedSlot> slot, std::shared_ptr<log::EventLog> events)
    : slot_(std::move(slot)), events_(std::move(events)), pressureCeiling_(kNoCeiling)
{
}

Listeners::~Listeners()
{
    stop(std::chrono::milliseconds(0));
    clear();
    releaseSpares(); // the engine's own descriptors go with it
}

void Listeners::start(int threads)
{
    // The soft open-file limit is raised to the hard one, as nginx and lighttpd do.
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    descriptors_ = DescriptorLimit{rl.rlim_cur, rl.rlim_max, rl.rlim_cur};
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised{rl.rlim_max, rl.rlim_max};
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            descriptors_.soft = rl.rlim_max;
    }
    takeSpares();
    workers_.clear();
    open_.clear();
    endpointConnections_.clear();
    for (int t = 0; t < threads; ++t) {
        auto w = std::make_unique<Worker>();
        Worker* raw = w.get();
        w->thread = std::thread([raw] {
            auto work = asio::make_work_guard(raw->io);
            raw->io.run();
        });
        workers_.push_back(std::move(w));
    }
}

void Listeners::stop(std::chrono::milliseconds grace)
{
    if (workers_.empty() || !workers_.front()->thread.joinable())
        return;
    for (auto& w : workers_)
        asio::post(w->io, [raw = w.get()] {
            asio::error_code ignored;
            for (auto& [key, ep] : raw->endpoints)
                ep->acceptor.close(ignored);
            if (raw->status)
                raw->status->acceptor.close(ignored);
            raw->connections->closeAll(); // idle keep-alive connections close now, busy ones after their response
        });
    // In-flight requests finish within the grace period (the count drops as connections close).
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto busy = [this] { return std::any_of(endpointConnections_.begin(), endpointConnections_.end(), [](auto& c) { return c.second->load() > 0; }); };
    while (busy() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : workers_)
        w->io.stop();
    for (auto& w : workers_)
        if (w->thread.joinable())
            w->thread.join();
}

void Listeners::clear()
{
    for (auto& w : workers_) {
        w->endpoints.clear();
        w->status.reset();
    }
    for (auto& w : workers_)
        w->io.destroyHandlers(); // every worker's, before the first io_context goes
    workers_.clear(); // closes sockets and pipes; CGI children die with their thread (PR_SET_PDEATHSIG)
    open_.clear();
}

asio::io_context& Listeners::io(size_t worker) { return workers_.at(worker)->io; }
asio::io_context& Listeners::nextIo() { return workers_[nextWorker_++ % workers_.size()]->io; }

void Listeners::runOnFirst(std::function<void()> fn)
{
    workers_.front()->run([&fn] {
        fn();
        return 0;
    });
}

int64_t Listeners::defaultMaxConnections() const
{
    uint64_t reserve = std::max<uint64_t>(64, descriptors_.soft / 4);
    return descriptors_.soft > reserve ? static_cast<int64_t>(descriptors_.soft - reserve) : 16;
}

// ---------------------------------------------------------------- binding

std::string Listeners::openOn(Worker& w, const std::shared_ptr<Endpoint>& ep)
{
    asio::error_code ec;
    std::string ip = ep->key.first == "*" ? std::string("0.0.0.0") : ep->key.first;
    if (ip.size() > 2 && ip.front() == '[')
        ip = ip.substr(1, ip.size() - 2);
    auto addr = asio::ip::make_address(ip, ec);
    asio::ip::tcp::endpoint endpoint(addr, ep->key.second);
    if (!ec)
        ep->acceptor.open(endpoint.protocol(), ec);
    if (!ec)
        ep->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec)
        ep->acceptor.bind(endpoint, ec);
    if (!ec)
        ep->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return ec.message();
    accept(w, ep);
    return {};
}

std::string Listeners::open(const EndpointKey& key)
{
    auto count = endpointConnections_.emplace(key, std::make_shared<std::atomic<int64_t>>(0)).first->second;
    std::string failure;
    // One listening socket for all workers (each watches a dup of it): a new connection goes to
    // a worker that is waiting, that is idle. SO_REUSEPORT's hash gave each worker its share
    // whether busy or not: 16 % fewer requests a second on static files, p99 2.5 times longer.
    int first = -1;
    asio::ip::tcp protocol = asio::ip::tcp::v4();
    for (auto& w : workers_) {
        Worker* raw = w.get();
        std::string why = raw->run([this, raw, key, count, &first, &protocol]() -> std::string {
            auto ep = std::make_shared<Endpoint>(raw->io, key);
            ep->count = count;
            if (first >= 0) {
                asio::error_code ec;
                ep->acceptor.assign(protocol, ::fcntl(first, F_DUPFD_CLOEXEC, 0), ec); // not inherited by CGI programs
                if (ec)
                    return ec.message();
                accept(*raw, ep);
                raw->endpoints[key] = ep;
                return {};
            }
            std::string e = openOn(*raw, ep);
            if (e.empty()) {
                raw->endpoints[key] = ep;
                first = ep->acceptor.native_handle();
                asio::error_code ignored;
                protocol = ep->acceptor.local_endpoint(ignored).protocol();
            }
            return e;
        });
        if (!why.empty() && failure.empty())
            failure = "cannot bind " + describeEndpoint(key) + ": " + why;
    }
    if (!failure.empty())
        close(key);
    else
        open_.push_back(key);
    return failure;
}

void Listeners::close(const EndpointKey& key)
{
    for (auto& w : workers_) {
        Worker* raw = w.get();
        raw->run([raw, key] {
            auto it = raw->endpoints.find(key);
            if (it == raw->endpoints.end())
                return 0;
            // The pending accept and back-off complete with operation_aborted later; they hold
            // the endpoint, so it outlives them.
            asio::error_code ignored;
            it->second->acceptor.close(ignored);
            it->second->backoff.cancel();
            raw->endpoints.erase(it);
            return 0;
        });
    }
    std::erase(open_, key);
}

std::string Listeners::sync(Shared& next)
{
    std::string failures;
    for (auto& [key, ep] : next.endpoints) {
        if (std::find(open_.begin(), open_.end(), key) != open_.end())
            continue;
        std::string why = open(key);
        if (why.empty())
            continue;
        for (SiteState* s : ep.sites) {
            s->failure = why;
            events_->add(log::Severity::Error, "site " + s->config->name, "site.bind-failed", "site " + s->config->name + " cannot serve: " + why);
        }
        failures += (failures.empty() ? "" : "; ") + why;
    }
    for (const EndpointKey& key : std::vector<EndpointKey>(open_))
        if (!next.endpoints.count(key)) {
            close(key);
            events_->add(log::Severity::Info, "engine", "listener.closed", "stopped listening on " + describeEndpoint(key));
        }
    return failures;
}

std::string Listeners::openStatus(const EndpointKey& key, std::shared_ptr<http::Dispatcher> pages)
{
    Worker& w = *workers_.front();
    return w.run([this, &w, key, pages]() -> std::string {
        auto ep = std::make_shared<Endpoint>(w.io, key);
        ep->pages = pages;
        std::string e = openOn(w, ep);
        if (e.empty())
            w.status = ep;
        return e;
    });
}

// ---------------------------------------------------------------- accepting

void Listeners::accept(Worker& w, const std::shared_ptr<Endpoint>& ep)
{
    ep->acceptor.async_accept([this, &w, ep](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !ep->acceptor.is_open())
            return;
        std::string where = ep->pages ? std::string("the status listener") : describeEndpoint(ep->key);
        if (outOfDescriptors(ec) && !ep->pages && releaseSpares()) {
            // Shed from here on: connections past this many are answered 503 and closed.
            pressureCeiling_ = std::max<int64_t>(1, openConnections_->load());
            reportAcceptFailure(where, ec.message(), true);
            return accept(w, ep);
        }
        if (outOfDescriptors(ec)) {
            reportAcceptFailure(where, ec.message(), false);
            ep->backoff.expires_after(kAcceptBackoff);
            ep->backoff.async_wait([this, &w, ep](const asio::error_code& e) {
                if (!e && ep->acceptor.is_open())
                    accept(w, ep);
            });
            return;
        }
        if (!ec) {
            if (ep->pages)
                http::startConnection(std::move(socket), ep->pages, http::Limits{});
            else
                admit(w, std::move(socket), ep->key, ep->count);
        }
        accept(w, ep);
    });
}

void Listeners::admit(Worker& w, asio::ip::tcp::socket socket, const EndpointKey& key, const std::shared_ptr<std::atomic<int64_t>>& count)
{
    uint64_t generation = slot_->generation.load(std::memory_order_acquire);
    auto shared = slot_->load();
    const EndpointInfo* ep = nullptr;
    if (shared)
        if (auto it = shared->endpoints.find(key); it != shared->endpoints.end())
            ep = &it->second;
    int64_t open = openConnections_->load();
    bool engineFull = ep && (open >= shared->maxConnections || open >= pressureCeiling_.load());
    if (!ep || engineFull || static_cast<uint64_t>(count->load()) >= ep->maxConnections) {
        refuse(socket);
        if (engineFull)
            events_->add(log::Severity::Warning, "engine", "engine.connection-limit",
                         std::to_string(open) + " connections open, the engine's limit (" + std::to_string(shared->maxConnections) +
                             ", from lido/limits/@maxConnections or the open-file limit " + std::to_string(descriptors_.soft) +
                             "): new connections get 503");
        return;
    }
    auto dispatcher = siteDispatcher(slot_, shared, generation, *ep);
    ++*count;
    ++*openConnections_;
    auto counted = std::shared_ptr<void>(nullptr, [count, total = openConnections_](void*) {
        --*count;
        --*total;
    });
    http::Limits limits = shared->limits;
    if (!ep->sites.empty())
        limits.idleTimeout = ep->sites.front()->config->connectionTimeout;
    limits.headerTimeout = std::min(limits.headerTimeout, limits.idleTimeout);
    auto counting = std::make_shared<CountingDispatcher>(dispatcher, counted);
    auto start = [tls = ep->tls, counting, limits](asio::ip::tcp::socket s, http::Admission admission) {
        if (tls)
            http::startTlsConnection(std::move(s), tls, counting, limits, std::move(admission));
        else
            http::startConnection(std::move(s), counting, limits, std::move(admission));
    };
    if (!ep->proxyProtocol) {
        start(std::move(socket), http::Admission{{}, 0, w.connections});
        return;
    }
    // The PROXY header first (within the header timeout), then the connection as the client's.
    http::readProxyHeader(std::move(socket), limits.headerTimeout,
                          [this, key, set = w.connections, counting, start](asio::ip::tcp::socket s, http::ProxyHeader header) {
                              if (header.result != http::ProxyHeader::Result::Done) {
                                  asio::error_code ec;
                                  auto peer = s.remote_endpoint(ec);
                                  reportProxyFailure(key, ec ? std::string("?") : peer.address().to_string(), header.error);
                                  s.close(ec);
                                  counting->connectionClosed();
                                  return;
                              }
                              http::Admission admission{{}, 0, set};
                              if (!header.local) {
                                  admission.clientAddress = header.sourceAddress;
                                  admission.clientPort = header.sourcePort;
                              }
                              start(std::move(s), std::move(admission));
                          });
}

void Listeners::reportProxyFailure(const EndpointKey& key, const std::string& peer, const std::string& error)
{
    std::lock_guard lock(proxyMutex_);
    auto now = std::chrono::steady_clock::now();
    if (proxyToldAt_ != std::chrono::steady_clock::time_point{} && now - proxyToldAt_ < std::chrono::seconds(10)) {
        ++proxyUntold_;
        return;
    }
    std::string more = proxyUntold_ ? " (and " + std::to_string(proxyUntold_) + " more since the last such event)" : std::string();
    proxyToldAt_ = now;
    proxyUntold_ = 0;
    events_->add(log::Severity::Warning, "engine", "proxy.header-invalid",
                 "a connection from " + peer + " to " + describeEndpoint(key) + " was closed: " + error +
                     "; its binding has proxyProtocol=\"true\", so every connection must start with one (HAProxy: send-proxy or send-proxy-v2)" + more);
}

void Listeners::reportAcceptFailure(const std::string& where, const std::string& error, bool shedding)
{
    events_->add(log::Severity::Warning, "engine", "engine.accept-failed",
                 "accept() failed on " + where + ": " + error + " (" + std::to_string(openConnections_->load()) +
                     " connections open; open-file limit " + std::to_string(descriptors_.soft) + "); open connections are served, " +
                     (shedding ? "new ones get 503 until descriptors are free again (lido/limits/@maxConnections is too high for this limit)"
                               : "new ones wait in the listen queue and are accepted again in " + std::to_string(kAcceptBackoff.count()) + " ms"));
}

// ---------------------------------------------------------------- spare descriptors

void Listeners::takeSpares()
{
    std::lock_guard lock(spareMutex_);
    while (spares_.size() < kSpares) {
        int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        spares_.push_back(fd);
    }
}

bool Listeners::releaseSpares()
{
    std::lock_guard lock(spareMutex_);
    if (spares_.empty())
        return false;
    for (int fd : spares_)
        ::close(fd);
    spares_.clear();
    return true;
}

void Listeners::tick()
{
    int64_t ceiling = pressureCeiling_.load();
    if (ceiling == kNoCeiling || openConnections_->load() >= ceiling * 3 / 4)
        return;
    takeSpares();
    std::lock_guard lock(spareMutex_);
    if (spares_.size() == kSpares) {
        pressureCeiling_ = kNoCeiling;
        events_->add(log::Severity::Info, "engine", "engine.descriptors-recovered",
                     std::to_string(openConnections_->load()) + " connections open: descriptors are free again, new connections are accepted");
    }
}

} // namespace lido::engine
