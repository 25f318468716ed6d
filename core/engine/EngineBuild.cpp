#include "engine/EngineImpl.h"

namespace lido::engine {

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

// Where traces go when the site names no folder: FailedReqLogFiles in the engine's log folder
// (its option, else lido/log/@directory, else /var/log/lido as root or $XDG_STATE_HOME/lido/log).
std::string Engine::Impl::defaultTraceRoot(const config::Config& config) const
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
std::shared_ptr<Shared> Engine::Impl::build(std::shared_ptr<const config::Config> config, const Shared* old)
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
void Engine::Impl::configureAcme(const config::Config& config, Shared& shared)
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
void Engine::Impl::acmeIssued(const std::string& host)
{
    auto shared = current();
    if (!shared)
        return;
    for (auto& [key, ep] : shared->endpoints)
        if (ep.tls && ep.acmeHosts.count(host))
            if (std::string e = ep.tls->addCertificate(host, acme->certificateFile(host), acme->keyFile(host)); !e.empty())
                events->add(log::Severity::Error, "acme " + host, "tls.certificate-invalid", "the certificate from the CA does not load: " + e);
}

void Engine::Impl::addCertificate(const config::Config& config, const Shared& shared, EndpointInfo& ep, const SiteConfig& site, const SiteConfig::Binding& b,
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
void Engine::Impl::checkCertificates(const Shared& shared)
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

} // namespace lido::engine
