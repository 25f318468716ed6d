#pragma once
// One FastCGI process of a pool and the connection the pool keeps to it. The process is a
// process::Child started with its listening socket as fd 0 (the FastCGI convention); the kept
// connection writes one thing at a time and ignores completions of a connection it has dropped.
// The instance's state is one stored value, changed only by the pool's setState().
#include "pool/FcgiExchange.h"
#include "pool/PoolMetrics.h"
#include "pool/PoolSettings.h"
#include "process/Child.h"

#include <asio.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace lido::pool {

using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;

// A request inside the pool: the job, the executor of its client's connection, and its bytes.
struct Exchange : std::enable_shared_from_this<Exchange> {
    Exchange(FastCgiJob j, const ExchangeRules& rules) : job(std::move(j)), connExec(job.responder->executor()), codec(rules) {}
    void fail(int status, std::string detail, std::vector<http::Header> extra = {}); // the error page, unless the client is gone
    FastCgiJob job;
    asio::any_io_executor connExec;
    FcgiExchange codec;
    bool gone = false; // the client went away
    Clock::time_point queuedAt = Clock::now(), startedAt;
    uint64_t avoidFrom = UINT64_MAX; // sent again: not to an instance that has served this many (it may exit too)
};

struct PingResult {
    enum class Kind { Answered, TimedOut, Lost, ProtocolError } kind = Kind::Answered;
    std::string detail; // the values answered ("FCGI_MAX_CONNS=1, ..."), or what went wrong
};

class Instance : public std::enable_shared_from_this<Instance> {
public:
    Instance(const Strand& strand, int id);
    ~Instance();
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    int id() const { return id_; }
    pid_t pid() const { return child ? child->pid() : -1; }
    InstanceState state() const { return state_; }
    bool serving() const { return state_ == InstanceState::Busy || state_ == InstanceState::Draining; }
    std::string name() const; // "instance 3 (pid 1234)"

    // Opens the listening socket (a Unix socket in the runtime directory, or 127.0.0.1 with tcp)
    // and starts the program with it as fd 0, under SCHED_BATCH if batch. An error sentence, or empty.
    std::string spawn(const FastCgiSettings& s, const std::string& socketPath, bool batch);
    void removeSocketFile();

    // --- the kept connection
    bool connected() const { return link_ == Link::Open; }
    void connect(std::function<void(const asio::error_code&)> done);
    void write(std::string data);
    void read(std::function<void(const asio::error_code&, std::string_view)> done);
    void drop(); // closed and not reused; late completions are ignored
    void sendAbort(); // FCGI_ABORT_REQUEST: the application may stop; its END_REQUEST still comes
    // FCGI_GET_VALUES, only while the instance has no request (libfcgi and php-cgi answer it on the
    // kept connection at once; they take one connection at a time).
    void askValues(std::chrono::milliseconds limit, std::function<void(const PingResult&)> done);

    std::shared_ptr<process::Child> child;
    std::shared_ptr<Exchange> exchange;
    asio::steady_timer timer; // the request's requestTimeout
    uint64_t requests = 0;
    Clock::time_point startedAt = Clock::now(), lastActive = Clock::now(), lastPing = Clock::now();
    std::string stopReason;
    // Time spent serving requests (kept by the pool's setState), and what the last once-a-second
    // sample saw of it and of the process's CPU time (-1: not sampled yet).
    Clock::duration servingTime{};
    Clock::time_point servingSince{};
    double sampledServing = 0, sampledCpu = -1;

private:
    friend class FastCgiPool; // its setState() is the one place the state changes
    void readValues();
    void pinged(PingResult r);
    void writeNext();
    enum class Link { None, Connecting, Open };
    Strand strand_;
    int id_;
    InstanceState state_ = InstanceState::Starting;
    std::string address_; // socket path or 127.0.0.1:port (_FCGI_X_PIPE_)
    bool unixSocket_ = false;
    asio::generic::stream_protocol::endpoint endpoint_;
    asio::generic::stream_protocol::socket socket_;
    Link link_ = Link::None;
    uint64_t generation_ = 0; // bumped by drop(): completions of the old connection are ignored
    std::string out_, writing_;
    std::array<char, 16384> buf_{};
    asio::steady_timer pingTimer_;
    std::function<void(const PingResult&)> pingDone_; // set while a ping waits for its answer
    fastcgi::RecordParser pingParser_;
};

} // namespace lido::pool
