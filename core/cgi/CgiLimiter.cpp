#include "cgi/CgiLimiter.h"

namespace lido::cgi {

CgiLimiter::CgiLimiter(std::string pool, int maxConcurrent, size_t queueLength, std::chrono::milliseconds queueTimeout)
    : pool_(std::move(pool)), max_(maxConcurrent), queueLength_(queueLength), queueTimeout_(queueTimeout)
{
}

bool CgiLimiter::acquire(const asio::any_io_executor& executor, std::function<void(bool)> grant, Ticket& ticket)
{
    std::unique_lock lock(mutex_);
    if (running_ < max_ && queue_.empty()) {
        ++running_;
        lock.unlock();
        grant(true);
        return true;
    }
    size_t waiting = 0;
    for (const Waiter& w : queue_)
        waiting += !*w.cancelled;
    if (waiting >= queueLength_) {
        ++rejected;
        return false;
    }
    auto timer = std::make_shared<asio::steady_timer>(executor, queueTimeout_);
    queue_.push_back(Waiter{executor, std::move(grant), ticket.cancelled, timer});
    maxQueued_ = std::max(maxQueued_, static_cast<int>(waiting + 1));
    std::weak_ptr<CgiLimiter> weak = shared_from_this();
    auto cancelled = ticket.cancelled;
    timer->async_wait([weak, cancelled](const asio::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self)
            return;
        std::unique_lock l(self->mutex_);
        for (auto it = self->queue_.begin(); it != self->queue_.end(); ++it) {
            if (it->cancelled != cancelled)
                continue;
            auto grantFn = std::move(it->grant);
            self->queue_.erase(it);
            ++self->rejected;
            l.unlock();
            if (!*cancelled)
                grantFn(false);
            return;
        }
    });
    return true;
}

void CgiLimiter::release()
{
    std::unique_lock lock(mutex_);
    while (!queue_.empty()) {
        Waiter w = std::move(queue_.front());
        queue_.pop_front();
        if (*w.cancelled)
            continue;
        w.timer->cancel();
        lock.unlock();
        // The slot passes to the waiter; it runs on its own connection's thread.
        asio::post(w.executor, [grant = std::move(w.grant)] { grant(true); });
        return;
    }
    --running_;
}

void CgiLimiter::cancel(Ticket& ticket)
{
    std::lock_guard lock(mutex_);
    *ticket.cancelled = true;
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
        if (it->cancelled == ticket.cancelled) {
            it->timer->cancel();
            queue_.erase(it);
            return;
        }
}

CgiMetrics CgiLimiter::metrics() const
{
    std::lock_guard lock(mutex_);
    CgiMetrics m;
    m.pool = pool_;
    m.maxConcurrent = max_;
    m.running = running_;
    for (const Waiter& w : queue_)
        m.queued += !*w.cancelled;
    m.maxQueued = maxQueued_;
    m.started = started;
    m.completed = completed;
    m.rejected = rejected;
    m.spawnFailures = spawnFailures;
    m.spawnRetries = spawnRetries;
    m.misbehaving = misbehaving;
    m.timeouts = timeouts;
    return m;
}

} // namespace lido::cgi
