// The pool as a whole (stop, restart, recycle, retire: what the console and lidoctl ask of it) and
// its figures (sampled once a second, published for the console, /status and /metrics), with the
// choice of the instances' scheduling policy that those samples make.
#include "pool/FastCgiPool.h"

#include "pool/Instance.h"
#include "pool/Maintenance.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::pool {

namespace {
// schedulingPolicy="Auto": below this share of their serving time on the CPU the instances count
// as waiting, above the second as computing (measured: see the README's FastCGI pools).
constexpr double kWaitingShare = 0.03, kComputingShare = 0.06;
} // namespace

// ---------------------------------------------------------------- the pool as a whole

void FastCgiPool::stop(const std::string& why)
{
    asio::dispatch(strand_, [self = shared_from_this(), why] {
        if (!self->running_)
            return;
        self->running_ = false;
        self->stoppedReason_ = why;
        for (auto& ex : std::exchange(self->queue_, {}))
            ex->fail(503, "the application pool is stopped: " + why, {{"Retry-After", "60"}});
        for (auto& in : std::vector<InstancePtr>(self->instances_))
            self->retire(in, "pool stopped");
        self->events_->add(log::Severity::Warning, self->describe(), "pool.stopped", "pool " + self->settings_.poolName + " stopped: " + why);
        self->publish();
    });
}

void FastCgiPool::recycle(const std::string& why)
{
    asio::post(strand_, [self = shared_from_this(), why] {
        ++self->counters_.recycles;
        self->maintenance_->restarted(Clock::now());
        if (self->settings_.logEventOnRecycle)
            self->events_->add(log::Severity::Info, self->describe(), "pool.recycled", "pool " + self->settings_.poolName + " recycled: " + why);
        // Overlapped: busy instances finish their request and stop; new requests start new ones.
        for (auto& in : std::vector<InstancePtr>(self->instances_))
            self->retire(in, "recycled: " + why);
        if (self->settings_.alwaysRunning && self->running_)
            self->startInstances(self->limit_);
        self->dispatch();
        self->publish();
    });
}

bool FastCgiPool::recycleInstance(int pid, const std::string& why)
{
    {
        std::lock_guard lock(metricsMutex_); // the published list: no waiting on the strand
        if (std::none_of(metrics_.instances.begin(), metrics_.instances.end(), [pid](const InstanceMetrics& i) {
                return i.pid == pid && i.state != InstanceState::Stopping && i.state != InstanceState::Exited;
            }))
            return false;
    }
    asio::post(strand_, [self = shared_from_this(), pid, why] {
        for (auto& in : std::vector<InstancePtr>(self->instances_)) {
            if (in->pid() != pid || in->state() == InstanceState::Stopping || in->state() == InstanceState::Exited)
                continue;
            ++self->counters_.recycles;
            self->events_->add(log::Severity::Info, self->describe(), "instance.recycled", in->name() + " recycled: " + why);
            self->retire(in, "recycled: " + why);
            if (self->settings_.alwaysRunning && self->running_)
                self->spawnInstance(); // keep the configured number running
        }
        self->dispatch();
        self->publish();
    });
    return true;
}

void FastCgiPool::retire(const std::string& why)
{
    asio::post(strand_, [self = shared_from_this(), why] {
        self->retired_ = true;
        self->events_->add(log::Severity::Info, self->describe(), "pool.retired",
                           "pool " + self->settings_.poolName + " (" + self->counters_.application + ") replaced: " + why);
        for (auto& in : std::vector<InstancePtr>(self->instances_))
            if (in->serving() || self->queue_.empty())
                self->retire(in, "replaced: " + why);
        self->publish();
    });
}

bool FastCgiPool::drained() const
{
    std::lock_guard lock(metricsMutex_);
    return metrics_.starting + metrics_.idle + metrics_.busy + metrics_.draining == 0 && metrics_.queued == 0 && metrics_.instances.empty();
}

// ---------------------------------------------------------------- figures

void FastCgiPool::sampleSlowFigures()
{
    // Once a second, not per request: sorting the latencies and reading /proc cost far more than
    // a FastCGI request (measured: publishing them per request cut fcgi-hello from 22k to 8k req/s).
    quantiles_ = latencies_.quantiles(Clock::now());
    procFigures_.clear();
    for (auto& in : instances_)
        if (in->state() != InstanceState::Exited)
            if (auto f = process::readProcFigures(in->pid()))
                procFigures_[in->pid()] = *f;
    if (settings_.scheduling == FastCgiSettings::Scheduling::Auto)
        chooseScheduling(Clock::now());
}

