#pragma once
// Routing as IIS does it: binding (ip:port:host) -> site -> application (longest path prefix)
// -> virtual directory -> handler mapping (in order, by path pattern, verb and resource type).
// Built from a Config; pure lookups, no I/O besides stat() for resource types.
#include "config/Config.h"
#include "fs/Beneath.h"
#include "fs/RootFolder.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace lido::routing {

struct VirtualDirectory {
    std::string path; // within the application, "/" or "/static"
    std::string physicalPath;
    // physicalPath's folder as it resolves now (a release swap is followed within a second):
    // files are opened beneath its descriptor (openat2).
    std::shared_ptr<const fs::RootFolder> root;
    fs::SymlinkPolicy symlinks = fs::SymlinkPolicy::IfOwnerMatch;
};

struct Application {
    std::string path; // "/" or "/php"
    std::string pool;
    std::vector<VirtualDirectory> directories; // longest path first
};

// Unsupported: a mapping to a module Lido does not run (IsapiModule, ServerSideIncludeModule, a
// managed type=): its requests get 404.2 rather than the file's source as a static file.
enum class Module { Static, Cgi, FastCgi, Unsupported };

struct HandlerMapping {
    std::string name;
    std::string path; // pattern
    std::vector<std::string> verbs; // empty = any
    Module module = Module::Static;
    std::string scriptProcessor;
    // FastCgiModule: scriptProcessor split at '|' into the fastCgi application's fullPath
    // (environment variables expanded) and arguments, the two that name it.
    std::string fastCgiPath, fastCgiArguments;
    std::string resourceType;
    bool allowPathInfo = false;
};

// What routing reads for one part of a site, with IIS's inheritance applied (server, <location
// path="Site">, then the application's and deeper paths' locations): handler mappings, default
// documents, directory browsing and MIME types.
struct Scope {
    std::string prefix = "/"; // the URL prefix it covers: "/" or "/blog/"
    std::vector<HandlerMapping> handlers;
    std::vector<std::string> defaultDocuments;
    bool defaultDocumentEnabled = true;
    bool directoryBrowse = false;
    std::string browseFlags; // directoryBrowse/@showFlags
    std::shared_ptr<const std::map<std::string, std::string>> mime; // ".ext" lower case -> type
    // The MIME type by extension; empty when none is known (IIS answers 404.3 then, and so does Lido).
    std::string mimeType(const std::string& fileName) const;
};

struct SiteConfig {
    std::string name;
    uint32_t id = 0;
    bool autoStart = true;
    std::string healthPath; // a URL path the site answers with its health ("": none)
    struct Binding {
        std::string ip; // "*" or address
        uint16_t port = 0;
        std::string host;
        bool https = false;
        uint32_t sslFlags = 0; // 1 SNI, 2 Central Certificate Store
        std::string certificateFile, keyFile;
        bool acme = false; // the certificate comes from lido/acme's CA
        bool proxyProtocol = false; // connections start with a PROXY v1/v2 header
    };
    std::vector<Binding> bindings;
    std::vector<Application> applications; // longest path first
    uint64_t maxConnections = 0;
    std::chrono::milliseconds connectionTimeout{120000};
    std::string logDirectory;
    std::string logPeriod;
    std::string logFields; // logExtFileFlags as written ("": the default)
    uint64_t logTruncateSize = 0; // period="MaxSize": bytes per file (0: the default)
    bool logEnabled = true;
    // traceFailedRequestsLogging: whether failed-request traces are kept, where (empty: the
    // engine's log folder's FailedReqLogFiles), how many and how large.
    bool traceEnabled = false;
    std::string traceDirectory;
    uint64_t traceMaxFiles = 50;
    uint64_t traceMaxBytes = 1024 * 1024;
    std::vector<std::shared_ptr<const Scope>> scopes; // longest prefix first; the last one is "/"
};

struct Route {
    const SiteConfig* site = nullptr;
    const Application* application = nullptr;
    const VirtualDirectory* directory = nullptr;
    const Scope* scope = nullptr; // the settings for urlPath
    std::string urlPath;      // decoded, normalized
    std::string physicalPath; // directory->physicalPath + the rest of urlPath
    std::string relativePath; // the rest of urlPath within the directory, without the leading '/'
    std::string vdirUrl;      // URL prefix of the virtual directory ("/php/")
};

struct HandlerMatch {
    const HandlerMapping* mapping = nullptr;
    std::string scriptUrl;      // the part of the URL naming the script or file
    std::string scriptFile;     // its physical path
    std::string pathInfo;       // what follows (CGI/FastCGI only)
};

class SiteMap {
public:
    SiteMap() = default;
    ~SiteMap();
    SiteMap(const SiteMap&) = delete;
    SiteMap& operator=(const SiteMap&) = delete;

    static std::shared_ptr<const SiteMap> build(const config::Config& config, std::vector<std::string>* warnings = nullptr);

    const std::vector<SiteConfig>& sites() const { return sites_; }
    // The server's settings (what a site without <location> blocks uses).
    const Scope& serverScope() const { return *server_; }
    // Every scope's handler mappings, each once (the FastCGI applications they name get pools).
    std::vector<const HandlerMapping*> allHandlers() const;
    // The (application pool, FastCGI program, arguments) that requests can reach: for each
    // application, the FastCGI handlers of the scope its root is in and of every <location>
    // scope below it that no deeper application owns. The engine runs a FastCGI pool for each.
    std::set<std::tuple<std::string, std::string, std::string>> reachableFastCgi() const;

    // The site for a connection to localIp:localPort with this Host header; null when none.
    const SiteConfig* siteFor(const std::string& localIp, uint16_t localPort, const std::string& host) const;
    // Maps a decoded, normalized URL path within a site.
    bool route(const SiteConfig& site, const std::string& urlPath, Route& out) const;
    // The handler mapping for a routed request (from its scope), or null (404).
    static HandlerMatch handlerFor(const Route& route, const std::string& method);
    // A handler's path pattern against a URL (or its last segment): what fnmatch(pattern, text, 0)
    // answers, without fnmatch for the usual patterns of literals and '*'.
    static bool pathPatternMatches(std::string_view pattern, const char* text);
    // The settings for a URL path of a site.
    static const Scope& scopeFor(const SiteConfig& site, const std::string& urlPath);

private:
    std::vector<SiteConfig> sites_;
    std::shared_ptr<const Scope> server_;
};

} // namespace lido::routing
