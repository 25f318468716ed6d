#include "Control.h"

#include "admin/AdminClient.h"
#include "admin/AdminJson.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

namespace lidoctl {

using lido::admin::AdminClient;

namespace {

enum Exit { Ok = 0, Failed = 1, NoEngine = 2 };

bool connect(AdminClient& client, const std::string& socket)
{
    if (auto c = client.connect(socket); !c) {
        std::cerr << "lidoctl: " << c.error() << "\n";
        return false;
    }
    return true;
}

std::string clock(std::chrono::system_clock::time_point t)
{
    std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    localtime_r(&secs, &tm);
    char out[32];
    std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &tm);
    return out;
}

void printEvent(const lido::log::Event& e)
{
    std::printf("%s  %-7s  %s: %s\n", clock(e.time).c_str(), lido::log::severityName(e.severity), e.source.c_str(), e.message.c_str());
    std::fflush(stdout);
}

} // namespace

int status(const std::string& socket, bool asJson)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    auto result = client.call("snapshot");
    if (!result) {
        std::cerr << "lidoctl: " << result.error() << "\n";
        return Failed;
    }
    if (asJson) {
        std::cout << nlohmann::json::parse(*result).dump(2) << "\n";
        return Ok;
    }
    auto snap = lido::admin::parseSnapshot(*result);
    if (!snap) {
        std::cerr << "lidoctl: " << snap.error() << "\n";
        return Failed;
    }
    std::printf("Lido %s, configuration %s: %s\n\n", snap->version.c_str(), snap->configHash.c_str(),
                snap->draining ? "draining (/health answers 503; lidoctl undrain ends it)" : "serving");
    std::printf("%-20s %-10s %-22s %6s %8s %9s  %-22s %s\n", "POOL", "STATE", "INSTANCES", "QUEUE", "REQ/S", "FAILURES", "IDENTITY", "APPLICATION");
    for (const auto& p : snap->fastcgi) {
        char instances[64];
        std::snprintf(instances, sizeof instances, "%d busy/%d idle/%d", p.busy, p.idle, p.starting + p.idle + p.busy + p.draining);
        uint64_t failures = p.crashes + p.timeouts + p.queueFull + p.protocolErrors + p.stderrFailures + p.pingFailures;
        std::printf("%-20s %-10s %-22s %6d %8.1f %9llu  %-22s %s\n", p.pool.c_str(), p.running ? "Started" : "Stopped", instances, p.queued,
                    p.requestsPerSecond, static_cast<unsigned long long>(failures), p.identity.c_str(), p.application.c_str());
        if (!p.running && !p.stoppedReason.empty())
            std::printf("    %s\n", p.stoppedReason.c_str());
        if (p.running && p.retryInSeconds > 0)
            std::printf("    failing to start (%d in a row): retrying in %.0f s\n", p.failedStarts, std::ceil(p.retryInSeconds));
        if (!p.advice.empty())
            std::printf("    warning: %s\n", p.advice.c_str());
    }
    // Every application pool, with or without FastCGI (appcmd list apppool), and its CGI slots.
    std::printf("\n%-20s %-10s %-22s %12s %7s %10s\n", "APPLICATION POOL", "STATE", "IDENTITY", "CGI RUNNING", "QUEUED", "COMPLETED");
    for (const auto& c : snap->cgi) {
        std::printf("%-20s %-10s %-22s %8d/%-3d %7d %10llu\n", c.pool.c_str(), c.stopped ? "Stopped" : "Started", c.identity.c_str(), c.running,
                    c.maxConcurrent, c.queued, static_cast<unsigned long long>(c.completed));
        if (c.stopped && !c.stoppedReason.empty())
            std::printf("    %s: its applications answer 503\n", c.stoppedReason.c_str());
    }
    std::printf("\n%-20s %-10s %8s %11s %10s %8s\n", "SITE", "STATE", "REQ/S", "CONNECTIONS", "REQUESTS", "5XX");
    for (const auto& s : snap->sites) {
        std::string state = s.state.rfind("Failed", 0) == 0 ? "Failed" : s.state.rfind("Stopped", 0) == 0 ? "Stopped" : s.state;
        std::printf("%-20s %-10s %8.1f %11lld %10llu %8llu\n", s.name.c_str(), state.c_str(), s.requestsPerSecond,
                    static_cast<long long>(s.openConnections), static_cast<unsigned long long>(s.requests),
                    static_cast<unsigned long long>(s.status5xx));
        if (state != s.state)
            std::printf("    %s\n", s.state.c_str());
    }
    return Ok;
}

