#pragma once
// Counting failures in a sliding window (rapid-fail protection), with time passed in so that
// tests use an injected clock instead of sleeping.
#include <chrono>
#include <deque>

namespace lido::pool {

class FailureWindow {
public:
    using Clock = std::chrono::steady_clock;
    FailureWindow(int maxFailures, Clock::duration window) : max_(maxFailures), window_(window) {}
    // Records one failure at `now`; true when the window now holds `maxFailures` or more.
    bool record(Clock::time_point now)
    {
        times_.push_back(now);
        while (!times_.empty() && now - times_.front() > window_)
            times_.pop_front();
        return max_ > 0 && static_cast<int>(times_.size()) >= max_;
    }
    int count() const { return static_cast<int>(times_.size()); }
    void reset() { times_.clear(); }

private:
    int max_;
    Clock::duration window_;
    std::deque<Clock::time_point> times_;
};

} // namespace lido::pool
