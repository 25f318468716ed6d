#pragma once
// What the engine publishes once a second and on demand: immutable values the console and the
// status endpoint copy. The pools' and CGI limiters' own figures are defined beside them.
#include "cgi/CgiMetrics.h"
#include "log/Requests.h"
#include "pool/PoolMetrics.h"

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace lido::engine {

using cgi::CgiMetrics;
using pool::InstanceMetrics;
using pool::InstanceState;
using pool::PoolMetrics;
using pool::stateName;

struct SiteMetrics {
    std::string name;
    uint32_t id = 0;
    bool started = false;
    std::string state; // "Started", "Stopped", "Failed: <why>"
    uint64_t requests = 0;
    double requestsPerSecond = 0;
    uint64_t status1xx = 0, status2xx = 0, status3xx = 0, status4xx = 0, status5xx = 0;
    int64_t openConnections = 0;
    struct Certificate {
        std::string host;    // the SNI name, or "" for the endpoint's default
        std::string subject; // its CN
        std::string file;
        std::time_t notAfter = 0;
    };
    std::vector<Certificate> certificates; // of its https bindings
};

struct Snapshot {
    std::chrono::system_clock::time_point time;
    std::string version;    // Lido's
    std::string configHash; // the running configuration's (16 hex digits of its SHA-256)
    bool draining = false;  // /health answers 503 (lidoctl drain, SIGTERM's drainDelay, a stop)
    std::vector<SiteMetrics> sites;
    std::vector<CgiMetrics> cgi;
    std::vector<PoolMetrics> fastcgi;
    bool withRequests = false;                 // asked for the running requests (/status?full, the console's pool page)
    std::vector<log::RunningRequest> requests; // then: oldest first
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
