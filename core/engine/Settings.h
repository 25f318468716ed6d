#pragma once
// Configuration -> typed settings: a FastCGI process pool's, from its fastCgi/application and
// its application pool (processModel, failure, recycling), parsed once per applied configuration.
#include "config/Config.h"
#include "engine/PoolIdentity.h"
#include "pool/PoolSettings.h"
#include "process/Spawn.h"

#include <chrono>
#include <string>

namespace lido::engine {

// An application pool's settings, parsed once per applied configuration: who its programs run
// as, their rlimits, its CGI limiter's size, and the part of every FastCGI pool's settings that
// comes from it (processModel, failure, recycling).
struct AppPoolSettings {
    std::string name;
    PoolIdentity identity;
    process::Limits limits;
    int cgiMaxConcurrent = 0; // 0 in the file: twice the cores, at least 4
    uint64_t cgiQueueLength = 1000;
    std::chrono::milliseconds cgiQueueTimeout{30000};
    pool::FastCgiSettings fastCgi;
    std::string limiterKey() const; // equal keys: the CGI limiter is kept across a live apply
};
AppPoolSettings appPoolSettings(const config::ConfigElement& appPool, const config::Config& config);

// A FastCGI pool's: its fastCgi/application on top of its application pool's part.
pool::FastCgiSettings fastCgiSettings(const config::ConfigElement& app, const AppPoolSettings& appPool, const std::string& runtimeDir);

// processModel's rlimits (Lido's maxOpenFiles, maxAddressSpaceMB, maxCpuSeconds, maxUserProcesses).
process::Limits processLimits(const config::ConfigElement* processModel);

} // namespace lido::engine
