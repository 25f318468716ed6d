#pragma once
// What a FastCGI process pool publishes: instances by state, its queue, counters and latency.
#include <cstdint>
#include <string>
#include <vector>

namespace lido::pool {

enum class InstanceState { Starting, Idle, Busy, Draining, Stopping, Stopped, Failed };

// "starting", "idle", ...: events, the admin channel's JSON and the console say it the same way.
inline const char* stateName(InstanceState s)
{
    switch (s) {
    case InstanceState::Starting: return "starting";
    case InstanceState::Idle: return "idle";
    case InstanceState::Busy: return "busy";
    case InstanceState::Draining: return "draining";
    case InstanceState::Stopping: return "stopping";
    case InstanceState::Stopped: return "stopped";
    case InstanceState::Failed: return "failed";
    }
    return "?";
}

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
    double p50Ms = 0, p90Ms = 0, p99Ms = 0; // over the last 1,000 requests
    bool maxInstancesReached = false;         // php-fpm's "max children reached"
    std::vector<InstanceMetrics> instances;
};

} // namespace lido::pool
