#include "engine/StatusPage.h"

#include <cstdio>

namespace lido::engine {

namespace {

std::string quote(const std::string& s)
{
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += c;
            }
        }
    }
    return out + "\"";
}

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

const char* stateText(InstanceState s)
{
    switch (s) {
    case InstanceState::Starting: return "Starting";
    case InstanceState::Idle: return "Idle";
    case InstanceState::Busy: return "Running";
    case InstanceState::Draining: return "Draining";
    case InstanceState::Stopping: return "Stopping";
    case InstanceState::Stopped: return "Stopped";
    case InstanceState::Failed: return "Failed";
    }
    return "?";
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
    std::string out = "{\"start since\":" + num(uptime) + ",\"pools\":[";
    bool first = true;
    for (const PoolMetrics& p : s.fastcgi) {
        out += first ? "" : ",";
        first = false;
        out += "{\"pool\":" + quote(p.pool) + ",\"identity\":" + quote(p.identity) + ",\"application\":" + quote(p.application) +
               ",\"process manager\":" + quote("lido") + ",\"state\":" + quote(p.running ? "Started" : "Stopped") +
               ",\"stopped reason\":" + quote(p.stoppedReason) + ",\"accepted conn\":" + std::to_string(p.accepted) +
               ",\"completed\":" + std::to_string(p.completed) + ",\"listen queue\":" + std::to_string(p.queued) +
               ",\"max listen queue\":" + std::to_string(p.maxQueued) + ",\"idle processes\":" + std::to_string(p.idle) +
               ",\"active processes\":" + std::to_string(p.busy) +
               ",\"total processes\":" + std::to_string(p.starting + p.idle + p.busy + p.draining) +
               ",\"max active processes\":" + std::to_string(p.maxInstances) +
               ",\"max children reached\":" + std::to_string(p.maxInstancesReached ? 1 : 0) + ",\"slow requests\":0" +
               ",\"requests per second\":" + num(p.requestsPerSecond) + ",\"latency ms\":{\"p50\":" + num(p.p50Ms) +
               ",\"p90\":" + num(p.p90Ms) + ",\"p99\":" + num(p.p99Ms) + "},\"failures\":{\"crash\":" + std::to_string(p.crashes) +
               ",\"timeout\":" + std::to_string(p.timeouts) + ",\"queue full\":" + std::to_string(p.queueFull) +
               ",\"protocol\":" + std::to_string(p.protocolErrors) + ",\"stderr\":" + std::to_string(p.stderrFailures) + ",\"ping\":" + std::to_string(p.pingFailures) +
               "},\"recycles\":" + std::to_string(p.recycles) + ",\"self recycles\":" + std::to_string(p.selfRecycles) +
               ",\"retried\":" + std::to_string(p.retried) + ",\"advice\":" + quote(p.advice) + ",\"processes\":[";
        bool firstProcess = true;
        for (const InstanceMetrics& i : p.instances) {
            out += firstProcess ? "" : ",";
            firstProcess = false;
            out += "{\"pid\":" + std::to_string(i.pid) + ",\"state\":" + quote(stateText(i.state)) + ",\"requests\":" +
                   std::to_string(i.requests) + ",\"start since\":" + num(i.uptimeSeconds) + ",\"request uri\":" + quote(i.currentUrl) +
                   ",\"rss bytes\":" + std::to_string(i.rssBytes) + ",\"cpu seconds\":" + num(i.cpuSeconds) + "}";
        }
        out += "]}";
    }
    out += "],\"sites\":[";
    first = true;
    for (const SiteMetrics& site : s.sites) {
        out += first ? "" : ",";
        first = false;
        out += "{\"site\":" + quote(site.name) + ",\"state\":" + quote(site.state) + ",\"requests\":" + std::to_string(site.requests) +
               ",\"requests per second\":" + num(site.requestsPerSecond) + ",\"open connections\":" + std::to_string(site.openConnections) +
               ",\"status\":{\"1xx\":" + std::to_string(site.status1xx) + ",\"2xx\":" + std::to_string(site.status2xx) +
               ",\"3xx\":" + std::to_string(site.status3xx) + ",\"4xx\":" + std::to_string(site.status4xx) +
               ",\"5xx\":" + std::to_string(site.status5xx) + "}}";
    }
    out += "],\"cgi\":[";
    first = true;
    for (const CgiMetrics& c : s.cgi) {
        out += first ? "" : ",";
        first = false;
        out += "{\"pool\":" + quote(c.pool) + ",\"identity\":" + quote(c.identity) + ",\"running\":" + std::to_string(c.running) + ",\"queued\":" + std::to_string(c.queued) +
               ",\"max queued\":" + std::to_string(c.maxQueued) + ",\"completed\":" + std::to_string(c.completed) +
               ",\"rejected\":" + std::to_string(c.rejected) + ",\"spawn failures\":" + std::to_string(c.spawnFailures) +
               ",\"misbehaving\":" + std::to_string(c.misbehaving) + ",\"timeouts\":" + std::to_string(c.timeouts) + "}";
    }
    return out + "]}\n";
}

std::string prometheusMetrics(const Snapshot& s)
{
    std::string out;
    auto family = [&](const char* name, const char* type, const char* help) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
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
    family("lido_pool_latency_milliseconds", "gauge", "Request latency percentiles over the last 1,000 requests.");
    for (const PoolMetrics& p : s.fastcgi)
        for (auto [q, v] : {std::pair{"0.5", p.p50Ms}, {"0.9", p.p90Ms}, {"0.99", p.p99Ms}})
            out += "lido_pool_latency_milliseconds{pool=\"" + label(p.pool) + "\",quantile=\"" + q + "\"} " + num(v) + "\n";
    family("lido_site_requests_total", "counter", "Requests by site and status class.");
    for (const SiteMetrics& site : s.sites)
        for (auto [cls, n] : {std::pair{"1xx", site.status1xx}, {"2xx", site.status2xx}, {"3xx", site.status3xx}, {"4xx", site.status4xx},
                              {"5xx", site.status5xx}})
            out += "lido_site_requests_total{site=\"" + label(site.name) + "\",status_class=\"" + cls + "\"} " + std::to_string(n) + "\n";
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
