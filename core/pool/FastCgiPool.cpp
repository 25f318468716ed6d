#include "pool/FastCgiPool.h"

#include "pool/RapidFail.h"
#include "pool/Tuning.h"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace lido::pool {

using Socket = asio::generic::stream_protocol::socket;

struct FastCgiPool::Instance {
    explicit Instance(asio::strand<asio::io_context::executor_type>& s)
        : socket(s), exitWatch(s), stderrPipe(s), timer(s), killTimer(s)
    {
    }
    int id = 0;
    pid_t pid = -1;
    InstanceState state = InstanceState::Starting;
    std::string address; // socket path or 127.0.0.1:port (_FCGI_X_PIPE_)
    asio::generic::stream_protocol::endpoint endpoint;
    Socket socket;
    bool connected = false;
    asio::posix::stream_descriptor exitWatch, stderrPipe;
    asio::steady_timer timer, killTimer;
    std::array<char, 16384> buf{};
    std::array<char, 2048> errBuf{};
    std::string stderrTail;
    fastcgi::RecordParser parser;
    std::shared_ptr<struct FastCgiPool::Exchange> exchange;
    uint64_t requests = 0;
    Clock::time_point startedAt = Clock::now();
    Clock::time_point lastActive = Clock::now();
    bool exited = false;
    bool expectedExit = false;
    bool drainAfter = false;
    bool stderrEof = false;
    bool exitReported = false;
    int exitStatus = 0;
    std::string signalSent; // "SIGTERM", "SIGKILL": how the engine stopped it
    bool firstRecordSeen = false; // start-up: the first request must answer within startupTimeLimit
    bool pingPending = false;     // FCGI_GET_VALUES sent, no answer yet (the instance takes no request)
    bool answeredPing = false;
    Clock::time_point lastPing = Clock::now();
    std::string stopReason;
    std::string out;      // bytes waiting for the socket
    std::string writing;  // bytes being written
    uint64_t generation = 0; // bumped when the connection is dropped: late write completions are ignored
};

struct FastCgiPool::Exchange {
    FastCgiJob job;
    asio::any_io_executor connExec;
    std::string pendingStdin;
    bool stdinDone = false;
    bool gone = false;
    std::string head; // stdout until the header block is complete
    bool headParsed = false;
    http::ResponseHead response;
    std::string body;     // held back while stderr could still turn the answer into a 500
    bool streaming = false;
    std::string stderrText;
    Clock::time_point queuedAt = Clock::now();
    Clock::time_point startedAt;
    bool stdinClosed = false;
    // A request that got no byte back before its instance exited by itself never reached the
    // application: it is sent again, once, on another instance. What was sent is kept for that.
    bool anyByte = false;
    bool retried = false;
    bool retriable = true;
    uint64_t avoidFrom = UINT64_MAX; // sent again: not to an instance that has served this many (it may exit too)
    std::string sentStdin;
    void keepSent(const std::string& data)
    {
        if (!retriable)
            return;
        if (sentStdin.size() + data.size() > kRetryKeepLimit) {
            retriable = false;
            sentStdin.clear();
            sentStdin.shrink_to_fit();
            return;
        }
        sentStdin += data;
    }
    static constexpr size_t kRetryKeepLimit = 1024 * 1024;
};

struct FastCgiPool::Windows {
    FailureWindow app;  // fastCgi rapidFailsPerMinute
    FailureWindow pool; // application pool rapid-fail protection
};

FastCgiPool::FastCgiPool(asio::io_context& io, FastCgiSettings settings, std::shared_ptr<log::EventLog> events)
    : io_(io), strand_(asio::make_strand(io)), settings_(std::move(settings)), events_(std::move(events))
{
    windows_ = std::make_unique<Windows>(Windows{FailureWindow(settings_.rapidFailsPerMinute, std::chrono::minutes(1)),
                                                 FailureWindow(settings_.rapidFailMaxCrashes, settings_.rapidFailInterval)});
    limit_ = settings_.maxInstances > 0 ? settings_.maxInstances : 1;
    counters_.pool = settings_.poolName;
    counters_.identity = settings_.identityShown;
    counters_.application = settings_.fullPath + (settings_.arguments.empty() ? "" : " " + settings_.arguments);
    metrics_ = counters_;
}

FastCgiPool::~FastCgiPool()
{
    for (auto& in : instances_)
        if (in->pid > 0 && !in->exited)
            process::signalGroup(in->pid, SIGKILL);
}

std::string FastCgiPool::describe() const { return "pool " + settings_.poolName + " (" + counters_.application + ")"; }

void FastCgiPool::start()
{
    asio::post(strand_, [self = shared_from_this()] {
        self->tick();
        self->watchFile();
        if (self->settings_.alwaysRunning)
            for (int i = 0; i < self->limit_; ++i)
                self->spawnInstance();
        self->publish();
    });
}

void FastCgiPool::submit(FastCgiJob job)
{
    auto ex = std::make_shared<Exchange>();
    ex->connExec = job.responder->executor();
    ex->job = std::move(job);
    std::weak_ptr<FastCgiPool> weak = shared_from_this();
    auto strand = strand_;
    if (ex->job.body) {
        ex->pendingStdin = std::move(*ex->job.body);
        ex->stdinDone = true;
    } else {
    // The body arrives on the connection's thread and is handed to the pool's strand.
    ex->job.responder->onBody(
        [weak, ex, strand](std::string_view chunk) {
            asio::post(strand, [weak, ex, data = std::string(chunk)] {
                if (auto self = weak.lock()) {
                    ex->pendingStdin += data;
                    for (auto& in : self->instances_)
                        if (in->exchange == ex)
                            self->sendRequest(in);
                }
            });
        },
        [weak, ex, strand] {
            asio::post(strand, [weak, ex] {
                ex->stdinDone = true;
                if (auto self = weak.lock())
                    for (auto& in : self->instances_)
                        if (in->exchange == ex)
                            self->sendRequest(in);
            });
        });
    }
    if (!ex->job.responder->request().hasBody())
        ex->stdinDone = true;
    ex->job.responder->onAbort([weak, ex, strand] {
        asio::post(strand, [weak, ex] {
            ex->gone = true;
            auto self = weak.lock();
            if (!self)
                return;
            auto it = std::find(self->queue_.begin(), self->queue_.end(), ex);
            if (it != self->queue_.end())
                self->queue_.erase(it);
            for (auto& in : self->instances_)
                if (in->exchange == ex && in->connected) {
                    // FCGI_ABORT_REQUEST: the application may stop; its END_REQUEST still comes.
                    auto abort = std::make_shared<std::string>(fastcgi::encodeAbort(1));
                    asio::async_write(in->socket, asio::buffer(*abort), [abort](const asio::error_code&, size_t) {});
                }
        });
    });
    asio::post(strand_, [self = shared_from_this(), ex] {
        if (!self->running_) {
            std::string why = "the application pool " + self->settings_.poolName + " is stopped: " + self->stoppedReason_;
            asio::post(ex->connExec, [ex, why] { ex->job.error(503, why, {{"Retry-After", "60"}}); });
            return;
        }
        if (self->queue_.size() >= self->settings_.queueLength) {
            ++self->counters_.queueFull;
            asio::post(ex->connExec, [ex] { ex->job.error(503, "the FastCGI queue is full", {{"Retry-After", "5"}}); });
            return;
        }
        ++self->counters_.accepted;
        self->queue_.push_back(ex);
        self->counters_.maxQueued = std::max<int>(self->counters_.maxQueued, static_cast<int>(self->queue_.size()));
        self->dispatch();
    });
}

