#pragma once
// The engine: hosts the sites of a Config on its own I/O threads (one io_context per thread, all
// watching the same listening sockets), serves static files and CGI, and publishes metrics
// snapshots and events. The console embeds it; lidod runs it headless.
#include "config/Config.h"
#include "engine/PoolHistory.h"
#include "engine/Snapshot.h"
#include "engine/Tracing.h"
#include "log/EventLog.h"
#include "util/Result.h"

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lido::engine {

struct EngineOptions {
    int threads = 0;          // 0: half the cores, at least one
    std::string logDirectory; // event log file and default access-log folder; empty: none
    bool logToStderr = true;
    std::string runtimeDirectory; // FastCGI sockets; empty: $XDG_RUNTIME_DIR/lido, /run/lido (root) or /tmp/lido-UID
    std::function<std::time_t()> clock = {}; // the wall clock of certificate renewals (tests move it); empty: time()
};

enum class PoolAction { Start, Stop, Recycle };
enum class SiteAction { Start, Stop };

class Engine {
public:
    explicit Engine(EngineOptions options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Starts serving a valid configuration. Sites whose bindings cannot be bound are reported
    // (event and error) and marked failed; the others serve.
    Result<void> start(std::shared_ptr<const config::Config> config);
    // Stops accepting, lets in-flight requests finish up to `grace`, stops child processes.
    void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
    // The event log and every site's access log close their files and open them again by name
    // (logrotate's postrotate; lidod on SIGUSR1). An event says which could not be opened.
    void reopenLogs();
    bool running() const;
    // Applies a new valid configuration live, touching only what changed: new listeners open
    // before the new view goes live and removed ones close after; an unchanged FastCGI pool keeps
    // its instances and counters, a changed one is replaced overlapped (the old one finishes its
    // requests); site counters stay. Returns the semantic diff applied ("no changes" when none);
    // an invalid configuration is refused and the running one stays.
    Result<std::string> apply(std::shared_ptr<const config::Config> config);

    // Start (after a stop, also a rapid-fail stop), stop or recycle an application pool's
    // FastCGI processes.
    Result<void> controlPool(const std::string& name, PoolAction action);
    // Recycle one FastCGI instance of the pool (the console's "recycle this instance").
    Result<void> recycleInstance(const std::string& pool, int pid);
    // Stop a site (its bindings close unless another site uses them; requests for it get 503)
    // or start it again. Survives configuration applies until started again.
    Result<void> controlSite(const std::string& name, SiteAction action);

    // Load balancers' view: /health and the sites' healthPath answer 503 while the engine drains,
    // and requests are served on; drain(false) makes them answer 200 again. why is told in the
    // answer and the event ("lidoctl drain", "SIGTERM").
    void drain(bool on, const std::string& why);
    bool draining() const;

    // withRequests: with the requests running now (costs a walk of them).
    Snapshot snapshot(bool withRequests = false) const;
    // The requests running now, oldest first (pool empty: every pool's): IIS's current requests.
    std::vector<log::RunningRequest> requests(const std::string& pool = {}) const;
    // The failed-request traces the sites keep, newest first (site empty: every site's).
    std::vector<TraceSummary> traces(const std::string& site = {}, size_t limit = 100) const;
    Result<std::string> trace(const std::string& id) const; // one trace's JSON, by its id ("W3SVC1/fr000012")
    std::vector<HistoryPoint> history() const; // last hour, one point a second
    // An application pool's chart figures: the last five minutes a point a second, or (hour) the
    // last hour a point every ten seconds; oldest first, empty for a pool not running.
    std::vector<PoolPoint> poolHistory(const std::string& pool, bool hour) const;
    std::shared_ptr<log::EventLog> events() const;
    std::shared_ptr<const config::Config> config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace lido::engine
