#pragma once
// A FastCGI process pool: one per (application pool, fastCgi application), as in IIS. It holds
// the request queue, dispatches to idle instances within the limit (maxInstances, auto-tuned
// when 0), and runs each instance's life: start, ping, serve, drain, stop, exit, with rapid-fail
// protection that says why. Its parts: Instance (a process and its kept connection), FcgiExchange
// (one request's bytes), Maintenance (the 1-second upkeep). FastCgiPool.cpp holds the requests
// and the instances' lives, PoolControl.cpp the pool as a whole (stop, restart, recycle) and its
// figures. All its state lives on one strand; requests arrive from any connection thread.
#include "log/EventLog.h"
#include "pool/Latency.h"
#include "pool/PoolMetrics.h"
#include "pool/PoolSettings.h"
#include "process/ProcStats.h"

#include <array>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lido::pool {

class Instance;
struct Exchange;
class Maintenance;
struct PingResult;

class FastCgiPool : public std::enable_shared_from_this<FastCgiPool> {
public:
    using Clock = std::chrono::steady_clock;
    FastCgiPool(asio::io_context& io, FastCgiSettings settings, std::shared_ptr<log::EventLog> events);
    ~FastCgiPool();

    void start();                        // AlwaysRunning pools start their instances now
    void submit(FastCgiJob job);         // from any thread
    void stop(const std::string& why);   // every instance terminated, requests get 503
    void restart();                      // after a stop (one click in the console)
    void recycle(const std::string& why);// overlapped: new instances take new requests
    // One instance (by pid): it finishes its request, if any, and stops; the pool starts another
    // when requests need it. False when no live instance has that pid.
    bool recycleInstance(int pid, const std::string& why);
    // Replaced by a configuration change: serves what it has queued, lets busy instances finish,
    // stops the rest; drained() tells when nothing is left.
    void retire(const std::string& why);
    bool drained() const;
    PoolMetrics metrics() const;
    const FastCgiSettings& settings() const { return settings_; }

    // An instance's listening socket: DIR/POOL-ENGINEPID-POOLTAG-INSTANCE.sock.
    static std::string socketPath(const std::string& dir, const std::string& pool, unsigned tag, uint64_t instance);
    // The sockets an engine that is gone left in DIR (a SIGKILL, a crash): those named as above
    // whose engine pid is no longer running. Returns how many were removed.
    static int removeStaleSockets(const std::string& dir);

private:
    using InstancePtr = std::shared_ptr<Instance>;
    using ExchangePtr = std::shared_ptr<Exchange>;
    // --- the queue and its dispatch
    void enqueue(const ExchangePtr& ex);
    void dispatch();
    void startInstances(int n);
    // --- an instance's life
    void setState(const InstancePtr& in, InstanceState s, const std::string& why);
    void spawnInstance();
    void ping(const InstancePtr& in);
    void pinged(const InstancePtr& in, const PingResult& r, bool startup);
    void pingFailed(const InstancePtr& in, const std::string& what, bool startup);
    void instanceReady(const InstancePtr& in);
    void retire(const InstancePtr& in, const std::string& why); // drains a busy instance, stops any other
    void terminate(const InstancePtr& in, const std::string& why);
    void instanceExited(const InstancePtr& in, int status);
    void selfRecycled(const InstancePtr& in);
    void adviseOnSelfRecycling(uint64_t served);
    void crash(const InstancePtr& in, const std::string& what);
    void forget(const InstancePtr& in);
    // --- one request on an instance
    void assign(const InstancePtr& in, const ExchangePtr& ex);
    void readAnswer(const InstancePtr& in, const ExchangePtr& ex);
    void finishExchange(const InstancePtr& in);
    void failExchange(const InstancePtr& in, int status, const std::string& detail, FailCause cause, const std::string& stopWhy = {});
    // --- upkeep and figures
    void tick();
    void sampleSlowFigures();
    void chooseScheduling(Clock::time_point now);
    void publish();
    std::string describe() const;

    asio::strand<asio::io_context::executor_type> strand_;
    FastCgiSettings settings_;
    ExchangeRules rules_;
    std::shared_ptr<log::EventLog> events_;
    std::unique_ptr<Maintenance> maintenance_;
    std::vector<InstancePtr> instances_;
    std::deque<ExchangePtr> queue_;
    std::array<int, kInstanceStateCount> inState_{}; // instances by state, kept by setState()
    int nextInstanceId_ = 1;
    int limit_ = 1; // current maxInstances (auto-tuned when configured 0)
    bool running_ = true;
    bool retired_ = false;
    std::string stoppedReason_;
    bool waitedSinceTick_ = false;
    // Restart back-off: failed starts in a row (an instance that died before its first answer),
    // and no instance starts before retryAt_ (a timer then dispatches again).
    int failedStarts_ = 0;
    Clock::time_point retryAt_{};
    std::unique_ptr<asio::steady_timer> retryTimer_;
    bool reachedMax_ = false;
    struct Windows;
    std::unique_ptr<Windows> windows_;
    std::unique_ptr<asio::steady_timer> ticker_;
    std::deque<uint64_t> selfRecycleRuns_; // requests served by the last instances that exited by themselves
    uint64_t learnedMaxRequests_ = 0; // N once instances exited by themselves after N requests three times running (0: none)
    bool batch_ = true; // the instances' policy: SCHED_BATCH, or the kernel's default

    LatencyWindow latencies_;
    LatencyWindow::Quantiles quantiles_;
    std::map<int, process::ProcFigures> procFigures_; // sampled once a second
    process::CpuIdleMeter cpu_;
    uint64_t lastCompleted_ = 0;
    double perSecond_ = 0;

    mutable std::mutex metricsMutex_;
    PoolMetrics metrics_; // published copy
    PoolMetrics counters_;
};

} // namespace lido::pool
