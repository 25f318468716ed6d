#include "admin/AdminServer.h"

#include "admin/AdminJson.h"
#include "config/Config.h"
#include "config/ConfigHistory.h"
#include "engine/ConfigReloader.h"
#include "engine/Engine.h"

#include <algorithm>
#include <asio.hpp>
#include <cerrno>
#include <cstring>
#include <grp.h>
#include <optional>
#include <vector>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace lido::admin {

using nlohmann::json;
using Local = asio::local::stream_protocol;

std::string defaultSocketPath()
{
    if (const char* service = std::getenv("RUNTIME_DIRECTORY"); service && *service) // systemd's RuntimeDirectory=
        return std::string(service) + "/admin.sock";
    if (::geteuid() == 0)
        return "/run/lido/admin.sock";
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg)
        return std::string(xdg) + "/lido/admin.sock";
    return "/tmp/lido-" + std::to_string(::geteuid()) + "/admin.sock";
}

std::string clientSocketPath()
{
    std::string own = defaultSocketPath();
    if (::access(own.c_str(), F_OK) == 0)
        return own;
    if (::access("/run/lido/admin.sock", F_OK) == 0)
        return "/run/lido/admin.sock";
    return own;
}

namespace {

constexpr size_t kMaxLine = 1 << 20;

// Whether the peer is root, the engine's own user, or a member of the admin group (primary or
// supplementary: SO_PEERGROUPS, Linux 4.13).
bool peerAllowed(int fd, std::optional<gid_t> adminGroup, ucred& cred)
{
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return false;
    if (cred.uid == ::geteuid() || cred.uid == 0)
        return true;
    if (!adminGroup)
        return false;
    if (cred.gid == *adminGroup)
        return true;
    std::vector<gid_t> groups(64);
    for (int attempt = 0; attempt < 2; ++attempt) {
        socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
            groups.resize(size / sizeof(gid_t));
            return std::find(groups.begin(), groups.end(), *adminGroup) != groups.end();
        }
        if (errno != ERANGE)
            return false;
        groups.resize(size / sizeof(gid_t) + 1);
    }
    return false;
}

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(Local::socket socket, engine::Engine& engine, engine::ConfigReloader& reloader, const std::string& configPath)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), engine_(engine), reloader_(reloader), configPath_(configPath)
    {
    }

    void start(std::optional<gid_t> adminGroup)
    {
        ucred cred{};
        if (!peerAllowed(socket_.native_handle(), adminGroup, cred)) {
            // The socket's mode already keeps others out; this holds even if it was loosened.
            send(json{{"ok", false}, {"error", "permission denied: uid " + std::to_string(cred.uid) + " is not the engine's user (uid " +
                                                   std::to_string(::geteuid()) + "), root" +
                                                   (adminGroup ? " or a member of group " + std::to_string(*adminGroup) : std::string())}});
            closeAfterWrite_ = true;
            return;
        }
        read();
    }

