#pragma once
// Routing as IIS does it: binding (ip:port:host) -> site -> application (longest path prefix)
// -> virtual directory -> handler mapping (in order, by path pattern, verb and resource type).
// Built from a Config; pure lookups, no I/O besides stat() for resource types.
#include "config/Config.h"
#include "fs/Beneath.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lido::routing {

struct VirtualDirectory {
    std::string path; // within the application, "/" or "/static"
    std::string physicalPath;
    int rootFd = -1; // O_PATH descriptor of physicalPath: files are opened beneath it (openat2)
    fs::SymlinkPolicy symlinks = fs::SymlinkPolicy::IfOwnerMatch;
};

struct Application {
    std::string path; // "/" or "/php"
    std::string pool;
    std::vector<VirtualDirectory> directories; // longest path first
};

enum class Module { Static, Cgi, FastCgi };

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

struct SiteConfig {
    std::string name;
    uint32_t id = 0;
    bool autoStart = true;
    struct Binding {
        std::string ip; // "*" or address
        uint16_t port = 0;
        std::string host;
    };
    std::vector<Binding> bindings;
    std::vector<Application> applications; // longest path first
    uint64_t maxConnections = 0;
    std::chrono::milliseconds connectionTimeout{120000};
    std::string logDirectory;
    std::string logPeriod;
    bool logEnabled = true;
};

struct Route {
    const SiteConfig* site = nullptr;
    const Application* application = nullptr;
    const VirtualDirectory* directory = nullptr;
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
    const std::vector<HandlerMapping>& handlers() const { return handlers_; }
    const std::vector<std::string>& defaultDocuments() const { return defaultDocuments_; }
    bool defaultDocumentEnabled() const { return defaultDocumentEnabled_; }
    bool directoryBrowse() const { return directoryBrowse_; }
    const std::map<std::string, std::string>& mimeTypes() const { return mime_; }

    // The site for a connection to localIp:localPort with this Host header; null when none.
    const SiteConfig* siteFor(const std::string& localIp, uint16_t localPort, const std::string& host) const;
    // Maps a decoded, normalized URL path within a site.
    bool route(const SiteConfig& site, const std::string& urlPath, Route& out) const;
    // The handler mapping for a routed request, or null (404).
    HandlerMatch handlerFor(const Route& route, const std::string& method) const;
    // The MIME type by extension; empty when none is known (IIS answers 404.3 then, and so does Lido).
    std::string mimeType(const std::string& fileName) const;

private:
    std::vector<SiteConfig> sites_;
    std::vector<HandlerMapping> handlers_;
    std::vector<std::string> defaultDocuments_;
    bool defaultDocumentEnabled_ = true;
    bool directoryBrowse_ = false;
    std::map<std::string, std::string> mime_; // ".ext" lower case -> type
};

} // namespace lido::routing
