#include "pool/Instance.h"

#include "util/Privileges.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace lido::pool {

void Exchange::fail(int status, std::string detail, std::vector<http::Header> extra)
{
    if (gone)
        return;
    asio::post(connExec, [self = shared_from_this(), status, detail = std::move(detail), extra = std::move(extra)]() mutable {
        self->job.error(status, detail, std::move(extra));
    });
}

Instance::Instance(const Strand& strand, int id)
    : timer(strand), strand_(strand), id_(id), socket_(strand), pingTimer_(strand)
{
}

Instance::~Instance()
{
    if (child)
        child->kill();
    removeSocketFile();
}

std::string Instance::name() const
{
    return "instance " + std::to_string(id_) + (pid() > 0 ? " (pid " + std::to_string(pid()) + ")" : std::string());
}

void Instance::removeSocketFile()
{
    if (unixSocket_)
        ::unlink(address_.c_str());
    unixSocket_ = false;
}

std::string Instance::spawn(const FastCgiSettings& s, const std::string& socketPath, bool batch)
{
    int listenFd = -1;
    if (s.tcp) {
        listenFd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (listenFd < 0 || ::bind(listenFd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(listenFd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || ::listen(listenFd, 64) != 0) {
            std::string e = std::string("cannot open a TCP socket: ") + std::strerror(errno);
            if (listenFd >= 0)
                ::close(listenFd);
            return e;
        }
        address_ = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
        endpoint_ = asio::generic::stream_protocol::endpoint(&a, sizeof a);
    } else {
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        if (socketPath.size() >= sizeof a.sun_path)
            return "socket path too long: " + socketPath;
        std::strcpy(a.sun_path, socketPath.c_str());
        ::unlink(socketPath.c_str());
        listenFd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listenFd < 0 || ::bind(listenFd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listenFd, 64) != 0) {
            std::string e = "cannot open the socket " + socketPath + ": " + std::strerror(errno);
            if (listenFd >= 0)
                ::close(listenFd);
            return e;
        }
        address_ = socketPath;
        unixSocket_ = true;
        // The pool's user owns its socket; the engine keeps its way in through the group (an
        // engine that is not root, the packaged service, has no other: connect needs write).
        // Mode first: once the file is another user's, changing it needs CAP_FOWNER.
        if (s.identity && util::canSwitchIdentity() && ::chmod(socketPath.c_str(), 0660) == 0)
            (void)::chown(socketPath.c_str(), s.identity->uid, ::getegid());
        endpoint_ = asio::generic::stream_protocol::endpoint(&a, sizeof a);
    }
    process::SpawnOptions o;
    o.program = s.fullPath;
    o.argv = {s.fullPath};
    std::istringstream words(s.arguments);
    for (std::string w; words >> w;)
        o.argv.push_back(w);
    o.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "_FCGI_X_PIPE_=" + address_};
    for (const auto& [k, v] : s.environment)
        o.env.push_back(k + "=" + v);
    auto slash = s.fullPath.rfind('/');
    o.workingDirectory = slash == std::string::npos ? std::string() : s.fullPath.substr(0, std::max<size_t>(slash, 1));
    o.identity = s.identity;
    o.limits = s.limits;
    o.batchScheduling = batch;
    o.stdinFd = listenFd;
    process::SpawnError error;
    startedAt = Clock::now();
    child = process::Child::spawn(strand_, std::move(o), &error);
    ::close(listenFd);
    if (!child) {
        removeSocketFile();
        return "could not be started: " + error.message +
               (error.err == ENOEXEC ? " (not a program for this machine: wrong architecture or no #! line)" : "");
    }
    return {};
}

void Instance::connect(std::function<void(const asio::error_code&)> done)
{
    link_ = Link::Connecting;
    socket_.async_connect(endpoint_, [self = shared_from_this(), done = std::move(done), g = generation_](const asio::error_code& ec) {
        if (g != self->generation_)
            return;
        self->link_ = ec ? Link::None : Link::Open;
        if (!ec && !self->out_.empty())
            self->writeNext();
        done(ec);
    });
}

void Instance::write(std::string data)
{
    out_ += data;
    writeNext();
}

