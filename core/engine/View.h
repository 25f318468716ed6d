#pragma once
// The engine's published view of one configuration: what the request path reads, immutable once
// published (counters are atomics). A live apply publishes a new one; a connection keeps the one
// it was accepted with alive, and each request reads the newest. Internal to engine/.
#include "acme/Acme.h"
#include "cgi/CgiLimiter.h"
#include "config/Config.h"
#include "engine/Settings.h"
#include "engine/ErrorPages.h"
#include "engine/IpSecurity.h"
#include "engine/RequestFilter.h"
#include "engine/ResponseHeaders.h"
#include "engine/Tracing.h"
#include "http/Connection.h"
#include "http/Tls.h"
#include "log/AccessLog.h"
#include "log/EventLog.h"
#include "log/Requests.h"
#include "pool/FastCgiPool.h"
#include "routing/SiteMap.h"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lido::engine {

using routing::SiteConfig;
using routing::SiteMap;


// A site's counters outlive configuration changes: a live apply keeps them for a site that stays.
struct SiteCounters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> status[6] = {};
    std::atomic<int64_t> connections{0};
    uint64_t lastRequests = 0;          // engine ticker only
    std::atomic<double> perSecond{0};   // written by the ticker, read by snapshot() on any thread
};

// What the engine applies to one part of a site, IIS's inheritance applied (config::Effective):
// request filtering, response headers and error pages.
struct SiteScope {
    std::string prefix = "/"; // "/" or "/blog/"
    RequestFilter filter;
    ResponseHeaders headers; // httpProtocol and clientCache
    ErrorPages errors;       // httpErrors/error
    std::chrono::milliseconds cgiTimeout{900000}; // cgi/@timeout
    compress::Settings compression;               // urlCompression with the server's httpCompression
    IpSecurity ipSecurity;                        // security/ipSecurity
    TraceRules tracing;                           // tracing/traceFailedRequests
};

struct SiteState {
    const SiteConfig* config = nullptr;
    std::shared_ptr<SiteCounters> counters = std::make_shared<SiteCounters>();
    std::shared_ptr<log::AccessLog> accessLog;
    std::string accessLogKey; // folder, period, enabled: the log is kept when they stay
    std::shared_ptr<TraceStore> traces; // traceFailedRequestsLogging enabled: where its traces go (kept when its key stays)
    std::string failure;
    bool stopped = false; // by the administrator
    std::vector<std::shared_ptr<const SiteScope>> scopes; // longest prefix first; the last is "/"
    std::vector<RewriteScope> rewrite; // URL Rewrite rules: the server's, the site's, its paths'
    const SiteScope& scopeFor(const std::string& urlPath) const
    {
        if (scopes.size() == 1) // a site without <location> blocks
            return *scopes.front();
        for (const auto& s : scopes)
            if (s->prefix == "/" || urlPath.compare(0, s->prefix.size(), s->prefix) == 0 || urlPath + "/" == s->prefix)
                return *s;
        return *scopes.back();
    }
};

struct PoolRuntime {
    std::shared_ptr<cgi::CgiLimiter> limiter;
    std::string limiterKey;
    AppPoolSettings settings;
    std::string stopped; // why the application pool is stopped ("": it runs)
};

// The engine's health as load balancers see it (/health, a site's healthPath): it serves, or it
// drains (lidoctl drain, SIGTERM's drainDelay) or stops, and then every check answers 503 while
// requests are still served. One for the engine's life, shared by every view.
struct HealthState {
    std::atomic<bool> draining{false};
    std::atomic<bool> stopping{false};
    mutable std::mutex mutex;
    std::string reason; // why it drains, under mutex
    std::string why() const
    {
        std::lock_guard lock(mutex);
        return stopping ? std::string("stopping") : "draining (" + reason + ")";
    }
};

using EndpointKey = std::pair<std::string, uint16_t>; // address, port

struct EndpointInfo {
    uint64_t maxConnections = 0;
    std::vector<SiteState*> sites;
    std::shared_ptr<http::TlsEndpoint> tls; // https bindings: their certificates
    std::set<std::string> acmeHosts;        // of those, the ones ACME keeps
    bool proxyProtocol = false;             // every connection starts with a PROXY header (the bindings' proxyProtocol)
};

// Everything the request path reads for one configuration; immutable once published (counters
// are atomics). A live apply publishes a new one; a connection keeps the one it was accepted
// with alive, and each request reads the newest.
struct Shared {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const SiteMap> map;
    std::map<std::string, std::unique_ptr<SiteState>> sites; // by name
    std::map<std::string, PoolRuntime> pools;
    bool anyPoolStopped = false; // an application pool is stopped: requests look their pool up
    std::map<EndpointKey, EndpointInfo> endpoints;
    std::shared_ptr<log::EventLog> events;
    std::shared_ptr<HealthState> health;
    std::shared_ptr<log::RequestBoard> board; // the requests running now, for the engine's life
    std::string configHash; // the first 16 hex digits of the file's SHA-256 (lido_config_version_info)
    http::Limits limits;
    bool http2 = true; // h2 offered by ALPN on https endpoints (lido/http2/@enabled)
    std::shared_ptr<const acme::ChallengeBoard> challenges; // HTTP-01 answers being offered
    int64_t maxConnections = 0; // engine-wide, from lido/limits or the open-file limit
    config::RewriteRules globalRules; // rewrite/globalRules
    std::string errorMode = "DetailedLocalOnly";
    // FastCGI process pools by (application pool, fullPath, arguments).
    std::map<std::string, std::shared_ptr<pool::FastCgiPool>> fastcgi;
};

// The published view and its generation: a connection re-reads the view only when the generation
// moved, so a request costs one integer load, not a shared_ptr copy. (A mutex rather than
// std::atomic<std::shared_ptr>: libstdc++ 12 unlocks that one with a relaxed store after a read,
// which ThreadSanitizer rightly reports as a race with the next store.)
struct SharedSlot {
    mutable std::mutex mutex;
    std::shared_ptr<Shared> view;
    std::atomic<uint64_t> generation{0};
    std::shared_ptr<Shared> load() const
    {
        std::lock_guard lock(mutex);
        return view;
    }
    void store(std::shared_ptr<Shared> next)
    {
        {
            std::lock_guard lock(mutex);
            view = std::move(next);
        }
        generation.fetch_add(1, std::memory_order_release);
    }
};

inline std::string fastCgiKey(const std::string& pool, const std::string& fullPath, const std::string& arguments)
{
    return pool + '\x1f' + fullPath + '\x1f' + arguments;
}
} // namespace lido::engine
