#include "config/Schema.h"

#include "config/FilterDefaults.h"
#include "config/Values.h"

#include <algorithm>
#include <unordered_map>

namespace lido::config {

namespace {

constexpr uint64_t kNoMax = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;

// A small builder so that the table below reads as a table.
struct A {
    AttributeSpec s;
    A(std::string name, AttrType type, std::string def, std::string help)
    {
        s.name = std::move(name);
        s.type = type;
        s.defaultValue = std::move(def);
        s.help = std::move(help);
        if (type == AttrType::TimeSpan)
            s.max = kNoMax;
    }
    A& range(uint64_t lo, uint64_t hi) { s.min = lo; s.max = hi; return *this; }
    A& values(std::vector<std::string> v) { s.enumValues = std::move(v); return *this; }
    A& required() { s.required = true; return *this; }
    A& key() { s.key = true; s.required = true; return *this; }
    A& optionalKey() { s.key = true; return *this; }
    A& unique() { s.unique = true; return *this; }
    A& windows() { s.windowsOnly = true; return *this; }
    A& lido() { s.lido = true; return *this; }
    operator AttributeSpec() const { return s; }
};

A Str(std::string n, std::string d, std::string h) { return A(std::move(n), AttrType::String, std::move(d), std::move(h)); }
A Bool(std::string n, bool d, std::string h) { return A(std::move(n), AttrType::Bool, d ? "true" : "false", std::move(h)); }
A UInt(std::string n, uint64_t d, std::string h) { return A(std::move(n), AttrType::UInt, std::to_string(d), std::move(h)); }
A Time(std::string n, std::string d, std::string h) { return A(std::move(n), AttrType::TimeSpan, std::move(d), std::move(h)); }
A Enum(std::string n, std::string d, std::vector<std::string> v, std::string h)
{
    return A(std::move(n), AttrType::Enum, std::move(d), std::move(h)).values(std::move(v));
}
A Flags(std::string n, std::string d, std::vector<std::string> v, std::string h)
{
    return A(std::move(n), AttrType::Flags, std::move(d), std::move(h)).values(std::move(v));
}
A Dir(std::string n, std::string d, std::string h) { return A(std::move(n), AttrType::Directory, std::move(d), std::move(h)); }
A Exe(std::string n, std::string d, std::string h) { return A(std::move(n), AttrType::Executable, std::move(d), std::move(h)); }
A Bind(std::string n, std::string h) { return A(std::move(n), AttrType::Binding, "", std::move(h)); }

ElementSpec E(std::string path, std::string help, std::vector<AttributeSpec> attrs = {}, bool item = false)
{
    ElementSpec e;
    e.path = std::move(path);
    e.help = std::move(help);
    e.attributes = std::move(attrs);
    e.collectionItem = item;
    return e;
}

std::vector<AttributeSpec> without(std::vector<AttributeSpec> attrs, std::string_view name)
{
    attrs.erase(std::remove_if(attrs.begin(), attrs.end(), [&](const AttributeSpec& a) { return a.name == name; }),
                attrs.end());
    return attrs;
}

void addPoolElements(std::vector<ElementSpec>& out, const std::string& base, bool defaults)
{
    std::vector<AttributeSpec> pool = {
        Str("name", "", "The application pool's name, unique in the file.").key(),
        UInt("queueLength", 1000, "How many requests may wait for the pool before new ones get 503.").range(10, 65535),
        Bool("autoStart", true, "Start the pool when the engine starts."),
        Enum("startMode", "OnDemand", {"OnDemand", "AlwaysRunning"},
             "OnDemand starts processes at the first request; AlwaysRunning starts them at once."),
        Bool("enable32BitAppOnWin64", false, "Windows only: run 32-bit applications on 64-bit Windows.").windows(),
        Str("managedRuntimeVersion", "v4.0", "Windows only: the .NET CLR version.").windows(),
        Str("managedRuntimeLoader", "webengine4.dll", "Windows only: the .NET loader.").windows(),
        Enum("managedPipelineMode", "Integrated", {"Integrated", "Classic"}, "Windows only: the ASP.NET pipeline mode.")
            .windows(),
        Str("CLRConfigFile", "", "Windows only: a .NET configuration file.").windows(),
        Bool("passAnonymousToken", true, "Windows only: pass the anonymous token.").windows(),
        Bool("enableConfigurationOverride", true, "Allow per-application configuration to override the pool's."),
        UInt("cgiMaxConcurrent", 0,
             "Lido: CGI programs of this pool that may run at once (0 = four per core, at least 8).")
            .lido(),
        UInt("cgiQueueLength", 1000, "Lido: CGI requests that may wait for a free slot before new ones get 503.").lido(),
        Time("cgiQueueTimeout", "00:00:30", "Lido: how long a CGI request may wait for a free slot.").lido(),
    };
    out.push_back(E(base, defaults ? "Defaults for every application pool." : "An application pool: the identity, limits and "
                                                                               "recycling that its processes run with.",
                    defaults ? without(pool, "name") : pool, !defaults));
    out.push_back(E(base + "/processModel", "How the pool's processes are started, identified and kept alive.", {
        Enum("identityType", "ApplicationPoolIdentity",
             {"LocalSystem", "LocalService", "NetworkService", "SpecificUser", "ApplicationPoolIdentity"},
             "Which user the pool's programs run as when the engine runs as root: ApplicationPoolIdentity is "
             "lido/applicationPoolIdentity/@userName (www-data, else nobody), SpecificUser is userName, LocalService and "
             "NetworkService are nobody, LocalSystem is root. Not written: SpecificUser when userName is set."),
        Str("userName", "", "The Unix user of identityType=\"SpecificUser\" (when the engine runs as root)."),
        Str("password", "", "Windows only: the identity's password; unused on Lido.").windows(),
        Bool("loadUserProfile", true, "Windows only: load the user profile.").windows(),
        Bool("setProfileEnvironment", true, "Windows only: set profile environment variables.").windows(),
        Enum("logonType", "LogonBatch", {"LogonBatch", "LogonService"}, "Windows only: the logon type.").windows(),
        Bool("manualGroupMembership", false, "Windows only: add IIS_IUSRS manually.").windows(),
        Time("idleTimeout", "00:20:00", "Stop the pool's processes after this long without a request (0 = never).")
            .range(0, 30 * kDay),
        Enum("idleTimeoutAction", "Terminate", {"Terminate", "Suspend"}, "What to do when idle; Lido always terminates."),
        UInt("maxProcesses", 1, "Worker processes per pool (web garden); FastCGI instances are set per application.")
            .range(0, 2147483647),
        Time("shutdownTimeLimit", "00:01:30", "How long processes may take to stop before they are killed.")
            .range(1 * kSecond, kNoMax),
        Time("startupTimeLimit", "00:01:30", "How long a process may take to start before it counts as failed.")
            .range(1 * kSecond, kNoMax),
        Bool("pingingEnabled", true, "Check that processes answer (FastCGI: FCGI_GET_VALUES)."),
        Time("pingInterval", "00:00:30", "Time between health checks.").range(1 * kSecond, kNoMax),
        Time("pingResponseTime", "00:01:30", "How long a process may take to answer a health check.")
            .range(1 * kSecond, kNoMax),
        Flags("logEventOnProcessModel", "IdleTimeout", {"IdleTimeout"}, "Which process-model actions are logged."),
        UInt("maxOpenFiles", 0, "Lido: RLIMIT_NOFILE for the pool's processes (0 = inherit).").lido(),
        UInt("maxAddressSpaceMB", 0, "Lido: RLIMIT_AS in MiB for the pool's processes (0 = unlimited).").lido(),
        UInt("maxCpuSeconds", 0, "Lido: RLIMIT_CPU for each process (0 = unlimited).").lido(),
        UInt("maxUserProcesses", 0, "Lido: RLIMIT_NPROC for the pool's identity (0 = inherit).").lido(),
    }));
    out.push_back(E(base + "/recycling", "When the pool's processes are replaced by fresh ones.", {
        Bool("disallowOverlappingRotation", false, "Stop the old process before starting the new one."),
        Bool("disallowRotationOnConfigChange", false, "Do not recycle when the pool's configuration changes."),
        Flags("logEventOnRecycle", "Time, Requests, Schedule, Memory, IsapiUnhealthy, OnDemand, ConfigChange, PrivateMemory",
              {"Time", "Requests", "Schedule", "Memory", "IsapiUnhealthy", "OnDemand", "ConfigChange", "PrivateMemory"},
              "Which recycle reasons are written to the event log."),
    }));
    out.push_back(E(base + "/recycling/periodicRestart", "Recycle after a time, a number of requests or a memory size.", {
        UInt("memory", 0, "Recycle when virtual memory exceeds this many KB (0 = never)."),
        UInt("privateMemory", 0, "Recycle when private memory exceeds this many KB (0 = never)."),
        UInt("requests", 0, "Recycle after this many requests (0 = never)."),
        Time("time", "1.05:00:00", "Recycle after this long (0 = never)."),
    }));
    out.push_back(E(base + "/recycling/periodicRestart/schedule", "Times of day at which the pool is recycled."));
    out.push_back(E(base + "/recycling/periodicRestart/schedule/add", "A time of day at which the pool is recycled.",
                    {Time("value", "", "Time of day, hh:mm:ss.").key().range(0, kDay - 1)}, true));
    out.push_back(E(base + "/recycling/periodicRestart/schedule/clear", "Removes earlier schedule entries.", {}, true));
    out.push_back(E(base + "/failure", "What happens when the pool's processes fail.", {
        Enum("loadBalancerCapabilities", "HttpLevel", {"HttpLevel", "TcpLevel"}, "Windows only: HTTP.sys behaviour.")
            .windows(),
        Bool("orphanWorkerProcess", false, "Keep a failed process for debugging instead of killing it."),
        Str("orphanActionExe", "", "Program to run for an orphaned process."),
        Str("orphanActionParams", "", "Arguments of orphanActionExe."),
        Bool("rapidFailProtection", true, "Stop the pool when its processes crash too often."),
        Time("rapidFailProtectionInterval", "00:05:00", "The window in which crashes are counted.")
            .range(1 * kMinute, 144 * kHour),
        UInt("rapidFailProtectionMaxCrashes", 5, "Crashes within the window that stop the pool.").range(1, 2147483647),
        Time("restartBackoff", "00:00:01", "Lido: after a FastCGI instance fails to start (or dies before its first answer), the next "
                                           "start waits this long, twice as long after each failure in a row up to a minute (0: at once), "
                                           "as Supervisor's BACKOFF does.").range(0, 1 * kMinute).lido(),
        Str("autoShutdownExe", "", "Program to run when rapid-fail protection stops the pool."),
        Str("autoShutdownParams", "", "Arguments of autoShutdownExe."),
    }));
}

void addSiteElements(std::vector<ElementSpec>& out, const std::string& base, bool defaults)
{
    std::vector<AttributeSpec> site = {
        Str("name", "", "The site's name, unique in the file.").key(),
        A("id", AttrType::UInt, "", "The site's number, unique in the file.").range(1, 4294967295).required().unique(),
        Bool("serverAutoStart", true, "Start the site when the engine starts."),
        Str("healthPath", "", "Lido: a URL path (/.lido/health) the site answers itself, before its rules and handlers: 200 while it "
                              "serves, 503 while the engine drains or stops, the site is stopped or failed, or all its FastCGI pools are "
                              "down. For a load balancer's check through the site's own binding; empty: none.").lido(),
    };
    if (defaults)
        out.push_back(E(base, "Defaults for every site.", {Bool("serverAutoStart", true, "Start sites when the engine starts.")}));
    else
        out.push_back(E(base, "A web site: bindings, applications and their folders.", site, true));
    if (!defaults) {
        out.push_back(E(base + "/bindings", "The addresses, ports and host names the site answers on."));
        out.push_back(E(base + "/bindings/binding", "One address the site answers on.", {
            Enum("protocol", "http", {"http", "https"}, "http, or https (TLS with the certificate below, or from the central store).").key(),
            Bind("bindingInformation", "ip:port:host, e.g. 127.0.0.1:8080: or *:80:www.example.org").key(),
            UInt("sslFlags", 0, "https: 1 = SNI (the certificate is this host name's), 2 = Central Certificate Store "
                                "(lido/centralCertificateStore, a file per host name), 4 = no HTTP/2 on this binding; IIS's 8 and up are kept, no effect.").range(0, 127),
            Str("certificateFile", "", "https: the PEM certificate chain (leaf first); it may hold the key too.").lido(),
            Str("certificateKeyFile", "", "https: the PEM private key (empty: in certificateFile).").lido(),
            Bool("acme", false, "https: the certificate for this binding's host name is obtained and renewed from lido/acme's CA.").lido(),
            Bool("proxyProtocol", false, "Every connection starts with a PROXY protocol header, v1 or v2 (HAProxy's send-proxy, nginx's "
                                         "proxy_protocol): its source is the client's address. Required, never guessed; all bindings "
                                         "of one address and port agree.").lido(),
            Str("certificateHash", "", "Windows only: a certificate in a Windows store.").windows(),
            Str("certificateStoreName", "", "Windows only: the Windows certificate store.").windows(),
        }, true));
        out.push_back(E(base + "/bindings/clear", "Removes earlier bindings.", {}, true));
        out.push_back(E(base + "/application", "An application: a URL path served with one application pool.", {
            Str("path", "", "The URL path, starting with '/'.").key(),
            Str("applicationPool", "", "The application pool that runs this application's programs."),
            Str("enabledProtocols", "http", "Protocols enabled for the application."),
            Bool("preloadEnabled", false, "Windows only: warm up the application.").windows(),
        }, true));
        out.push_back(E(base + "/application/virtualDirectory", "Maps a URL path to a folder.", {
            Str("path", "", "The URL path within the application, starting with '/'.").key(),
            Dir("physicalPath", "", "The folder served at this path.").required(),
            Str("userName", "", "Windows only: user to access the folder as.").windows(),
            Str("password", "", "Windows only: the user's password.").windows(),
            Enum("logonMethod", "ClearText", {"Interactive", "Batch", "Network", "ClearText"}, "Windows only.").windows(),
            Bool("allowSubDirConfig", true, "Windows only: read web.config files in subfolders.").windows(),
            Enum("symlinks", "IfOwnerMatch", {"Never", "IfOwnerMatch", "Always"},
                 "Lido: symbolic links that lead out of this folder: never followed, followed when the link's owner (or root) "
                 "owns the target, or always followed.").lido(),
            Bool("followSymlinksOutside", false, "Lido, replaced by symlinks: true means symlinks=\"Always\".").lido(),
        }, true));
    }
    out.push_back(E(base + "/limits", "Connection limits of the site.", {
        UInt("maxBandwidth", 4294967295, "Bytes per second the site may send (4294967295 = unlimited)."),
        UInt("maxConnections", 4294967295, "Connections the site accepts at once (4294967295 = unlimited)."),
        Time("connectionTimeout", "00:02:00", "Idle time after which a connection is closed.").range(1 * kSecond, kNoMax),
        UInt("maxUrlSegments", 32, "Segments a URL may have.").range(0, 16383),
    }));
    out.push_back(E(base + "/traceFailedRequestsLogging", "Failed-request tracing of the site: where the traces of requests that "
                                                            "system.webServer/tracing/traceFailedRequests matches are kept.", {
        Bool("enabled", false, "Keep traces (off by default, as in IIS: the rules say which requests, this says whether)."),
        Str("directory", "", "Folder of the traces, one JSON file each in W3SVC<site id>/ (empty: FailedReqLogFiles in Lido's log folder)."),
        UInt("maxLogFiles", 50, "How many traces are kept; the oldest goes first.").range(1, 10000),
        UInt("maxLogFileSizeKB", 1024, "A trace larger than this is cut (its headers and stderr first).").range(1, 1048576),
        Bool("customActionsEnabled", false, "Windows only: custom actions on a failure.").windows(),
    }));
    out.push_back(E(base + "/logFile", "The site's access log.", {
        Flags("logExtFileFlags",
              "Date, Time, ClientIP, UserName, ServerIP, Method, UriStem, UriQuery, HttpStatus, Win32Status, BytesSent, TimeTaken, "
              "ServerPort, UserAgent, Referer, HttpSubStatus",
              {"Date", "Time", "ClientIP", "UserName", "SiteName", "ComputerName", "ServerIP", "Method", "UriStem", "UriQuery",
               "HttpStatus", "Win32Status", "BytesSent", "BytesRecv", "TimeTaken", "ServerPort", "UserAgent", "Cookie",
               "Referer", "ProtocolVersion", "Host", "HttpSubStatus"},
              "The W3C fields written, in IIS's order whatever the order here (Lido's default: IIS 10's, with BytesSent)."),
        Enum("logFormat", "W3C", {"IIS", "NCSA", "W3C", "Custom"}, "Log format; Lido writes W3C."),
        Flags("logTargetW3C", "File", {"File", "ETW"}, "Where W3C entries go."),
        Str("directory", "", "Folder of the log files (empty: Lido's default log folder)."),
        Enum("period", "Daily", {"MaxSize", "Daily", "Weekly", "Monthly", "Hourly"}, "When a new log file starts."),
        UInt("truncateSize", 20971520, "File size that starts a new file when period is MaxSize.").range(1048576, kNoMax),
        Bool("localTimeRollover", false, "Start new files at local rather than UTC midnight."),
        Bool("enabled", true, "Write the access log."),
        Str("customLogPluginClsid", "", "Windows only.").windows(),
    }));
}

} // namespace

std::string_view typeName(AttrType type)
{
    switch (type) {
    case AttrType::String: return "string";
    case AttrType::Bool: return "bool";
    case AttrType::UInt: return "uint";
    case AttrType::TimeSpan: return "timeSpan";
    case AttrType::Enum: return "enum";
    case AttrType::Flags: return "flags";
    case AttrType::Directory: return "directory";
    case AttrType::Executable: return "executable";
    case AttrType::Binding: return "binding";
    }
    return "string";
}

static std::string joinValues(const std::vector<std::string>& v)
{
    std::string out;
    for (const auto& s : v)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string AttributeSpec::check(std::string_view value) const
{
    switch (type) {
    case AttrType::Bool:
        if (!parseBool(value))
            return "'" + std::string(value) + "' is not true or false";
        return {};
    case AttrType::UInt: {
        auto v = parseUInt(value);
        if (!v)
            return "'" + std::string(value) + "' is not a whole number";
        if (*v < min)
            return std::to_string(*v) + " is below the minimum " + std::to_string(min);
        if (*v > max)
            return std::to_string(*v) + " is above the maximum " + std::to_string(max);
        return {};
    }
    case AttrType::TimeSpan: {
        auto v = parseTimeSpan(value);
        if (!v)
            return "'" + std::string(value) + "' is not a time span ([d.]hh:mm:ss)";
        if (*v < 0 || static_cast<uint64_t>(*v) < min)
            return std::string(value) + " is below the minimum " + formatTimeSpan(static_cast<int64_t>(min));
        if (max != kNoMax && static_cast<uint64_t>(*v) > max)
            return std::string(value) + " is above the maximum " + formatTimeSpan(static_cast<int64_t>(max));
        return {};
    }
    case AttrType::Enum:
        for (const auto& e : enumValues)
            if (iequals(e, value))
                return {};
        return "'" + std::string(value) + "' is not one of " + joinValues(enumValues);
    case AttrType::Flags: {
        size_t start = 0;
        while (start <= value.size()) {
            auto comma = value.find(',', start);
            std::string part = trim(value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
            bool known = part.empty() && value.find_first_not_of(" ,") == std::string_view::npos;
            for (const auto& e : enumValues)
                known = known || iequals(e, part);
            if (!known)
                return "'" + part + "' is not one of " + joinValues(enumValues);
            if (comma == std::string_view::npos)
                break;
            start = comma + 1;
        }
        return {};
    }
    case AttrType::Binding: {
        std::string why;
        if (!parseBindingInfo(value, &why))
            return "'" + std::string(value) + "' is not a binding (ip:port:host): " + why;
        return {};
    }
    case AttrType::String:
    case AttrType::Directory:
    case AttrType::Executable: return {};
    }
    return {};
}

std::string AttributeSpec::canonical(std::string_view value) const
{
    switch (type) {
    case AttrType::Bool:
        if (auto b = parseBool(value))
            return *b ? "true" : "false";
        break;
    case AttrType::UInt:
        if (auto v = parseUInt(value))
            return std::to_string(*v);
        break;
    case AttrType::TimeSpan:
        if (auto v = parseTimeSpan(value))
            return formatTimeSpan(*v);
        break;
    case AttrType::Enum:
        for (const auto& e : enumValues)
            if (iequals(e, value))
                return e;
        break;
    case AttrType::Flags: {
        // Order-insensitive set of known flags.
        std::vector<std::string> set;
        for (const auto& e : enumValues) {
            size_t start = 0;
            while (start <= value.size()) {
                auto comma = value.find(',', start);
                if (iequals(trim(value.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)), e)) {
                    set.push_back(e);
                    break;
                }
                if (comma == std::string_view::npos)
                    break;
                start = comma + 1;
            }
        }
        return joinValues(set);
    }
    case AttrType::Binding:
        if (auto b = parseBindingInfo(value))
            return b->ip + ":" + std::to_string(b->port) + ":" + b->host;
        break;
    default: break;
    }
    return std::string(value);
}

const AttributeSpec* ElementSpec::attribute(std::string_view n) const
{
    for (const auto& a : attributes)
        if (a.name == n)
            return &a;
    return nullptr;
}


std::string_view ElementSpec::name() const
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string_view(path) : std::string_view(path).substr(slash + 1);
}

bool Schema::isSectionGroup(std::string_view name)
{
    return name == "system.applicationHost" || name == "system.webServer";
}

std::string Schema::groupOf(std::string_view section) const
{
    if (section == "lido")
        return {};
    for (const auto& e : elements_) {
        auto slash = e.path.find('/');
        if (slash == std::string::npos)
            continue;
        auto rest = std::string_view(e.path).substr(slash + 1);
        if (rest.substr(0, rest.find('/')) == section)
            return e.path.substr(0, slash);
    }
    return {};
}

Schema::Schema()
{
    auto& out = elements_;
    out.push_back(E("system.applicationHost", "IIS's host-wide settings: pools and sites."));
    out.push_back(E("system.applicationHost/applicationPools", "The application pools."));
    addPoolElements(out, "system.applicationHost/applicationPools/applicationPoolDefaults", true);
    addPoolElements(out, "system.applicationHost/applicationPools/add", false);
    out.push_back(E("system.applicationHost/sites", "The sites."));
    addSiteElements(out, "system.applicationHost/sites/site", false);
    addSiteElements(out, "system.applicationHost/sites/siteDefaults", true);
    out.push_back(E("system.applicationHost/sites/applicationDefaults", "Defaults for every application.", {
        Str("applicationPool", "", "The pool of applications that name none."),
        Str("enabledProtocols", "http", "Protocols enabled for applications."),
        Bool("preloadEnabled", false, "Windows only: warm up applications.").windows(),
    }));
    out.push_back(E("system.applicationHost/sites/virtualDirectoryDefaults", "Defaults for every virtual directory.", {
        Bool("allowSubDirConfig", true, "Windows only: read web.config files in subfolders.").windows(),
        Str("userName", "", "Windows only.").windows(),
        Str("password", "", "Windows only.").windows(),
        Enum("logonMethod", "ClearText", {"Interactive", "Batch", "Network", "ClearText"}, "Windows only.").windows(),
    }));
    out.push_back(E("system.applicationHost/configHistory", "Earlier versions of this file kept beside it.", {
        Bool("enabled", true, "Keep a copy of the file before each save."),
        Str("path", "", "Folder of the copies (empty: a .history folder beside the file)."),
        UInt("maxHistories", 10, "How many copies are kept.").range(1, 1000),
        Time("period", "00:02:00", "IIS's check interval; Lido copies at every save."),
    }));

    out.push_back(E("system.webServer", "IIS's request-processing settings: handlers, FastCGI, CGI, static files."));
    out.push_back(E("system.webServer/fastCgi", "The FastCGI applications that pools run."));
    out.push_back(E("system.webServer/fastCgi/application", "A FastCGI application: a program run as a pool of instances.", {
        Exe("fullPath", "", "The program to run.").key(),
        A("arguments", AttrType::String, "", "Arguments passed to the program.").optionalKey(),
        UInt("maxInstances", 4, "Instances at most; 0 tunes the number to the load.").range(0, 10000),
        UInt("idleTimeout", 300, "Seconds an idle instance lives.").range(10, 604800),
        UInt("activityTimeout", 30, "Seconds an instance may stay silent during a request.").range(10, 3600),
        UInt("requestTimeout", 90, "Seconds a request may take.").range(10, 604800),
        UInt("instanceMaxRequests", 200, "Requests an instance serves before it is recycled.").range(1, 10000000),
        Enum("protocol", "NamedPipe", {"NamedPipe", "Tcp"}, "NamedPipe: a Unix socket as fd 0; Tcp: 127.0.0.1 and a port."),
        UInt("queueLength", 1000, "Requests that may wait before new ones get 503.").range(1, 10000000),
        Bool("flushNamedPipe", false, "Windows only: flush the pipe at the end of a request.").windows(),
        UInt("rapidFailsPerMinute", 10, "Instance crashes per minute that stop the application.").range(1, 2147483647),
        Enum("stderrMode", "ReturnStdErrIn500", {"ReturnStdErrIn500", "ReturnGeneric500", "IgnoreAndReturn200", "TerminateProcess"},
             "What a response with stderr output becomes."),
        UInt("signalBeforeTerminateSeconds", 0, "Seconds between SIGTERM and SIGKILL when an instance stops.").range(0, 3600),
        Str("monitorChangesTo", "", "A file (e.g. php.ini), or a folder link such as a release's current, whose change recycles the instances; links on the way are followed."),
        Enum("responseHeaders", "Strict", {"Strict", "Relaxed"},
             "Lido: Relaxed accepts 'Name:value', LF-only lines and bare Status codes.").lido(),
        Str("utf8ServerVariables", "", "Lido: server variables passed UTF-8 decoded, e.g. PATH_INFO,SCRIPT_NAME.").lido(),
        Enum("schedulingPolicy", "Auto", {"Auto", "Batch", "Normal"},
             "Lido: Batch runs the instances under SCHED_BATCH, so that a request written to one does not preempt the engine's "
             "event loop; Normal is the kernel's default; Auto is Batch while the instances compute and Normal while they "
             "mostly wait (a database, an upstream).")
            .lido(),
    }, true));
    out.push_back(E("system.webServer/fastCgi/application/environmentVariables", "Environment of the instances."));
    out.push_back(E("system.webServer/fastCgi/application/environmentVariables/environmentVariable", "One variable.", {
        Str("name", "", "Variable name.").key(),
        Str("value", "", "Variable value."),
    }, true));
    out.push_back(E("system.webServer/fastCgi/application/environmentVariables/clear", "Removes earlier variables.", {}, true));
    out.push_back(E("system.webServer/handlers", "Which handler serves which requests, in order.", {
        Flags("accessPolicy", "Read", {"None", "Read", "Write", "Script", "Execute", "Source", "NoRemoteRead", "NoRemoteWrite",
                                       "NoRemoteScript", "NoRemoteExecute"},
              "What handlers may do."),
    }));
    out.push_back(E("system.webServer/handlers/add", "A handler mapping.", {
        Str("name", "", "The mapping's name, unique in the list.").key(),
        Str("path", "", "URL pattern: *.php, /cgi-bin/*, * ...").required(),
        Str("verb", "", "Methods, comma-separated, or *.").required(),
        Str("type", "", "Windows only: a managed handler type.").windows(),
        Str("modules", "", "StaticFileModule, CgiModule, FastCgiModule, DefaultDocumentModule, DirectoryListingModule."),
        Str("scriptProcessor", "", "FastCGI: fullPath[|arguments] of a fastCgi application; CGI: an interpreter."),
        Enum("resourceType", "Unspecified", {"File", "Directory", "Either", "Unspecified"}, "What must exist at the path."),
        Enum("requireAccess", "Script", {"None", "Read", "Write", "Script", "Execute"}, "Access the handler needs."),
        Str("preCondition", "", "Windows only: load conditions.").windows(),
        UInt("responseBufferLimit", 4194304, "Bytes of response buffered before sending."),
        Bool("allowPathInfo", false, "Pass the path after the script as PATH_INFO."),
    }, true));
    out.push_back(E("system.webServer/handlers/remove", "Removes an earlier mapping.", {Str("name", "", "The mapping.").key()}, true));
    out.push_back(E("system.webServer/handlers/clear", "Removes earlier mappings.", {}, true));
    out.push_back(E("system.webServer/cgi", "How CGI programs run.", {
        Bool("createCGIWithNewConsole", false, "Windows only.").windows(),
        Bool("createProcessAsUser", true, "Windows: run CGI as the authenticated user; on Lido CGI always runs as the pool's identity."),
        Time("timeout", "00:15:00", "How long a CGI program may run.").range(1 * kSecond, kNoMax),
    }));
    out.push_back(E("system.webServer/defaultDocument", "Files served for a folder request.", {
        Bool("enabled", true, "Serve default documents."),
    }));
    out.push_back(E("system.webServer/defaultDocument/files", "The default documents, in order."));
    out.push_back(E("system.webServer/defaultDocument/files/add", "A default document.", {Str("value", "", "File name.").key()}, true));
    out.push_back(E("system.webServer/defaultDocument/files/remove", "Removes a default document.", {Str("value", "", "File name.").key()}, true));
    out.push_back(E("system.webServer/defaultDocument/files/clear", "Removes earlier default documents.", {}, true));
    out.push_back(E("system.webServer/directoryBrowse", "Folder listings.", {
        Bool("enabled", false, "List a folder's files when it has no default document."),
        Flags("showFlags", "Date, Time, Size, Extension", {"None", "Date", "Time", "Size", "Extension", "LongDate"},
              "What a listing shows."),
    }));
    out.push_back(E("system.webServer/staticContent", "Static files."));
    out.push_back(E("system.webServer/staticContent/clientCache", "What browsers and proxies are told about caching static files.", {
        Enum("cacheControlMode", "NoControl", {"NoControl", "DisableCache", "UseMaxAge", "UseExpires"},
             "No Cache-Control, no-cache, max-age=cacheControlMaxAge, or Expires: httpExpires."),
        Time("cacheControlMaxAge", "1.00:00:00", "How long a copy stays fresh (UseMaxAge)."),
        Str("httpExpires", "", "An HTTP date (UseExpires), e.g. Fri, 01 Jan 2027 00:00:00 GMT."),
        Str("cacheControlCustom", "", "More Cache-Control directives, e.g. public or immutable."),
        Bool("setEtag", true, "Send ETag (Lido always does)."),
    }));
    out.push_back(E("system.webServer/httpProtocol", "Headers added to responses.", {
        Bool("allowKeepAlive", true, "Keep connections open between requests."),
    }));
    for (const char* list : {"customHeaders", "redirectHeaders"}) {
        std::string base = std::string("system.webServer/httpProtocol/") + list;
        out.push_back(E(base, list == std::string("customHeaders") ? "Headers added to every response (unless the response sets the header itself)."
                                                                   : "Headers added to redirect responses."));
        out.push_back(E(base + "/add", "A header.", {
            Str("name", "", "The header's name.").key(),
            Str("value", "", "Its value."),
        }, true));
        out.push_back(E(base + "/remove", "Removes an inherited header.", {Str("name", "", "The header.").key()}, true));
        out.push_back(E(base + "/clear", "Removes the inherited headers.", {}, true));
    }
    out.push_back(E("system.webServer/staticContent/mimeMap", "A file extension's MIME type.", {
        Str("fileExtension", "", "The extension with its dot, e.g. .json.").key(),
        Str("mimeType", "", "The MIME type.").required(),
    }, true));
    out.push_back(E("system.webServer/staticContent/remove", "Removes a MIME type.", {Str("fileExtension", "", "Extension.").key()}, true));
    out.push_back(E("system.webServer/staticContent/clear", "Removes earlier MIME types.", {}, true));
    out.push_back(E("system.webServer/security", "Security settings."));
    out.push_back(E("system.webServer/security/requestFiltering", "Request filtering.", {
        Bool("allowDoubleEscaping", false, "Allow URLs that decode twice."),
        Bool("allowHighBitCharacters", true, "Allow non-ASCII bytes in URLs."),
    }));
    out.push_back(E("system.webServer/security/requestFiltering/requestLimits", "Request size limits.", {
        UInt("maxAllowedContentLength", 30000000, "Largest request body in bytes (413 above)."),
        UInt("maxUrl", 4096, "Longest URL path in bytes (414 above)."),
        UInt("maxQueryString", 2048, "Longest query string in bytes (414 above)."),
    }));
    auto listOf = [](const auto& items) {
        std::string text;
        for (std::string_view i : items)
            text += (text.empty() ? "" : ", ") + std::string(i);
        return text;
    };
    out.push_back(E("system.webServer/security/requestFiltering/requestLimits/headerLimits", "Longest values of named request headers (404.10 above)."));
    out.push_back(E("system.webServer/security/requestFiltering/requestLimits/headerLimits/add", "A header's size limit.", {
        Str("header", "", "The header name, e.g. Content-Type.").key(),
        UInt("sizeLimit", 0, "Longest value in bytes (0 = no limit)."),
    }, true));
    out.push_back(E("system.webServer/security/requestFiltering/requestLimits/headerLimits/remove", "Removes a header limit.", {Str("header", "", "The header.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/requestLimits/headerLimits/clear", "Removes earlier header limits.", {}, true));
    out.push_back(E("system.webServer/security/requestFiltering/hiddenSegments",
                    "URL segments never served (404.8). Lido hides by default: " + listOf(kDefaultHiddenSegments) + " (<clear/> removes them).", {
        Bool("applyToWebDAV", true, "Also for WebDAV requests (Lido serves no WebDAV)."),
    }));
    out.push_back(E("system.webServer/security/requestFiltering/hiddenSegments/add", "A hidden segment.", {Str("segment", "", "The segment, e.g. .git.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/hiddenSegments/remove", "Serves a segment again.", {Str("segment", "", "The segment.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/hiddenSegments/clear", "Removes earlier hidden segments, Lido's defaults included.", {}, true));
    out.push_back(E("system.webServer/security/requestFiltering/fileExtensions",
                    "File extensions allowed or denied (404.7). Lido denies by default: " + listOf(kDefaultDeniedExtensions) +
                        " (an entry without a dot is a suffix; <clear/> removes them).", {
        Bool("allowUnlisted", true, "Serve extensions that are not listed."),
        Bool("applyToWebDAV", true, "Also for WebDAV requests (Lido serves no WebDAV)."),
    }));
    out.push_back(E("system.webServer/security/requestFiltering/fileExtensions/add", "An extension allowed or denied.", {
        Str("fileExtension", "", "The extension with its dot, e.g. .bak.").key(),
        Bool("allowed", true, "Allowed (true) or denied (false)."),
    }, true));
    out.push_back(E("system.webServer/security/requestFiltering/fileExtensions/remove", "Removes an extension rule.", {Str("fileExtension", "", "The extension.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/fileExtensions/clear", "Removes earlier extension rules, Lido's defaults included.", {}, true));
    out.push_back(E("system.webServer/security/requestFiltering/denyUrlSequences", "Character sequences that may not appear in a URL (404.5)."));
    out.push_back(E("system.webServer/security/requestFiltering/denyUrlSequences/add", "A denied sequence.", {Str("sequence", "", "The sequence, e.g. ~/.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/denyUrlSequences/remove", "Removes a denied sequence.", {Str("sequence", "", "The sequence.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/denyUrlSequences/clear", "Removes earlier denied sequences.", {}, true));
    out.push_back(E("system.webServer/security/requestFiltering/verbs", "Methods allowed or denied (404.6).", {
        Bool("allowUnlisted", true, "Allow methods that are not listed."),
        Bool("applyToWebDAV", true, "Also for WebDAV requests (Lido serves no WebDAV)."),
    }));
    out.push_back(E("system.webServer/security/requestFiltering/verbs/add", "A method allowed or denied.", {
        Str("verb", "", "The method, e.g. TRACE.").key(),
        Bool("allowed", true, "Allowed (true) or denied (false)."),
    }, true));
    out.push_back(E("system.webServer/security/requestFiltering/verbs/remove", "Removes a method rule.", {Str("verb", "", "The method.").key()}, true));
    out.push_back(E("system.webServer/security/requestFiltering/verbs/clear", "Removes earlier method rules.", {}, true));
    out.push_back(E("system.webServer/security/ipSecurity", "IP address restrictions: rules in order, the first that matches decides. "
                                                          "The client is REMOTE_ADDR (the PROXY header's, or lido/forwardedFor's).", {
        Bool("allowUnlisted", true, "Clients that no rule matches are allowed."),
        Enum("denyAction", "Forbidden", {"Unauthorized", "Forbidden", "NotFound", "AbortRequest"},
             "The answer to a denied client: 401, 403 or 404 with substatus 503, or the connection dropped."),
        Bool("enableProxyMode", false, "Also check every address X-Forwarded-For names (IIS's proxy mode)."),
        Bool("enableReverseDns", false, "Windows only: rules by domain name.").windows(),
    }));
    out.push_back(E("system.webServer/security/ipSecurity/add", "A rule for an address or a subnet.", {
        Str("ipAddress", "", "The address, IPv4 or IPv6.").key(),
        Str("subnetMask", "", "IPv4: a mask (255.255.255.0); IPv6: a prefix length (64). Empty: the one address.").optionalKey(),
        Str("domainName", "", "Windows only: a domain name (enableReverseDns).").windows(),
        Bool("allowed", false, "Allowed (true) or denied (false)."),
    }, true));
    out.push_back(E("system.webServer/security/ipSecurity/remove", "Removes an inherited rule.", {Str("ipAddress", "", "The address.").key()}, true));
    out.push_back(E("system.webServer/security/ipSecurity/clear", "Removes the inherited rules.", {}, true));
    out.push_back(E("system.webServer/tracing", "Failed-request tracing (IIS's Failed Request Tracing)."));
    out.push_back(E("system.webServer/tracing/traceFailedRequests", "Which requests keep a trace: the first rule whose path matches decides, "
                                                                    "and its failure definitions say when the request failed."));
    out.push_back(E("system.webServer/tracing/traceFailedRequests/add", "A rule for the URLs its path matches.", {
        Str("path", "", "A wildcard on the URL's file name (*.php) or, with a '/', on the URL path below the rule's location (/api/*); * is every URL.").key(),
        Str("customActionExe", "", "Windows only: a program run on a failure.").windows(),
        Str("customActionParams", "", "Windows only.").windows(),
        UInt("customActionTriggerLimit", 50, "Windows only.").windows(),
    }, true));
    out.push_back(E("system.webServer/tracing/traceFailedRequests/add/traceAreas", "What the trace records, by provider; Lido records every area of "
                                                                                   "its one provider (routing, phases, stderr, events)."));
    out.push_back(E("system.webServer/tracing/traceFailedRequests/add/traceAreas/add", "A provider's areas.", {
        Str("provider", "", "IIS's provider name, e.g. WWW Server.").key(),
        Str("areas", "", "Its areas, e.g. Rewrite,FastCGI,StaticFile (all are recorded)."),
        Enum("verbosity", "Verbose", {"General", "CriticalError", "Error", "Warning", "Information", "Verbose"}, "How much is recorded (all is)."),
    }, true));
    out.push_back(E("system.webServer/tracing/traceFailedRequests/add/failureDefinitions", "When a request failed: its status is in statusCodes, "
                                                                                           "or it took longer than timeTaken.", {
        Str("statusCodes", "", "Statuses, substatuses and ranges: 500-599,404.2,401.1-401.5 (empty: none)."),
        Time("timeTaken", "00:00:00", "A request that took longer failed too (0: time is no failure)."),
        Enum("verbosity", "Ignore", {"Ignore", "CriticalError", "Error", "Warning"}, "IIS: an event of this severity fails the request; Lido: any level "
                                                                                    "but Ignore fails a request whose application wrote to stderr."),
    }));
    out.push_back(E("system.webServer/tracing/traceFailedRequests/remove", "Removes an inherited rule.", {Str("path", "", "The rule's path.").key()}, true));
    out.push_back(E("system.webServer/tracing/traceFailedRequests/clear", "Removes the inherited rules.", {}, true));
    out.push_back(E("system.webServer/httpErrors", "Error pages.", {
        Bool("allowAbsolutePathsWhenDelegated", false, "Windows only: delegation of absolute paths.").windows(),
        Enum("errorMode", "DetailedLocalOnly", {"DetailedLocalOnly", "Custom", "Detailed"},
             "Detailed pages for loopback clients only, always, or never."),
        Enum("existingResponse", "Auto", {"Auto", "Replace", "PassThrough"},
             "Replace: an application's error responses get the custom page too; Auto and PassThrough keep the application's body "
             "(IIS's Auto would replace a FastCGI application's errors; Lido's does what PHP sites set, PassThrough)."),
        Enum("defaultResponseMode", "File", {"File", "ExecuteURL", "Redirect"}, "How defaultPath is sent."),
        Str("defaultPath", "", "The page for errors without one of their own (empty: Lido's)."),
    }));
    out.push_back(E("system.webServer/httpErrors/error", "A custom error page.", {
        UInt("statusCode", 404, "The status, e.g. 404.").range(100, 999).key().required(),
        Str("subStatusCode", "-1", "IIS's substatus, e.g. 8 for 404.8 (-1: any).").optionalKey(),
        Str("path", "", "File: a file (relative to the site's folder); ExecuteURL: a URL of the site; Redirect: a URL.").required(),
        Enum("responseMode", "File", {"File", "ExecuteURL", "Redirect"}, "Send the file with the error's status, run the URL, or redirect to it."),
        Str("prefixLanguageFilePath", "", "Windows only: a folder with a subfolder per language.").windows(),
    }, true));
    out.push_back(E("system.webServer/httpErrors/remove", "Removes an inherited error page.", {
        UInt("statusCode", 404, "The status.").range(100, 999).key().required(),
        Str("subStatusCode", "-1", "The substatus.").optionalKey(),
    }, true));
    out.push_back(E("system.webServer/httpErrors/clear", "Removes the inherited error pages.", {}, true));

    // IIS URL Rewrite ("URL Rewrite Module Configuration Reference").
    out.push_back(E("system.webServer/rewrite", "URL Rewrite: rules that rewrite, redirect or answer requests by their URL."));
    for (const char* scope : {"globalRules", "rules"}) {
        std::string base = std::string("system.webServer/rewrite/") + scope;
        out.push_back(E(base, scope == std::string("globalRules") ? "Rules run for every request before a site's own."
                                                                  : "Rules run in order for the site's URLs (server level: for every site)."));
        out.push_back(E(base + "/rule", "A rule: a match on the URL, conditions, and an action.", {
            Str("name", "", "The rule's name.").key(),
            Bool("enabled", true, "A disabled rule is kept but not run."),
            Bool("stopProcessing", false, "No rule after this one runs when it matches."),
            Enum("patternSyntax", "ECMAScript", {"ECMAScript", "Wildcard", "ExactMatch"}, "How patterns are read (ECMAScript: PCRE2 regular expressions)."),
        }, true));
        out.push_back(E(base + "/remove", "Removes an inherited rule.", {Str("name", "", "The rule.").key()}, true));
        out.push_back(E(base + "/clear", "Removes the inherited rules.", {}, true));
        out.push_back(E(base + "/rule/match", "The URL path (without its leading /) the rule matches.", {
            Str("url", "", "The pattern.").required(),
            Bool("ignoreCase", true, "Case-insensitive."),
            Bool("negate", false, "The rule applies when the pattern does not match."),
        }));
        out.push_back(E(base + "/rule/conditions", "More tests, on server variables and files.", {
            Enum("logicalGrouping", "MatchAll", {"MatchAll", "MatchAny"}, "All conditions must hold, or any one."),
            Bool("trackAllCaptures", false, "{C:n} counts the groups of all conditions, not only the last."),
        }));
        out.push_back(E(base + "/rule/conditions/add", "A condition.", {
            Str("input", "", "What is tested, e.g. {REQUEST_FILENAME} or {HTTP_HOST}.").required(),
            Enum("matchType", "Pattern", {"Pattern", "IsFile", "IsDirectory"}, "A pattern, or whether the input is a file or folder."),
            Str("pattern", "", "The pattern (matchType=\"Pattern\")."),
            Bool("ignoreCase", true, "Case-insensitive."),
            Bool("negate", false, "The condition holds when the test fails."),
        }, true));
        out.push_back(E(base + "/rule/action", "What the rule does.", {
            Enum("type", "None", {"Rewrite", "Redirect", "CustomResponse", "AbortRequest", "None"}, "The action."),
            Str("url", "", "The new URL (Rewrite, Redirect), with {R:n}, {C:n}, {VARIABLE}, {Function:...} and {Map:...}."),
            Bool("appendQueryString", true, "Keep the request's query string."),
            Bool("logRewrittenUrl", false, "The access log records the rewritten URL instead of the client's."),
            Enum("redirectType", "Permanent", {"Permanent", "Found", "SeeOther", "Temporary", "301", "302", "303", "307"},
                 "The redirect's status: 301, 302, 303 or 307."),
            UInt("statusCode", 0, "CustomResponse: the status.").range(0, 999),
            UInt("subStatusCode", 0, "CustomResponse: IIS's substatus (logged).").range(0, 999),
            Str("statusReason", "", "CustomResponse: the reason phrase."),
            Str("statusDescription", "", "CustomResponse: the body."),
        }));
        out.push_back(E(base + "/rule/serverVariables", "Server variables a rule sets: not supported by Lido yet; kept, ignored."));
        out.back().windowsOnly = true;
    }
    out.push_back(E("system.webServer/rewrite/rewriteMaps", "Lookup tables for {MapName:key}."));
    out.push_back(E("system.webServer/rewrite/rewriteMaps/rewriteMap", "A lookup table.", {
        Str("name", "", "Its name, used as {name:key}.").key(),
        Str("defaultValue", "", "The value of a key that is not listed."),
        Bool("ignoreCase", true, "Keys are compared without case."),
    }, true));
    out.push_back(E("system.webServer/rewrite/rewriteMaps/rewriteMap/add", "An entry.", {
        Str("key", "", "The key.").key(),
        Str("value", "", "Its value."),
    }, true));

    // Compression (IIS's urlCompression and httpCompression).
    out.push_back(E("system.webServer/urlCompression", "Whether responses are compressed.", {
        Bool("doStaticCompression", true, "Compress static files of httpCompression/staticTypes (compressed once per file version, then served from a cache)."),
        Bool("doDynamicCompression", false, "Compress CGI and FastCGI responses of httpCompression/dynamicTypes as they stream (off by default, as on a new IIS)."),
        Bool("dynamicCompressionBeforeCache", false, "Windows only: order against the output cache.").windows(),
    }));
    out.push_back(E("system.webServer/httpCompression", "How responses are compressed: schemes, types, sizes.", {
        Str("directory", "", "Folder of compressed static files (empty or a Windows path: $XDG_CACHE_HOME/lido/compressed)."),
        UInt("minFileSizeForComp", 2700, "Smallest static file that is compressed, in bytes."),
        Bool("doDiskSpaceLimiting", true, "Keep the compressed files folder under maxDiskSpaceUsage."),
        UInt("maxDiskSpaceUsage", 100, "Megabytes the compressed files may take (the oldest go first)."),
        Bool("noCompressionForHttp10", true, "Do not compress for HTTP/1.0 clients."),
        Bool("noCompressionForProxies", true, "Do not compress for requests that came through a proxy (Via)."),
        Bool("noCompressionForRange", true, "Do not compress range requests (Lido never does)."),
        Bool("sendCacheHeaders", false, "Windows only: HTTP/1.0 cache headers.").windows(),
        UInt("staticCompressionDisableCpuUsage", 100, "Windows only: CPU limits.").windows(),
        UInt("staticCompressionEnableCpuUsage", 50, "Windows only: CPU limits.").windows(),
        UInt("dynamicCompressionDisableCpuUsage", 90, "Windows only: CPU limits.").windows(),
        UInt("dynamicCompressionEnableCpuUsage", 50, "Windows only: CPU limits.").windows(),
        UInt("dynamicCompressionBufferLimit", 65536, "Windows only: IIS's flush threshold.").windows(),
        Bool("staticCompressionIgnoreHitFrequency", true, "Lido compresses a static file at its first request."),
    }));
    out.push_back(E("system.webServer/httpCompression/scheme", "A compression scheme (without any: gzip and br).", {
        Enum("name", "gzip", {"gzip", "br", "deflate"}, "gzip (zlib), br (brotli); deflate is accepted and not offered.").key(),
        Str("dll", "", "Windows only: the scheme's DLL.").windows(),
        UInt("staticCompressionLevel", 8, "Level for static files, 0-10 as IIS (br: 0-11); compressed once per file version.").range(0, 11),
        UInt("dynamicCompressionLevel", 4, "Level for streamed responses, 0-10 as IIS (br: 0-11).").range(0, 11),
        Bool("doStaticCompression", true, "Offer this scheme for static files."),
        Bool("doDynamicCompression", true, "Offer this scheme for streamed responses."),
    }, true));
    for (const char* list : {"staticTypes", "dynamicTypes"}) {
        std::string base = std::string("system.webServer/httpCompression/") + list;
        out.push_back(E(base, list == std::string("staticTypes") ? "MIME types of static files that are compressed (first match wins)."
                                                                 : "MIME types of CGI and FastCGI responses that are compressed (first match wins)."));
        out.push_back(E(base + "/add", "A MIME type pattern.", {
            Str("mimeType", "", "A type or pattern: text/*, application/json, */*.").key(),
            Bool("enabled", true, "Compress (true) or not (false)."),
        }, true));
        out.push_back(E(base + "/remove", "Removes an inherited type.", {Str("mimeType", "", "The type.").key()}, true));
        out.push_back(E(base + "/clear", "Removes the inherited types, Lido's defaults included.", {}, true));
    }

    // <location path="Site/app">: system.webServer sections for a site, an application or a path.
    out.push_back(E("location", "Settings for one site, application or path (path=\"\": the whole server). "
                                "Lido has no feature delegation: overrideMode and allowOverride are checked and kept, "
                                "and every location's settings apply.", {
        Str("path", "", "Site, or Site/app/path; empty for the whole server.").key(),
        Enum("overrideMode", "Inherit", {"Allow", "Deny", "Inherit"}, "IIS: whether lower levels may override (Lido: no delegation; kept)."),
        Bool("allowOverride", true, "IIS's older form of overrideMode (Lido: no delegation; kept)."),
        Bool("inheritInChildApplications", true, "Whether applications below inherit these settings."),
    }, true));

    out.push_back(E("lido", "Lido's own settings beyond IIS."));
    out.push_back(E("lido/statusListener", "The status and metrics endpoint (/status, /metrics).", {
        Bool("enabled", true, "Serve /status and /metrics."),
        Bind("bindingInformation", "Where it listens; loopback by default.").lido(),
        Str("allow", "127.0.0.1,::1", "Client addresses allowed, comma-separated."),
    }));
    out.back().attributes[1].defaultValue = "127.0.0.1:8089:";
    out.push_back(E("lido/forwardedFor", "The client's address behind a reverse proxy or load balancer (nginx's set_real_ip_from, "
                                          "IIS's enableProxyMode): REMOTE_ADDR, the log's c-ip and ipSecurity use it.", {
        Str("trustedProxies", "", "Peers whose header is believed, comma-separated addresses and CIDR ranges (10.0.0.0/8, ::1); "
                                  "the header is read from the right past them. Empty: no one's.").lido(),
        Str("header", "X-Forwarded-For", "The header that lists the addresses.").lido(),
    }));
    out.push_back(E("lido/shutdown", "How the engine stops (SIGTERM, systemctl stop, a container's stop).", {
        Time("drainDelay", "00:00:00", "After SIGTERM, /health answers 503 for this long while the engine serves on, so that "
                                       "load balancers take the node out first; then it stops accepting.").range(0, 3600 * kSecond).lido(),
    }));
    out.push_back(E("lido/applicationPoolIdentity", "The user of pools with identityType=\"ApplicationPoolIdentity\" (the default).", {
        Str("userName", "www-data", "An unprivileged user; nobody when it does not exist. Never root.").lido(),
    }));
    out.push_back(E("lido/limits", "Engine-wide limits.", {
        UInt("maxConnections", 0, "Connections the engine accepts at once over all sites; past it new ones get 503 "
                                  "(0 = the open-file limit less a quarter, at least 64, kept for pools, logs and files).").lido(),
    }));
    out.push_back(E("lido/tls", "TLS for https bindings (Mozilla's intermediate profile by default).", {
        Enum("minVersion", "TLSv1.2", {"TLSv1.2", "TLSv1.3"}, "The oldest TLS version accepted.").lido(),
        Str("ciphers", "", "TLS 1.2 cipher list in OpenSSL's syntax (empty: Mozilla intermediate); TLS 1.3's are OpenSSL's.").lido(),
    }));
    out.push_back(E("lido/http2", "HTTP/2: h2 over TLS (ALPN) and h2c, with its limits.", {
        Bool("enabled", true, "Offer h2 by ALPN on https bindings (a binding's sslFlags 4 turns it off for that binding).").lido(),
        Bool("cleartext", false, "Accept h2c with prior knowledge on http bindings (a client that starts with HTTP/2's preface).").lido(),
        UInt("maxConcurrentStreams", 100, "Requests at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).").range(1, 1000).lido(),
        UInt("headerTableSize", 4096, "HPACK's dynamic table for request headers, in bytes (SETTINGS_HEADER_TABLE_SIZE).").range(0, 65536).lido(),
        UInt("maxResetsPerWindow", 100, "Streams a client may reset before their response in 10 s (rapid reset); past it GOAWAY.").range(1, 100000).lido(),
        UInt("maxControlFramesPerWindow", 200, "SETTINGS, PING, PRIORITY and empty frames a client may send in 10 s; past it GOAWAY.").range(1, 100000).lido(),
    }));
    out.push_back(E("lido/acme", "ACME (RFC 8555): certificates for https bindings with acme=\"true\", proved by HTTP-01 on the site's http binding.", {
        Str("directory", "", "The CA's directory URL (Let's Encrypt: https://acme-v02.api.letsencrypt.org/directory).").lido(),
        Str("contact", "", "The account's contact, mailto:admin@example.org.").lido(),
        Bool("acceptTermsOfService", false, "Agree to the CA's terms of service (the CA refuses an account otherwise).").lido(),
        Str("folder", "", "Account key and certificates, mode 0700 (empty: /var/lib/lido/acme as root, else $XDG_STATE_HOME/lido/acme).").lido(),
        Str("trustedCaFile", "", "PEM file of the CAs trusted for the ACME server's own https (a private CA); empty: the system's.").lido(),
    }));
    out.push_back(E("lido/centralCertificateStore", "IIS's Central Certificate Store: a folder with HOST.pem (chain and key) per host "
                                                    "name, _.example.com.pem for *.example.com; used by https bindings with sslFlags 2.", {
        Str("physicalPath", "", "The folder.").lido(),
    }));
    out.push_back(E("lido/log", "Where the engine writes its logs.", {
        Str("directory", "", "Folder of the event and error logs (empty: $XDG_STATE_HOME/lido/log)."),
        Enum("level", "info", {"trace", "debug", "info", "warn", "error"}, "Lowest severity written."),
    }));
    for (auto& e : out)
        for (const auto& a : e.attributes)
            if (a.key)
                e.keys_.push_back(&a);
}

const Schema& Schema::instance()
{
    static const Schema schema;
    return schema;
}

const ElementSpec* Schema::find(std::string_view path) const
{
    static const std::unordered_map<std::string_view, const ElementSpec*> index = [this] {
        std::unordered_map<std::string_view, const ElementSpec*> m;
        for (const auto& e : elements_)
            m.emplace(e.path, &e);
        return m;
    }();
    auto it = index.find(path);
    return it == index.end() ? nullptr : it->second;
}

} // namespace lido::config
