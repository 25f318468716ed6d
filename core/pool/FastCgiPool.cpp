#include "pool/FastCgiPool.h"

#include "pool/Instance.h"
#include "pool/Maintenance.h"
#include "pool/RapidFail.h"

#include <algorithm>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

namespace lido::pool {

struct FastCgiPool::Windows {
    FailureWindow app;  // fastCgi rapidFailsPerMinute
    FailureWindow pool; // application pool rapid-fail protection
};

namespace {
std::string seconds(std::chrono::milliseconds d) { return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s"; }
// "4 s", "0.5 s": a back-off's delay as people read it.
std::string formatSeconds(std::chrono::steady_clock::duration d)
{
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms % 1000 == 0)
        return std::to_string(ms / 1000) + " s";
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
    return text;
}
} // namespace

FastCgiPool::FastCgiPool(asio::io_context& io, FastCgiSettings settings, std::shared_ptr<log::EventLog> events)
    : strand_(asio::make_strand(io)), settings_(std::move(settings)),
      rules_{settings_.fullPath, settings_.stderrMode, settings_.headerSyntax, settings_.responseBufferLimit}, events_(std::move(events)),
      maintenance_(std::make_unique<Maintenance>(settings_))
{
    windows_ = std::make_unique<Windows>(Windows{FailureWindow(settings_.rapidFailsPerMinute, std::chrono::minutes(1)),
                                                 FailureWindow(settings_.rapidFailMaxCrashes, settings_.rapidFailInterval)});
    limit_ = settings_.maxInstances > 0 ? settings_.maxInstances : 1;
    batch_ = settings_.scheduling != FastCgiSettings::Scheduling::Normal;
    counters_.pool = settings_.poolName;
    counters_.identity = settings_.identityShown;
    counters_.application = settings_.fullPath + (settings_.arguments.empty() ? "" : " " + settings_.arguments);
    metrics_ = counters_;
}

FastCgiPool::~FastCgiPool()
{
    for (auto& in : instances_)
        if (in->child)
            in->child->kill();
}

std::string FastCgiPool::describe() const { return "pool " + settings_.poolName + " (" + counters_.application + ")"; }

void FastCgiPool::start()
{
    asio::post(strand_, [self = shared_from_this()] {
        self->tick();
        std::weak_ptr<FastCgiPool> weak = self; // the watch must not keep the pool alive
        std::string err = self->maintenance_->watchFile(self->strand_, [weak] {
            if (auto pool = weak.lock())
                pool->recycle("the monitored file " + pool->settings_.monitorChangesTo + " changed");
        });
        if (!err.empty())
            self->events_->add(log::Severity::Warning, self->describe(), "pool.monitor-failed", err);
        if (self->settings_.alwaysRunning)
            self->startInstances(self->limit_);
        self->publish();
    });
}

// ---------------------------------------------------------------- the queue and its dispatch

void FastCgiPool::submit(FastCgiJob job)
{
    auto ex = std::make_shared<Exchange>(std::move(job), rules_);
    std::weak_ptr<FastCgiPool> weak = shared_from_this();
    auto strand = strand_;
    // The body arrives on the connection's thread and is handed to the pool's strand.
    auto more = [weak, ex] {
        if (auto self = weak.lock())
            for (auto& in : self->instances_)
                if (in->exchange == ex)
                    in->write(ex->codec.more());
    };
    if (ex->job.body) {
        ex->codec.addStdin(*ex->job.body);
        ex->codec.endStdin();
        ex->job.body.reset();
    } else {
        ex->job.responder->onBody(
            [ex, strand, more](std::string_view chunk) {
                asio::post(strand, [ex, more, data = std::string(chunk)] {
                    ex->codec.addStdin(data);
                    more();
                });
            },
            [ex, strand, more] {
                asio::post(strand, [ex, more] {
                    ex->codec.endStdin();
                    more();
                });
            });
        if (!ex->job.responder->request().hasBody())
            ex->codec.endStdin();
    }
    ex->job.responder->onAbort([weak, ex, strand] {
        asio::post(strand, [weak, ex] {
            ex->gone = true;
            auto self = weak.lock();
            if (!self)
                return;
            if (auto it = std::find(self->queue_.begin(), self->queue_.end(), ex); it != self->queue_.end())
                self->queue_.erase(it);
            for (auto& in : self->instances_)
                if (in->exchange == ex)
                    in->sendAbort();
        });
    });
    asio::post(strand_, [self = shared_from_this(), ex] { self->enqueue(ex); });
}

void FastCgiPool::enqueue(const ExchangePtr& ex)
{
    if (!running_)
        return ex->fail(503, "the application pool " + settings_.poolName + " is stopped: " + stoppedReason_, {{"Retry-After", "60"}});
    if (queue_.size() >= settings_.queueLength) {
        ++counters_.queueFull;
        return ex->fail(503, "the FastCGI queue is full", {{"Retry-After", "5"}});
    }
    ++counters_.accepted;
    if (ex->job.track)
        ex->job.track->enter(log::Phase::Queued);
    queue_.push_back(ex);
    counters_.maxQueued = std::max<int>(counters_.maxQueued, static_cast<int>(queue_.size()));
    dispatch();
}

void FastCgiPool::dispatch()
{
    while (!queue_.empty()) {
        auto ex = queue_.front();
        if (ex->gone) {
            queue_.pop_front();
            continue;
        }
        InstancePtr idle;
        for (auto& in : std::vector<InstancePtr>(instances_)) {
            if (in->state() != InstanceState::Idle)
                continue;
            if (in->requests >= ex->avoidFrom) {
                // A sibling exited by itself after this many requests: this one is about to as well.
                terminate(in, "recycled: it has served " + std::to_string(in->requests) + " requests, as many as an instance that recycled itself");
                ++counters_.recycles;
                continue;
            }
            idle = in;
            break;
        }
        if (!idle)
            break;
        queue_.pop_front();
        assign(idle, ex);
    }
    if (queue_.empty() || !running_)
        return;
    waitedSinceTick_ = true;
    if (settings_.disallowOverlappingRotation && inState_[int(InstanceState::Draining)] + inState_[int(InstanceState::Stopping)] > 0)
        return; // the old instances stop before new ones start
    int starting = inState_[int(InstanceState::Starting)];
    int live = starting + inState_[int(InstanceState::Pinging)] + inState_[int(InstanceState::Idle)] + inState_[int(InstanceState::Busy)];
    if (live >= limit_)
        reachedMax_ = true;
    // As many as the waiting requests need, up to the limit; none while backing off after failed
    // starts (the retry timer dispatches again).
    int more = std::min<int>(limit_ - live, static_cast<int>(queue_.size()) - starting);
    if (more > 0 && Clock::now() < retryAt_)
        more = 0;
    startInstances(more);
    // The requests that instances are starting for wait on a spawn, the others in the queue.
    int spawning = starting + std::max(more, 0);
    for (auto& ex : queue_) {
        if (spawning-- <= 0)
            break;
        if (ex->job.track && ex->job.track->phase() == log::Phase::Queued)
            ex->job.track->enter(log::Phase::Spawning);
    }
}

void FastCgiPool::startInstances(int n)
{
    for (int i = 0; i < n; ++i)
        spawnInstance();
}

// ---------------------------------------------------------------- an instance's life

void FastCgiPool::setState(const InstancePtr& in, InstanceState s, const std::string& why)
{
    if (in->state_ == s)
        return;
    if (events_->wants(log::Severity::Debug)) // twice per request: not even the message unless wanted
        events_->add(log::Severity::Debug, describe(), "instance.state",
                     in->name() + ": " + stateName(in->state_) + " -> " + stateName(s) + (why.empty() ? "" : " (" + why + ")"));
    --inState_[static_cast<int>(in->state_)];
    ++inState_[static_cast<int>(s)];
    bool wasServing = in->serving();
    in->state_ = s;
    if (wasServing != in->serving()) {
        auto now = Clock::now();
        if (wasServing)
            in->servingTime += now - in->servingSince;
        else
            in->servingSince = now;
    }
}

void FastCgiPool::spawnInstance()
{
    auto in = std::make_shared<Instance>(strand_, nextInstanceId_++);
    ++inState_[static_cast<int>(in->state())];
    instances_.push_back(in);
    std::string err = settings_.identityError.empty() ? std::string() : "could not be started: " + settings_.identityError; // never as root instead
    if (err.empty()) {
        std::string socket = socketPath(settings_.runtimeDirectory, settings_.poolName, static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) & 0xffff),
                                        in->id());
        err = in->spawn(settings_, socket, batch_);
    }
    if (!err.empty()) {
        setState(in, InstanceState::Exited, "could not be started");
        crash(in, err);
        return;
    }
    in->child->watch({{}, [self = shared_from_this(), in](int status) { self->instanceExited(in, status); }}); // freed with the loop
    if (settings_.pingingEnabled) {
        // Ready when it answers FCGI_GET_VALUES (within startupTimeLimit): a program that is alive
        // but never reaches its accept loop is told apart from one that works.
        ping(in);
    } else {
        // The listening socket exists before the program runs, so connections queue until it
        // accepts: the instance takes requests at once; a program that dies during start-up is
        // caught by its exit, one that hangs by startupTimeLimit on its first request.
        asio::post(strand_, [self = shared_from_this(), in] {
            if (in->state() == InstanceState::Starting)
                self->instanceReady(in);
        });
    }
    publish();
}

