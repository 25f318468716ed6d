#pragma once
// Configuration -> typed settings: a FastCGI process pool's, from its fastCgi/application and
// its application pool (processModel, failure, recycling), parsed once per applied configuration.
#include "compress/Compression.h"
#include "config/Config.h"
#include "config/Effective.h"
#include "config/RewriteRules.h"
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
    int cgiMaxConcurrent = 0; // 0 in the file: four per core, at least 8
    uint64_t cgiQueueLength = 1000;
    std::chrono::milliseconds cgiQueueTimeout{30000};
    pool::FastCgiSettings fastCgi;
    std::string limiterKey() const; // equal keys: the CGI limiter is kept across a live apply
};
AppPoolSettings appPoolSettings(const config::ConfigElement& appPool, const config::Config& config);

// URL Rewrite rules that apply to a site's URLs under prefix ("/" for the site, "/blog/" for
// <location path="Site/blog">), matched against the URL relative to it. In IIS's order: the
// server's rules, then the site's, then deeper paths'.
struct RewriteScope {
    std::string prefix;
    config::RewriteRules rules;
};
std::vector<RewriteScope> rewriteScopes(const config::Config& config, const std::string& site);
config::RewriteRules globalRewriteRules(const config::Config& config); // rewrite/globalRules: before a site is chosen

// Compression for a scope: its urlCompression (merged by <location>) with the server's
// httpCompression (schemes, levels, types, sizes). Without <scheme> elements: br and gzip.
compress::Settings compressionSettings(const config::EffectiveSettings& scope, const config::Config& config);

// A FastCGI pool's: its fastCgi/application on top of its application pool's part.
pool::FastCgiSettings fastCgiSettings(const config::ConfigElement& app, const AppPoolSettings& appPool, const std::string& runtimeDir);

// processModel's rlimits (Lido's maxOpenFiles, maxAddressSpaceMB, maxCpuSeconds, maxUserProcesses).
process::Limits processLimits(const config::ConfigElement* processModel);

} // namespace lido::engine
