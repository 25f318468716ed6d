#include "engine/Engine.h"

#include "config/ConfigDiff.h"
#include "config/Values.h"
#include "engine/Listeners.h"
#include "engine/Router.h"
#include "engine/Settings.h"
#include "engine/StatusPage.h"
#include "engine/View.h"
#include "util/AddressRanges.h"
#include "util/OpenSsl.h"

#include <asio.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>
#include <thread>

namespace lido::engine {

using config::ConfigElement;
using namespace routing; // SiteMap, HandlerMapping, ...

namespace {

SiteScope scopeFrom(const config::EffectiveSettings& settings, const std::string& prefix, const std::string& siteRoot, const config::Config& config)
{
    SiteScope scope;
    scope.prefix = prefix;
    scope.filter = RequestFilter(settings.section("security/requestFiltering"));
    scope.headers = ResponseHeaders::from(settings);
    scope.errors = ErrorPages::from(settings, siteRoot);
    if (const ConfigElement* c = settings.section("cgi"))
        scope.cgiTimeout = std::chrono::milliseconds(config::parseTimeSpan(c->get("timeout")).value_or(900000));
    scope.compression = compressionSettings(settings, config);
    scope.ipSecurity = IpSecurity(settings.section("security/ipSecurity"));
    scope.tracing = TraceRules(settings.section("tracing/traceFailedRequests"));
    return scope;
}

// A site's scopes: one per <location> prefix, each with the server's settings and the outer
// locations' under its own. A site without locations gets the server's settings (one merge).
std::vector<std::shared_ptr<const SiteScope>> siteScopes(const config::Config& config, const std::string& site, const std::string& siteRoot,
                                                         const config::EffectiveSettings& server)
{
    std::vector<std::shared_ptr<const SiteScope>> out;
    for (const std::string& prefix : config::scopePrefixes(config, site)) {
        if (prefix == "/" && config.locationsOf(site).empty()) {
            out.push_back(std::make_shared<SiteScope>(scopeFrom(server, prefix, siteRoot, config)));
            continue;
        }
        config::EffectiveSettings e = config::effectiveSettings(config, site, prefix == "/" ? "/" : prefix.substr(0, prefix.size() - 1));
        out.push_back(std::make_shared<SiteScope>(scopeFrom(e, prefix, siteRoot, config)));
    }
    return out;
}

} // namespace

struct Engine::Impl {
    EngineOptions options;
    std::string runtimeDir;
    std::shared_ptr<SharedSlot> slot = std::make_shared<SharedSlot>();
    std::mutex applyMutex; // one apply (or start/stop) at a time
    std::set<std::string> stoppedSites; // by the administrator (under applyMutex)
    std::map<std::string, std::string> stoppedPools; // application pools stopped by the administrator, and why (under applyMutex)
    std::map<std::string, std::string> keptStopped;  // this apply: application pools whose FastCGI pool rapid-fail protection had stopped
    std::unique_ptr<Listeners> listeners;
    std::vector<std::shared_ptr<pool::FastCgiPool>> retired; // replaced pools still finishing their requests
    std::mutex retiredMutex;
    std::shared_ptr<log::EventLog> events;
    std::shared_ptr<HealthState> health = std::make_shared<HealthState>();
    std::shared_ptr<log::RequestBoard> board = std::make_shared<log::RequestBoard>();
    std::unique_ptr<acme::AcmeManager> acme; // made with the engine; its thread uses only the members above
    mutable std::mutex historyMutex;
    std::deque<HistoryPoint> history;
    PoolHistory poolHistory; // under historyMutex
    std::unique_ptr<asio::steady_timer> ticker;
    std::atomic<bool> running{false};
    uint64_t certificateTicks = 0;              // ticker thread only
    std::set<std::string> warnedCertificates;   // expiry warnings given (file, notAfter, kind)

    std::shared_ptr<Shared> current() const { return slot->load(); }

