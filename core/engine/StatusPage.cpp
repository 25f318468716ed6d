#include "engine/StatusPage.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace lido::engine {

namespace {

std::string num(double v)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    std::string s = buf;
    while (!s.empty() && s.back() == '0')
        s.pop_back();
    if (!s.empty() && s.back() == '.')
        s.pop_back();
    return s;
}

// Prometheus label values escape backslash, quote and newline.
std::string label(const std::string& v)
{
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

} // namespace

std::string statusJson(const Snapshot& s, double uptime)
{
    // php-fpm's status page's names, one object per pool; nlohmann keeps the order written.
    using json = nlohmann::ordered_json;
    json pools = json::array();
    for (const PoolMetrics& p : s.fastcgi) {
        json processes = json::array();
        for (const InstanceMetrics& i : p.instances)
            processes.push_back({{"pid", i.pid}, {"state", pool::fpmStateName(i.state)}, {"requests", i.requests}, {"start since", i.uptimeSeconds},
                                 {"request uri", i.currentUrl}, {"rss bytes", i.rssBytes}, {"cpu seconds", i.cpuSeconds}});
        pools.push_back({{"pool", p.pool},
                         {"identity", p.identity},
                         {"application", p.application},
                         {"process manager", "lido"},
                         {"state", p.running ? "Started" : "Stopped"},
                         {"stopped reason", p.stoppedReason},
                         {"accepted conn", p.accepted},
                         {"completed", p.completed},
                         {"listen queue", p.queued},
                         {"max listen queue", p.maxQueued},
                         {"idle processes", p.idle},
                         {"active processes", p.busy},
                         {"total processes", p.starting + p.idle + p.busy + p.draining},
                         {"max active processes", p.maxInstances},
                         {"max children reached", p.maxInstancesReached ? 1 : 0},
                         {"slow requests", 0},
                         {"requests per second", p.requestsPerSecond},
                         {"latency ms", p.latencyRequests == 0 ? json(nullptr)
                                                                : json{{"p50", p.p50Ms}, {"p90", p.p90Ms}, {"p99", p.p99Ms}, {"requests", p.latencyRequests}}},
                         {"failures", {{"crash", p.crashes}, {"timeout", p.timeouts}, {"queue full", p.queueFull},
                                       {"protocol", p.protocolErrors}, {"stderr", p.stderrFailures}, {"ping", p.pingFailures}}},
                         {"recycles", p.recycles},
                         {"self recycles", p.selfRecycles},
                         {"retried", p.retried},
                         {"advice", p.advice},
                         {"processes", processes}});
    }
    json sites = json::array();
    for (const SiteMetrics& site : s.sites) {
        json certificates = json::array();
        for (const SiteMetrics::Certificate& c : site.certificates)
            certificates.push_back({{"host", c.host}, {"subject", c.subject}, {"file", c.file},
                                    {"expires in seconds", static_cast<long long>(c.notAfter - std::chrono::system_clock::to_time_t(s.time))}});
        sites.push_back({{"site", site.name},
                         {"state", site.state},
                         {"requests", site.requests},
                         {"requests per second", site.requestsPerSecond},
                         {"open connections", site.openConnections},
                         {"status", {{"1xx", site.status1xx}, {"2xx", site.status2xx}, {"3xx", site.status3xx}, {"4xx", site.status4xx},
                                     {"5xx", site.status5xx}}},
                         {"certificates", certificates}});
    }
    json cgi = json::array();
    for (const CgiMetrics& c : s.cgi)
        cgi.push_back({{"pool", c.pool}, {"state", c.stopped ? "Stopped" : "Started"}, {"stopped reason", c.stoppedReason},
                       {"identity", c.identity}, {"running", c.running}, {"queued", c.queued}, {"max queued", c.maxQueued},
                       {"completed", c.completed}, {"rejected", c.rejected}, {"spawn failures", c.spawnFailures},
                       {"misbehaving", c.misbehaving}, {"timeouts", c.timeouts}});
    json out = {{"start since", uptime},    {"version", s.version}, {"config hash", s.configHash},
                {"draining", s.draining},   {"pools", pools},       {"sites", sites},
                {"cgi", cgi}};
    if (s.withRequests) { // ?full: the requests running now (IIS's current requests)
        json running = json::array();
        for (const log::RunningRequest& r : s.requests)
            running.push_back({{"id", r.id}, {"site", r.site}, {"application pool", r.pool}, {"method", r.method}, {"url", r.url},
                               {"client", r.client}, {"handler", r.handler}, {"pid", r.pid}, {"phase", log::phaseName(r.phase)},
                               {"elapsed ms", r.elapsedMs}});
        out["requests"] = running;
    }
    return out.dump() + "\n";
}

