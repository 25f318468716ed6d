#pragma once
// Which user an application pool's CGI programs and FastCGI instances run as, from
// processModel/@identityType as IIS names it. A pool never runs as root unless the file says
// identityType="LocalSystem": ApplicationPoolIdentity (the default) is lido/applicationPoolIdentity
// /@userName (www-data), falling back to nobody. An engine that is not root cannot switch: its
// pools run as its own user.
#include "config/Config.h"
#include "process/Spawn.h"

#include <optional>
#include <string>

namespace lido::engine {

struct PoolIdentity {
    std::optional<process::Identity> identity; // to switch to; none: the engine's own user
    std::string shown;                         // "www-data (uid 33)"
    std::string error;                         // not to be had: the pool's programs do not start
};

PoolIdentity poolIdentity(const config::ConfigElement& pool, const config::Config& config);

} // namespace lido::engine