void FastCgiPool::dispatch()
{
    while (!queue_.empty()) {
        auto ex = queue_.front();
        if (ex->gone) {
            queue_.pop_front();
            continue;
        }
        std::shared_ptr<Instance> idle;
        for (auto& in : instances_) {
            if (in->state != InstanceState::Idle || in->pingPending)
                continue;
            if (in->requests >= ex->avoidFrom) {
                // A sibling exited by itself after this many requests: this one is about to as well.
                terminate(in, "recycled: it has served " + std::to_string(in->requests) +
                                  " requests, as many as an instance that recycled itself");
                ++counters_.recycles;
                continue;
            }
            idle = in;
            break;
        }
        if (!idle)
            break;
        queue_.pop_front();
        assign(idle, ex);
    }
    if (queue_.empty() || !running_)
        return;
    waitedSinceTick_ = true;
    if (settings_.disallowOverlappingRotation)
        for (auto& in : instances_)
            if (in->drainAfter || in->state == InstanceState::Stopping)
                return; // the old instances stop before new ones start
    int live = 0, starting = 0;
    for (auto& in : instances_) {
        live += in->state == InstanceState::Starting || in->state == InstanceState::Idle || in->state == InstanceState::Busy;
        starting += in->state == InstanceState::Starting;
    }
    // Start as many as the waiting requests need, up to the limit.
    int want = std::min<int>(limit_ - live, static_cast<int>(queue_.size()) - starting);
    if (live >= limit_)
        reachedMax_ = true;
    for (int i = 0; i < want; ++i)
        spawnInstance();
}

void FastCgiPool::setState(const std::shared_ptr<Instance>& in, InstanceState s, const std::string& why)
{
    if (in->state == s)
        return;
    if (events_->wants(log::Severity::Debug)) // twice per request: not even the message unless wanted
        events_->add(log::Severity::Debug, describe(), "instance.state",
                 "instance " + std::to_string(in->id) + " (pid " + std::to_string(in->pid) + "): " + stateName(in->state) + " -> " +
                     stateName(s) + (why.empty() ? "" : " (" + why + ")"));
    in->state = s;
}

void FastCgiPool::spawnInstance()
{
    auto in = std::make_shared<Instance>(strand_);
    in->id = nextInstanceId_++;
    if (!settings_.identityError.empty()) {
        // Never as root instead: the waiting requests get the reason.
        in->exited = true;
        instances_.push_back(in);
        crash(in, "could not be started: " + settings_.identityError);
        return;
    }
    int listenFd = -1;
    if (settings_.tcp) {
        listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (listenFd < 0 || ::bind(listenFd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(listenFd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || ::listen(listenFd, 64) != 0) {
            crash(in, std::string("cannot open a TCP socket: ") + std::strerror(errno));
            if (listenFd >= 0)
                ::close(listenFd);
            return;
        }
        in->address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
        in->endpoint = asio::generic::stream_protocol::endpoint(&a, sizeof a);
    } else {
        std::string path = settings_.runtimeDirectory + "/" + settings_.poolName + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffff) + "-" + std::to_string(in->id) + ".sock";
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        if (path.size() >= sizeof a.sun_path) {
            crash(in, "socket path too long: " + path);
            return;
        }
        std::strcpy(a.sun_path, path.c_str());
        ::unlink(path.c_str());
        listenFd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listenFd < 0 || ::bind(listenFd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listenFd, 64) != 0) {
            crash(in, "cannot open the socket " + path + ": " + std::strerror(errno));
            if (listenFd >= 0)
                ::close(listenFd);
            return;
        }
        if (settings_.identity && ::geteuid() == 0)
            ::chown(path.c_str(), settings_.identity->uid, settings_.identity->gid);
        in->address = path;
        in->endpoint = asio::generic::stream_protocol::endpoint(&a, sizeof a);
    }
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) {
        ::close(listenFd);
        crash(in, std::string("pipe: ") + std::strerror(errno));
        return;
    }
    process::SpawnOptions o;
    o.program = settings_.fullPath;
    o.argv = {settings_.fullPath};
    {
        std::istringstream words(settings_.arguments);
        std::string w;
        while (words >> w)
            o.argv.push_back(w);
    }
    o.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "_FCGI_X_PIPE_=" + in->address};
    for (const auto& [k, v] : settings_.environment)
        o.env.push_back(k + "=" + v);
    auto slash = settings_.fullPath.rfind('/');
    o.workingDirectory = slash == std::string::npos ? std::string() : settings_.fullPath.substr(0, std::max<size_t>(slash, 1));
    o.identity = settings_.identity;
    o.limits = settings_.limits;
    o.stdinFd = listenFd; // the FastCGI convention: the listening socket is fd 0
    o.stderrFd = err[1];
    process::SpawnError error;
    in->startedAt = Clock::now();
    auto spawned = process::spawn(o, &error);
    ::close(listenFd);
    ::close(err[1]);
    instances_.push_back(in);
    if (!spawned) {
        ::close(err[0]);
        if (!settings_.tcp)
            ::unlink(in->address.c_str());
        in->exited = true;
        crash(in, "could not be started: " + error.message +
                      (error.err == ENOEXEC ? " (not a program for this machine: wrong architecture or no #! line)" : ""));
        return;
    }
    in->pid = spawned->pid;
    in->stderrPipe.assign(err[0]);
    if (spawned->pidfd >= 0) {
        in->exitWatch.assign(spawned->pidfd);
        in->exitWatch.async_wait(asio::posix::stream_descriptor::wait_read, [self = shared_from_this(), in](const asio::error_code&) {
            in->exitStatus = process::reap(in->pid);
            in->exited = true;
            // The report waits for the last of stderr (EOF), or 300 ms at most.
            if (in->stderrEof) {
                self->reportExit(in);
                return;
            }
            auto wait = std::make_shared<asio::steady_timer>(self->strand_, std::chrono::milliseconds(300));
            wait->async_wait([self, in, wait](const asio::error_code&) { self->reportExit(in); });
        });
    }
    // Process-level stderr (outside requests): kept for crash reports.
    readInstanceStderr(in);
    setState(in, InstanceState::Starting, "spawned");
    if (settings_.pingingEnabled) {
        // Ready when it answers FCGI_GET_VALUES (within startupTimeLimit): a program that is alive
        // but never reaches its accept loop is told apart from one that works.
        ping(in);
    } else {
        // The listening socket exists before the program runs, so connections queue until it
        // accepts: the instance takes requests at once; a program that dies during start-up is
        // caught by its pidfd, one that hangs by startupTimeLimit on its first request.
        asio::post(strand_, [self = shared_from_this(), in] {
            if (in->state == InstanceState::Starting && !in->exited)
                self->instanceReady(in);
        });
    }
    publish();
}