void FastCgiPool::ping(const InstancePtr& in)
{
    bool startup = in->state() == InstanceState::Starting;
    if (!startup)
        setState(in, InstanceState::Pinging, {});
    // Weak: the callback is kept by the instance itself until the ping ends.
    in->askValues(startup ? settings_.startupTimeLimit : settings_.pingResponseTime,
                  [weak = weak_from_this(), instance = std::weak_ptr<Instance>(in), startup](const PingResult& r) {
                      auto self = weak.lock();
                      auto live = instance.lock();
                      if (self && live)
                          self->pinged(live, r, startup);
                  });
}

void FastCgiPool::pinged(const InstancePtr& in, const PingResult& r, bool startup)
{
    if (in->state() != InstanceState::Starting && in->state() != InstanceState::Pinging)
        return; // stopping or gone meanwhile
    auto limit = seconds(startup ? settings_.startupTimeLimit : settings_.pingResponseTime);
    switch (r.kind) {
    case PingResult::Kind::Answered:
        ++counters_.pingsAnswered;
        if (startup) {
            events_->add(log::Severity::Debug, describe(), "instance.values", in->name() + " answered FCGI_GET_VALUES: " + r.detail);
            return instanceReady(in);
        }
        setState(in, InstanceState::Idle, "answered a ping");
        return dispatch();
    case PingResult::Kind::TimedOut:
        return pingFailed(in, startup ? "did not answer FCGI_GET_VALUES within startupTimeLimit (" + limit + ")"
                                      : "did not answer a ping (FCGI_GET_VALUES) within pingResponseTime (" + limit + ")",
                          startup);
    case PingResult::Kind::ProtocolError:
        ++counters_.protocolErrors;
        return pingFailed(in, r.detail, startup);
    case PingResult::Kind::Lost: {
        // Usually the process has died (its exit says how, and counts it); only a process that
        // is still alive half a second later failed the ping itself.
        auto wait = std::make_shared<asio::steady_timer>(strand_, std::chrono::milliseconds(500));
        wait->async_wait([self = shared_from_this(), in, wait, what = r.detail, startup](const asio::error_code&) {
            if (in->state() == InstanceState::Starting || in->state() == InstanceState::Pinging)
                self->pingFailed(in, what, startup);
        });
        return;
    }
    }
}

