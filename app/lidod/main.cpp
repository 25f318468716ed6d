// lidod: the headless engine. Runs in the foreground; SIGTERM and SIGINT stop it gracefully,
// SIGHUP (systemd's ExecReload) re-reads the configuration, as does any change to the file;
// SIGUSR1 reopens the event and access logs (logrotate's postrotate, as nginx's USR1).
// Speaks systemd's notify protocol when NOTIFY_SOCKET is set (Type=notify), and works without it.
// With lido/shutdown/@drainDelay, SIGTERM first drains (/health answers 503) for that long; a
// second SIGTERM or SIGINT cuts the delay short. As a container's PID 1 it reaps orphans (Init.h).
#include "Init.h"
#include "admin/AdminServer.h"
#include "config/Config.h"
#include "config/Values.h"
#include "engine/ConfigReloader.h"
#include "engine/Engine.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cstddef>
#include <ctime>
#include <iostream>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace lido;

namespace {

// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET ("@" = abstract namespace).
void notifySystemd(const std::string& state)
{
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    size_t len = std::strlen(path);
    if (len >= sizeof a.sun_path)
        return;
    std::memcpy(a.sun_path, path, len);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = '\0';
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&a),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
    ::close(fd);
}

std::string summary(const engine::Engine& engine)
{
    auto snap = engine.snapshot();
    int sites = 0, pools = 0, stopped = 0;
    for (const auto& s : snap.sites)
        sites += s.started;
    for (const auto& p : snap.fastcgi) {
        ++pools;
        stopped += !p.running;
    }
    return std::to_string(sites) + (sites == 1 ? " site serving, " : " sites serving, ") + std::to_string(pools) + (pools == 1 ? " FastCGI pool" : " FastCGI pools") +
           (stopped ? " (" + std::to_string(stopped) + " stopped)" : "");
}

uint64_t monotonicMicros()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// SIGTERM with lido/shutdown/@drainDelay: /health answers 503 for that long while requests are
// served, so that load balancers take the node out before it stops accepting. Another SIGTERM
// or SIGINT ends the wait; SIGUSR1 still reopens the logs.
void drainFirst(engine::Engine& engine, const sigset_t& signals)
{
    auto config = engine.config();
    const config::ConfigElement* s = config ? config->section("lido/shutdown") : nullptr;
    uint64_t ms = s ? config::parseTimeSpan(s->get("drainDelay")).value_or(0) : 0;
    if (ms == 0)
        return;
    engine.drain(true, "SIGTERM: stopping in " + config::formatTimeSpan(ms));
    notifySystemd("STATUS=draining for " + std::to_string(ms / 1000) + " s before stopping");
    timespec end{};
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += static_cast<time_t>(ms / 1000);
    end.tv_nsec += static_cast<long>((ms % 1000) * 1000000);
    if (end.tv_nsec >= 1000000000L) {
        ++end.tv_sec;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        timespec now{};
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left = (end.tv_sec - now.tv_sec) * 1000000000LL + (end.tv_nsec - now.tv_nsec);
        if (left <= 0)
            return;
        timespec wait{static_cast<time_t>(left / 1000000000LL), static_cast<long>(left % 1000000000LL)};
        int sig = sigtimedwait(&signals, nullptr, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            engine.events()->add(log::Severity::Info, "engine", "engine.drain-cut", "a second signal: stopping without the rest of the drain delay");
            return;
        }
        if (sig == SIGUSR1)
            engine.reopenLogs();
    }
}

} // namespace

int main(int argc, char** argv)
{
    if (int status = lidod::initIfPid1(); status >= 0)
        return status;
    CLI::App app{"lidod: the Lido engine"};
    std::string file, logDir, adminSocket = admin::defaultSocketPath(), adminGroup;
    bool check = false, noWatch = false;
    int threads = 0;
    int graceSeconds = 10;
    app.add_option("--config", file, "configuration file")->required();
    app.add_flag("--check", check, "validate the configuration and exit");
    app.add_option("--threads", threads, "I/O threads (default: half the cores, at least one)");
    app.add_option("--log-dir", logDir, "folder of the event log and default access logs");
    app.add_option("--grace", graceSeconds, "seconds in-flight requests get at shutdown");
    app.add_option("--admin-socket", adminSocket, "the admin channel's Unix socket (\"none\": no admin channel)")->capture_default_str();
    app.add_option("--admin-group", adminGroup, "members of this group may use the admin channel too (socket mode 0660)");
    app.add_flag("--no-watch", noWatch, "do not watch the configuration file (SIGHUP still reloads)");
    CLI11_PARSE(app, argc, argv);

    auto config = config::loadConfig(file);
    if (!config) {
        std::cerr << config.error() << "\n";
        return 2;
    }
    for (const config::Diagnostic& d : (*config)->diagnostics())
        if (d.severity != config::Diagnostic::Severity::Ignored)
            std::cerr << d.str() << "\n";
    if (!(*config)->valid()) {
        std::cerr << file << ": invalid, not started\n";
        return 1;
    }
    if (check) {
        std::cout << file << ": valid\n";
        return 0;
    }
    if (logDir.empty())
        if (const config::ConfigElement* l = (*config)->section("lido/log"))
            logDir = l->get("directory");

    // Signals are taken by sigwait in this thread; the engine's threads inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    sigaddset(&signals, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    engine::Engine engine(engine::EngineOptions{threads, logDir, true, {}});
    if (auto r = engine.start(*config); !r) {
        std::cerr << "lidod: " << r.error() << "\n";
        bool anyStarted = false;
        for (const auto& s : engine.snapshot().sites)
            anyStarted = anyStarted || s.started;
        if (!anyStarted) {
            engine.stop(std::chrono::milliseconds(0));
            return 1;
        }
    }
    engine.events()->add(log::Severity::Info, "engine", "engine.started", "lidod serving " + file);
    engine::ConfigReloader reloader(engine, file);
    if (!noWatch)
        if (auto w = reloader.watch(); !w)
            engine.events()->add(log::Severity::Warning, "engine", "config.watch", w.error() + "; SIGHUP still reloads");
    admin::AdminServer adminServer(engine, reloader, file);
    if (adminSocket != "none") {
        if (auto l = adminServer.listen(adminSocket, adminGroup); !l)
            engine.events()->add(log::Severity::Error, "engine", "admin.listen", l.error());
        else
            engine.events()->add(log::Severity::Info, "engine", "admin.listen", "admin channel on " + adminSocket);
    }
    notifySystemd("READY=1\nSTATUS=" + summary(engine));
    for (;;) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGUSR1) {
            engine.reopenLogs();
            continue;
        }
        if (sig == SIGHUP) {
            notifySystemd("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonicMicros()));
            auto r = reloader.reload("SIGHUP");
            engine.events()->add(r ? log::Severity::Info : log::Severity::Error, "engine", "engine.reload",
                                 "SIGHUP: " + (r ? *r : "not applied: " + r.error()));
            notifySystemd("READY=1\nSTATUS=" + summary(engine));
            continue;
        }
        std::string name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
        if (sig == SIGTERM)
            drainFirst(engine, signals);
        engine.events()->add(log::Severity::Info, "engine", "engine.stopping", "stopping on " + name);
        break;
    }
    notifySystemd("STOPPING=1");
    engine.stop(std::chrono::seconds(graceSeconds));
    return 0;
}
