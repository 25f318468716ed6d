#pragma once
// The engine's event log: structured events (time, severity, source, stable code, a human
// sentence) kept in memory as a ring for the console and written through spdlog. Repeats of the
// same code from the same source are rate-limited, and the number suppressed is reported.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "util/Result.h"

namespace spdlog {
class logger;
}

namespace lido::log {

enum class Severity { Debug, Info, Warning, Error };
const char* severityName(Severity s);

struct Event {
    uint64_t seq = 0;
    std::chrono::system_clock::time_point time;
    Severity severity = Severity::Info;
    std::string source; // "site Sample", "cgi /srv/cgi-bin/x.sh", "pool php"
    std::string code;   // stable: "cgi.incomplete-headers", "site.bind-failed", ...
    std::string message;
};

class EventLog {
public:
    // file empty: memory and stderr only. Otherwise the events the file already holds (an
    // earlier run's, the last `capacity` of them) come first, so that they survive a restart.
    explicit EventLog(const std::string& file = {}, bool toStderr = true, size_t capacity = 10000);
    ~EventLog();

    void add(Severity severity, std::string source, std::string code, std::string message);
    // The same, never rate-limited: an audit trail (what configuration was applied) must be whole.
    void addAudit(Severity severity, std::string source, std::string code, std::string message);
    std::vector<Event> since(uint64_t seq) const;           // seq excluded
    std::vector<Event> find(const std::string& code) const; // for tests and the console
    uint64_t lastSeq() const;
    void flush();
    // Closes and opens the file again by its name (after logrotate moved it away; SIGUSR1).
    Result<void> reopen();

    // Events below this severity are not kept (lido/log/@level; default info). Callers that build
    // an expensive message ask wants() first.
    void setMinimum(Severity s) { minimum_ = static_cast<int>(s); }
    bool wants(Severity s) const { return static_cast<int>(s) >= minimum_.load(std::memory_order_relaxed); }

    // Identical (code, source) events beyond this many per window are counted, not written.
    void setRateLimit(int perWindow, std::chrono::seconds window);

private:
    void push(Event e);
    void restore(const std::string& file);

    mutable std::mutex mutex_;
    std::atomic<int> minimum_{static_cast<int>(Severity::Info)};
    std::deque<Event> ring_;
    size_t capacity_;
    uint64_t seq_ = 0;
    struct Window {
        std::chrono::steady_clock::time_point start;
        int count = 0;
        int suppressed = 0;
    };
    std::map<std::pair<std::string, std::string>, Window> windows_;
    int perWindow_ = 10;
    std::chrono::seconds window_{10};
    std::shared_ptr<spdlog::logger> logger_;
    std::shared_ptr<class ReopenableFileSink> file_;
};

} // namespace lido::log