// FCGI_GET_VALUES on the instance's kept connection, only while it has no request (libfcgi and
// php-cgi answer it there at once, measured with both; they take one connection at a time, so a
// second connection would wait behind the first). The instance takes no request until it answers.
void FastCgiPool::ping(const std::shared_ptr<Instance>& in)
{
    bool startup = in->state == InstanceState::Starting;
    in->pingPending = true;
    in->lastPing = Clock::now();
    in->parser = fastcgi::RecordParser();
    auto limit = startup ? settings_.startupTimeLimit : settings_.pingResponseTime;
    auto self = shared_from_this();
    in->timer.expires_after(limit);
    in->timer.async_wait([self, in, startup, limit](const asio::error_code& ec) {
        if (ec || !in->pingPending || in->exited || in->expectedExit)
            return;
        auto secs = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count());
        self->pingFailed(in, startup ? "did not answer FCGI_GET_VALUES within startupTimeLimit (" + secs + " s)"
                                     : "did not answer a ping (FCGI_GET_VALUES) within pingResponseTime (" + secs + " s)");
    });
    auto send = [self, in] {
        // Two names, 33 bytes of content and 7 of padding: libfcgi reads a management record whose
        // content ends exactly at the end of what it has read as "more to come" and blocks
        // (measured: asking for the three names, 48 bytes, went unanswered until the next record).
        self->queueWrite(in, fastcgi::encodeGetValues({"FCGI_MAX_CONNS", "FCGI_MPXS_CONNS"}));
        self->readPing(in);
    };
    if (in->connected) {
        send();
        return;
    }
    uint64_t generation = in->generation;
    in->socket.async_connect(in->endpoint, [self, in, send, generation](const asio::error_code& ec) {
        if (generation != in->generation || !in->pingPending || in->expectedExit)
            return;
        if (ec) {
            self->pingConnectionLost(in, "refused the ping connection: " + ec.message());
            return;
        }
        in->connected = true;
        send();
    });
}

void FastCgiPool::readPing(const std::shared_ptr<Instance>& in)
{
    uint64_t generation = in->generation;
    in->socket.async_read_some(asio::buffer(in->buf), [self = shared_from_this(), in, generation](const asio::error_code& ec, size_t n) {
        if (generation != in->generation || !in->pingPending || in->expectedExit)
            return;
        if (ec) {
            self->pingConnectionLost(in, "closed the connection instead of answering a ping (" + ec.message() + ")");
            return;
        }
        std::optional<fastcgi::Type> answer;
        std::string values; // the record's content is only valid during the callback
        std::string err = in->parser.feed(std::string_view(in->buf.data(), n), [&](const fastcgi::Record& r) {
            if (!answer && r.requestId == 0 && (r.type == fastcgi::Type::GetValuesResult || r.type == fastcgi::Type::UnknownType)) {
                answer = r.type;
                values.assign(r.content);
            }
        });
        if (!err.empty()) {
            ++self->counters_.protocolErrors;
            self->pingFailed(in, "answered a ping with a FastCGI protocol error: " + err);
            return;
        }
        if (answer)
            self->pingAnswered(in, fastcgi::Record{*answer, 0, values}); // after feed(): the next request starts a new parser
        else
            self->readPing(in);
    });
}

// Usually the process has died (its exit report says how, and counts it); only a process that is
// still alive half a second later failed the ping itself.
void FastCgiPool::pingConnectionLost(const std::shared_ptr<Instance>& in, const std::string& what)
{
    in->connected = false;
    asio::error_code ignored;
    in->socket.close(ignored);
    in->socket = Socket(strand_);
    ++in->generation;
    auto wait = std::make_shared<asio::steady_timer>(strand_, std::chrono::milliseconds(500));
    wait->async_wait([self = shared_from_this(), in, wait, what](const asio::error_code&) {
        if (in->pingPending && !in->exited && !in->expectedExit)
            self->pingFailed(in, what);
    });
}

void FastCgiPool::pingAnswered(const std::shared_ptr<Instance>& in, const fastcgi::Record& r)
{
    in->pingPending = false;
    in->timer.cancel();
    in->lastPing = Clock::now();
    ++counters_.pingsAnswered;
    if (!in->answeredPing) {
        in->answeredPing = true;
        std::string values;
        if (r.type == fastcgi::Type::GetValuesResult)
            if (auto nv = fastcgi::decodeNameValues(r.content))
                for (const auto& [k, v] : *nv)
                    values += (values.empty() ? "" : ", ") + k + "=" + v;
        events_->add(log::Severity::Debug, describe(), "instance.values",
                     "instance " + std::to_string(in->id) + " (pid " + std::to_string(in->pid) + ") answered FCGI_GET_VALUES: " +
                         (values.empty() ? std::string("no values") : values));
    }
    if (in->state == InstanceState::Starting) {
        instanceReady(in);
        return;
    }
    dispatch();
}

void FastCgiPool::pingFailed(const std::shared_ptr<Instance>& in, const std::string& what)
{
    bool startup = in->state == InstanceState::Starting;
    in->pingPending = false;
    if (startup)
        ++counters_.timeouts;
    else
        ++counters_.pingFailures;
    auto startedAt = in->startedAt;
    crash(in, what);
    terminate(in, startup ? "startup failure" : "ping failure");
    if (!startup)
        return;
    // The requests that waited for this instance get the reason instead of waiting for the next one.
    bool serving = false;
    for (auto& other : instances_)
        serving |= other != in && (other->state == InstanceState::Idle || other->state == InstanceState::Busy);
    if (serving)
        return;
    auto secs = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(settings_.startupTimeLimit).count());
    std::deque<std::shared_ptr<Exchange>> keep;
    for (auto& ex : queue_) {
        if (ex->queuedAt <= startedAt + std::chrono::milliseconds(1) && !ex->gone)
            asio::post(ex->connExec, [ex, secs] {
                ex->job.error(502, "the new FastCGI instance did not answer within startupTimeLimit (" + secs + " s)", {});
            });
        else
            keep.push_back(ex);
    }
    queue_ = std::move(keep);
    publish();
}

// A member rather than a self-capturing std::function: such a closure would keep the instance,
// its pipe and its socket alive after the process is gone.
void FastCgiPool::readInstanceStderr(const std::shared_ptr<Instance>& in)
{
    in->stderrPipe.async_read_some(asio::buffer(in->errBuf), [self = shared_from_this(), in](const asio::error_code& ec, size_t n) {
        if (ec) {
            in->stderrEof = true;
            if (in->exited)
                self->reportExit(in);
            return;
        }
        in->stderrTail.append(in->errBuf.data(), n);
        if (in->stderrTail.size() > 4096)
            in->stderrTail.erase(0, in->stderrTail.size() - 4096);
        self->readInstanceStderr(in);
    });
}

void FastCgiPool::instanceReady(const std::shared_ptr<Instance>& in)
{
    in->timer.cancel();
    in->lastActive = Clock::now();
    setState(in, InstanceState::Idle, "ready");
    dispatch();
    publish();
}

