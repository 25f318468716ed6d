#pragma once
// Failed-request tracing as IIS has it: system.webServer/tracing/traceFailedRequests says which
// requests keep a trace (a path wildcard, then statuses, a time taken, or stderr), and the site's
// traceFailedRequestsLogging where: one JSON file each (fr000001.json in W3SVC<site id>/, as IIS
// keeps fr000001.xml), at most maxLogFiles, the oldest removed first. A trace has the request line
// and headers (cookies and Authorization masked), the routing decision, the timings per phase,
// status and size, the application's stderr and the events of the request.
#include "config/Config.h"
#include "config/Values.h"
#include "log/EventLog.h"
#include "log/Requests.h"
#include "util/Result.h"

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace lido::engine {

// The rules of one scope.
class TraceRules {
public:
    struct Rule {
        std::string path; // wildcard
        std::vector<config::StatusRange> statusCodes;
        std::chrono::milliseconds timeTaken{0}; // 0: time is no failure
        bool stderrFails = false;              // verbosity other than Ignore
        std::string areas;                     // as written, recorded in the trace
    };
    explicit TraceRules(const config::ConfigElement* traceFailedRequests = nullptr);
    bool empty() const { return rules_.empty(); }
    // The first rule whose path matches a URL path below the scope's prefix ("/" or "/blog/").
    const Rule* ruleFor(const std::string& urlPath, const std::string& scopePrefix) const;
    // Why a finished request failed by the rule, or nullopt when it did not.
    static std::optional<std::string> failure(const Rule& rule, int status, int substatus, std::chrono::milliseconds taken, bool wroteStderr);

private:
    std::vector<Rule> rules_;
};

// One kept trace, as lists show it.
struct TraceSummary {
    std::string id; // "W3SVC1/fr000012"
    std::string site, method, url, pool, failure;
    int status = 0;
    double totalMs = 0;
    std::string time; // ISO 8601, UTC
};

// A site's traces (its traceFailedRequestsLogging): thread-safe, written when a request ends.
class TraceStore {
public:
    TraceStore(std::string root, uint32_t siteId, size_t maxFiles, size_t maxBytes);
    const std::string& folder() const { return folder_; }
    std::string key() const; // what decides whether an apply keeps this store
    static std::string keyFor(const std::string& root, uint32_t siteId, size_t maxFiles, size_t maxBytes);
    // Writes a trace of a finished request; the oldest traces go beyond maxFiles.
    Result<std::string> write(const log::RequestTrack& track, const TraceRules::Rule& rule, const std::string& failure, int status, int substatus,
                              uint64_t bytes, const std::vector<log::Event>& events);
    std::vector<TraceSummary> list() const; // newest first
    Result<std::string> read(const std::string& name) const; // "fr000012"

private:
    std::string folder_;
    uint32_t siteId_;
    size_t maxFiles_, maxBytes_;
    mutable std::mutex mutex_;
    uint64_t next_ = 1;
    std::vector<std::string> kept_; // names, oldest first
    // What list() shows of each kept trace, made when it is written (or first listed, for those
    // found on disk): the list is asked every few seconds while the console shows it.
    mutable std::map<std::string, TraceSummary> summaries_;
    TraceSummary summaryOf(const std::string& name, const nlohmann::json& j) const;
};

// The events a request caused: of those since it started, the ones naming its URL or its pid.
std::vector<log::Event> eventsOf(const log::RequestTrack& track, const log::EventLog& events);

} // namespace lido::engine