private:
    void read()
    {
        asio::async_read_until(socket_, asio::dynamic_buffer(in_, kMaxLine), '\n', [self = shared_from_this()](const asio::error_code& ec, size_t n) {
            if (ec) {
                if (ec == asio::error::not_found) // longer than kMaxLine
                    self->send(json{{"ok", false}, {"error", "request longer than 1 MiB"}}), self->closeAfterWrite_ = true;
                else if (ec == asio::error::eof && (self->writing_ || !self->out_.empty() || !self->in_.empty())) {
                    // The client said all it had (a bridge's input ended): a last line without
                    // its newline is answered too, and the answers go out before the close.
                    std::string last = std::move(self->in_);
                    self->in_.clear();
                    if (!last.empty() && last.back() == '\r')
                        last.pop_back();
                    self->closeAfterWrite_ = true;
                    if (!last.empty())
                        self->handle(last);
                    else if (!self->writing_)
                        self->flush(); // nothing left to write: finish now (else the write's end does)
                } else {
                    self->close();
                }
                return;
            }
            std::string line = self->in_.substr(0, n - 1);
            self->in_.erase(0, n);
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            if (!line.empty())
                self->handle(line);
            self->read();
        });
    }

    void handle(const std::string& line)
    {
        json request;
        try {
            request = json::parse(line);
        } catch (const json::exception& e) {
            send(json{{"ok", false}, {"error", std::string("malformed JSON: ") + e.what()}});
            return;
        }
        json reply{{"ok", true}};
        if (request.is_object() && request.contains("id"))
            reply["id"] = request["id"];
        try {
            if (!request.is_object() || !request.contains("op") || !request["op"].is_string())
                throw std::runtime_error("a request is an object with \"op\"");
            reply["result"] = run(request["op"].get<std::string>(), request);
        } catch (const std::exception& e) {
            reply["ok"] = false;
            reply["error"] = e.what();
            reply.erase("result");
        }
        send(reply);
    }

    static std::string need(const json& r, const char* key)
    {
        auto it = r.find(key);
        if (it == r.end() || !it->is_string() || it->get<std::string>().empty())
            throw std::runtime_error(std::string("missing \"") + key + "\"");
        return it->get<std::string>();
    }

    json run(const std::string& op, const json& r)
    {
        if (op == "snapshot" || op == "pools" || op == "sites") {
            json snap = json::parse(snapshotJson(engine_.snapshot()));
            if (op == "pools")
                return json{{"fastcgi", snap["fastcgi"]}, {"cgi", snap["cgi"]}};
            if (op == "sites")
                return snap["sites"];
            return snap;
        }
        if (op == "events") {
            json out = json::array();
            for (const log::Event& e : engine_.events()->since(r.value("since", uint64_t(0))))
                out.push_back(json::parse(eventJson(e)));
            return out;
        }
        if (op == "subscribe") {
            subscribed_ = true;
            lastSeq_ = r.value("since", engine_.events()->since(0).empty() ? uint64_t(0) : engine_.events()->since(0).back().seq);
            tick();
            return "subscribed";
        }
        if (op == "start" || op == "stop" || op == "recycle") {
            if (r.contains("site")) {
                if (op == "recycle")
                    throw std::runtime_error("a site is started or stopped, not recycled");
                auto done = engine_.controlSite(need(r, "site"), op == "start" ? engine::SiteAction::Start : engine::SiteAction::Stop);
                if (!done)
                    throw std::runtime_error(done.error());
                return op == "start" ? "started" : "stopped";
            }
            if (op == "recycle" && r.contains("pid")) {
                auto done = engine_.recycleInstance(need(r, "pool"), r["pid"].get<int>());
                if (!done)
                    throw std::runtime_error(done.error());
                return "recycled";
            }
            auto action = op == "start" ? engine::PoolAction::Start : op == "stop" ? engine::PoolAction::Stop : engine::PoolAction::Recycle;
            auto done = engine_.controlPool(need(r, "pool"), action);
            if (!done)
                throw std::runtime_error(done.error());
            return op == "start" ? "started" : op == "stop" ? "stopped" : "recycled";
        }
        if (op == "requests")
            return json::parse(requestsJson(engine_.requests(r.value("pool", std::string()))));
        if (op == "traces")
            return json::parse(traceSummariesJson(engine_.traces(r.value("site", std::string()), r.value("limit", size_t(100)))));
        if (op == "trace") {
            auto text = engine_.trace(need(r, "trace")); // ("id" is the request's own, echoed in the answer)
            if (!text)
                throw std::runtime_error(text.error());
            return json::parse(*text);
        }
        if (op == "drain" || op == "undrain") {
            engine_.drain(op == "drain", r.value("reason", std::string(op == "drain" ? "lidoctl drain" : "lidoctl undrain")));
            return op == "drain" ? "draining: /health answers 503, requests are served on" : "serving: /health answers 200";
        }
        if (op == "reload") {
            auto done = reloader_.reload("admin request");
            if (!done)
                throw std::runtime_error(done.error());
            return *done;
        }
        if (op == "validate") {
            std::string path = r.value("path", configPath_);
            auto config = config::loadConfig(path);
            if (!config)
                throw std::runtime_error(config.error());
            json diagnostics = json::array();
            for (const config::Diagnostic& d : (*config)->diagnostics())
                if (d.severity != config::Diagnostic::Severity::Ignored)
                    diagnostics.push_back(d.str());
            return json{{"path", path}, {"valid", (*config)->valid()}, {"diagnostics", diagnostics}};
        }
        if (op == "config") {
            auto running = engine_.config();
            return json{{"path", configPath_}, {"text", running ? running->text() : std::string()}};
        }
        if (op == "history") {
            auto running = engine_.config();
            auto history = config::historyFor(configPath_, running.get());
            json out = json::array();
            for (const config::HistoryEntry& e : history.list())
                out.push_back({{"id", e.id}, {"time", static_cast<int64_t>(e.time)}, {"size", e.size}});
            return out;
        }
        if (op == "poolHistory") {
            // [time in ms, requests/s, busy, total, queued, p99 ms, crash, timeout, queue full,
            // protocol, stderr, ping]: compact, a pool's hour is 360 of these.
            json out = json::array();
            for (const engine::PoolPoint& p : engine_.poolHistory(r.value("pool", std::string()), r.value("hour", false))) {
                json row{std::chrono::duration_cast<std::chrono::milliseconds>(p.time.time_since_epoch()).count(),
                         p.requestsPerSecond, p.busy, p.total, p.queued, p.p99Ms};
                for (uint16_t f : p.failures)
                    row.push_back(f);
                out.push_back(std::move(row));
            }
            return out;
        }
        throw std::runtime_error("unknown operation '" + op +
                                 "' (snapshot, pools, sites, events, subscribe, start, stop, recycle, drain, undrain, requests, traces, trace, reload, validate, "
                                 "config, history, poolHistory)");
    }

    void tick()
    {
        timer_.expires_after(std::chrono::seconds(1));
        timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (ec || !self->socket_.is_open())
                return;
            for (const log::Event& e : self->engine_.events()->since(self->lastSeq_)) {
                self->lastSeq_ = e.seq;
                self->send(json{{"stream", "event"}, {"event", json::parse(eventJson(e))}});
            }
            // With the running requests: the console lists them under the pool's instances.
            self->send(json{{"stream", "snapshot"}, {"snapshot", json::parse(snapshotJson(self->engine_.snapshot(true)))}});
            self->tick();
        });
    }

    void send(const json& message)
    {
        out_ += message.dump() + "\n";
        if (writing_)
            return;
        flush();
    }

    void flush()
    {
        if (out_.empty()) {
            if (closeAfterWrite_)
                finish();
            return;
        }
        writing_ = true;
        auto data = std::make_shared<std::string>(std::move(out_));
        out_.clear();
        asio::async_write(socket_, asio::buffer(*data), [self = shared_from_this(), data](const asio::error_code& ec, size_t) {
            self->writing_ = false;
            if (ec) {
                self->close();
                return;
            }
            self->flush();
        });
    }

    // Ends a refused connection without losing the last answer: closing with the client's
    // request unread would reset the connection and the answer with it.
    void finish()
    {
        asio::error_code ignored;
        socket_.shutdown(Local::socket::shutdown_send, ignored);
        auto sink = std::make_shared<std::array<char, 4096>>();
        drain(sink);
    }

    void drain(std::shared_ptr<std::array<char, 4096>> sink)
    {
        socket_.async_read_some(asio::buffer(*sink), [self = shared_from_this(), sink](const asio::error_code& ec, size_t) {
            if (ec)
                self->close();
            else
                self->drain(sink);
        });
    }

    void close()
    {
        asio::error_code ignored;
        timer_.cancel();
        socket_.close(ignored);
    }

    Local::socket socket_;
    asio::steady_timer timer_;
    engine::Engine& engine_;
    engine::ConfigReloader& reloader_;
    const std::string& configPath_;
    std::string in_, out_;
    bool writing_ = false, closeAfterWrite_ = false, subscribed_ = false;
    uint64_t lastSeq_ = 0;
};

} // namespace