void FastCgiPool::pingFailed(const InstancePtr& in, const std::string& what, bool startup)
{
    if (startup)
        ++counters_.timeouts;
    else
        ++counters_.pingFailures;
    crash(in, what);
    terminate(in, startup ? "startup failure" : "ping failure");
    if (!startup)
        return;
    // The requests that waited for this instance get the reason instead of waiting for the next one.
    if (inState_[int(InstanceState::Idle)] + inState_[int(InstanceState::Pinging)] + inState_[int(InstanceState::Busy)] > 0)
        return;
    std::deque<ExchangePtr> keep;
    for (auto& ex : queue_) {
        if (ex->queuedAt <= in->startedAt + std::chrono::milliseconds(1))
            ex->fail(502, "the new FastCGI instance did not answer within startupTimeLimit (" + seconds(settings_.startupTimeLimit) + ")");
        else
            keep.push_back(ex);
    }
    queue_ = std::move(keep);
    publish();
}

void FastCgiPool::instanceReady(const InstancePtr& in)
{
    in->lastActive = Clock::now();
    setState(in, InstanceState::Idle, "ready");
    dispatch();
    publish();
}

// The one drain-or-stop decision: a busy instance finishes its request first.
void FastCgiPool::retire(const InstancePtr& in, const std::string& why)
{
    if (in->state() == InstanceState::Busy) {
        in->stopReason = why;
        setState(in, InstanceState::Draining, why);
    } else if (in->state() != InstanceState::Draining) {
        terminate(in, why);
    }
}