void FastCgiPool::assign(const std::shared_ptr<Instance>& in, const std::shared_ptr<Exchange>& ex)
{
    in->exchange = ex;
    ex->startedAt = Clock::now();
    setState(in, InstanceState::Busy, ex->job.url);
    in->parser = fastcgi::RecordParser();
    auto self = shared_from_this();
    // requestTimeout for the whole request, activityTimeout for silence (checked in tick()).
    in->timer.expires_after(settings_.requestTimeout);
    in->timer.async_wait([self, in, ex](const asio::error_code& ec) {
        if (ec || in->exchange != ex)
            return;
        ++self->counters_.timeouts;
        self->failExchange(in, 500, "the FastCGI application did not finish the request within requestTimeout (" +
                                        std::to_string(self->settings_.requestTimeout.count()) + " s)", "timeout");
        self->terminate(in, "request timeout");
    });
    in->out.clear();
    auto send = [self, in, ex] {
        // Head, body so far and (for a request without body) the end of stdin go out in one
        // write: libfcgi closes a kept connection when a STDIN record comes after it has
        // already answered (measured: an EOF on the next request of that connection).
        std::string data = fastcgi::encodeRequestHead(1, true, ex->job.params);
        if (!ex->pendingStdin.empty()) {
            data += fastcgi::encodeStdin(1, ex->pendingStdin);
            ex->keepSent(ex->pendingStdin);
            ex->pendingStdin.clear();
        }
        if (ex->stdinDone) {
            data += fastcgi::encodeStdin(1, {});
            ex->stdinClosed = true;
        }
        self->queueWrite(in, std::move(data));
        self->readFrom(in);
    };
    if (in->connected) {
        send();
        return;
    }
    in->socket.async_connect(in->endpoint, [self, in, ex, send](const asio::error_code& ec) {
        if (ec) {
            if (in->exchange == ex)
                self->failExchange(in, 502, "cannot connect to the FastCGI application: " + ec.message(), "crash");
            return;
        }
        in->connected = true;
        send();
    });
}

void FastCgiPool::sendRequest(const std::shared_ptr<Instance>& in)
{
    auto ex = in->exchange;
    if (!ex || ex->stdinClosed)
        return;
    std::string data;
    if (!ex->pendingStdin.empty()) {
        data = fastcgi::encodeStdin(1, ex->pendingStdin);
        ex->keepSent(ex->pendingStdin);
        ex->pendingStdin.clear();
    }
    if (ex->stdinDone) {
        data += fastcgi::encodeStdin(1, {}); // the end of stdin
        ex->stdinClosed = true;
    }
    if (!data.empty())
        queueWrite(in, std::move(data));
}

void FastCgiPool::queueWrite(const std::shared_ptr<Instance>& in, std::string data)
{
    in->out += data;
    if (!in->writing.empty() || !in->connected)
        return;
    in->writing = std::move(in->out);
    in->out.clear();
    uint64_t generation = in->generation;
    asio::async_write(in->socket, asio::buffer(in->writing), [self = shared_from_this(), in, generation](const asio::error_code& ec, size_t) {
        if (generation != in->generation)
            return; // a connection that was dropped meanwhile
        in->writing.clear();
        if (ec) {
            in->out.clear();
            return; // the read side sees the broken connection and reports it
        }
        if (!in->out.empty())
            self->queueWrite(in, std::string());
    });
}

void FastCgiPool::readFrom(const std::shared_ptr<Instance>& in)
{
    auto self = shared_from_this();
    // Each read belongs to one exchange: a completion for an earlier one (a closed connection,
    // a request that ended) must not touch the next request on this instance.
    auto ex = in->exchange;
    in->socket.async_read_some(asio::buffer(in->buf), [self, in, ex](const asio::error_code& ec, size_t n) {
        if (!ex || in->exchange != ex)
            return;
        if (ec) {
            in->connected = false;
            asio::error_code ignored;
            in->socket.close(ignored);
            // Usually the process has died: give its exit status a moment to arrive, so that the
            // answer says how it ended (instanceExited reports it), else report the lost connection.
            auto wait = std::make_shared<asio::steady_timer>(self->strand_, std::chrono::milliseconds(500));
            std::string why = ec.message();
            wait->async_wait([self, in, ex, wait, why](const asio::error_code&) {
                if (in->exchange == ex)
                    self->failExchange(in, 502, "the FastCGI application (pid " + std::to_string(in->pid) + ", " + stateName(in->state) +
                                                    ") closed the connection before ending the request (" + why + ")", "connection");
            });
            return;
        }
        in->lastActive = Clock::now();
        in->firstRecordSeen = true;
        ex->anyByte = true;
        std::string err = in->parser.feed(std::string_view(in->buf.data(), n), [&](const fastcgi::Record& r) { self->onRecord(in, r); });
        if (!err.empty()) {
            ++self->counters_.protocolErrors;
            self->failExchange(in, 502, "FastCGI protocol error: " + err, "protocol");
            self->terminate(in, "protocol error: " + err);
            return;
        }
        if (in->exchange == ex && in->state == InstanceState::Busy)
            self->readFrom(in);
    });
}

void FastCgiPool::onRecord(const std::shared_ptr<Instance>& in, const fastcgi::Record& r)
{
    auto ex = in->exchange;
    if (!ex)
        return;
    if (r.requestId != 1 && r.type != fastcgi::Type::UnknownType) {
        ++counters_.protocolErrors;
        failExchange(in, 502, "FastCGI protocol error: a record for request " + std::to_string(r.requestId) + " (expected 1)", "protocol");
        terminate(in, "protocol error");
        return;
    }
    switch (r.type) {
    case fastcgi::Type::Stdout: {
        if (ex->headParsed) {
            ex->body.append(r.content);
            if (ex->streaming || ex->body.size() > settings_.responseBufferLimit || settings_.stderrMode == StderrMode::IgnoreAndReturn200)
                flushToClient(ex, false);
            return;
        }
        ex->head.append(r.content);
        cgi::HeaderParse p = cgi::parseResponseHeaders(ex->head, settings_.headerSyntax);
        if (p.state == cgi::HeaderParse::State::NeedMore)
            return;
        if (p.state == cgi::HeaderParse::State::Error) {
            ++counters_.protocolErrors;
            failExchange(in, 502, "the FastCGI application " + settings_.fullPath + " sent malformed headers: " + p.error +
                                      (settings_.headerSyntax == cgi::HeaderSyntax::Strict ? " (responseHeaders=\"Relaxed\" accepts more)" : ""),
                         "protocol");
            return;
        }
        ex->headParsed = true;
        ex->response.status = p.head.status;
        ex->response.reason = p.head.reason;
        for (const auto& [k, v] : p.head.headers) {
            if (http::iequals(k, "Content-Length")) {
                try {
                    ex->response.contentLength = std::stoull(v);
                } catch (...) {
                }
                continue;
            }
            if (http::iequals(k, "Transfer-Encoding") || http::iequals(k, "Connection"))
                continue;
            ex->response.headers.push_back({k, v});
        }
        ex->body = ex->head.substr(p.head.consumed);
        ex->head.clear();
        if (settings_.stderrMode == StderrMode::IgnoreAndReturn200 || ex->body.size() > settings_.responseBufferLimit)
            flushToClient(ex, false);
        return;
    }
    case fastcgi::Type::Stderr: {
        if (r.content.empty())
            return; // the end of the stderr stream
        ex->stderrText.append(r.content.substr(0, std::min<size_t>(r.content.size(), 65536)));
        std::string line(r.content.substr(0, 1024));
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
            line.pop_back();
        events_->add(log::Severity::Warning, describe(), "fastcgi.stderr",
                     "pid " + std::to_string(in->pid) + ", " + ex->job.url + ": " + line);
        if (settings_.stderrMode == StderrMode::TerminateProcess && !ex->streaming) {
            ++counters_.stderrFailures;
            failExchange(in, 500, "the FastCGI application wrote to stderr (stderrMode=TerminateProcess): " + ex->stderrText, "stderr");
            terminate(in, "stderrMode=TerminateProcess");
        }
        return;
    }
    case fastcgi::Type::EndRequest: {
        auto end = fastcgi::decodeEndRequest(r.content);
        bool hadStderr = !ex->stderrText.empty();
        if (!ex->headParsed) {
            ++counters_.protocolErrors;
            failExchange(in, 502, "the FastCGI application ended the request without a complete set of headers" +
                                      (hadStderr ? "; stderr: \"" + ex->stderrText.substr(0, 4096) + "\"" : std::string()),
                         "protocol");
            return;
        }
        if (hadStderr && !ex->streaming &&
            (settings_.stderrMode == StderrMode::ReturnStdErrIn500 || settings_.stderrMode == StderrMode::ReturnGeneric500)) {
            // The request ended cleanly: the answer becomes a 500, the instance and its
            // connection stay in service.
            ++counters_.stderrFailures;
            std::string detail = settings_.stderrMode == StderrMode::ReturnStdErrIn500 ? ex->stderrText : std::string();
            if (!ex->gone)
                asio::post(ex->connExec, [ex, detail] { ex->job.error(500, detail, {}); });
            finishExchange(in);
            return;
        }
        (void)end;
        flushToClient(ex, true);
        finishExchange(in);
        return;
    }
    default: return;
    }
}