    // Where traces go when the site names no folder: FailedReqLogFiles in the engine's log folder
    // (its option, else lido/log/@directory, else /var/log/lido as root or $XDG_STATE_HOME/lido/log).
    std::string defaultTraceRoot(const config::Config& config) const
    {
        std::string dir = options.logDirectory;
        if (const ConfigElement* l = config.section("lido/log"); dir.empty() && l)
            dir = l->get("directory");
        if (dir.empty() && ::geteuid() == 0)
            dir = "/var/log/lido";
        if (const char* state = std::getenv("XDG_STATE_HOME"); dir.empty() && state && *state)
            dir = std::string(state) + "/lido/log";
        if (const char* home = std::getenv("HOME"); dir.empty() && home && *home)
            dir = std::string(home) + "/.local/state/lido/log";
        return dir.empty() ? dir : dir + "/FailedReqLogFiles";
    }

    // Builds the request path's view of a configuration. Site counters, access logs, CGI limiters
    // and FastCGI pools of `old` are reused where their settings did not change.
    std::shared_ptr<Shared> build(std::shared_ptr<const config::Config> config, const Shared* old)
    {
        auto shared = std::make_shared<Shared>();
        shared->config = config;
        shared->events = events;
        shared->health = health;
        shared->board = board;
        shared->configHash = sha256Hex(config->text()).substr(0, 16);
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
        configureAcme(*config, *shared);
        for (const std::string& w : warnings)
            events->add(log::Severity::Warning, "engine", "config.unsupported", w);
        if (const ConfigElement* rl = config->section("security/requestFiltering/requestLimits")) {
            shared->limits.maxUrl = config::parseUInt(rl->get("maxUrl")).value_or(4096);
            shared->limits.maxQueryString = config::parseUInt(rl->get("maxQueryString")).value_or(2048);
            shared->limits.maxContentLength = config::parseUInt(rl->get("maxAllowedContentLength")).value_or(30000000);
        }
        if (const ConfigElement* h2 = config->section("lido/http2")) {
            shared->http2 = h2->get("enabled") == "true";
            shared->limits.h2c = h2->get("cleartext") == "true";
            shared->limits.maxConcurrentStreams = static_cast<uint32_t>(config::parseUInt(h2->get("maxConcurrentStreams")).value_or(100));
            shared->limits.headerTableSize = static_cast<uint32_t>(config::parseUInt(h2->get("headerTableSize")).value_or(4096));
            shared->limits.maxResetsPerWindow = static_cast<uint32_t>(config::parseUInt(h2->get("maxResetsPerWindow")).value_or(100));
            shared->limits.maxControlFramesPerWindow = static_cast<uint32_t>(config::parseUInt(h2->get("maxControlFramesPerWindow")).value_or(200));
        }
        if (const ConfigElement* f = config->section("lido/forwardedFor"); f && !f->get("trustedProxies").empty()) {
            auto trusted = std::make_shared<AddressRanges>();
            AddressRanges::parse(f->get("trustedProxies"), *trusted); // valid: the validator said so
            shared->limits.trustedProxies = std::move(trusted);
            shared->limits.forwardedHeader = f->get("header").empty() ? std::string("X-Forwarded-For") : f->get("header");
        }
        if (const ConfigElement* he = config->section("httpErrors"))
            shared->errorMode = he->get("errorMode");
        config::EffectiveSettings serverSettings = config::effectiveSettings(*config, "", "/");
        if (const ConfigElement* hc = config->section("system.webServer/httpCompression"))
            compress::setCacheBudget(config::parseUInt(hc->get("maxDiskSpaceUsage")).value_or(100) << 20);
        shared->globalRules = globalRewriteRules(*config);
        shared->maxConnections = listeners->defaultMaxConnections();
        if (const ConfigElement* l = config->section("lido/limits"))
            if (auto n = config::parseUInt(l->get("maxConnections")); n && *n > 0)
                shared->maxConnections = static_cast<int64_t>(*n);

        for (const ConfigElement* p : config->pools()) {
            PoolRuntime rt;
            rt.settings = appPoolSettings(*p, *config);
            const AppPoolSettings& a = rt.settings;
            rt.limiterKey = a.limiterKey();
            if (old)
                if (auto it = old->pools.find(a.name); it != old->pools.end() && it->second.limiterKey == rt.limiterKey)
                    rt.limiter = it->second.limiter;
            if (!rt.limiter)
                rt.limiter = std::make_shared<cgi::CgiLimiter>(a.name, a.cgiMaxConcurrent, a.cgiQueueLength, a.cgiQueueTimeout);
            if (auto stopped = stoppedPools.find(a.name); stopped != stoppedPools.end()) {
                rt.stopped = stopped->second;
                shared->anyPoolStopped = true;
            }
            if (!a.identity.error.empty())
                events->add(log::Severity::Error, "pool " + a.name, "pool.identity", a.identity.error + "; its programs do not start");
            shared->pools.emplace(a.name, std::move(rt));
        }

        // FastCGI pools: one per (application pool, FastCGI application) that a request can reach,
        // the FastCGI handlers in effect where the pool's applications are. A pool whose settings
        // are unchanged is the same object.
        // A FastCGI pool that rapid-fail protection stopped stays stopped when the file changes,
        // as the sample says: fixing the file is not starting the pool (lidoctl start pool P is).
        keptStopped.clear();
        if (old)
            for (const auto& [key, p] : old->fastcgi)
                if (pool::PoolMetrics m = p ? p->metrics() : pool::PoolMetrics{}; p && !m.running && m.stoppedReason.find("rapid-fail") != std::string::npos)
                    keptStopped.emplace(key.substr(0, key.find('\x1f')), m.stoppedReason);
        for (const auto& [poolName, fullPath, args] : shared->map->reachableFastCgi()) {
            if (!shared->pools.count(poolName))
                continue;
            std::string key = fastCgiKey(poolName, fullPath, args);
            if (shared->fastcgi.count(key))
                continue;
            for (const ConfigElement* app : config->fastCgiApplications()) {
                if (config::expandEnvironment(app->get("fullPath")) != fullPath || app->get("arguments") != args)
                    continue;
                auto settings = fastCgiSettings(*app, shared->pools.at(poolName).settings, runtimeDir);
                if (old)
                    if (auto it = old->fastcgi.find(key); it != old->fastcgi.end() && it->second && it->second->settings() == settings) {
                        shared->fastcgi[key] = it->second;
                        break;
                    }
                // Each pool's strand lives on one worker; pools are spread over the workers.
                shared->fastcgi[key] = std::make_shared<pool::FastCgiPool>(listeners->nextIo(), std::move(settings), events);
                break;
            }
        }

        for (const SiteConfig& site : shared->map->sites()) {
            auto state = std::make_unique<SiteState>();
            state->config = &site;
            std::string logDir = site.logDirectory;
            if (logDir.empty() && !options.logDirectory.empty())
                logDir = options.logDirectory + "/W3SVC" + std::to_string(site.id);
            uint32_t fields = log::parseLogFields(site.logFields);
            state->accessLogKey = logDir + "|" + site.logPeriod + "|" + std::to_string(site.logTruncateSize) + "|" + (site.logEnabled ? "1" : "0") + "|" +
                                  std::to_string(fields);
            if (old)
                if (auto it = old->sites.find(site.name); it != old->sites.end()) {
                    state->counters = it->second->counters;
                    if (it->second->accessLogKey == state->accessLogKey)
                        state->accessLog = it->second->accessLog;
                }
            if (!state->accessLog)
                state->accessLog = std::make_shared<log::AccessLog>(logDir, site.logPeriod, site.logTruncateSize, site.logEnabled, fields,
                                                                    "W3SVC" + std::to_string(site.id));
            if (site.traceEnabled) {
                std::string root = !site.traceDirectory.empty() ? site.traceDirectory : defaultTraceRoot(*config);
                if (root.empty()) {
                    events->add(log::Severity::Warning, "site " + site.name, "trace.no-folder",
                                "traceFailedRequestsLogging is enabled, but it names no directory and the engine has no log folder: no traces are kept");
                } else {
                    std::shared_ptr<TraceStore> store;
                    if (old)
                        if (auto it = old->sites.find(site.name); it != old->sites.end() && it->second->traces &&
                                                                  it->second->traces->key() == TraceStore::keyFor(root, site.id, site.traceMaxFiles, site.traceMaxBytes))
                            store = it->second->traces;
                    state->traces = store ? store : std::make_shared<TraceStore>(root, site.id, site.traceMaxFiles, site.traceMaxBytes);
                }
            }
            state->stopped = stoppedSites.count(site.name) > 0;
            state->rewrite = rewriteScopes(*config, site.name);
            Route rootRoute;
            std::string siteRoot = shared->map->route(site, "/", rootRoute) ? rootRoute.directory->physicalPath : std::string();
            state->scopes = siteScopes(*config, site.name, siteRoot, serverSettings);
            SiteState* raw = state.get();
            shared->sites.emplace(site.name, std::move(state));
            if (!site.autoStart || raw->stopped)
                continue;
            for (const auto& b : site.bindings) {
                EndpointInfo& ep = shared->endpoints[EndpointKey(b.ip == "*" ? std::string("0.0.0.0") : b.ip, b.port)];
                ep.maxConnections = std::max(ep.maxConnections, site.maxConnections);
                ep.proxyProtocol = ep.proxyProtocol || b.proxyProtocol;
                if (std::find(ep.sites.begin(), ep.sites.end(), raw) == ep.sites.end())
                    ep.sites.push_back(raw);
                if (b.https)
                    addCertificate(*config, *shared, ep, site, b, *raw);
            }
        }
        return shared;
    }

