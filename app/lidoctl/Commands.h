#pragma once
#include <string>

namespace lido::config {
class Config;
}

namespace lidoctl {

// A readable table of one part of the configuration: pools, sites, fastcgi or handlers.
std::string showTable(const lido::config::Config& config, const std::string& what);

} // namespace lidoctl
