#pragma once
// Pure decisions of the pool's 1-second tick, separated so that tests drive them with chosen
// inputs instead of sleeping: how many instances maxInstances="0" allows next, and whether a
// recycling time of day was crossed.
#include <cstdint>

namespace lido::pool {

struct TuneInput {
    int limit = 1;              // the current limit
    bool requestsWaited = false;// during the last second
    int idleInstances = 0;
    double cpuIdle = 1.0;       // fraction of the machine idle during the last second (0..1)
    int cap = 16;
};

// Doubles while requests wait and the CPU has room (so the best size is reached in a few
// seconds), halves the growth when the CPU is nearly saturated, and gives one instance back per
// second while more than one sits idle.
int nextInstanceLimit(const TuneInput& in);

// True when the time of day `at` (seconds since midnight) lies in (previous, now], also across
// midnight.
bool scheduleCrossed(int64_t previousSecond, int64_t nowSecond, int64_t at);

} // namespace lido::pool
