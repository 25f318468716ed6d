#pragma once
// Runs one CGI request: waits for a slot of its pool, spawns the program (retrying EAGAIN/ENOMEM
// with back-off), streams the body to stdin and stdout back to the client, enforces the timeout,
// and explains every misbehaving program: which one, its exit status or signal, how long it ran
// and the last 4 KiB of its stderr.
#include "cgi/CgiEnvironment.h"
#include "cgi/CgiLimiter.h"
#include "http/Connection.h"
#include "log/EventLog.h"
#include "log/Requests.h"
#include "process/Spawn.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace lido::cgi {

struct CgiJob {
    std::shared_ptr<http::Responder> responder;
    std::shared_ptr<CgiLimiter> limiter;
    std::shared_ptr<log::EventLog> events;
    std::string program;           // what is executed (the script, or its interpreter)
    std::vector<std::string> argv; // argv[0] included
    std::string scriptFile;        // named in messages
    std::string workingDirectory;
    CgiContext context;
    std::optional<process::Identity> identity;
    process::Limits limits;
    std::chrono::milliseconds timeout{900000};
    bool nph = false;
    // Renders an error response (the engine's error pages, detailed or not).
    std::function<void(int status, const std::string& detail, std::vector<http::Header> extra)> error;
    // RFC 3875 §6.2.2: a local redirect is served as a new GET of that path.
    std::function<void(const std::string& path)> localRedirect;
    std::shared_ptr<log::RequestTrack> track; // its phases, pid and stderr (may be null)
};

void runCgi(CgiJob job);

} // namespace lido::cgi