void FastCgiPool::terminate(const InstancePtr& in, const std::string& why)
{
    if (in->state() == InstanceState::Stopping || in->state() == InstanceState::Exited)
        return;
    in->stopReason = why;
    setState(in, InstanceState::Stopping, why);
    in->drop();
    // signalBeforeTerminateSeconds (the IIS hotfix's termination signal): SIGTERM first, SIGKILL
    // only if it is ignored; 0: SIGKILL.
    auto grace = std::chrono::seconds(settings_.signalBeforeTerminateSeconds);
    in->child->terminate(grace, [self = shared_from_this(), in, grace] {
        self->events_->add(log::Severity::Warning, self->describe(), "instance.killed",
                           in->name() + " did not exit within " + std::to_string(grace.count()) + " s of SIGTERM; killed with SIGKILL");
    });
}

void FastCgiPool::forget(const InstancePtr& in)
{
    setState(in, InstanceState::Exited, {});
    instances_.erase(std::remove(instances_.begin(), instances_.end(), in), instances_.end());
}

// Told by the child once its stderr is read (or 300 ms after the exit).
void FastCgiPool::instanceExited(const InstancePtr& in, int status)
{
    in->removeSocketFile();
    std::string how = process::describeStatus(status);
    if (in->state() == InstanceState::Stopping) {
        // A stop the pool asked for reads as one, not as a crash ("after SIGKILL: signal 9" did).
        const std::string& signals = in->child->signalsSent();
        std::string ended = signals == "SIGKILL" ? "killed with SIGKILL, as signalBeforeTerminateSeconds is 0"
                            : signals == "SIGTERM" ? "exited on SIGTERM with " + how
                            : signals.empty()      ? "exited with " + how
                                                   : "ignored SIGTERM for " + std::to_string(settings_.signalBeforeTerminateSeconds) +
                                                    " s (signalBeforeTerminateSeconds), killed with SIGKILL";
        events_->add(log::Severity::Info, describe(), "instance.stopped", in->name() + " stopped (" + in->stopReason + "): " + ended);
        if (in->exchange)
            failExchange(in, 502, "the FastCGI instance was stopped: " + in->stopReason, FailCause::Stopped);
        forget(in);
        dispatch();
        publish();
        return;
    }
    // An exit with status 0 between requests (or before any byte of the next one came back) is
    // the application recycling itself, as php-cgi does after PHP_FCGI_MAX_REQUESTS: not a crash.
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && in->requests > 0 && (!in->exchange || !in->exchange->codec.anyByte()))
        return selfRecycled(in);
    // Any other exit nobody asked for is a crash.
    setState(in, InstanceState::Exited, how);
    if (auto ex = in->exchange) {
        const std::string& tail = in->child->stderrTail().empty() ? ex->codec.stderrText() : in->child->stderrTail();
        failExchange(in, 502, "the FastCGI application " + settings_.fullPath + " (pid " + std::to_string(in->pid()) + ") exited with " + how +
                                  " while serving this request" + (tail.empty() ? "" : "; stderr: \"" + tail.substr(0, 4096) + "\""),
                     FailCause::Crash);
    }
    crash(in, (in->requests == 0 ? "exited before serving a request with " : "exited unexpectedly with ") + how);
}

