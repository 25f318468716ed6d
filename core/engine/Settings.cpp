#include "engine/Settings.h"

#include "config/Values.h"

#include <algorithm>
#include <sstream>
#include <thread>

namespace lido::engine {

using config::ConfigElement;

process::Limits processLimits(const ConfigElement* pm)
{
    process::Limits l;
    if (!pm)
        return l;
    l.openFiles = config::parseUInt(pm->get("maxOpenFiles")).value_or(0);
    l.addressSpaceBytes = config::parseUInt(pm->get("maxAddressSpaceMB")).value_or(0) * 1024 * 1024;
    l.cpuSeconds = config::parseUInt(pm->get("maxCpuSeconds")).value_or(0);
    l.processes = config::parseUInt(pm->get("maxUserProcesses")).value_or(0);
    return l;
}

std::string AppPoolSettings::limiterKey() const
{
    return std::to_string(cgiMaxConcurrent) + "/" + std::to_string(cgiQueueLength) + "/" + std::to_string(cgiQueueTimeout.count());
}

AppPoolSettings appPoolSettings(const ConfigElement& appPool, const config::Config& config)
{
    AppPoolSettings a;
    auto num = [&](const ConfigElement& e, const char* at, uint64_t fallback) { return config::parseUInt(e.get(at)).value_or(fallback); };
    auto span = [&](const ConfigElement* e, const char* at, int64_t fallback) {
        return std::chrono::milliseconds(e ? config::parseTimeSpan(e->get(at)).value_or(fallback) : fallback);
    };
    a.name = appPool.get("name");
    a.identity = poolIdentity(appPool, config);
    const ConfigElement* pm = appPool.child("processModel");
    a.limits = processLimits(pm);
    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    a.cgiMaxConcurrent = static_cast<int>(num(appPool, "cgiMaxConcurrent", 0));
    if (a.cgiMaxConcurrent == 0)
        // Four per core, at least 8: programs start on the spawning threads while others run and
        // exit (measured on 2 cores, cgi-hello: 2,100-2,350 req/s with 4 at once, 2,500-2,600
        // with 8 or 16).
        a.cgiMaxConcurrent = static_cast<int>(std::max(8u, 4 * cores));
    a.cgiQueueLength = num(appPool, "cgiQueueLength", 1000);
    a.cgiQueueTimeout = span(&appPool, "cgiQueueTimeout", 30000);

    pool::FastCgiSettings& f = a.fastCgi;
    f.poolName = a.name;
    f.identity = a.identity.identity;
    f.identityShown = a.identity.shown;
    f.identityError = a.identity.error;
    f.limits = a.limits;
    f.startupTimeLimit = span(pm, "startupTimeLimit", 90000);
    f.pingingEnabled = pm ? config::parseBool(pm->get("pingingEnabled")).value_or(true) : true;
    f.pingInterval = span(pm, "pingInterval", 30000);
    f.pingResponseTime = span(pm, "pingResponseTime", 90000);
    const ConfigElement* failure = appPool.child("failure");
    f.rapidFailProtection = failure ? config::parseBool(failure->get("rapidFailProtection")).value_or(true) : true;
    f.rapidFailMaxCrashes = failure ? static_cast<int>(num(*failure, "rapidFailProtectionMaxCrashes", 5)) : 5;
    f.rapidFailInterval = span(failure, "rapidFailProtectionInterval", 300000);
    f.restartBackoff = span(failure, "restartBackoff", 1000);
    f.alwaysRunning = appPool.get("startMode") == "AlwaysRunning";
    if (const ConfigElement* r = appPool.child("recycling")) {
        f.logEventOnRecycle = !r->get("logEventOnRecycle").empty();
        f.disallowOverlappingRotation = config::parseBool(r->get("disallowOverlappingRotation")).value_or(false);
        if (const ConfigElement* pr = r->child("periodicRestart")) {
            f.recycleAfterRequests = num(*pr, "requests", 0);
            f.recycleAfterTime = span(pr, "time", 0);
            f.recycleMemoryKB = num(*pr, "memory", 0);
            f.recyclePrivateMemoryKB = num(*pr, "privateMemory", 0);
            if (const ConfigElement* schedule = pr->child("schedule"))
                for (const ConfigElement* at : schedule->childrenNamed("add"))
                    if (auto ms = config::parseTimeSpan(at->get("value")))
                        f.recycleSchedule.push_back(std::chrono::milliseconds(*ms));
        }
    } else {
        f.recycleAfterTime = std::chrono::hours(29); // IIS default periodicRestart/@time 1.05:00:00
    }
    return a;
}

pool::FastCgiSettings fastCgiSettings(const ConfigElement& app, const AppPoolSettings& appPool, const std::string& runtimeDir)
{
    pool::FastCgiSettings f = appPool.fastCgi;
    auto num = [&](const ConfigElement& e, const char* a, uint64_t fallback) { return config::parseUInt(e.get(a)).value_or(fallback); };
    f.fullPath = config::expandEnvironment(app.get("fullPath"));
    f.arguments = app.get("arguments");
    f.maxInstances = static_cast<int>(num(app, "maxInstances", 4));
    f.idleTimeout = std::chrono::seconds(num(app, "idleTimeout", 300));
    f.activityTimeout = std::chrono::seconds(num(app, "activityTimeout", 30));
    f.requestTimeout = std::chrono::seconds(num(app, "requestTimeout", 90));
    f.instanceMaxRequests = num(app, "instanceMaxRequests", 200);
    f.tcp = app.get("protocol") == "Tcp";
    f.queueLength = num(app, "queueLength", 1000);
    f.rapidFailsPerMinute = static_cast<int>(num(app, "rapidFailsPerMinute", 10));
    std::string mode = app.get("stderrMode");
    f.stderrMode = mode == "ReturnGeneric500"     ? pool::StderrMode::ReturnGeneric500
                   : mode == "IgnoreAndReturn200" ? pool::StderrMode::IgnoreAndReturn200
                   : mode == "TerminateProcess"   ? pool::StderrMode::TerminateProcess
                                                  : pool::StderrMode::ReturnStdErrIn500;
    f.signalBeforeTerminateSeconds = static_cast<int>(num(app, "signalBeforeTerminateSeconds", 0));
    f.monitorChangesTo = config::expandEnvironment(app.get("monitorChangesTo"));
    f.headerSyntax = app.get("responseHeaders") == "Relaxed" ? cgi::HeaderSyntax::Relaxed : cgi::HeaderSyntax::Strict;
    std::string policy = app.get("schedulingPolicy");
    f.scheduling = policy == "Batch"    ? pool::FastCgiSettings::Scheduling::Batch
                   : policy == "Normal" ? pool::FastCgiSettings::Scheduling::Normal
                                        : pool::FastCgiSettings::Scheduling::Auto;
    if (const ConfigElement* env = app.child("environmentVariables"))
        for (const ConfigElement& v : env->children) {
            if (v.name == "clear")
                f.environment.clear();
            else if (v.name == "environmentVariable")
                f.environment.emplace_back(v.get("name"), v.get("value"));
        }
    f.runtimeDirectory = runtimeDir;
    std::stringstream utf8(app.get("utf8ServerVariables"));
    for (std::string v; std::getline(utf8, v, ',');)
        if (auto t = config::trim(v); !t.empty())
            f.utf8ServerVariables.push_back(t);
    return f;
}

namespace {
const ConfigElement* rewriteOf(const ConfigElement* webServer) { return webServer ? webServer->child("rewrite") : nullptr; }
const ConfigElement* partOf(const ConfigElement* rewrite, const char* name) { return rewrite ? rewrite->child(name) : nullptr; }
} // namespace

config::RewriteRules globalRewriteRules(const config::Config& config)
{
    const ConfigElement* rw = config.section("system.webServer/rewrite");
    return config::parseRewriteRules(partOf(rw, "globalRules"), partOf(rw, "rewriteMaps"), {}, nullptr);
}

std::vector<RewriteScope> rewriteScopes(const config::Config& config, const std::string& site)
{
    std::vector<RewriteScope> scopes;
    const ConfigElement* server = config.section("system.webServer/rewrite");
    const ConfigElement* serverMaps = partOf(server, "rewriteMaps");
    if (auto rules = config::parseRewriteRules(partOf(server, "rules"), serverMaps, {}, nullptr); !rules.empty())
        scopes.push_back({"/", std::move(rules)});
    // Outer scopes first (locationsOf's order), as IIS evaluates inherited rules before a child's
    // own: <location path=""> (the whole server), then the site's and its paths'.
    std::vector<config::Config::LocationSection> locations = config.locationsOf("");
    for (const auto& loc : config.locationsOf(site))
        locations.push_back(loc);
    for (const auto& loc : locations) {
        const ConfigElement* rw = rewriteOf(loc.webServer);
        const ConfigElement* maps = partOf(rw, "rewriteMaps") ? partOf(rw, "rewriteMaps") : serverMaps;
        if (auto rules = config::parseRewriteRules(partOf(rw, "rules"), maps, {}, nullptr); !rules.empty())
            scopes.push_back({loc.prefix, std::move(rules)});
    }
    return scopes;
}

namespace {

std::vector<std::pair<std::string, bool>> typeList(const ConfigElement* list, std::vector<std::pair<std::string, bool>> defaults)
{
    if (!list)
        return defaults;
    std::vector<std::pair<std::string, bool>> out = std::move(defaults);
    for (const ConfigElement& c : list->children) {
        std::string type = config::toLower(c.get("mimeType"));
        if (c.name == "clear")
            out.clear();
        else if (c.name == "remove" || c.name == "add")
            std::erase_if(out, [&](const auto& t) { return t.first == type; });
        if (c.name == "add") {
            // Before a catch-all "*/*" that is already listed, as IIS's lists read first match first.
            auto star = std::find_if(out.begin(), out.end(), [](const auto& t) { return t.first == "*/*"; });
            out.insert(type == "*/*" ? out.end() : star, {type, config::parseBool(c.get("enabled")).value_or(true)});
        }
    }
    return out;
}

} // namespace

compress::Settings compressionSettings(const config::EffectiveSettings& scope, const config::Config& config)
{
    compress::Settings s;
    if (const ConfigElement* u = scope.section("urlCompression")) {
        s.doStatic = config::parseBool(u->get("doStaticCompression")).value_or(true);
        s.doDynamic = config::parseBool(u->get("doDynamicCompression")).value_or(false);
    }
    const ConfigElement* h = config.section("system.webServer/httpCompression");
    // IIS's lists, with JSON and XML added (APIs and feeds are text too).
    s.staticTypes = typeList(h ? h->child("staticTypes") : nullptr,
                             {{"text/*", true}, {"message/*", true}, {"application/javascript", true}, {"application/json", true},
                              {"application/xml", true}, {"application/atom+xml", true}, {"application/xaml+xml", true},
                              {"image/svg+xml", true}, {"*/*", false}});
    s.dynamicTypes = typeList(h ? h->child("dynamicTypes") : nullptr,
                              {{"text/*", true}, {"message/*", true}, {"application/x-javascript", true}, {"application/javascript", true},
                               {"application/json", true}, {"application/xml", true}, {"*/*", false}});
    if (h) {
        s.minFileSize = config::parseUInt(h->get("minFileSizeForComp")).value_or(2700);
        s.noHttp10 = config::parseBool(h->get("noCompressionForHttp10")).value_or(true);
        s.noProxies = config::parseBool(h->get("noCompressionForProxies")).value_or(true);
    }
    auto level = [](const ConfigElement& e, const char* attr, compress::Coding coding) {
        int l = static_cast<int>(config::parseUInt(e.get(attr)).value_or(4));
        // IIS's 0-10 scale: zlib has 1-9 (10 is 9); brotli's 0-11 is taken as written.
        return coding == compress::Coding::Gzip ? std::clamp(l, 1, 9) : std::clamp(l, 0, 11);
    };
    std::vector<const ConfigElement*> written = h ? h->childrenNamed("scheme") : std::vector<const ConfigElement*>{};
    for (compress::Coding coding : {compress::Coding::Brotli, compress::Coding::Gzip}) {
        if (written.empty()) {
            s.schemes.push_back(compress::Scheme{coding, 8, 4, true, true}); // bench/compression_bench: see the README
            continue;
        }
        for (const ConfigElement* e : written)
            if (e->get("name") == compress::codingName(coding))
                s.schemes.push_back(compress::Scheme{coding, level(*e, "staticCompressionLevel", coding), level(*e, "dynamicCompressionLevel", coding),
                                                     config::parseBool(e->get("doStaticCompression")).value_or(true),
                                                     config::parseBool(e->get("doDynamicCompression")).value_or(true)});
    }
    return s;
}

} // namespace lido::engine
