#pragma once
// How many CGI programs of one application pool run at once, and the queue in front of them.
// Under load requests wait instead of failing; only past the queue do they get 503.
#include "cgi/CgiMetrics.h"

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace lido::cgi {

class CgiLimiter : public std::enable_shared_from_this<CgiLimiter> {
public:
    CgiLimiter(std::string pool, int maxConcurrent, size_t queueLength, std::chrono::milliseconds queueTimeout);

    struct Ticket {
        std::shared_ptr<bool> cancelled = std::make_shared<bool>(false);
    };
    // grant(true) runs on `executor` once a slot is this request's; grant(false) when it waited
    // longer than the queue timeout. Returns false at once when the queue is full.
    bool acquire(const asio::any_io_executor& executor, std::function<void(bool)> grant, Ticket& ticket);
    void release();
    void cancel(Ticket& ticket); // the client went away while waiting

    CgiMetrics metrics() const;

    std::atomic<uint64_t> started{0}, completed{0}, rejected{0}, spawnFailures{0}, spawnRetries{0}, misbehaving{0}, timeouts{0};

private:
    struct Waiter {
        asio::any_io_executor executor;
        std::function<void(bool)> grant;
        std::shared_ptr<bool> cancelled;
        std::shared_ptr<asio::steady_timer> timer;
    };
    std::string pool_;
    int max_;
    size_t queueLength_;
    std::chrono::milliseconds queueTimeout_;
    mutable std::mutex mutex_;
    int running_ = 0;
    int maxQueued_ = 0;
    std::deque<Waiter> queue_;
};

} // namespace lido::cgi