    // An https binding's certificate on its endpoint (SNI: for its host name; else the endpoint's
    // default), or the central store. One that does not load fails the site, with the reason.
    // lido/acme and the hosts of https bindings with acme="true", before their certificates are added.
    void configureAcme(const config::Config& config, Shared& shared)
    {
        acme::AcmeSettings settings;
        if (const ConfigElement* a = config.section("lido/acme")) {
            settings.directory = a->get("directory");
            settings.contact = a->get("contact");
            settings.acceptTerms = a->get("acceptTermsOfService") == "true";
            settings.folder = config::expandEnvironment(a->get("folder"));
            settings.caFile = config::expandEnvironment(a->get("trustedCaFile"));
        }
        if (settings.folder.empty())
            settings.folder = acme::AcmeManager::defaultFolder();
        std::set<std::string> hosts;
        for (const SiteConfig& site : shared.map->sites())
            for (const auto& b : site.bindings)
                if (b.acme && !b.host.empty() && site.autoStart && !stoppedSites.count(site.name))
                    hosts.insert(b.host);
        acme->configure(settings, hosts);
        shared.challenges = acme->board();
    }

    // A new ACME certificate serves the endpoints of its host from the next handshake on.
    void acmeIssued(const std::string& host)
    {
        auto shared = current();
        if (!shared)
            return;
        for (auto& [key, ep] : shared->endpoints)
            if (ep.tls && ep.acmeHosts.count(host))
                if (std::string e = ep.tls->addCertificate(host, acme->certificateFile(host), acme->keyFile(host)); !e.empty())
                    events->add(log::Severity::Error, "acme " + host, "tls.certificate-invalid", "the certificate from the CA does not load: " + e);
    }

