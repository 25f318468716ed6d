#include "admin/AdminJson.h"

#include <nlohmann/json.hpp>

namespace lido::admin {

using nlohmann::json;
using namespace engine;

namespace {

double unixSeconds(std::chrono::system_clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }
std::chrono::system_clock::time_point fromUnix(double s)
{
    return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(s)));
}

json basicJson(const Snapshot& s)
{
    json j;
    j["time"] = unixSeconds(s.time);
    j["version"] = s.version;
    j["configHash"] = s.configHash;
    j["draining"] = s.draining;
    j["sites"] = json::array();
    for (const SiteMetrics& m : s.sites) {
        json certificates = json::array();
        for (const SiteMetrics::Certificate& c : m.certificates)
            certificates.push_back({{"host", c.host}, {"subject", c.subject}, {"file", c.file}, {"notAfter", static_cast<long long>(c.notAfter)}});
        j["sites"].push_back({{"name", m.name}, {"id", m.id}, {"started", m.started}, {"state", m.state}, {"requests", m.requests},
                              {"requestsPerSecond", m.requestsPerSecond}, {"status1xx", m.status1xx}, {"status2xx", m.status2xx},
                              {"status3xx", m.status3xx}, {"status4xx", m.status4xx}, {"status5xx", m.status5xx},
                              {"openConnections", m.openConnections}, {"certificates", certificates}});
    }
    j["cgi"] = json::array();
    for (const CgiMetrics& m : s.cgi)
        j["cgi"].push_back({{"pool", m.pool}, {"identity", m.identity}, {"maxConcurrent", m.maxConcurrent}, {"running", m.running}, {"queued", m.queued},
                            {"maxQueued", m.maxQueued}, {"started", m.started}, {"completed", m.completed}, {"rejected", m.rejected},
                            {"spawnFailures", m.spawnFailures}, {"spawnRetries", m.spawnRetries}, {"misbehaving", m.misbehaving},
                            {"timeouts", m.timeouts}, {"stopped", m.stopped}, {"stoppedReason", m.stoppedReason}});
    j["fastcgi"] = json::array();
    for (const PoolMetrics& p : s.fastcgi) {
        json instances = json::array();
        for (const InstanceMetrics& i : p.instances)
            instances.push_back({{"pid", i.pid}, {"state", stateName(i.state)}, {"requests", i.requests},
                                 {"uptimeSeconds", i.uptimeSeconds}, {"currentUrl", i.currentUrl}, {"rssBytes", i.rssBytes},
                                 {"cpuSeconds", i.cpuSeconds}});
        j["fastcgi"].push_back({{"pool", p.pool}, {"identity", p.identity}, {"application", p.application}, {"running", p.running},
                                {"stoppedReason", p.stoppedReason}, {"maxInstances", p.maxInstances}, {"starting", p.starting},
                                {"idle", p.idle}, {"busy", p.busy}, {"draining", p.draining}, {"queued", p.queued},
                                {"maxQueued", p.maxQueued}, {"accepted", p.accepted}, {"completed", p.completed},
                                {"crashes", p.crashes}, {"timeouts", p.timeouts}, {"queueFull", p.queueFull},
                                {"protocolErrors", p.protocolErrors}, {"stderrFailures", p.stderrFailures},
                                {"pingFailures", p.pingFailures}, {"pingsAnswered", p.pingsAnswered}, {"recycles", p.recycles},
                                {"selfRecycles", p.selfRecycles}, {"retried", p.retried}, {"advice", p.advice},
                                {"requestsPerSecond", p.requestsPerSecond}, {"latencyRequests", p.latencyRequests}, {"p50Ms", p.p50Ms}, {"p90Ms", p.p90Ms}, {"p99Ms", p.p99Ms},
                                {"maxInstancesReached", p.maxInstancesReached}, {"failedStarts", p.failedStarts},
                                {"retryInSeconds", p.retryInSeconds}, {"instances", instances}});
    }
    return j;
}

template <typename T>
void get(const json& j, const char* key, T& out)
{
    if (auto it = j.find(key); it != j.end() && !it->is_null())
        it->get_to(out);
}