int control(const std::string& socket, const std::string& verb, const std::string& kind, const std::string& name)
{
    if (kind != "pool" && kind != "site") {
        std::cerr << "lidoctl: " << verb << " takes pool NAME or site NAME\n";
        return Failed;
    }
    if (kind == "site" && verb == "recycle") {
        std::cerr << "lidoctl: a site is started or stopped, not recycled\n";
        return Failed;
    }
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    auto result = client.call(verb, lido::admin::jsonString(kind) + ":" + lido::admin::jsonString(name));
    if (!result) {
        std::cerr << "lidoctl: " << verb << " " << kind << " " << name << ": " << result.error() << "\n";
        return Failed;
    }
    std::cout << kind << " " << name << ": " << nlohmann::json::parse(*result).get<std::string>() << "\n";
    return Ok;
}

int reload(const std::string& socket)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    auto result = client.call("reload");
    if (!result) {
        std::cerr << "lidoctl: reload: " << result.error() << "\n";
        return Failed;
    }
    std::cout << nlohmann::json::parse(*result).get<std::string>() << "\n";
    return Ok;
}

int requests(const std::string& socket, const std::string& pool, bool asJson)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    auto result = client.call("requests", pool.empty() ? std::string() : "\"pool\":" + lido::admin::jsonString(pool));
    if (!result) {
        std::cerr << "lidoctl: requests: " << result.error() << "\n";
        return Failed;
    }
    if (asJson) {
        std::cout << nlohmann::json::parse(*result).dump(2) << "\n";
        return Ok;
    }
    auto list = lido::admin::parseRequests(*result);
    if (!list) {
        std::cerr << "lidoctl: " << list.error() << "\n";
        return Failed;
    }
    if (list->empty()) {
        std::cout << (pool.empty() ? std::string("no request is running") : "no request of application pool " + pool + " is running") << "\n";
        return Ok;
    }
    std::printf("%10s  %-28s %-16s %-16s %7s  %-40s %s\n", "ELAPSED", "PHASE", "POOL", "CLIENT", "PID", "URL", "SITE");
    for (const auto& r : *list)
        std::printf("%8.0fms  %-28s %-16s %-16s %7s  %-40s %s\n", r.elapsedMs, lido::log::phaseName(r.phase), r.pool.c_str(), r.client.c_str(),
                    r.pid ? std::to_string(r.pid).c_str() : "-", (r.method + " " + r.url).c_str(), r.site.c_str());
    return Ok;
}