void FastCgiPool::flushToClient(const std::shared_ptr<Exchange>& ex, bool finish)
{
    bool sendHead = !ex->streaming;
    ex->streaming = true;
    http::ResponseHead head = ex->response;
    std::string body = std::move(ex->body);
    ex->body.clear();
    if (sendHead && finish && !head.contentLength)
        head.contentLength = body.size(); // the whole answer is here: no chunking needed
    // dispatch: inline when the pool runs on the connection's own thread (one io_context per thread).
    asio::dispatch(ex->connExec, [ex, sendHead, head = std::move(head), body = std::move(body), finish]() mutable {
        auto& r = ex->job.responder;
        if (r->closed())
            return;
        if (sendHead)
            r->sendHead(std::move(head));
        if (!body.empty())
            r->sendBody(std::move(body));
        if (finish)
            r->finish();
    });
}

void FastCgiPool::finishExchange(const std::shared_ptr<Instance>& in)
{
    if (in->exchange) {
        double ms = std::chrono::duration<double, std::milli>(Clock::now() - in->exchange->queuedAt).count();
        if (latencies_.size() < 1000)
            latencies_.push_back(ms);
        else
            latencies_[latencyNext_++ % 1000] = ms;
    }
    in->exchange.reset();
    in->timer.cancel();
    ++in->requests;
    ++counters_.completed;
    ++generationRequests_;
    in->lastActive = Clock::now();
    if (retired_ && queue_.empty() && !in->drainAfter) {
        in->drainAfter = true;
        in->stopReason = "replaced by a configuration change";
    }
    // (a learned N is always below instanceMaxRequests: adviseOnSelfRecycling learns no other)
    uint64_t maxRequests = learnedMaxRequests_ ? learnedMaxRequests_ : settings_.instanceMaxRequests;
    if (in->requests >= maxRequests || in->drainAfter) {
        terminate(in, in->drainAfter                                  ? in->stopReason
                      : maxRequests < settings_.instanceMaxRequests ? std::to_string(maxRequests) + " requests reached, the number after which the application exits by itself"
                                                                    : "instanceMaxRequests (" + std::to_string(settings_.instanceMaxRequests) + ") reached");
        if (!in->drainAfter)
            ++counters_.recycles;
    } else {
        setState(in, InstanceState::Idle, "request done");
    }
    dispatch();
    publish();
}

void FastCgiPool::failExchange(const std::shared_ptr<Instance>& in, int status, const std::string& detail, const std::string& cause)
{
    auto ex = in->exchange;
    if (!ex)
        return;
    in->exchange.reset();
    in->timer.cancel();
    if (cause == "crash")
        ++counters_.crashes;
    if (!ex->gone) {
        if (ex->streaming) {
            asio::post(ex->connExec, [ex] { ex->job.responder->abort(); });
        } else {
            std::string shown = detail;
            if (status == 500 && cause == "stderr" && settings_.stderrMode == StderrMode::ReturnGeneric500)
                shown.clear();
            asio::post(ex->connExec, [ex, status, shown] { ex->job.error(status, shown, {}); });
        }
    }
    // The connection's state is unknown after a failure: it is not reused.
    in->connected = false;
    asio::error_code ignored;
    in->socket.close(ignored);
    in->socket = Socket(strand_);
    in->out.clear();
    in->writing.clear();
    ++in->generation;
    if (in->state == InstanceState::Busy)
        setState(in, in->exited ? InstanceState::Failed : InstanceState::Idle, cause);
    dispatch();
    publish();
}

void FastCgiPool::crash(const std::shared_ptr<Instance>& in, const std::string& what)
{
    auto now = Clock::now();
    ++counters_.crashes;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - in->startedAt).count();
    std::string tail = in->stderrTail;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r'))
        tail.pop_back();
    std::string sentence = what + " after " + std::to_string(ms) + " ms" + (tail.empty() ? "" : "; stderr: \"" + tail + "\"");
    lastCrash_ = sentence;
    events_->add(log::Severity::Error, describe(), "pool.instance-failed",
                 "instance " + std::to_string(in->id) + (in->pid > 0 ? " (pid " + std::to_string(in->pid) + ")" : std::string()) + " " + sentence);
    bool appTripped = windows_->app.record(now);
    bool poolTripped = settings_.rapidFailProtection && windows_->pool.record(now);
    if (running_ && (appTripped || poolTripped)) {
        int count = poolTripped ? windows_->pool.count() : windows_->app.count();
        auto window = poolTripped ? std::chrono::duration_cast<std::chrono::seconds>(settings_.rapidFailInterval).count() : 60;
        std::string why = "pool " + settings_.poolName + " stopped by rapid-fail protection: " + std::to_string(count) + " crashes in " +
                          std::to_string(window) + " s; last: " + sentence;
        events_->add(log::Severity::Error, describe(), "pool.rapid-fail", why);
        stop(why);
    }
    if (in->state == InstanceState::Starting || in->state == InstanceState::Busy || in->state == InstanceState::Idle)
        setState(in, InstanceState::Failed, what);
    auto it = std::find(instances_.begin(), instances_.end(), in);
    if (it != instances_.end() && in->exited)
        instances_.erase(it);
    if (running_) {
        // A replacement starts for waiting requests, not in a tight loop: dispatch() decides.
        asio::post(strand_, [self = shared_from_this()] { self->dispatch(); });
    }
    publish();
}

void FastCgiPool::reportExit(const std::shared_ptr<Instance>& in)
{
    if (in->exitReported)
        return;
    in->exitReported = true;
    instanceExited(in, in->exitStatus);
}

