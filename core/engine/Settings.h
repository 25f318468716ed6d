#pragma once
// Configuration -> typed settings: a FastCGI process pool's, from its fastCgi/application and
// its application pool (processModel, failure, recycling), parsed once per applied configuration.
#include "config/Config.h"
#include "engine/PoolIdentity.h"
#include "pool/FastCgiPool.h"
#include "process/Spawn.h"

#include <string>

namespace lido::engine {

pool::FastCgiSettings fastCgiSettings(const config::ConfigElement& app, const config::ConfigElement& appPool, const std::string& runtimeDir,
                                      const PoolIdentity& identity);

// processModel's rlimits (Lido's maxOpenFiles, maxAddressSpaceMB, maxCpuSeconds, maxUserProcesses).
process::Limits processLimits(const config::ConfigElement* processModel);

} // namespace lido::engine
