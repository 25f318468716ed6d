#pragma once
// What a FastCGI process pool publishes: instances by state, its queue, counters and latency.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lido::pool {

// An instance's life: Starting (spawned, not yet ready: with pinging, until it answers
// FCGI_GET_VALUES), Pinging (idle, a ping outstanding: takes no request), Idle, Busy, Draining
// (busy, stops when its request is done), Stopping (signalled), Exited.
enum class InstanceState { Starting, Pinging, Idle, Busy, Draining, Stopping, Exited };
inline constexpr int kInstanceStateCount = 7;

struct InstanceStateName {
    InstanceState state;
    const char* name;    // events, the admin channel's JSON and the console: "starting", "idle", ...
    const char* fpmName; // php-fpm's status page: "Idle", "Running", ...
};
inline constexpr InstanceStateName kInstanceStateNames[kInstanceStateCount] = {
    {InstanceState::Starting, "starting", "Starting"}, {InstanceState::Pinging, "pinging", "Idle"},
    {InstanceState::Idle, "idle", "Idle"},             {InstanceState::Busy, "busy", "Running"},
    {InstanceState::Draining, "draining", "Finishing"}, {InstanceState::Stopping, "stopping", "Ending"},
    {InstanceState::Exited, "exited", "Ended"},
};
inline const char* stateName(InstanceState s) { return kInstanceStateNames[static_cast<int>(s)].name; }
inline const char* fpmStateName(InstanceState s) { return kInstanceStateNames[static_cast<int>(s)].fpmName; }

struct InstanceMetrics {
    int pid = 0;
    InstanceState state = InstanceState::Starting;
    uint64_t requests = 0;
    double uptimeSeconds = 0;
    std::string currentUrl;
    uint64_t rssBytes = 0;
    double cpuSeconds = 0;
};

struct PoolMetrics {
    std::string pool;
    std::string identity; // the instances run as: "www-data (uid 33)"
    std::string application; // fullPath [arguments]
    bool running = true;
    std::string stoppedReason;
    int maxInstances = 0; // the current limit (auto-tuned when configured 0)
    int starting = 0, idle = 0, busy = 0, draining = 0;
    int queued = 0, maxQueued = 0;
    uint64_t accepted = 0, completed = 0;
    uint64_t crashes = 0, timeouts = 0, queueFull = 0, protocolErrors = 0, stderrFailures = 0, pingFailures = 0;
    uint64_t pingsAnswered = 0;
    uint64_t recycles = 0;
    uint64_t selfRecycles = 0; // instances that exited with status 0 between requests (php-cgi's PHP_FCGI_MAX_REQUESTS)
    uint64_t retried = 0;      // requests sent again because their instance exited before answering
    std::string advice;        // a warning with what to change (e.g. instanceMaxRequests), empty when none
    double requestsPerSecond = 0;
    // Over the requests of the last minute (at most the last 1,000): latencyRequests of them; with
    // none, the percentiles are 0 and mean nothing (shown as "-", NaN in /metrics).
    uint64_t latencyRequests = 0;
    double p50Ms = 0, p90Ms = 0, p99Ms = 0;
    bool maxInstancesReached = false;         // php-fpm's "max children reached"
    // Failing to start: the failed starts in a row and when the next start is (0: none waits).
    int failedStarts = 0;
    double retryInSeconds = 0;
    std::vector<InstanceMetrics> instances;
};

// The failure counters in one order, the one the charts and the history keep: crash, timeout,
// queue full, protocol, stderr, ping.
inline std::array<uint64_t, 6> failuresByCause(const PoolMetrics& m)
{
    return {m.crashes, m.timeouts, m.queueFull, m.protocolErrors, m.stderrFailures, m.pingFailures};
}

} // namespace lido::pool