void FastCgiPool::selfRecycled(const InstancePtr& in)
{
    ++counters_.selfRecycles;
    events_->add(log::Severity::Info, describe(), "instance.self-recycled",
                 in->name() + " recycled itself: it exited with status 0 after " + std::to_string(in->requests) + " requests (not counted as a crash)");
    adviseOnSelfRecycling(in->requests);
    if (auto ex = in->exchange) {
        // Written on the kept connection, but nothing came back: the application never saw it.
        in->exchange.reset();
        in->timer.cancel();
        if (!ex->gone) {
            bool again = ex->codec.retried();
            if (ex->codec.rewind()) {
                ex->avoidFrom = in->requests;
                ++counters_.retried;
                queue_.push_front(ex);
            } else {
                ex->fail(502, "the FastCGI instance (pid " + std::to_string(in->pid()) + ") exited with status 0 before answering" +
                                  (again ? ", and the request had been sent again once already" : "; the request body was too large to send again"));
            }
        }
    }
    forget(in);
    if (settings_.alwaysRunning && running_ && !retired_)
        spawnInstance(); // as for instanceMaxRequests: the configured number keeps running
    dispatch();
    publish();
}

// Instances that keep exiting by themselves after the same number of requests N are better
// recycled by the pool at N: then no request is ever written to an instance about to exit.
void FastCgiPool::adviseOnSelfRecycling(uint64_t served)
{
    selfRecycleRuns_.push_back(served);
    while (selfRecycleRuns_.size() > 3)
        selfRecycleRuns_.pop_front();
    if (selfRecycleRuns_.size() < 3 || served >= settings_.instanceMaxRequests || served == learnedMaxRequests_)
        return;
    if (std::any_of(selfRecycleRuns_.begin(), selfRecycleRuns_.end(), [served](uint64_t n) { return n != served; }))
        return;
    learnedMaxRequests_ = served; // meanwhile the pool recycles them at N itself, before they exit under a request
    std::string n = std::to_string(served);
    counters_.advice = "instances exit by themselves after " + n + " requests (instanceMaxRequests is " +
                       std::to_string(settings_.instanceMaxRequests) + "): set instanceMaxRequests to " + n +
                       " or less (for php-cgi, or set PHP_FCGI_MAX_REQUESTS to at least instanceMaxRequests); until then Lido recycles them after " +
                       n + " requests itself";
    events_->add(log::Severity::Warning, describe(), "pool.self-recycle-advice", "pool " + settings_.poolName + ": " + counters_.advice);
}