void FastCgiPool::instanceExited(const std::shared_ptr<Instance>& in, int status)
{
    in->exited = true;
    in->killTimer.cancel();
    asio::error_code ignored;
    in->exitWatch.close(ignored);
    if (!settings_.tcp)
        ::unlink(in->address.c_str());
    std::string how = process::describeStatus(status);
    if (in->expectedExit) {
        events_->add(log::Severity::Info, describe(), "instance.stopped",
                     "instance " + std::to_string(in->id) + " (pid " + std::to_string(in->pid) + ") stopped (" + in->stopReason + ")" +
                         (in->signalSent.empty() ? std::string() : " after " + in->signalSent) + ": " + how);
        setState(in, InstanceState::Stopped, in->stopReason);
        if (in->exchange)
            failExchange(in, 502, "the FastCGI instance was stopped: " + in->stopReason, "timeout");
        instances_.erase(std::remove(instances_.begin(), instances_.end(), in), instances_.end());
        dispatch();
        publish();
        return;
    }
    // An exit with status 0 between requests (or before any byte of the next one came back) is
    // the application recycling itself, as php-cgi does after PHP_FCGI_MAX_REQUESTS: not a crash.
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && in->requests > 0 && (!in->exchange || !in->exchange->anyByte)) {
        selfRecycled(in);
        return;
    }
    // Any other exit nobody asked for is a crash. What it wrote to stderr is in the pipe: read it now.
    char chunk[4096];
    int errFd = in->stderrPipe.is_open() ? in->stderrPipe.native_handle() : -1;
    if (errFd >= 0) {
        ::fcntl(errFd, F_SETFL, O_NONBLOCK);
        ssize_t n;
        while ((n = ::read(errFd, chunk, sizeof chunk)) > 0)
            in->stderrTail.append(chunk, static_cast<size_t>(n));
        if (in->stderrTail.size() > 4096)
            in->stderrTail.erase(0, in->stderrTail.size() - 4096);
    }
    std::string what = (in->requests == 0 ? "exited before serving a request with " : "exited unexpectedly with ") + how;
    auto ex = in->exchange;
    if (ex) {
        std::string tail = in->stderrTail.empty() ? ex->stderrText : in->stderrTail;
        failExchange(in, 502, "the FastCGI application " + settings_.fullPath + " (pid " + std::to_string(in->pid) + ") exited with " + how +
                                  " while serving this request" + (tail.empty() ? "" : "; stderr: \"" + tail.substr(0, 4096) + "\""),
                     "crash-counted");
    }
    crash(in, what);
}

void FastCgiPool::selfRecycled(const std::shared_ptr<Instance>& in)
{
    ++counters_.selfRecycles;
    events_->add(log::Severity::Info, describe(), "instance.self-recycled",
                 "instance " + std::to_string(in->id) + " (pid " + std::to_string(in->pid) + ") recycled itself: it exited with status 0 after " +
                     std::to_string(in->requests) + " requests (not counted as a crash)");
    adviseOnSelfRecycling(in->requests);
    if (auto ex = in->exchange) {
        // Written on the kept connection, but nothing came back: the application never saw it.
        in->exchange.reset();
        in->timer.cancel();
        if (!ex->gone) {
            if (!ex->retried && ex->retriable) {
                ex->retried = true;
                ex->avoidFrom = in->requests;
                ex->pendingStdin = ex->sentStdin + ex->pendingStdin;
                ex->sentStdin.clear();
                ex->stdinClosed = false;
                ++counters_.retried;
                queue_.push_front(ex);
            } else {
                std::string why = "the FastCGI instance (pid " + std::to_string(in->pid) + ") exited with status 0 before answering" +
                                  std::string(ex->retried ? ", and the request had been sent again once already" : "; the request body was too large to send again");
                asio::post(ex->connExec, [ex, why] { ex->job.error(502, why, {}); });
            }
        }
    }
    setState(in, InstanceState::Stopped, "recycled itself");
    instances_.erase(std::remove(instances_.begin(), instances_.end(), in), instances_.end());
    if (settings_.alwaysRunning && running_ && !retired_)
        spawnInstance(); // as for instanceMaxRequests: the configured number keeps running
    dispatch();
    publish();
}

// Instances that keep exiting by themselves after the same number of requests N are better
// recycled by the pool at N: then no request is ever written to an instance about to exit.
void FastCgiPool::adviseOnSelfRecycling(uint64_t served)
{
    selfRecycleRuns_.push_back(served);
    while (selfRecycleRuns_.size() > 3)
        selfRecycleRuns_.pop_front();
    if (selfRecycleRuns_.size() < 3 || served >= settings_.instanceMaxRequests || served == learnedMaxRequests_)
        return;
    if (std::any_of(selfRecycleRuns_.begin(), selfRecycleRuns_.end(), [served](uint64_t n) { return n != served; }))
        return;
    learnedMaxRequests_ = served; // meanwhile the pool recycles them at N itself, before they exit under a request
    std::string n = std::to_string(served);
    counters_.advice = "instances exit by themselves after " + n + " requests (instanceMaxRequests is " +
                       std::to_string(settings_.instanceMaxRequests) + "): set instanceMaxRequests to " + n +
                       " or less (for php-cgi, or set PHP_FCGI_MAX_REQUESTS to at least instanceMaxRequests); until then Lido recycles them after " +
                       n + " requests itself";
    events_->add(log::Severity::Warning, describe(), "pool.self-recycle-advice", "pool " + settings_.poolName + ": " + counters_.advice);
}

void FastCgiPool::terminate(const std::shared_ptr<Instance>& in, const std::string& why)
{
    if (in->exited || in->expectedExit)
        return;
    in->expectedExit = true;
    in->stopReason = why;
    setState(in, InstanceState::Stopping, why);
    asio::error_code ignored;
    in->socket.close(ignored);
    in->connected = false;
    if (settings_.signalBeforeTerminateSeconds > 0) {
        // The IIS hotfix's termination signal: SIGTERM first, SIGKILL only if it is ignored.
        process::signalGroup(in->pid, SIGTERM);
        in->signalSent = "SIGTERM";
        in->killTimer.expires_after(std::chrono::seconds(settings_.signalBeforeTerminateSeconds));
        in->killTimer.async_wait([self = shared_from_this(), in](const asio::error_code& ec) {
            if (ec || in->exited)
                return;
            self->events_->add(log::Severity::Warning, self->describe(), "instance.killed",
                               "instance " + std::to_string(in->id) + " (pid " + std::to_string(in->pid) + ") did not exit within " +
                                   std::to_string(self->settings_.signalBeforeTerminateSeconds) + " s of SIGTERM; killed with SIGKILL");
            in->signalSent = "SIGTERM and SIGKILL";
            process::signalGroup(in->pid, SIGKILL);
        });
    } else {
        in->signalSent = "SIGKILL";
        process::signalGroup(in->pid, SIGKILL);
    }
}

void FastCgiPool::stop(const std::string& why)
{
    auto self = shared_from_this();
    asio::dispatch(strand_, [self, why] {
        if (!self->running_)
            return;
        self->running_ = false;
        self->stoppedReason_ = why;
        auto queued = std::move(self->queue_);
        self->queue_.clear();
        for (auto& ex : queued)
            asio::post(ex->connExec, [ex, why] { ex->job.error(503, "the application pool is stopped: " + why, {{"Retry-After", "60"}}); });
        for (auto& in : std::vector<std::shared_ptr<Instance>>(self->instances_)) {
            if (in->state == InstanceState::Busy) {
                in->drainAfter = true;
                in->stopReason = "pool stopped";
            } else {
                self->terminate(in, "pool stopped");
            }
        }
        self->events_->add(log::Severity::Warning, self->describe(), "pool.stopped", "pool " + self->settings_.poolName + " stopped: " + why);
        self->publish();
    });
}