    void addCertificate(const config::Config& config, const Shared& shared, EndpointInfo& ep, const SiteConfig& site, const SiteConfig::Binding& b,
                        SiteState& state)
    {
        std::string where = "site " + site.name + ": https binding " + b.ip + ":" + std::to_string(b.port) + ":" + b.host;
        if (!ep.tls) {
            http::TlsOptions tlsOptions;
            if (const ConfigElement* t = config.section("lido/tls")) {
                tlsOptions.minVersion = t->get("minVersion");
                tlsOptions.ciphers = t->get("ciphers");
            }
            if (shared.http2)
                tlsOptions.alpn = {"h2", "http/1.1"};
            auto tls = http::TlsEndpoint::create(tlsOptions);
            if (!tls) {
                events->add(log::Severity::Error, "site " + site.name, "tls.settings-invalid", where + ": " + tls.error());
                state.failure = tls.error();
                return;
            }
            ep.tls = *tls;
        }
        if (b.sslFlags & 2)
            if (const ConfigElement* store = config.section("lido/centralCertificateStore"))
                ep.tls->setCentralStore(config::expandEnvironment(store->get("physicalPath")));
        if (b.sslFlags & 4) // IIS's DisableHTTP2
            ep.tls->disableHttp2(b.sslFlags & 1 ? b.host : std::string());
        if (b.acme && !b.host.empty()) {
            ep.acmeHosts.insert(b.host);
            if (acme->hasCertificate(b.host)) // else: once it is obtained (acmeIssued)
                if (std::string e = ep.tls->addCertificate(b.host, acme->certificateFile(b.host), acme->keyFile(b.host)); !e.empty())
                    events->add(log::Severity::Error, "site " + site.name, "tls.certificate-invalid", where + ": the ACME certificate: " + e);
            return;
        }
        if (b.certificateFile.empty())
            return;
        if (std::string e = ep.tls->addCertificate(b.sslFlags & 1 ? b.host : std::string(), b.certificateFile, b.keyFile); !e.empty()) {
            events->add(log::Severity::Error, "site " + site.name, "tls.certificate-invalid", where + ": " + e);
            state.failure = "the certificate does not load: " + e;
        }
    }