int traces(const std::string& socket, const std::string& site, const std::string& id, bool asJson)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    if (!id.empty()) {
        auto result = client.call("trace", "\"trace\":" + lido::admin::jsonString(id));
        if (!result) {
            std::cerr << "lidoctl: trace " << id << ": " << result.error() << "\n";
            return Failed;
        }
        auto j = nlohmann::json::parse(*result);
        if (asJson) {
            std::cout << j.dump(2) << "\n";
            return Ok;
        }
        const auto& rq = j["request"];
        std::printf("%s %s  %s  from %s\n", rq.value("method", "").c_str(), rq.value("url", "").c_str(), j.value("time", "").c_str(),
                    rq.value("client", "").c_str());
        std::printf("failed: %s (rule %s)\n", j.value("failure", "").c_str(), j["rule"].value("path", "").c_str());
        const auto& rt = j["routing"];
        std::printf("site %s, application %s, pool %s, handler %s (%s), pid %d\n  %s\n", j.value("site", "").c_str(),
                    rt.value("application", "").c_str(), rt.value("pool", "").c_str(), rt.value("handler", "").c_str(), rt.value("module", "").c_str(),
                    rt.value("pid", 0), rt.value("physicalPath", "").c_str());
        for (const auto& rule : rt["rulesFired"])
            std::printf("  rewrite rule: %s\n", rule.get<std::string>().c_str());
        std::printf("status %d, %llu bytes\nphases:\n", j["response"].value("status", 0), static_cast<unsigned long long>(j["response"].value("bytes", 0ULL)));
        for (const auto& p : j["phases"])
            std::printf("  %10.1f ms  +%9.1f ms  %s\n", p.value("startMs", 0.0), p.value("ms", 0.0), p.value("name", "").c_str());
        std::printf("  total %.1f ms\n", j["timings"].value("totalMs", 0.0));
        if (std::string err = j.value("stderr", ""); !err.empty())
            std::printf("stderr:\n%s%s", err.c_str(), err.back() == '\n' ? "" : "\n");
        for (const auto& e : j["events"])
            std::printf("event %s %s: %s\n", e.value("severity", "").c_str(), e.value("code", "").c_str(), e.value("message", "").c_str());
        return Ok;
    }
    auto result = client.call("traces", site.empty() ? std::string() : "\"site\":" + lido::admin::jsonString(site));
    if (!result) {
        std::cerr << "lidoctl: traces: " << result.error() << "\n";
        return Failed;
    }
    if (asJson) {
        std::cout << nlohmann::json::parse(*result).dump(2) << "\n";
        return Ok;
    }
    auto list = lido::admin::parseTraceSummaries(*result);
    if (!list) {
        std::cerr << "lidoctl: " << list.error() << "\n";
        return Failed;
    }
    if (list->empty()) {
        std::cout << "no traces kept (a site keeps them with traceFailedRequestsLogging enabled=\"true\" and "
                     "system.webServer/tracing/traceFailedRequests rules)\n";
        return Ok;
    }
    std::printf("%-18s %-24s %6s %10s  %-40s %-14s %s\n", "ID", "TIME", "STATUS", "TAKEN", "URL", "POOL", "FAILURE");
    for (const auto& t : *list)
        std::printf("%-18s %-24s %6d %8.0fms  %-40s %-14s %s\n", t.id.c_str(), t.time.c_str(), t.status, t.totalMs, (t.method + " " + t.url).c_str(),
                    t.pool.c_str(), t.failure.c_str());
    return Ok;
}

int drain(const std::string& socket, bool on)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    auto result = client.call(on ? "drain" : "undrain");
    if (!result) {
        std::cerr << "lidoctl: " << (on ? "drain" : "undrain") << ": " << result.error() << "\n";
        return Failed;
    }
    std::cout << nlohmann::json::parse(*result).get<std::string>() << "\n";
    return Ok;
}

int bridge(const std::string& socket)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    int fd = client.descriptor();
    bool inputOpen = true;
    char buf[65536];
    for (;;) {
        pollfd p[2] = {{fd, POLLIN, 0}, {inputOpen ? 0 : -1, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return Failed;
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                inputOpen = false;
                ::shutdown(fd, SHUT_WR); // the engine answers what it has, then closes
            } else {
                for (ssize_t off = 0; off < n;) {
                    ssize_t w = ::send(fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
                    if (w <= 0)
                        return Failed;
                    off += w;
                }
            }
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n < 0)
                return Failed;
            if (n == 0)
                return Ok; // the engine closed the channel
            for (ssize_t off = 0; off < n;) {
                ssize_t w = ::write(1, buf + off, static_cast<size_t>(n - off));
                if (w <= 0)
                    return Failed;
                off += w;
            }
        }
    }
}

int events(const std::string& socket, bool follow, unsigned long long since)
{
    AdminClient client;
    if (!connect(client, socket))
        return NoEngine;
    auto result = client.call("events", "\"since\":" + std::to_string(since));
    if (!result) {
        std::cerr << "lidoctl: events: " << result.error() << "\n";
        return Failed;
    }
    uint64_t last = since;
    for (const auto& e : nlohmann::json::parse(*result)) {
        auto event = lido::admin::parseEvent(e.dump());
        if (event) {
            printEvent(*event);
            last = event->seq;
        }
    }
    if (!follow)
        return Ok;
    if (auto sub = client.call("subscribe", "\"since\":" + std::to_string(last)); !sub) {
        std::cerr << "lidoctl: events: " << sub.error() << "\n";
        return Failed;
    }
    auto done = client.follow([](const std::string& line) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.value("stream", "") == "event")
            if (auto event = lido::admin::parseEvent(j["event"].dump()))
                printEvent(*event);
        return true;
    });
    std::cerr << "lidoctl: " << done.error() << "\n";
    return Failed;
}

} // namespace lidoctl