void FastCgiPool::restart()
{
    asio::post(strand_, [self = shared_from_this()] {
        if (self->running_)
            return;
        self->running_ = true;
        self->stoppedReason_.clear();
        self->windows_->app.reset();
        self->windows_->pool.reset();
        self->events_->add(log::Severity::Info, self->describe(), "pool.started", "pool " + self->settings_.poolName + " started again");
        if (self->settings_.alwaysRunning)
            for (int i = 0; i < self->limit_; ++i)
                self->spawnInstance();
        self->publish();
    });
}

void FastCgiPool::recycle(const std::string& why)
{
    asio::post(strand_, [self = shared_from_this(), why] {
        ++self->counters_.recycles;
        self->generationStart_ = Clock::now();
        self->generationRequests_ = 0;
        if (self->settings_.logEventOnRecycle)
            self->events_->add(log::Severity::Info, self->describe(), "pool.recycled", "pool " + self->settings_.poolName + " recycled: " + why);
        // Overlapped: busy instances finish their request and stop; new requests start new ones.
        for (auto& in : std::vector<std::shared_ptr<Instance>>(self->instances_)) {
            if (in->state == InstanceState::Busy) {
                in->drainAfter = true;
                in->stopReason = "recycled: " + why;
                self->setState(in, InstanceState::Draining, why);
                in->state = InstanceState::Busy; // still serving; drainAfter stops it afterwards
            } else if (in->state == InstanceState::Idle || in->state == InstanceState::Starting) {
                self->terminate(in, "recycled: " + why);
            }
        }
        if (self->settings_.alwaysRunning && self->running_)
            for (int i = 0; i < self->limit_; ++i)
                self->spawnInstance();
        self->dispatch();
        self->publish();
    });
}

bool FastCgiPool::recycleInstance(int pid, const std::string& why)
{
    {
        std::lock_guard lock(metricsMutex_); // the published list: no waiting on the strand
        bool known = false;
        for (const auto& i : metrics_.instances)
            known = known || (i.pid == pid && i.state != InstanceState::Stopping && i.state != InstanceState::Stopped);
        if (!known)
            return false;
    }
    asio::post(strand_, [self = shared_from_this(), pid, why] {
        for (auto& in : std::vector<std::shared_ptr<Instance>>(self->instances_)) {
            if (in->pid != pid || in->exited || in->expectedExit)
                continue;
            ++self->counters_.recycles;
            self->events_->add(log::Severity::Info, self->describe(), "instance.recycled",
                               "instance " + std::to_string(in->id) + " (pid " + std::to_string(pid) + ") recycled: " + why);
            if (in->state == InstanceState::Busy) {
                in->drainAfter = true;
                in->stopReason = "recycled: " + why;
            } else {
                self->terminate(in, "recycled: " + why);
            }
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
        self->events_->add(log::Severity::Info, self->describe(), "pool.retired", "pool " + self->settings_.poolName + " (" +
                                                                                     self->counters_.application + ") replaced: " + why);
        for (auto& in : std::vector<std::shared_ptr<Instance>>(self->instances_)) {
            if (in->state == InstanceState::Busy) {
                in->drainAfter = true;
                in->stopReason = "replaced: " + why;
            } else if (self->queue_.empty()) {
                self->terminate(in, "replaced: " + why);
            }
        }
        self->publish();
    });
}

bool FastCgiPool::drained() const
{
    std::lock_guard lock(metricsMutex_);
    return metrics_.starting + metrics_.idle + metrics_.busy + metrics_.draining == 0 && metrics_.queued == 0 &&
           metrics_.instances.empty();
}

void FastCgiPool::tick()
{
    if (!ticker_)
        ticker_ = std::make_unique<asio::steady_timer>(strand_);
    ticker_->expires_after(std::chrono::seconds(1));
    ticker_->async_wait([weak = weak_from_this()](const asio::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self)
            return;
        auto now = Clock::now();
        for (auto& in : std::vector<std::shared_ptr<Instance>>(self->instances_)) {
            if (in->state == InstanceState::Idle && !self->settings_.alwaysRunning && now - in->lastActive > self->settings_.idleTimeout) {
                self->terminate(in, "idle for " + std::to_string(self->settings_.idleTimeout.count()) + " s");
                continue;
            }
            if (in->state == InstanceState::Idle && self->settings_.pingingEnabled && !in->pingPending &&
                now - std::max(in->lastActive, in->lastPing) >= self->settings_.pingInterval)
                self->ping(in);
            if (in->state == InstanceState::Busy && in->exchange && !in->firstRecordSeen &&
                now - in->exchange->startedAt > self->settings_.startupTimeLimit) {
                // A new instance that does not answer its first request in time failed to start.
                ++self->counters_.timeouts;
                auto secs = std::chrono::duration_cast<std::chrono::seconds>(self->settings_.startupTimeLimit).count();
                self->failExchange(in, 502, "the new FastCGI instance did not answer within startupTimeLimit (" + std::to_string(secs) + " s)",
                                   "timeout");
                self->crash(in, "did not answer its first request within startupTimeLimit (" + std::to_string(secs) + " s)");
                self->terminate(in, "startup timeout");
                continue;
            }
            if (in->state == InstanceState::Busy && in->exchange && in->firstRecordSeen && now - in->lastActive > self->settings_.activityTimeout) {
                ++self->counters_.timeouts;
                self->failExchange(in, 500, "the FastCGI application sent nothing for activityTimeout (" +
                                                std::to_string(self->settings_.activityTimeout.count()) + " s)", "timeout");
                self->terminate(in, "activity timeout");
            }
        }
        // maxInstances="0": tuned once a second (pool/Tuning.h), up to 8 per core.
        if (self->settings_.maxInstances == 0) {
            TuneInput t;
            t.limit = self->limit_;
            t.requestsWaited = self->waitedSinceTick_;
            for (auto& in : self->instances_)
                t.idleInstances += in->state == InstanceState::Idle;
            t.cpuIdle = self->cpuIdleSinceLastTick();
            t.cap = static_cast<int>(8 * std::max(1u, std::thread::hardware_concurrency()));
            int next = nextInstanceLimit(t);
            if (next != self->limit_) {
                self->events_->add(log::Severity::Debug, self->describe(), "pool.autotune",
                                   "maxInstances=0: " + std::to_string(self->limit_) + " -> " + std::to_string(next) + " instances");
                self->limit_ = next;
                self->dispatch();
            }
        }
        self->sampleSlowFigures();
        self->periodicRestart(now);
        self->waitedSinceTick_ = !self->queue_.empty();
        self->perSecond_ = static_cast<double>(self->counters_.completed - self->lastCompleted_);
        self->lastCompleted_ = self->counters_.completed;
        self->publish();
        self->tick();
    });
}

