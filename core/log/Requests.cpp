#include "log/Requests.h"

#include "util/Text.h"

#include <algorithm>

namespace lido::log {

const char* phaseName(Phase p)
{
    switch (p) {
    case Phase::Routing: return "routing";
    case Phase::Queued: return "queued";
    case Phase::Spawning: return "spawning";
    case Phase::Connecting: return "connecting";
    case Phase::Waiting: return "waiting for the application";
    case Phase::Sending: return "sending";
    case Phase::Done: return "done";
    }
    return "?";
}

const char* phaseKey(Phase p)
{
    return p == Phase::Waiting ? "waiting" : phaseName(p);
}

RequestTrack::RequestTrack()
{
    for (auto& a : at_)
        a.store(-1, std::memory_order_relaxed);
    at_[0].store(0, std::memory_order_relaxed);
}

RequestTrack::~RequestTrack()
{
    if (board_)
        board_->remove(*this);
}

int64_t RequestTrack::elapsedMicros() const
{
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
}

void RequestTrack::enter(Phase p)
{
    phase_.store(p, std::memory_order_relaxed);
    int64_t unset = -1;
    at_[static_cast<size_t>(p)].compare_exchange_strong(unset, elapsedMicros(), std::memory_order_relaxed);
}

void RequestTrack::addStderr(std::string_view text)
{
    std::lock_guard lock(stderrMutex_);
    stderr_.append(text);
    if (stderr_.size() > 4096)
        stderr_.erase(0, stderr_.size() - 4096);
}

std::string RequestTrack::stderrText() const
{
    std::lock_guard lock(stderrMutex_);
    return stderr_;
}

RequestBoard::~RequestBoard()
{
    for (Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (RequestTrack* t = s.head; t; t = t->next_)
            t->board_ = nullptr;
    }
}

namespace {
// Each thread adds to a shard of its own (threads beyond 16 share).
size_t shardOfThisThread()
{
    static std::atomic<size_t> next{0};
    thread_local size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine;
}
} // namespace

void RequestBoard::add(RequestTrack& t)
{
    if (t.board_)
        return;
    t.id = nextId_.fetch_add(1, std::memory_order_relaxed);
    t.shard_ = shardOfThisThread() % kShards;
    Shard& s = shards_[t.shard_];
    std::lock_guard lock(s.mutex);
    t.board_ = this;
    t.prev_ = nullptr;
    t.next_ = s.head;
    if (s.head)
        s.head->prev_ = &t;
    s.head = &t;
    ++s.count;
}

void RequestBoard::remove(RequestTrack& t)
{
    if (t.board_ != this)
        return;
    Shard& s = shards_[t.shard_];
    std::lock_guard lock(s.mutex);
    if (t.prev_)
        t.prev_->next_ = t.next_;
    else
        s.head = t.next_;
    if (t.next_)
        t.next_->prev_ = t.prev_;
    t.prev_ = t.next_ = nullptr;
    t.board_ = nullptr;
    --s.count;
}

std::vector<RunningRequest> RequestBoard::list(const std::string& pool) const
{
    std::vector<RunningRequest> out;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        for (const RequestTrack* t = s.head; t; t = t->next_) {
            if (!pool.empty() && t->pool != pool)
                continue;
            RunningRequest r;
            r.id = t->id;
            r.method = t->method;
            r.url = t->url;
            r.client = t->client;
            r.site = t->site;
            r.application = t->application;
            r.pool = t->pool;
            r.handler = t->handler;
            r.pid = t->pid();
            r.phase = t->phase();
            r.elapsedMs = static_cast<double>(t->elapsedMicros()) / 1000.0;
            out.push_back(std::move(r));
        }
    }
    std::sort(out.begin(), out.end(), [](const RunningRequest& a, const RunningRequest& b) { return a.id < b.id; });
    return out;
}

size_t RequestBoard::size() const
{
    size_t n = 0;
    for (const Shard& s : shards_) {
        std::lock_guard lock(s.mutex);
        n += s.count;
    }
    return n;
}

std::string maskedHeader(std::string_view name, std::string_view value)
{
    std::string out(name);
    out += ": ";
    if (iequals(name, "Cookie")) {
        // The names stay (which session, which login cookie), never the values.
        size_t at = 0;
        while (at < value.size()) {
            size_t end = value.find(';', at);
            std::string_view pair = value.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
            while (!pair.empty() && pair.front() == ' ')
                pair.remove_prefix(1);
            if (!pair.empty())
                out += (out.back() == ' ' ? "" : "; ") + std::string(pair.substr(0, pair.find('='))) + "=***";
            if (end == std::string_view::npos)
                break;
            at = end + 1;
        }
    } else if (iequals(name, "Authorization") || iequals(name, "Proxy-Authorization")) {
        out += std::string(value.substr(0, value.find(' '))) + " ***"; // the scheme only
    } else {
        out += value;
    }
    return out;
}

} // namespace lido::log
