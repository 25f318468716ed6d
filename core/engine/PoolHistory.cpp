#include "engine/PoolHistory.h"

#include <algorithm>
#include <set>

namespace lido::engine {

void PoolHistory::record(std::chrono::system_clock::time_point now, const std::vector<PoolSample>& pools)
{
    std::set<std::string> present;
    for (const PoolSample& s : pools) {
        present.insert(s.pool);
        Ring& r = rings_[s.pool];
        PoolPoint p;
        p.time = now;
        p.requestsPerSecond = static_cast<float>(s.requestsPerSecond);
        p.busy = static_cast<float>(s.busy);
        p.total = static_cast<float>(s.total);
        p.queued = static_cast<float>(s.queued);
        p.p99Ms = static_cast<float>(s.p99Ms);
        for (size_t i = 0; i < p.failures.size(); ++i) {
            uint64_t d = r.seen && s.failuresTotal[i] >= r.last[i] ? s.failuresTotal[i] - r.last[i] : 0; // a new pool starts from 0
            p.failures[i] = static_cast<uint16_t>(std::min<uint64_t>(d, 65535));
        }
        r.last = s.failuresTotal;
        r.seen = true;
        r.seconds.push_back(p);
        if (r.seconds.size() > kSeconds)
            r.seconds.pop_front();
        // The ten-second point: the largest of each figure (a spike stays visible), failures summed.
        PoolPoint& t = r.ten;
        if (r.inTen == 0)
            t = PoolPoint{};
        t.time = now;
        t.requestsPerSecond = std::max(t.requestsPerSecond, p.requestsPerSecond);
        t.busy = std::max(t.busy, p.busy);
        t.total = std::max(t.total, p.total);
        t.queued = std::max(t.queued, p.queued);
        t.p99Ms = std::max(t.p99Ms, p.p99Ms);
        for (size_t i = 0; i < t.failures.size(); ++i)
            t.failures[i] = static_cast<uint16_t>(std::min<int>(65535, t.failures[i] + p.failures[i]));
        if (++r.inTen == 10) {
            r.tens.push_back(t);
            if (r.tens.size() > kTens)
                r.tens.pop_front();
            r.inTen = 0;
        }
    }
    std::erase_if(rings_, [&](const auto& ring) { return !present.count(ring.first); });
}

std::vector<PoolPoint> PoolHistory::of(const std::string& pool, bool hour) const
{
    auto it = rings_.find(pool);
    if (it == rings_.end())
        return {};
    const auto& points = hour ? it->second.tens : it->second.seconds;
    return {points.begin(), points.end()};
}

} // namespace lido::engine