void FastCgiPool::periodicRestart(Clock::time_point now)
{
    if (!running_)
        return;
    auto recycleOnce = [&](const std::string& why) {
        generationStart_ = now; // also reset here, so the next tick does not ask again
        generationRequests_ = 0;
        recycle(why);
    };
    if (settings_.recycleAfterTime.count() > 0 && now - generationStart_ >= settings_.recycleAfterTime)
        return recycleOnce("periodicRestart time (" + std::to_string(settings_.recycleAfterTime.count() / 1000) + " s) reached");
    if (settings_.recycleAfterRequests > 0 && generationRequests_ >= settings_.recycleAfterRequests)
        return recycleOnce("periodicRestart requests (" + std::to_string(settings_.recycleAfterRequests) + ") reached");
    if (settings_.recycleMemoryKB > 0 || settings_.recyclePrivateMemoryKB > 0) {
        PoolMetrics m = metrics();
        for (const auto& i : m.instances) {
            uint64_t rssKB = i.rssBytes / 1024;
            if (settings_.recyclePrivateMemoryKB > 0 && rssKB > settings_.recyclePrivateMemoryKB)
                return recycleOnce("periodicRestart privateMemory (" + std::to_string(settings_.recyclePrivateMemoryKB) + " KB) exceeded by pid " +
                                   std::to_string(i.pid) + " (" + std::to_string(rssKB) + " KB)");
        }
        if (settings_.recycleMemoryKB > 0)
            for (const auto& in : instances_) {
                std::ifstream statm("/proc/" + std::to_string(in->pid) + "/statm");
                uint64_t pages = 0;
                if (in->exited || !(statm >> pages))
                    continue;
                uint64_t kb = pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
                if (kb > settings_.recycleMemoryKB)
                    return recycleOnce("periodicRestart memory (" + std::to_string(settings_.recycleMemoryKB) + " KB) exceeded by pid " +
                                       std::to_string(in->pid) + " (" + std::to_string(kb) + " KB virtual)");
            }
    }
    if (!settings_.recycleSchedule.empty()) {
        std::time_t t = std::time(nullptr);
        std::tm local{};
        localtime_r(&t, &local);
        int64_t second = local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec;
        int64_t previous = lastTickSecondOfDay_;
        lastTickSecondOfDay_ = second;
        if (previous >= 0 && previous != second)
            for (auto at : settings_.recycleSchedule) {
                int64_t s = at.count() / 1000;
                if (scheduleCrossed(previous, second, s)) {
                    char when[32];
                    std::snprintf(when, sizeof when, "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
                    return recycleOnce(std::string("periodicRestart schedule (") + when + ")");
                }
            }
    }
}

double FastCgiPool::cpuIdleSinceLastTick()
{
    // /proc/stat's first line: user nice system idle iowait irq softirq steal ...
    std::ifstream stat("/proc/stat");
    std::string cpu;
    uint64_t v, total = 0, idle = 0;
    stat >> cpu;
    for (int i = 0; i < 8 && (stat >> v); ++i) {
        total += v;
        if (i == 3 || i == 4)
            idle += v;
    }
    double fraction = 1.0;
    if (lastCpuTotal_ && total > lastCpuTotal_)
        fraction = static_cast<double>(idle - lastCpuIdle_) / static_cast<double>(total - lastCpuTotal_);
    lastCpuTotal_ = total;
    lastCpuIdle_ = idle;
    return fraction;
}

void FastCgiPool::watchFile()
{
    if (settings_.monitorChangesTo.empty())
        return;
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    std::string file = settings_.monitorChangesTo;
    auto slash = file.rfind('/');
    std::string dir = slash == std::string::npos ? "." : file.substr(0, std::max<size_t>(slash, 1));
    // The folder is watched, so that both in-place writes and atomic renames are seen.
    if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB) < 0) {
        events_->add(log::Severity::Warning, describe(), "pool.monitor-failed", "cannot watch " + file + ": " + std::strerror(errno));
        if (fd >= 0)
            ::close(fd);
        return;
    }
    inotify_ = std::make_unique<asio::posix::stream_descriptor>(strand_, fd);
    watchedName_ = slash == std::string::npos ? file : file.substr(slash + 1);
    readInotify();
}

void FastCgiPool::readInotify()
{
    // A weak reference: the watch must not keep the pool alive.
    inotify_->async_read_some(asio::buffer(inotifyBuf_), [weak = weak_from_this()](const asio::error_code& ec, size_t n) {
        auto self = weak.lock();
        if (ec || !self)
            return;
        bool hit = false;
        for (size_t off = 0; off + sizeof(inotify_event) <= n;) {
            auto* e = reinterpret_cast<const inotify_event*>(self->inotifyBuf_.data() + off);
            if (e->len && self->watchedName_ == e->name)
                hit = true;
            off += sizeof(inotify_event) + e->len;
        }
        if (hit)
            self->recycle("the monitored file " + self->settings_.monitorChangesTo + " changed");
        self->readInotify();
    });
}

void FastCgiPool::sampleSlowFigures()
{
    // Once a second (tick), not per request: sorting the latencies and reading /proc cost far
    // more than a FastCGI request (measured: publishing them per request cut fcgi-hello from
    // 22k to 8k req/s).
    if (!latencies_.empty()) {
        std::vector<double> sorted = latencies_;
        std::sort(sorted.begin(), sorted.end());
        auto at = [&](double q) { return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())))]; };
        p50_ = at(0.50);
        p90_ = at(0.90);
        p99_ = at(0.99);
    }
    static const long ticks = ::sysconf(_SC_CLK_TCK);
    static const long page = ::sysconf(_SC_PAGESIZE);
    procFigures_.clear();
    for (auto& in : instances_) {
        // RSS and CPU from /proc/PID/stat (fields 14, 15 and 24).
        if (in->pid <= 0 || in->exited)
            continue;
        std::ifstream stat("/proc/" + std::to_string(in->pid) + "/stat");
        std::string line;
        if (!std::getline(stat, line))
            continue;
        auto close = line.rfind(')');
        std::istringstream fields(close == std::string::npos ? std::string() : line.substr(close + 2));
        std::vector<std::string> f{std::istream_iterator<std::string>(fields), std::istream_iterator<std::string>()};
        if (f.size() > 21)
            procFigures_[in->pid] = {std::stoull(f[21]) * static_cast<uint64_t>(page),
                                     static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / static_cast<double>(ticks)};
    }
}

void FastCgiPool::publish()
{
    PoolMetrics m = counters_;
    m.running = running_;
    m.stoppedReason = stoppedReason_;
    m.maxInstances = limit_;
    m.queued = static_cast<int>(queue_.size());
    m.requestsPerSecond = perSecond_;
    m.maxInstancesReached = reachedMax_;
    m.p50Ms = p50_;
    m.p90Ms = p90_;
    m.p99Ms = p99_;
    auto now = Clock::now();
    for (auto& in : instances_) {
        InstanceState s = in->drainAfter && in->state == InstanceState::Busy ? InstanceState::Draining : in->state;
        m.starting += s == InstanceState::Starting;
        m.idle += s == InstanceState::Idle;
        m.busy += s == InstanceState::Busy;
        m.draining += s == InstanceState::Draining;
        InstanceMetrics im{in->pid, s, in->requests, std::chrono::duration<double>(now - in->startedAt).count(),
                           in->exchange ? in->exchange->job.url : std::string(), 0, 0};
        if (auto it = procFigures_.find(in->pid); it != procFigures_.end()) {
            im.rssBytes = it->second.first;
            im.cpuSeconds = it->second.second;
        }
        m.instances.push_back(std::move(im));
    }
    std::lock_guard lock(metricsMutex_);
    metrics_ = std::move(m);
}

PoolMetrics FastCgiPool::metrics() const
{
    std::lock_guard lock(metricsMutex_);
    return metrics_;
}

} // namespace lido::pool
