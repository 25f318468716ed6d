#pragma once
// What a pool's CGI limiter publishes: programs running and queued, and what happened to them.
#include <cstdint>
#include <string>

namespace lido::cgi {

struct CgiMetrics {
    std::string pool;
    std::string identity; // the pool's programs run as: "www-data (uid 33)"
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
    // The application pool's own state (lidoctl stop pool): while stopped, every request routed
    // to one of its applications gets 503, static, CGI and FastCGI alike.
    bool stopped = false;
    std::string stoppedReason;
};

} // namespace lido::cgi