// Counted toward rapid-fail protection and said with the last of stderr. An instance that has
// exited is forgotten here; one that has not is being terminated by the caller.
void FastCgiPool::crash(const InstancePtr& in, const std::string& what)
{
    auto now = Clock::now();
    ++counters_.crashes;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - in->startedAt).count();
    std::string tail = in->child ? in->child->stderrQuoted() : std::string();
    std::string sentence = what + " after " + std::to_string(ms) + " ms" + (tail.empty() ? "" : "; " + tail);
    events_->add(log::Severity::Error, describe(), "pool.instance-failed", in->name() + " " + sentence);
    bool appTripped = windows_->app.record(now);
    bool poolTripped = settings_.rapidFailProtection && windows_->pool.record(now);
    if (running_ && (appTripped || poolTripped)) {
        int count = poolTripped ? windows_->pool.count() : windows_->app.count();
        auto window = poolTripped ? std::chrono::duration_cast<std::chrono::seconds>(settings_.rapidFailInterval).count() : 60;
        std::string why = "pool " + settings_.poolName + " stopped by rapid-fail protection: " + std::to_string(count) + " crashes in " +
                          std::to_string(window) + " s; last: " + sentence;
        events_->add(log::Severity::Error, describe(), "pool.rapid-fail", why);
        stop(why);
    }
    if (in->state() == InstanceState::Exited)
        forget(in);
    // A start that failed (no answer yet from this instance): the next one waits, 1 s, 2 s, 4 s…,
    // so that a transient failure can pass and one request cannot spend every crash at once.
    if (in->requests == 0 && running_ && settings_.restartBackoff.count() > 0) {
        ++failedStarts_;
        auto delay = std::min<Clock::duration>(settings_.restartBackoff * (1LL << std::min(failedStarts_ - 1, 16)), std::chrono::minutes(1));
        retryAt_ = now + delay;
        if (!retryTimer_)
            retryTimer_ = std::make_unique<asio::steady_timer>(strand_);
        retryTimer_->expires_at(retryAt_);
        retryTimer_->async_wait([weak = weak_from_this()](const asio::error_code& ec) {
            if (auto self = weak.lock(); self && !ec) {
                self->dispatch();
                self->publish();
            }
        });
        events_->add(log::Severity::Warning, describe(), "pool.start-backoff",
                     "pool " + settings_.poolName + " is failing to start (" + std::to_string(failedStarts_) + " in a row): retrying in " +
                         formatSeconds(delay));
    }
    if (running_) // a replacement starts for waiting requests, not in a tight loop: dispatch() decides
        asio::post(strand_, [self = shared_from_this()] { self->dispatch(); });
    publish();
}

// An administrator's start after a stop (rapid-fail protection's, or one asked for): the
// failure windows start again empty.
void FastCgiPool::restart()
{
    asio::post(strand_, [self = shared_from_this()] {
        if (self->running_)
            return;
        self->running_ = true;
        self->stoppedReason_.clear();
        self->windows_->app.reset();
        self->windows_->pool.reset();
        self->failedStarts_ = 0; // an administrator's start: at once
        self->retryAt_ = {};
        self->events_->add(log::Severity::Info, self->describe(), "pool.started", "pool " + self->settings_.poolName + " started again");
        if (self->settings_.alwaysRunning)
            self->startInstances(self->limit_);
        self->publish();
    });
}

// ---------------------------------------------------------------- one request on an instance

void FastCgiPool::assign(const InstancePtr& in, const ExchangePtr& ex)
{
    in->exchange = ex;
    ex->startedAt = in->lastActive = Clock::now();
    setState(in, InstanceState::Busy, ex->job.url);
    // requestTimeout for the whole request; activityTimeout for silence (Maintenance).
    in->timer.expires_after(settings_.requestTimeout);
    in->timer.async_wait([self = shared_from_this(), in, ex](const asio::error_code& ec) {
        if (ec || in->exchange != ex)
            return;
        ++self->counters_.timeouts;
        self->failExchange(in, 500, "the FastCGI application did not finish the request within requestTimeout (" +
                                        std::to_string(self->settings_.requestTimeout.count()) + " s)", FailCause::Timeout, "request timeout");
    });
    if (ex->job.track)
        ex->job.track->setPid(in->pid());
    auto send = [self = shared_from_this(), in, ex] {
        if (ex->job.track)
            ex->job.track->enter(log::Phase::Waiting);
        in->write(ex->codec.begin(ex->job.params));
        self->readAnswer(in, ex);
    };
    if (in->connected())
        return send();
    if (ex->job.track)
        ex->job.track->enter(log::Phase::Connecting);
    in->connect([self = shared_from_this(), in, ex, send](const asio::error_code& ec) {
        if (!ec)
            return send();
        if (in->exchange != ex)
            return;
        // Usually the process has just exited (an application recycling itself closes its
        // socket): its exit, a moment later, sends the request again; else it is refused.
        auto wait = std::make_shared<asio::steady_timer>(self->strand_, std::chrono::milliseconds(500));
        wait->async_wait([self, in, ex, wait, why = ec.message()](const asio::error_code&) {
            if (in->exchange == ex)
                self->failExchange(in, 502, "cannot connect to the FastCGI application: " + why, FailCause::Crash);
        });
    });
}