// schedulingPolicy="Auto". Under SCHED_BATCH an instance woken by a request does not preempt the
// engine's event loop: the loop finishes its round first (fcgi-hello +16 %, php-hello +18 %), but
// the instance starts tens of microseconds later, which only costs where the application mostly
// waits (fcgi-sleep5 -1.4 %). So: the share of their serving time that the instances spent on the
// CPU over the last second decides, with a gap between the two thresholds against flapping.
void FastCgiPool::chooseScheduling(Clock::time_point now)
{
    double serving = 0, cpu = 0;
    for (auto& in : instances_) {
        auto f = procFigures_.find(in->pid());
        if (f == procFigures_.end())
            continue;
        double s = std::chrono::duration<double>(in->servingTime + (in->serving() ? now - in->servingSince : Clock::duration{})).count();
        if (in->sampledCpu >= 0) {
            serving += s - in->sampledServing;
            cpu += f->second.cpuSeconds - in->sampledCpu;
        }
        in->sampledServing = s;
        in->sampledCpu = f->second.cpuSeconds;
    }
    if (serving < 0.5) // too little served to tell (the CPU time counts in 10 ms ticks)
        return;
    double share = cpu / serving;
    bool batch = batch_ ? share >= kWaitingShare : share > kComputingShare;
    if (batch == batch_)
        return;
    batch_ = batch;
    sched_param none{};
    for (auto& in : instances_)
        if (in->state() != InstanceState::Exited && in->pid() > 0)
            ::sched_setscheduler(in->pid(), batch ? SCHED_BATCH : SCHED_OTHER, &none); // (one that exits meanwhile: ESRCH)
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f %%", share * 100);
    events_->add(log::Severity::Info, describe(), "pool.scheduling",
                 batch ? std::string("the instances compute (on the CPU for ") + pct +
                             " of their serving time): they run under SCHED_BATCH, so that a request does not preempt the event loop"
                       : std::string("the instances mostly wait (on the CPU for ") + pct +
                             " of their serving time): they run under the kernel's default policy, so that they start at once when woken");
}

void FastCgiPool::publish()
{
    // Twice per request: the published copy is written in place, its strings and its instance
    // list keeping their storage (a fresh copy, an allocation per string and instance, cost 10 %
    // of fcgi-hello's throughput).
    auto now = Clock::now();
    std::lock_guard lock(metricsMutex_);
    PoolMetrics& m = metrics_;
    std::vector<InstanceMetrics> list = std::move(m.instances);
    m = counters_; // (counters_ has no instances)
    m.running = running_;
    m.stoppedReason = stoppedReason_;
    m.maxInstances = limit_;
    m.queued = static_cast<int>(queue_.size());
    m.requestsPerSecond = perSecond_;
    m.maxInstancesReached = reachedMax_;
    m.failedStarts = failedStarts_;
    m.latencyRequests = quantiles_.requests;
    m.p50Ms = quantiles_.p50;
    m.p90Ms = quantiles_.p90;
    m.p99Ms = quantiles_.p99;
    m.starting = inState_[int(InstanceState::Starting)];
    m.idle = inState_[int(InstanceState::Idle)] + inState_[int(InstanceState::Pinging)];
    m.busy = inState_[int(InstanceState::Busy)];
    m.draining = inState_[int(InstanceState::Draining)];
    m.retryInSeconds = running_ && retryAt_ > now ? std::chrono::duration<double>(retryAt_ - now).count() : 0;
    list.resize(instances_.size());
    for (size_t i = 0; i < instances_.size(); ++i) {
        const Instance& in = *instances_[i];
        InstanceMetrics& im = list[i];
        im.pid = in.pid();
        im.state = in.state();
        im.requests = in.requests;
        im.uptimeSeconds = std::chrono::duration<double>(now - in.startedAt).count();
        if (in.exchange)
            im.currentUrl = in.exchange->job.url;
        else
            im.currentUrl.clear();
        auto it = procFigures_.find(im.pid);
        im.rssBytes = it != procFigures_.end() ? it->second.rssBytes : 0;
        im.cpuSeconds = it != procFigures_.end() ? it->second.cpuSeconds : 0;
    }
    m.instances = std::move(list);
}

PoolMetrics FastCgiPool::metrics() const
{
    std::lock_guard lock(metricsMutex_);
    return metrics_;
}

std::string FastCgiPool::socketPath(const std::string& dir, const std::string& pool, unsigned tag, uint64_t instance)
{
    return dir + "/" + pool + "-" + std::to_string(::getpid()) + "-" + std::to_string(tag) + "-" + std::to_string(instance) + ".sock";
}

int FastCgiPool::removeStaleSockets(const std::string& dir)
{
    DIR* d = ::opendir(dir.c_str());
    if (!d)
        return 0;
    int removed = 0;
    while (dirent* e = ::readdir(d)) {
        // POOL-PID-TAG-INSTANCE.sock: the pid is the third number from the end (a pool's name may hold
        // '-'). Its owner is the pool's user (the engine hands the socket over), so not compared.
        std::string_view rest = e->d_name;
        if (rest.size() < 5 || rest.substr(rest.size() - 5) != ".sock")
            continue;
        rest.remove_suffix(5);
        pid_t pid = 0;
        bool named = true;
        for (int i = 0; i < 3 && named; ++i) { // INSTANCE, TAG, then PID, each after a '-' with something before it
            size_t dash = rest.rfind('-');
            std::string_view digits = dash == std::string_view::npos ? std::string_view() : rest.substr(dash + 1);
            named = dash != std::string_view::npos && dash > 0 && !digits.empty() && digits.size() < 10 &&
                    digits.find_first_not_of("0123456789") == std::string_view::npos;
            if (named && i == 2)
                pid = static_cast<pid_t>(std::stol(std::string(digits)));
            if (named)
                rest = rest.substr(0, dash);
        }
        if (!named || pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        struct stat st {};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
            ::unlinkat(::dirfd(d), e->d_name, 0) == 0)
            ++removed;
    }
    ::closedir(d);
    return removed;
}

} // namespace lido::pool
