#pragma once
// A FastCGI process pool: one per (application pool, fastCgi application), as in IIS. Owns the
// instances (spawned with their listening socket as fd 0), a request queue, timeouts, recycling,
// rapid-fail protection that says why, and the metrics the console shows. All its state lives on
// one strand; requests arrive from any connection thread.
#include "cgi/CgiResponseParser.h"
#include "fastcgi/FcgiProtocol.h"
#include "http/Connection.h"
#include "log/EventLog.h"
#include "pool/PoolMetrics.h"
#include "process/Spawn.h"

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lido::pool {

enum class StderrMode { ReturnStdErrIn500, ReturnGeneric500, IgnoreAndReturn200, TerminateProcess };

struct FastCgiSettings {
    std::string poolName;         // the application pool
    std::string fullPath;
    std::string arguments;
    int maxInstances = 4;         // 0: tuned to the load
    std::chrono::seconds idleTimeout{300};
    std::chrono::seconds activityTimeout{30};
    std::chrono::seconds requestTimeout{90};
    uint64_t instanceMaxRequests = 200;
    bool tcp = false;
    size_t queueLength = 1000;
    int rapidFailsPerMinute = 10;
    StderrMode stderrMode = StderrMode::ReturnStdErrIn500;
    int signalBeforeTerminateSeconds = 0;
    std::string monitorChangesTo;
    cgi::HeaderSyntax headerSyntax = cgi::HeaderSyntax::Strict;
    std::vector<std::pair<std::string, std::string>> environment;
    std::vector<std::string> utf8ServerVariables; // passed decoded and checked as UTF-8 (the IIS hotfix's list)
    std::optional<process::Identity> identity;
    std::string identityShown; // "www-data (uid 33)"
    std::string identityError; // no identity to run as: instances do not start
    process::Limits limits;
    std::string runtimeDirectory; // sockets live here
    // From the application pool:
    bool rapidFailProtection = true;
    int rapidFailMaxCrashes = 5;
    std::chrono::milliseconds rapidFailInterval{300000};
    std::chrono::milliseconds startupTimeLimit{90000};
    bool pingingEnabled = true;           // FCGI_GET_VALUES at start and on idle instances
    std::chrono::milliseconds pingInterval{30000};
    std::chrono::milliseconds pingResponseTime{90000};
    bool alwaysRunning = false;
    bool logEventOnRecycle = true;
    bool disallowOverlappingRotation = false;
    // recycling/periodicRestart (0 = off)
    uint64_t recycleAfterRequests = 0;
    std::chrono::milliseconds recycleAfterTime{0};
    uint64_t recycleMemoryKB = 0;        // virtual memory of any instance
    uint64_t recyclePrivateMemoryKB = 0; // resident memory of any instance
    std::vector<std::chrono::milliseconds> recycleSchedule; // times of day (local)
    size_t responseBufferLimit = 4 * 1024 * 1024;
    bool operator==(const FastCgiSettings&) const = default; // a live apply keeps a pool whose settings are equal
};

struct FastCgiJob {
    std::shared_ptr<http::Responder> responder;
    fastcgi::NameValues params;
    std::string url;
    std::function<void(int status, const std::string& detail, std::vector<http::Header> extra)> error; // runs on the connection's thread
    std::optional<std::string> body; // a chunked body collected before submitting (CONTENT_LENGTH is required)
};

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

private:
    struct Instance;
    struct Exchange;
    void dispatch();
    void spawnInstance();
    void instanceReady(const std::shared_ptr<Instance>& in);
    void assign(const std::shared_ptr<Instance>& in, const std::shared_ptr<Exchange>& ex);
    void sendRequest(const std::shared_ptr<Instance>& in);
    void queueWrite(const std::shared_ptr<Instance>& in, std::string data);
    void readFrom(const std::shared_ptr<Instance>& in);
    void readInstanceStderr(const std::shared_ptr<Instance>& in);
    void ping(const std::shared_ptr<Instance>& in);
    void readPing(const std::shared_ptr<Instance>& in);
    void pingAnswered(const std::shared_ptr<Instance>& in, const fastcgi::Record& r);
    void pingFailed(const std::shared_ptr<Instance>& in, const std::string& what);
    void pingConnectionLost(const std::shared_ptr<Instance>& in, const std::string& what);
    void readInotify();
    void onRecord(const std::shared_ptr<Instance>& in, const fastcgi::Record& r);
    void finishExchange(const std::shared_ptr<Instance>& in);
    void failExchange(const std::shared_ptr<Instance>& in, int status, const std::string& detail, const std::string& cause);
    void instanceExited(const std::shared_ptr<Instance>& in, int status);
    void selfRecycled(const std::shared_ptr<Instance>& in);
    void adviseOnSelfRecycling(uint64_t served);
    std::deque<uint64_t> selfRecycleRuns_; // requests served by the last instances that exited by themselves
    uint64_t learnedMaxRequests_ = 0; // N once instances exited by themselves after N requests three times running (0: none)
    void reportExit(const std::shared_ptr<Instance>& in);
    void terminate(const std::shared_ptr<Instance>& in, const std::string& why);
    void setState(const std::shared_ptr<Instance>& in, InstanceState s, const std::string& why);
    void crash(const std::shared_ptr<Instance>& in, const std::string& what);
    void tick();
    void watchFile();
    void flushToClient(const std::shared_ptr<Exchange>& ex, bool finish);
    void publish();
    void sampleSlowFigures();
    double p50_ = 0, p90_ = 0, p99_ = 0;
    std::map<int, std::pair<uint64_t, double>> procFigures_; // pid -> RSS bytes, CPU seconds
    std::string describe() const;

    asio::io_context& io_;
    asio::strand<asio::io_context::executor_type> strand_;
    FastCgiSettings settings_;
    std::shared_ptr<log::EventLog> events_;
    std::vector<std::shared_ptr<Instance>> instances_;
    std::deque<std::shared_ptr<Exchange>> queue_;
    int nextInstanceId_ = 1;
    int limit_ = 1; // current maxInstances (auto-tuned when configured 0)
    bool running_ = true;
    bool retired_ = false;
    std::string stoppedReason_;
    bool waitedSinceTick_ = false;
    struct Windows;
    std::unique_ptr<Windows> windows_;
    std::unique_ptr<asio::steady_timer> ticker_;
    std::unique_ptr<asio::posix::stream_descriptor> inotify_;
    std::array<char, 4096> inotifyBuf_{};
    std::string watchedName_;
    std::string lastCrash_;

    std::vector<double> latencies_; // ring of the last 1,000 request durations (ms)
    size_t latencyNext_ = 0;
    uint64_t lastCompleted_ = 0;
    double perSecond_ = 0;
    bool reachedMax_ = false;
    Clock::time_point generationStart_ = Clock::now();
    uint64_t generationRequests_ = 0;
    int64_t lastTickSecondOfDay_ = -1;
    void periodicRestart(Clock::time_point now);
    double cpuIdleSinceLastTick();
    uint64_t lastCpuTotal_ = 0, lastCpuIdle_ = 0;

    mutable std::mutex metricsMutex_;
    PoolMetrics metrics_; // published copy
    PoolMetrics counters_;
};

} // namespace lido::pool
