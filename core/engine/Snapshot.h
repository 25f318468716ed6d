#pragma once
// What the engine publishes once a second and on demand: immutable values the console and the
// status endpoint copy.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace lido::engine {

struct SiteMetrics {
    std::string name;
    uint32_t id = 0;
    bool started = false;
    std::string state; // "Started", "Stopped", "Failed: <why>"
    uint64_t requests = 0;
    double requestsPerSecond = 0;
    uint64_t status1xx = 0, status2xx = 0, status3xx = 0, status4xx = 0, status5xx = 0;
    int64_t openConnections = 0;
};

struct CgiMetrics {
    std::string pool;
    int maxConcurrent = 0;
    int running = 0;
    int queued = 0;
    int maxQueued = 0;
    uint64_t started = 0;
    uint64_t completed = 0;
    uint64_t rejected = 0;      // queue full or wait timed out: 503
    uint64_t spawnFailures = 0; // after retries
    uint64_t spawnRetries = 0;  // EAGAIN/ENOMEM, retried with back-off
    uint64_t misbehaving = 0;   // incomplete or malformed headers
    uint64_t timeouts = 0;
};

struct Snapshot {
    std::chrono::system_clock::time_point time;
    std::vector<SiteMetrics> sites;
    std::vector<CgiMetrics> cgi;
};

// One second of history: the figures the console charts.
struct HistoryPoint {
    std::chrono::system_clock::time_point time;
    double requestsPerSecond = 0;
    uint64_t errors5xx = 0;
    int cgiRunning = 0;
    int cgiQueued = 0;
};

} // namespace lido::engine
