#pragma once
// What the engine keeps of each application pool for the console's charts, so that a console
// that opens, reloads or attaches to the service shows the last minutes at once instead of
// empty charts: a point a second for five minutes and a point every ten seconds for an hour
// (the largest of the ten, failures summed), about 29 KB a pool. Time is passed in, so that
// tests use chosen times instead of waiting.
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace lido::engine {

struct PoolPoint {
    std::chrono::system_clock::time_point time;
    float requestsPerSecond = 0, busy = 0, total = 0, queued = 0; // FastCGI instances and CGI programs
    float p99Ms = 0;                                                // 0: no request in the last minute
    std::array<uint16_t, 6> failures{}; // since the point before: crash, timeout, queue full, protocol, stderr, ping
};

// One pool's figures now, failures as running totals.
struct PoolSample {
    std::string pool;
    double requestsPerSecond = 0, busy = 0, total = 0, queued = 0, p99Ms = 0;
    std::array<uint64_t, 6> failuresTotal{};
};

class PoolHistory {
public:
    static constexpr size_t kSeconds = 300; // five minutes, a point a second
    static constexpr size_t kTens = 360;    // an hour, a point every ten seconds

    // Once a second, every pool of the running configuration; pools no longer there are forgotten.
    void record(std::chrono::system_clock::time_point now, const std::vector<PoolSample>& pools);
    // Oldest first; hour: the ten-second points.
    std::vector<PoolPoint> of(const std::string& pool, bool hour) const;

private:
    struct Ring {
        std::deque<PoolPoint> seconds, tens;
        std::array<uint64_t, 6> last{};
        bool seen = false;
        PoolPoint ten; // the ten-second point being made
        int inTen = 0;
    };
    std::map<std::string, Ring> rings_;
};

} // namespace lido::engine
