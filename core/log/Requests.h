#pragma once
// The requests running now (IIS's Worker Processes → View Current Requests) and what a failed-
// request trace keeps of each: a RequestTrack per request, made by the router, listed on the
// RequestBoard while it runs. The handlers move it through its phases (queued, spawning, waiting
// for the application, sending) from whatever thread they run on; the router's facts (site, pool,
// handler, the rules that fired) are set on the request's own thread before it is listed.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lido::log {

enum class Phase : uint8_t { Routing, Queued, Spawning, Connecting, Waiting, Sending, Done };
inline constexpr size_t kPhaseCount = 7;
const char* phaseName(Phase p); // "queued", "waiting for the application", ...
const char* phaseKey(Phase p);  // "queued", "waiting", ... (JSON)

class RequestBoard;

class RequestTrack {
public:
    using Clock = std::chrono::steady_clock;
    RequestTrack();
    ~RequestTrack();
    RequestTrack(const RequestTrack&) = delete;
    RequestTrack& operator=(const RequestTrack&) = delete;

    // --- set on the request's thread before the board lists it, read-only afterwards
    uint64_t id = 0;
    std::string method, url, client, protocol;
    std::string site, application, pool, virtualDirectory, handler, module, physicalPath;
    std::string path;    // decoded and normalized, as routed
    bool listed = false; // the router put it on the board
    std::vector<std::string> headers;      // "Name: value", cookies and Authorization masked
    std::vector<std::string> rulesFired;   // URL Rewrite rules that matched
    std::string rewrittenUrl;
    Clock::time_point started;                          // set by its maker (the request's arrival)
    std::chrono::system_clock::time_point startedWall; // likewise

    // --- from any thread
    void enter(Phase p); // the first entry of each phase is timed
    Phase phase() const { return phase_.load(std::memory_order_relaxed); }
    void setPid(int pid) { pid_.store(pid, std::memory_order_relaxed); }
    int pid() const { return pid_.load(std::memory_order_relaxed); }
    // Microseconds from the start to the first entry of p, or -1 when it never entered p.
    int64_t enteredAt(Phase p) const { return at_[static_cast<size_t>(p)].load(std::memory_order_relaxed); }
    int64_t elapsedMicros() const;
    // The application's stderr for this request (the last 4 KiB are kept).
    void addStderr(std::string_view text);
    std::string stderrText() const;

private:
    friend class RequestBoard;
    std::atomic<Phase> phase_{Phase::Routing};
    std::atomic<int> pid_{0};
    std::array<std::atomic<int64_t>, kPhaseCount> at_;
    mutable std::mutex stderrMutex_;
    std::string stderr_;
    // The board's list (under its shard's lock).
    RequestBoard* board_ = nullptr;
    RequestTrack* prev_ = nullptr;
    RequestTrack* next_ = nullptr;
    size_t shard_ = 0;
};

// What the board says of one running request.
struct RunningRequest {
    uint64_t id = 0;
    std::string method, url, client, site, application, pool, handler;
    int pid = 0;
    Phase phase = Phase::Routing;
    double elapsedMs = 0;
};

// The running requests of the whole engine, in shards so that threads rarely share a lock.
class RequestBoard {
public:
    RequestBoard() = default;
    ~RequestBoard();
    RequestBoard(const RequestBoard&) = delete;
    RequestBoard& operator=(const RequestBoard&) = delete;

    void add(RequestTrack& track);    // its id is given here
    void remove(RequestTrack& track); // no-op when not listed
    // Oldest first; pool empty: every pool's.
    std::vector<RunningRequest> list(const std::string& pool = {}) const;
    size_t size() const;

private:
    static constexpr size_t kShards = 16;
    struct Shard {
        mutable std::mutex mutex;
        RequestTrack* head = nullptr;
        size_t count = 0;
    };
    std::array<Shard, kShards> shards_;
    std::atomic<uint64_t> nextId_{1};
};

// Cookie, Authorization and Proxy-Authorization values are not kept.
std::string maskedHeader(std::string_view name, std::string_view value);

} // namespace lido::log
