// lidod: the headless engine. Runs in the foreground; SIGTERM and SIGINT stop it gracefully.
#include "config/Config.h"
#include "engine/Engine.h"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>

using namespace lido;

int main(int argc, char** argv)
{
    CLI::App app{"lidod: the Lido engine"};
    std::string file, logDir;
    bool check = false;
    int threads = 0;
    int graceSeconds = 10;
    app.add_option("--config", file, "configuration file")->required();
    app.add_flag("--check", check, "validate the configuration and exit");
    app.add_option("--threads", threads, "I/O threads (default: one per core)");
    app.add_option("--log-dir", logDir, "folder of the event log and default access logs");
    app.add_option("--grace", graceSeconds, "seconds in-flight requests get at shutdown");
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
    for (;;) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig == SIGHUP) {
            engine.events()->add(log::Severity::Warning, "engine", "engine.reload",
                                 "SIGHUP: live reload is not implemented yet; restart lidod to apply changes");
            continue;
        }
        engine.events()->add(log::Severity::Info, "engine", "engine.stopping",
                             std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
        break;
    }
    engine.stop(std::chrono::seconds(graceSeconds));
    return 0;
}
