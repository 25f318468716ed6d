#pragma once
// The latency percentiles a pool shows: over the requests of the last minute (at most the last
// 1,000 of them), so that a pool without traffic has none instead of the figure it had when its
// last request was served. Time is passed in, so tests use an injected clock instead of sleeping.
#include <algorithm>
#include <chrono>
#include <vector>

namespace lido::pool {

class LatencyWindow {
public:
    using Clock = std::chrono::steady_clock;
    static constexpr Clock::duration kWindow = std::chrono::seconds(60);
    static constexpr size_t kMaxSamples = 1000;

    struct Quantiles {
        size_t requests = 0; // in the window; 0: no figures
        double p50 = 0, p90 = 0, p99 = 0;
    };

    void record(Clock::time_point at, double ms)
    {
        if (samples_.size() < kMaxSamples)
            samples_.push_back({at, ms});
        else
            samples_[next_++ % kMaxSamples] = {at, ms};
    }

    Quantiles quantiles(Clock::time_point now) const
    {
        std::vector<double> ms;
        ms.reserve(samples_.size());
        for (const Sample& s : samples_)
            if (now - s.at <= kWindow)
                ms.push_back(s.ms);
        Quantiles q;
        q.requests = ms.size();
        if (ms.empty())
            return q;
        std::sort(ms.begin(), ms.end());
        auto at = [&](double f) { return ms[std::min(ms.size() - 1, static_cast<size_t>(f * static_cast<double>(ms.size())))]; };
        q.p50 = at(0.50);
        q.p90 = at(0.90);
        q.p99 = at(0.99);
        return q;
    }

private:
    struct Sample {
        Clock::time_point at;
        double ms;
    };
    std::vector<Sample> samples_;
    size_t next_ = 0;
};

} // namespace lido::pool
