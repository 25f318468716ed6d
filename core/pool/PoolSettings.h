#pragma once
// What a FastCGI pool is told: its settings (from the fastCgi application and its application
// pool, typed once by engine/Settings) and the requests it is given.
#include "cgi/CgiResponseParser.h"
#include "fastcgi/FcgiProtocol.h"
#include "pool/FcgiExchange.h"
#include "http/Connection.h"
#include "log/Requests.h"
#include "process/Spawn.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lido::pool {

struct FastCgiSettings {
    std::string poolName;         // the application pool
    std::string fullPath;
    std::string arguments;
    int maxInstances = 4;         // 0: tuned to the load
    std::chrono::seconds idleTimeout{300};
    std::chrono::seconds activityTimeout{30};
    std::chrono::seconds requestTimeout{90};
    uint64_t instanceMaxRequests = 200;
    bool tcp = false;
    size_t queueLength = 1000;
    int rapidFailsPerMinute = 10;
    StderrMode stderrMode = StderrMode::ReturnStdErrIn500;
    int signalBeforeTerminateSeconds = 0;
    std::string monitorChangesTo;
    cgi::HeaderSyntax headerSyntax = cgi::HeaderSyntax::Strict;
    // schedulingPolicy: Batch runs the instances under SCHED_BATCH; Auto starts them so and moves
    // them to the kernel's default while they mostly wait (see FastCgiPool::chooseScheduling).
    enum class Scheduling { Auto, Batch, Normal };
    Scheduling scheduling = Scheduling::Auto;
    std::vector<std::pair<std::string, std::string>> environment;
    std::vector<std::string> utf8ServerVariables; // passed decoded and checked as UTF-8 (the IIS hotfix's list)
    std::optional<process::Identity> identity;
    std::string identityShown; // "www-data (uid 33)"
    std::string identityError; // no identity to run as: instances do not start
    process::Limits limits;
    std::string runtimeDirectory; // sockets live here
    // From the application pool:
    bool rapidFailProtection = true;
    int rapidFailMaxCrashes = 5;
    std::chrono::milliseconds rapidFailInterval{300000};
    std::chrono::milliseconds restartBackoff{1000}; // after a failed start; doubled for each one in a row, at most 60 s
    std::chrono::milliseconds startupTimeLimit{90000};
    bool pingingEnabled = true;           // FCGI_GET_VALUES at start and on idle instances
    std::chrono::milliseconds pingInterval{30000};
    std::chrono::milliseconds pingResponseTime{90000};
    bool alwaysRunning = false;
    bool logEventOnRecycle = true;
    bool disallowOverlappingRotation = false;
    // recycling/periodicRestart (0 = off)
    uint64_t recycleAfterRequests = 0;
    std::chrono::milliseconds recycleAfterTime{0};
    uint64_t recycleMemoryKB = 0;        // virtual memory of any instance
    uint64_t recyclePrivateMemoryKB = 0; // resident memory of any instance
    std::vector<std::chrono::milliseconds> recycleSchedule; // times of day (local)
    size_t responseBufferLimit = 4 * 1024 * 1024;
    bool operator==(const FastCgiSettings&) const = default; // a live apply keeps a pool whose settings are equal
};

struct FastCgiJob {
    std::shared_ptr<http::Responder> responder;
    fastcgi::NameValues params;
    std::string url;
    std::function<void(int status, const std::string& detail, std::vector<http::Header> extra)> error; // runs on the connection's thread
    std::optional<std::string> body; // a chunked body collected before submitting (CONTENT_LENGTH is required)
    std::shared_ptr<log::RequestTrack> track; // its phases, pid and stderr for the board and traces (may be null)
};

} // namespace lido::pool
