#include "pool/Maintenance.h"

#include "pool/Tuning.h"
#include "util/PathWatch.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

namespace lido::pool {

struct Maintenance::FileWatch {
    FileWatch(const Strand& s, const std::string& path) : fd(s), watch(path) {}
    asio::posix::stream_descriptor fd; // a duplicate of watch's, for waiting on the strand
    util::PathWatch watch;
    std::function<void()> changed;
    static void wait(const std::shared_ptr<FileWatch>& w)
    {
        w->fd.async_wait(asio::posix::stream_descriptor::wait_read, [w](const asio::error_code& ec) {
            if (ec)
                return; // closed with the pool
            if (w->watch.readEvents())
                w->changed();
            wait(w);
        });
    }
};

Maintenance::Maintenance(const FastCgiSettings& settings) : s_(settings) {}

Maintenance::~Maintenance()
{
    if (watch_) {
        asio::error_code ignored;
        watch_->fd.close(ignored);
    }
}

Maintenance::Seen Maintenance::Seen::of(const Instance& in)
{
    Seen s{in.state(), in.requests, in.exchange != nullptr, false, in.lastActive, in.lastPing, {}};
    if (in.exchange) {
        s.answering = in.exchange->codec.anyByte();
        s.requestStarted = in.exchange->startedAt;
    }
    return s;
}

Maintenance::Due Maintenance::due(const Seen& in, Clock::time_point now) const
{
    if (in.state == InstanceState::Idle) {
        if (!s_.alwaysRunning && now - in.lastActive > s_.idleTimeout)
            return Due::IdleTimeout;
        if (s_.pingingEnabled && now - std::max(in.lastActive, in.lastPing) >= s_.pingInterval)
            return Due::Ping;
        return Due::Nothing;
    }
    if ((in.state != InstanceState::Busy && in.state != InstanceState::Draining) || !in.hasRequest)
        return Due::Nothing;
    // A new instance that does not answer its first request in time failed to start.
    if (in.requests == 0 && !in.answering)
        return now - in.requestStarted > s_.startupTimeLimit ? Due::StartupTimeout : Due::Nothing;
    return now - in.lastActive > s_.activityTimeout ? Due::ActivityTimeout : Due::Nothing;
}

Maintenance::Plan Maintenance::tick(Clock::time_point now, const std::vector<std::shared_ptr<Instance>>& instances, const Facts& facts)
{
    Plan plan;
    for (const auto& in : instances)
        if (Due d = due(Seen::of(*in), now); d != Due::Nothing)
            plan.instances.emplace_back(in, d);
    plan.limit = s_.maxInstances == 0 ? tuned(instances, facts) : facts.limit;
    plan.recycle = facts.running ? restartDue(now, facts) : std::string();
    if (!plan.recycle.empty())
        restarted(now); // so that the next tick does not ask again
    return plan;
}

void Maintenance::restarted(Clock::time_point now)
{
    generationStart_ = now;
    generationRequests_ = 0;
}

// maxInstances="0": tuned once a second (pool/Tuning.h), up to 8 per core.
int Maintenance::tuned(const std::vector<std::shared_ptr<Instance>>& instances, const Facts& facts)
{
    TuneInput t;
    t.limit = facts.limit;
    t.requestsWaited = facts.requestsWaited;
    for (const auto& in : instances)
        t.idleInstances += in->state() == InstanceState::Idle;
    t.cpuIdle = facts.cpuIdle;
    t.cap = static_cast<int>(8 * std::max(1u, std::thread::hardware_concurrency()));
    return nextInstanceLimit(t);
}

std::string Maintenance::restartDue(Clock::time_point now, const Facts& facts)
{
    if (s_.recycleAfterTime.count() > 0 && now - generationStart_ >= s_.recycleAfterTime)
        return "periodicRestart time (" + std::to_string(s_.recycleAfterTime.count() / 1000) + " s) reached";
    if (s_.recycleAfterRequests > 0 && generationRequests_ >= s_.recycleAfterRequests)
        return "periodicRestart requests (" + std::to_string(s_.recycleAfterRequests) + ") reached";
    for (const auto& [pid, f] : facts.figures) {
        uint64_t rssKB = f.rssBytes / 1024, virtualKB = f.virtualBytes / 1024;
        if (s_.recyclePrivateMemoryKB > 0 && rssKB > s_.recyclePrivateMemoryKB)
            return "periodicRestart privateMemory (" + std::to_string(s_.recyclePrivateMemoryKB) + " KB) exceeded by pid " +
                   std::to_string(pid) + " (" + std::to_string(rssKB) + " KB)";
        if (s_.recycleMemoryKB > 0 && virtualKB > s_.recycleMemoryKB)
            return "periodicRestart memory (" + std::to_string(s_.recycleMemoryKB) + " KB) exceeded by pid " + std::to_string(pid) + " (" +
                   std::to_string(virtualKB) + " KB virtual)";
    }
    if (s_.recycleSchedule.empty())
        return {};
    std::tm local{};
    localtime_r(&facts.wallClock, &local);
    int64_t second = local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec;
    int64_t previous = lastSecondOfDay_;
    lastSecondOfDay_ = second;
    if (previous < 0 || previous == second)
        return {};
    for (auto at : s_.recycleSchedule) {
        int64_t s = at.count() / 1000;
        if (scheduleCrossed(previous, second, s)) {
            char when[32];
            std::snprintf(when, sizeof when, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600), static_cast<long long>(s / 60 % 60),
                          static_cast<long long>(s % 60));
            return std::string("periodicRestart schedule (") + when + ")";
        }
    }
    return {};
}

std::string Maintenance::watchFile(const Strand& strand, std::function<void()> changed)
{
    if (s_.monitorChangesTo.empty())
        return {};
    auto w = std::make_shared<FileWatch>(strand, s_.monitorChangesTo);
    if (auto started = w->watch.start(); !started)
        return "cannot watch " + s_.monitorChangesTo + ": " + started.error();
    int copy = ::fcntl(w->watch.fd(), F_DUPFD_CLOEXEC, 3);
    if (copy < 0)
        return "cannot watch " + s_.monitorChangesTo + ": " + std::strerror(errno);
    w->fd.assign(copy);
    w->changed = std::move(changed);
    watch_ = std::move(w);
    FileWatch::wait(watch_);
    return {};
}

} // namespace lido::pool
