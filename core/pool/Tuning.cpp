#include "pool/Tuning.h"

#include <algorithm>

namespace lido::pool {

int nextInstanceLimit(const TuneInput& in)
{
    if (in.requestsWaited) {
        if (in.cpuIdle < 0.05)
            return in.limit; // more processes would only queue for the CPU
        int grown = in.cpuIdle < 0.25 ? in.limit + 1 : in.limit * 2;
        return std::min(in.cap, std::max(grown, in.limit + 1));
    }
    if (in.idleInstances > 1 && in.limit > 1)
        return in.limit - 1;
    return in.limit;
}

bool scheduleCrossed(int64_t previous, int64_t now, int64_t at)
{
    if (previous == now)
        return false;
    if (previous < now)
        return previous < at && at <= now;
    return at > previous || at <= now; // the day turned over
}

} // namespace lido::pool