void Instance::writeNext()
{
    if (!writing_.empty() || link_ != Link::Open || out_.empty())
        return;
    writing_ = std::move(out_);
    out_.clear();
    asio::async_write(socket_, asio::buffer(writing_), [self = shared_from_this(), g = generation_](const asio::error_code& ec, size_t) {
        if (g != self->generation_)
            return; // a connection dropped meanwhile
        self->writing_.clear();
        if (ec) {
            self->out_.clear();
            return; // the read side sees the broken connection and reports it
        }
        self->writeNext();
    });
}

void Instance::read(std::function<void(const asio::error_code&, std::string_view)> done)
{
    // A read, not a wait for readiness and then a read: Asio's epoll is edge-triggered, and a wait
    // queued after another thread's reactor took the edge of an answer already there waits for
    // ever (TSan's slow run of tst_fastcgipool lost 2 of 5,000 answers so). The read is tried at
    // once and queued under the descriptor's lock, which sees such an edge.
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this(), done = std::move(done), g = generation_](const asio::error_code& ec,
                                                                                                                  size_t n) {
        if (g != self->generation_)
            return;
        done(ec, std::string_view(self->buf_.data(), n));
    });
}

void Instance::drop()
{
    asio::error_code ignored;
    socket_.close(ignored);
    socket_ = asio::generic::stream_protocol::socket(strand_);
    link_ = Link::None;
    out_.clear();
    writing_.clear();
    ++generation_;
}

void Instance::sendAbort()
{
    if (link_ != Link::Open)
        return;
    write(fastcgi::encodeAbort(1)); // after what is being written, never inside it
}

void Instance::askValues(std::chrono::milliseconds limit, std::function<void(const PingResult&)> done)
{
    pingDone_ = std::move(done);
    lastPing = Clock::now();
    pingParser_ = fastcgi::RecordParser();
    pingTimer_.expires_after(limit);
    pingTimer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
        if (!ec)
            self->pinged({PingResult::Kind::TimedOut, {}});
    });
    auto send = [self = shared_from_this()] {
        // Two names, 33 bytes of content and 7 of padding: libfcgi reads a management record whose
        // content ends exactly at the end of what it has read as "more to come" and blocks
        // (measured: asking for the three names, 48 bytes, went unanswered until the next record).
        self->write(fastcgi::encodeGetValues({"FCGI_MAX_CONNS", "FCGI_MPXS_CONNS"}));
        self->readValues();
    };
    if (connected())
        return send();
    connect([self = shared_from_this(), send](const asio::error_code& ec) {
        if (ec)
            return self->pinged({PingResult::Kind::Lost, "refused the ping connection: " + ec.message()});
        send();
    });
}

void Instance::readValues()
{
    read([self = shared_from_this()](const asio::error_code& ec, std::string_view bytes) {
        if (!self->pingDone_)
            return;
        if (ec)
            return self->pinged({PingResult::Kind::Lost, "closed the connection instead of answering a ping (" + ec.message() + ")"});
        std::optional<PingResult> answer;
        std::string err = self->pingParser_.feed(bytes, [&](const fastcgi::Record& r) {
            if (answer || r.requestId != 0 || (r.type != fastcgi::Type::GetValuesResult && r.type != fastcgi::Type::UnknownType))
                return;
            std::string values;
            if (r.type == fastcgi::Type::GetValuesResult)
                if (auto nv = fastcgi::decodeNameValues(r.content))
                    for (const auto& [k, v] : *nv)
                        values += (values.empty() ? "" : ", ") + k + "=" + v;
            answer = PingResult{PingResult::Kind::Answered, values.empty() ? std::string("no values") : values};
        });
        if (!err.empty())
            return self->pinged({PingResult::Kind::ProtocolError, "answered a ping with a FastCGI protocol error: " + err});
        if (answer)
            return self->pinged(*answer);
        self->readValues();
    });
}

void Instance::pinged(PingResult r)
{
    if (!pingDone_)
        return;
    pingTimer_.cancel();
    auto done = std::move(pingDone_);
    pingDone_ = nullptr;
    if (r.kind == PingResult::Kind::Answered)
        lastPing = Clock::now();
    else if (r.kind == PingResult::Kind::Lost)
        drop();
    done(r);
}

} // namespace lido::pool