void FastCgiPool::readAnswer(const InstancePtr& in, const ExchangePtr& ex)
{
    // Each read belongs to one exchange: a completion for an earlier one must not touch the next.
    in->read([self = shared_from_this(), in, ex](const asio::error_code& ec, std::string_view bytes) {
        if (in->exchange != ex)
            return;
        if (ec) {
            in->drop();
            // Usually the process has died: its exit (a moment later) says how in the answer,
            // else the lost connection is reported.
            auto wait = std::make_shared<asio::steady_timer>(self->strand_, std::chrono::milliseconds(500));
            wait->async_wait([self, in, ex, wait, why = ec.message()](const asio::error_code&) {
                if (in->exchange == ex)
                    self->failExchange(in, 502, "the FastCGI application (pid " + std::to_string(in->pid()) + ", " + stateName(in->state()) +
                                                    ") closed the connection before ending the request (" + why + ")",
                                       FailCause::Connection);
            });
            return;
        }
        in->lastActive = Clock::now();
        FcgiExchange::Output out = ex->codec.feed(bytes);
        for (const auto& line : out.stderrLines) {
            self->events_->add(log::Severity::Warning, self->describe(), "fastcgi.stderr",
                               "pid " + std::to_string(in->pid()) + ", " + ex->job.url + ": " + line);
            if (ex->job.track)
                ex->job.track->addStderr(line + "\n");
        }
        if (out.sendHead && ex->job.track)
            ex->job.track->enter(log::Phase::Sending);
        // The response goes to the client after the pool has counted it (what a client sees is
        // already in the pool's figures) and has given the instance its next request.
        auto deliver = [&] {
            if (!out.sendHead && out.body.empty() && !out.finish)
                return;
            // dispatch: inline when the pool runs on the connection's own thread.
            asio::dispatch(ex->connExec, [ex, sendHead = out.sendHead, head = std::move(out.head), body = std::move(out.body),
                                          finish = out.finish]() mutable {
                auto& r = ex->job.responder;
                if (r->closed())
                    return;
                r->cork(); // head, body and end in one write
                if (sendHead)
                    r->sendHead(std::move(head));
                if (!body.empty())
                    r->sendBody(std::move(body));
                if (finish)
                    r->finish();
                r->uncork();
            });
        };
        if (const auto& f = out.failure) {
            deliver();
            self->counters_.protocolErrors += f->cause == FailCause::Protocol;
            self->counters_.stderrFailures += f->cause == FailCause::Stderr;
            std::string stopWhy = !f->stopInstance ? std::string()
                                  : f->cause == FailCause::Stderr ? std::string("stderrMode=TerminateProcess")
                                                                  : f->detail.substr(0, 200);
            return self->failExchange(in, f->status, f->detail, f->cause, stopWhy);
        }
        if (out.ended) {
            if (out.errorStatus) {
                deliver();
                ++self->counters_.stderrFailures;
                ex->fail(out.errorStatus, out.errorDetail);
                return self->finishExchange(in);
            }
            self->finishExchange(in);
            return deliver();
        }
        deliver();
        self->readAnswer(in, ex);
    });
}

void FastCgiPool::finishExchange(const InstancePtr& in)
{
    auto now = Clock::now();
    latencies_.record(now, std::chrono::duration<double, std::milli>(now - in->exchange->queuedAt).count());
    in->exchange.reset();
    in->timer.cancel();
    ++in->requests;
    ++counters_.completed;
    failedStarts_ = 0; // it started: the next failure starts the back-off from its first step
    retryAt_ = {};
    maintenance_->served();
    in->lastActive = now;
    // (a learned N is always below instanceMaxRequests: adviseOnSelfRecycling learns no other)
    uint64_t maxRequests = learnedMaxRequests_ ? learnedMaxRequests_ : settings_.instanceMaxRequests;
    if (in->state() == InstanceState::Draining) {
        terminate(in, in->stopReason);
    } else if (retired_ && queue_.empty()) {
        terminate(in, "replaced by a configuration change");
    } else if (in->requests >= maxRequests) {
        terminate(in, maxRequests < settings_.instanceMaxRequests
                          ? std::to_string(maxRequests) + " requests reached, the number after which the application exits by itself"
                          : "instanceMaxRequests (" + std::to_string(settings_.instanceMaxRequests) + ") reached");
        ++counters_.recycles;
    } else {
        setState(in, InstanceState::Idle, "request done");
    }
    dispatch();
    publish();
}