json requestsArray(const std::vector<log::RunningRequest>& requests)
{
    json out = json::array();
    for (const log::RunningRequest& r : requests)
        out.push_back({{"id", r.id}, {"method", r.method}, {"url", r.url}, {"client", r.client}, {"site", r.site}, {"application", r.application},
                       {"pool", r.pool}, {"handler", r.handler}, {"pid", r.pid}, {"phase", log::phaseKey(r.phase)}, {"elapsedMs", r.elapsedMs}});
    return out;
}

std::vector<log::RunningRequest> requestsFrom(const json& array)
{
    std::vector<log::RunningRequest> out;
    for (const json& j : array) {
        log::RunningRequest r;
        get(j, "id", r.id), get(j, "method", r.method), get(j, "url", r.url), get(j, "client", r.client), get(j, "site", r.site);
        get(j, "application", r.application), get(j, "pool", r.pool), get(j, "handler", r.handler), get(j, "pid", r.pid);
        get(j, "elapsedMs", r.elapsedMs);
        std::string phase = j.value("phase", "");
        for (size_t p = 0; p < log::kPhaseCount; ++p)
            if (phase == log::phaseKey(static_cast<log::Phase>(p)))
                r.phase = static_cast<log::Phase>(p);
        out.push_back(std::move(r));
    }
    return out;
}

json toJson(const Snapshot& s)
{
    json j = basicJson(s);
    if (s.withRequests)
        j["requests"] = requestsArray(s.requests);
    return j;
}

} // namespace

std::string snapshotJson(const Snapshot& snapshot) { return toJson(snapshot).dump(); }

Result<Snapshot> parseSnapshot(std::string_view text)
{
    try {
        json j = json::parse(text);
        Snapshot s;
        s.time = fromUnix(j.value("time", 0.0));
        s.version = j.value("version", std::string());
        s.configHash = j.value("configHash", std::string());
        s.draining = j.value("draining", false);
        if (auto it = j.find("requests"); it != j.end() && it->is_array()) {
            s.withRequests = true;
            s.requests = requestsFrom(*it);
        }
        for (const json& m : j.value("sites", json::array())) {
            SiteMetrics x;
            get(m, "name", x.name), get(m, "id", x.id), get(m, "started", x.started), get(m, "state", x.state);
            get(m, "requests", x.requests), get(m, "requestsPerSecond", x.requestsPerSecond);
            get(m, "status1xx", x.status1xx), get(m, "status2xx", x.status2xx), get(m, "status3xx", x.status3xx);
            get(m, "status4xx", x.status4xx), get(m, "status5xx", x.status5xx), get(m, "openConnections", x.openConnections);
            for (const json& c : m.value("certificates", json::array())) {
                SiteMetrics::Certificate cert;
                long long notAfter = 0;
                get(c, "host", cert.host), get(c, "subject", cert.subject), get(c, "file", cert.file), get(c, "notAfter", notAfter);
                cert.notAfter = static_cast<std::time_t>(notAfter);
                x.certificates.push_back(std::move(cert));
            }
            s.sites.push_back(std::move(x));
        }
        for (const json& m : j.value("cgi", json::array())) {
            CgiMetrics x;
            get(m, "pool", x.pool), get(m, "identity", x.identity), get(m, "maxConcurrent", x.maxConcurrent), get(m, "running", x.running), get(m, "queued", x.queued);
            get(m, "maxQueued", x.maxQueued), get(m, "started", x.started), get(m, "completed", x.completed);
            get(m, "rejected", x.rejected), get(m, "spawnFailures", x.spawnFailures), get(m, "spawnRetries", x.spawnRetries);
            get(m, "misbehaving", x.misbehaving), get(m, "timeouts", x.timeouts);
            get(m, "stopped", x.stopped), get(m, "stoppedReason", x.stoppedReason);
            s.cgi.push_back(std::move(x));
        }
        for (const json& m : j.value("fastcgi", json::array())) {
            PoolMetrics p;
            get(m, "pool", p.pool), get(m, "identity", p.identity), get(m, "application", p.application), get(m, "running", p.running);
            get(m, "stoppedReason", p.stoppedReason), get(m, "maxInstances", p.maxInstances), get(m, "starting", p.starting);
            get(m, "idle", p.idle), get(m, "busy", p.busy), get(m, "draining", p.draining), get(m, "queued", p.queued);
            get(m, "maxQueued", p.maxQueued), get(m, "accepted", p.accepted), get(m, "completed", p.completed);
            get(m, "crashes", p.crashes), get(m, "timeouts", p.timeouts), get(m, "queueFull", p.queueFull);
            get(m, "protocolErrors", p.protocolErrors), get(m, "stderrFailures", p.stderrFailures);
            get(m, "pingFailures", p.pingFailures), get(m, "pingsAnswered", p.pingsAnswered), get(m, "recycles", p.recycles);
            get(m, "selfRecycles", p.selfRecycles), get(m, "retried", p.retried), get(m, "advice", p.advice);
            get(m, "requestsPerSecond", p.requestsPerSecond), get(m, "p50Ms", p.p50Ms), get(m, "p90Ms", p.p90Ms);
            get(m, "latencyRequests", p.latencyRequests);
            get(m, "p99Ms", p.p99Ms), get(m, "maxInstancesReached", p.maxInstancesReached);
            get(m, "failedStarts", p.failedStarts), get(m, "retryInSeconds", p.retryInSeconds);
            for (const json& i : m.value("instances", json::array())) {
                InstanceMetrics x;
                std::string state;
                get(i, "pid", x.pid), get(i, "state", state), get(i, "requests", x.requests), get(i, "uptimeSeconds", x.uptimeSeconds);
                get(i, "currentUrl", x.currentUrl), get(i, "rssBytes", x.rssBytes), get(i, "cpuSeconds", x.cpuSeconds);
                for (const auto& n : pool::kInstanceStateNames)
                    if (state == n.name)
                        x.state = n.state;
                p.instances.push_back(std::move(x));
            }
            s.fastcgi.push_back(std::move(p));
        }
        return s;
    } catch (const json::exception& e) {
        return fail(std::string("malformed snapshot: ") + e.what());
    }
}