std::string prometheusMetrics(const Snapshot& s)
{
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    // No label names the server: Prometheus adds instance (and the scrape's own labels) to every
    // series it takes, as its convention has it.
    family("lido_build_info", "gauge", "1, with the version of Lido that runs.");
    out += "lido_build_info{version=\"" + label(s.version) + "\"} 1\n";
    family("lido_config_version_info", "gauge", "1, with the running configuration's hash (16 hex digits of its SHA-256): nodes that "
                                                "differ run different files.");
    out += "lido_config_version_info{hash=\"" + label(s.configHash) + "\"} 1\n";
    family("lido_draining", "gauge", "1 while /health answers 503 (lidoctl drain, SIGTERM's drainDelay), else 0.");
    out += std::string("lido_draining ") + (s.draining ? "1" : "0") + "\n";
    family("lido_site_up", "gauge", "1 when the site serves, 0 when it is stopped or failed.");
    for (const SiteMetrics& site : s.sites)
        out += "lido_site_up{site=\"" + label(site.name) + "\"} " + (site.started ? "1" : "0") + "\n";
    family("lido_pool_instances", "gauge", "FastCGI instances by state.");
    for (const PoolMetrics& p : s.fastcgi)
        for (auto [state, n] : {std::pair{"starting", p.starting}, {"idle", p.idle}, {"busy", p.busy}, {"draining", p.draining}})
            out += "lido_pool_instances{pool=\"" + label(p.pool) + "\",application=\"" + label(p.application) + "\",state=\"" + state +
                   "\"} " + std::to_string(n) + "\n";
    family("lido_pool_queue_length", "gauge", "Requests waiting for an instance.");
    for (const PoolMetrics& p : s.fastcgi)
        out += "lido_pool_queue_length{pool=\"" + label(p.pool) + "\",application=\"" + label(p.application) + "\"} " +
               std::to_string(p.queued) + "\n";
    family("lido_pool_up", "gauge", "1 when the pool runs, 0 when it is stopped (rapid-fail protection or by hand).");
    for (const PoolMetrics& p : s.fastcgi)
        out += "lido_pool_up{pool=\"" + label(p.pool) + "\",application=\"" + label(p.application) + "\"} " + (p.running ? "1" : "0") + "\n";
    family("lido_pool_requests_total", "counter", "FastCGI requests by outcome.");
    for (const PoolMetrics& p : s.fastcgi) {
        out += "lido_pool_requests_total{pool=\"" + label(p.pool) + "\",result=\"accepted\"} " + std::to_string(p.accepted) + "\n";
        out += "lido_pool_requests_total{pool=\"" + label(p.pool) + "\",result=\"completed\"} " + std::to_string(p.completed) + "\n";
    }
    family("lido_pool_failures_total", "counter", "FastCGI failures by cause.");
    for (const PoolMetrics& p : s.fastcgi)
        for (auto [cause, n] : {std::pair{"crash", p.crashes}, {"timeout", p.timeouts}, {"queue_full", p.queueFull},
                                {"protocol", p.protocolErrors}, {"stderr", p.stderrFailures}, {"ping", p.pingFailures}})
            out += "lido_pool_failures_total{pool=\"" + label(p.pool) + "\",cause=\"" + cause + "\"} " + std::to_string(n) + "\n";
    // NaN with no request in the window, as Prometheus's client libraries give an empty summary.
    family("lido_pool_latency_milliseconds", "gauge", "Request latency percentiles over the last minute's requests (at most 1,000).");
    for (const PoolMetrics& p : s.fastcgi)
        for (auto [q, v] : {std::pair{"0.5", p.p50Ms}, {"0.9", p.p90Ms}, {"0.99", p.p99Ms}})
            out += "lido_pool_latency_milliseconds{pool=\"" + label(p.pool) + "\",quantile=\"" + q + "\"} " + (p.latencyRequests ? num(v) : std::string("NaN")) + "\n";
    family("lido_site_requests_total", "counter", "Requests by site and status class.");
    for (const SiteMetrics& site : s.sites)
        for (auto [cls, n] : {std::pair{"1xx", site.status1xx}, {"2xx", site.status2xx}, {"3xx", site.status3xx}, {"4xx", site.status4xx},
                              {"5xx", site.status5xx}})
            out += "lido_site_requests_total{site=\"" + label(site.name) + "\",status_class=\"" + cls + "\"} " + std::to_string(n) + "\n";
    family("lido_certificate_expiry_seconds", "gauge", "Seconds until a site's certificate expires (negative: expired).");
    for (const SiteMetrics& site : s.sites)
        for (const SiteMetrics::Certificate& c : site.certificates)
            out += "lido_certificate_expiry_seconds{site=\"" + label(site.name) + "\",host=\"" + label(c.host.empty() ? c.subject : c.host) + "\"} " +
                   std::to_string(static_cast<long long>(c.notAfter - std::chrono::system_clock::to_time_t(s.time))) + "\n";
    family("lido_site_open_connections", "gauge", "Open client connections.");
    for (const SiteMetrics& site : s.sites)
        out += "lido_site_open_connections{site=\"" + label(site.name) + "\"} " + std::to_string(site.openConnections) + "\n";
    family("lido_cgi_running", "gauge", "CGI programs running by application pool.");
    for (const CgiMetrics& c : s.cgi)
        out += "lido_cgi_running{pool=\"" + label(c.pool) + "\"} " + std::to_string(c.running) + "\n";
    family("lido_cgi_queued", "gauge", "CGI requests waiting for a slot.");
    for (const CgiMetrics& c : s.cgi)
        out += "lido_cgi_queued{pool=\"" + label(c.pool) + "\"} " + std::to_string(c.queued) + "\n";
    return out;
}

} // namespace lido::engine