// The connection's state is unknown after a failure: it is not reused. With stopWhy, nor is the
// instance (a timeout, a protocol error, stderrMode=TerminateProcess).
void FastCgiPool::failExchange(const InstancePtr& in, int status, const std::string& detail, FailCause cause, const std::string& stopWhy)
{
    auto ex = in->exchange;
    if (!ex)
        return;
    in->exchange.reset();
    in->timer.cancel();
    if (ex->codec.streaming()) {
        if (!ex->gone)
            asio::post(ex->connExec, [ex] { ex->job.responder->abort(); });
    } else {
        ex->fail(status, detail);
    }
    in->drop();
    if (!stopWhy.empty() || in->state() == InstanceState::Draining)
        terminate(in, stopWhy.empty() ? in->stopReason : stopWhy);
    else if (in->state() == InstanceState::Busy)
        setState(in, InstanceState::Idle, causeName(cause));
    dispatch();
    publish();
}


// ---------------------------------------------------------------- upkeep (once a second)

void FastCgiPool::tick()
{
    if (!ticker_)
        ticker_ = std::make_unique<asio::steady_timer>(strand_);
    ticker_->expires_after(std::chrono::seconds(1));
    ticker_->async_wait([weak = weak_from_this()](const asio::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self)
            return;
        self->sampleSlowFigures();
        Maintenance::Facts facts{self->limit_, self->waitedSinceTick_, self->running_, self->procFigures_, std::time(nullptr),
                                 self->settings_.maxInstances == 0 ? self->cpu_.sample() : 1.0};
        Maintenance::Plan plan = self->maintenance_->tick(Clock::now(), self->instances_, facts);
        const auto& s = self->settings_;
        for (auto& [in, due] : plan.instances) {
            switch (due) {
            case Maintenance::Due::Nothing: break;
            case Maintenance::Due::IdleTimeout: self->terminate(in, "idle for " + std::to_string(s.idleTimeout.count()) + " s"); break;
            case Maintenance::Due::Ping: self->ping(in); break;
            case Maintenance::Due::StartupTimeout:
                ++self->counters_.timeouts;
                self->failExchange(in, 502, "the new FastCGI instance did not answer within startupTimeLimit (" + seconds(s.startupTimeLimit) + ")",
                                   FailCause::Timeout, "startup timeout");
                self->crash(in, "did not answer its first request within startupTimeLimit (" + seconds(s.startupTimeLimit) + ")");
                break;
            case Maintenance::Due::ActivityTimeout:
                ++self->counters_.timeouts;
                self->failExchange(in, 500, "the FastCGI application sent nothing for activityTimeout (" + std::to_string(s.activityTimeout.count()) + " s)",
                                   FailCause::Timeout, "activity timeout");
                break;
            }
        }
        if (plan.limit != self->limit_) {
            self->events_->add(log::Severity::Debug, self->describe(), "pool.autotune",
                               "maxInstances=0: " + std::to_string(self->limit_) + " -> " + std::to_string(plan.limit) + " instances");
            self->limit_ = plan.limit;
            self->dispatch();
        }
        if (!plan.recycle.empty())
            self->recycle(plan.recycle);
        self->waitedSinceTick_ = !self->queue_.empty();
        self->perSecond_ = static_cast<double>(self->counters_.completed - self->lastCompleted_);
        self->lastCompleted_ = self->counters_.completed;
        self->publish();
        self->tick();
    });
}

} // namespace lido::pool