std::string eventJson(const log::Event& e)
{
    return json{{"seq", e.seq}, {"time", unixSeconds(e.time)}, {"severity", log::severityName(e.severity)}, {"source", e.source},
                {"code", e.code}, {"message", e.message}}
        .dump();
}

Result<log::Event> parseEvent(std::string_view text)
{
    try {
        json j = json::parse(text);
        log::Event e;
        get(j, "seq", e.seq), get(j, "source", e.source), get(j, "code", e.code), get(j, "message", e.message);
        e.time = fromUnix(j.value("time", 0.0));
        std::string severity = j.value("severity", "info");
        for (log::Severity s : {log::Severity::Debug, log::Severity::Info, log::Severity::Warning, log::Severity::Error})
            if (severity == log::severityName(s))
                e.severity = s;
        return e;
    } catch (const json::exception& ex) {
        return fail(std::string("malformed event: ") + ex.what());
    }
}

std::string requestsJson(const std::vector<log::RunningRequest>& requests) { return requestsArray(requests).dump(); }

Result<std::vector<log::RunningRequest>> parseRequests(std::string_view text)
{
    try {
        return requestsFrom(json::parse(text));
    } catch (const json::exception& ex) {
        return fail(std::string("malformed requests: ") + ex.what());
    }
}

std::string traceSummariesJson(const std::vector<engine::TraceSummary>& traces)
{
    json out = json::array();
    for (const engine::TraceSummary& t : traces)
        out.push_back({{"id", t.id}, {"site", t.site}, {"time", t.time}, {"method", t.method}, {"url", t.url}, {"pool", t.pool},
                       {"status", t.status}, {"totalMs", t.totalMs}, {"failure", t.failure}});
    return out.dump();
}

Result<std::vector<engine::TraceSummary>> parseTraceSummaries(std::string_view text)
{
    try {
        std::vector<engine::TraceSummary> out;
        for (const json& j : json::parse(text)) {
            engine::TraceSummary t;
            get(j, "id", t.id), get(j, "site", t.site), get(j, "time", t.time), get(j, "method", t.method), get(j, "url", t.url);
            get(j, "pool", t.pool), get(j, "status", t.status), get(j, "totalMs", t.totalMs), get(j, "failure", t.failure);
            out.push_back(std::move(t));
        }
        return out;
    } catch (const json::exception& ex) {
        return fail(std::string("malformed traces: ") + ex.what());
    }
}

} // namespace lido::admin