    // Once a second: certificate files that changed are loaded again (renewal without a restart);
    // once a minute: certificates that expire within 14 days, or have expired, are told.
    void checkCertificates(const Shared& shared)
    {
        bool minute = ++certificateTicks % 60 == 1;
        std::time_t now = std::time(nullptr);
        for (const auto& [key, ep] : shared.endpoints) {
            if (!ep.tls)
                continue;
            std::string source = ep.sites.empty() ? "engine" : "site " + ep.sites.front()->config->name;
            for (const http::TlsEndpoint::Change& c : ep.tls->refresh())
                events->add(c.ok ? log::Severity::Info : log::Severity::Error, source, c.ok ? "tls.certificate-renewed" : "tls.certificate-invalid",
                            c.message);
            if (!minute)
                continue;
            for (const http::CertificateFacts& f : ep.tls->certificates()) {
                long long left = static_cast<long long>(f.notAfter - now);
                std::string name = f.host.empty() ? f.subject : f.host;
                std::string told = f.file + "|" + std::to_string(f.notAfter) + (left <= 0 ? "|expired" : "|soon");
                if (left > 14 * 86400 || warnedCertificates.count(told))
                    continue;
                warnedCertificates.insert(told);
                if (left <= 0)
                    events->add(log::Severity::Error, source, "tls.certificate-expired",
                                "the certificate for " + name + " (" + f.file + ") has expired; clients refuse it");
                else
                    events->add(log::Severity::Warning, source, "tls.certificate-expiring",
                                "the certificate for " + name + " (" + f.file + ") expires in " + std::to_string((left + 86399) / 86400) +
                                    " days");
            }
        }
    }

    // A new FastCGI pool starts, unless its application pool is stopped (lidoctl stop pool): then
    // it stays stopped with that reason until the pool is started.
    void startUnlessStopped(Shared& shared, const std::string& key, pool::FastCgiPool& p)
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
    void stopPoolsThatRapidFailed(const Shared& shared, const std::vector<pool::PoolMetrics>& metrics)
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
};

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