struct AdminServer::Impl {
    engine::Engine& engine;
    engine::ConfigReloader& reloader;
    std::string configPath, socketPath;
    std::optional<gid_t> adminGroup;
    asio::io_context io{1};
    std::unique_ptr<Local::acceptor> acceptor;
    std::thread thread;

    void accept()
    {
        acceptor->async_accept([this](const asio::error_code& ec, Local::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor->is_open())
                return;
            if (!ec)
                std::make_shared<Session>(std::move(socket), engine, reloader, configPath)->start(adminGroup);
            accept();
        });
    }
};

AdminServer::AdminServer(engine::Engine& engine, engine::ConfigReloader& reloader, std::string configPath)
    : impl_(new Impl{engine, reloader, std::move(configPath), {}, {}, {}, {}, {}})
{
}

AdminServer::~AdminServer()
{
    if (impl_->acceptor) {
        asio::post(impl_->io, [this] {
            asio::error_code ignored;
            impl_->acceptor->close(ignored);
        });
    }
    impl_->io.stop();
    if (impl_->thread.joinable())
        impl_->thread.join();
    if (!impl_->socketPath.empty())
        ::unlink(impl_->socketPath.c_str());
}

Result<void> AdminServer::listen(const std::string& socketPath, const std::string& adminGroup)
{
    if (!adminGroup.empty()) {
        group* g = ::getgrnam(adminGroup.c_str());
        if (!g)
            return fail("the admin group " + adminGroup + " does not exist");
        impl_->adminGroup = g->gr_gid;
    }
    auto slash = socketPath.rfind('/');
    if (slash != std::string::npos && slash > 0) {
        std::string folder = socketPath.substr(0, slash);
        // Owner only (with an admin group: others may pass through to the socket, whose own mode
        // decides); an existing folder keeps its mode.
        ::mkdir(folder.c_str(), adminGroup.empty() ? 0700 : 0711);
    }
    // A socket file left by an engine that died is replaced; a live engine's is not.
    if (::access(socketPath.c_str(), F_OK) == 0) {
        asio::io_context probe;
        Local::socket s(probe);
        asio::error_code ec;
        s.connect(Local::endpoint(socketPath), ec);
        if (!ec)
            return fail("another engine already answers on " + socketPath);
        ::unlink(socketPath.c_str());
    }
    asio::error_code ec;
    auto acceptor = std::make_unique<Local::acceptor>(impl_->io);
    mode_t old = ::umask(0177); // the socket is created 0600
    acceptor->open(Local(), ec);
    if (!ec)
        acceptor->bind(Local::endpoint(socketPath), ec);
    ::umask(old);
    if (!ec)
        acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return fail("cannot open the admin socket " + socketPath + ": " + ec.message());
    if (impl_->adminGroup) {
        // The group's members connect too: rw for the group. The chown needs root, CAP_CHOWN or
        // the engine's own membership of the group; without it there is no channel, not a wider one.
        if (::chown(socketPath.c_str(), static_cast<uid_t>(-1), *impl_->adminGroup) != 0) {
            int e = errno;
            ::unlink(socketPath.c_str());
            return fail("cannot give the admin socket " + socketPath + " to group " + adminGroup + ": " + std::strerror(e));
        }
        ::chmod(socketPath.c_str(), 0660);
    } else {
        ::chmod(socketPath.c_str(), 0600);
    }
    impl_->socketPath = socketPath;
    impl_->acceptor = std::move(acceptor);
    impl_->accept();
    impl_->thread = std::thread([this] {
        auto work = asio::make_work_guard(impl_->io);
        impl_->io.run();
    });
    return {};
}

} // namespace lido::admin
