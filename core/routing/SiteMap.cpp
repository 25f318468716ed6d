#include "routing/SiteMap.h"

#include "config/Effective.h"
#include "config/Values.h"
#include "fs/FileCache.h"

#include <algorithm>
#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace lido::routing {

using config::ConfigElement;

namespace {

std::vector<std::string> splitList(const std::string& s)
{
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string part;
    while (std::getline(ss, part, ','))
        if (auto t = config::trim(part); !t.empty())
            out.push_back(t);
    return out;
}

std::chrono::milliseconds span(const std::string& text, std::chrono::milliseconds fallback)
{
    auto v = config::parseTimeSpan(text);
    return v ? std::chrono::milliseconds(*v) : fallback;
}

std::string stripSlash(std::string p)
{
    while (p.size() > 1 && p.back() == '/')
        p.pop_back();
    return p;
}

// Items of an IIS collection after <clear/> and <remove/>.
std::vector<const ConfigElement*> effective(const ConfigElement* parent, const std::string& item, const std::string& key)
{
    std::vector<const ConfigElement*> out;
    if (!parent)
        return out;
    for (const ConfigElement& c : parent->children) {
        if (c.name == "clear")
            out.clear();
        else if (c.name == "remove")
            out.erase(std::remove_if(out.begin(), out.end(), [&](const ConfigElement* e) { return e->get(key) == c.get(key); }), out.end());
        else if (c.name == item)
            out.push_back(&c);
    }
    return out;
}

HandlerMapping mappingOf(const ConfigElement& h)
{
    HandlerMapping m;
    m.name = h.get("name");
    m.path = h.get("path");
    for (const std::string& v : splitList(h.get("verb")))
        if (v != "*")
            m.verbs.push_back(v);
    std::string modules = h.get("modules");
    bool runsStatic = modules.find("StaticFileModule") != std::string::npos || modules.find("DefaultDocumentModule") != std::string::npos ||
                      modules.find("DirectoryListingModule") != std::string::npos || (modules.empty() && h.get("type").empty());
    m.module = modules.find("FastCgiModule") != std::string::npos ? Module::FastCgi
               : modules.find("CgiModule") != std::string::npos   ? Module::Cgi
               : runsStatic                                       ? Module::Static
                                                                   : Module::Unsupported;
    m.scriptProcessor = h.get("scriptProcessor");
    if (m.module == Module::FastCgi) {
        auto bar = m.scriptProcessor.find('|');
        m.fastCgiPath = config::expandEnvironment(m.scriptProcessor.substr(0, bar));
        m.fastCgiArguments = bar == std::string::npos ? std::string() : m.scriptProcessor.substr(bar + 1);
    }
    m.resourceType = h.get("resourceType");
    m.allowPathInfo = config::parseBool(h.get("allowPathInfo")).value_or(false) || m.module != Module::Static;
    return m;
}

// A scope from merged settings; the MIME table is the server's (shared) unless a location
// changed staticContent.
std::shared_ptr<const Scope> scopeFrom(const config::EffectiveSettings& e, const std::string& prefix,
                                       const std::shared_ptr<std::map<std::string, std::string>>& mimeBase, const Scope* server)
{
    auto scope = std::make_shared<Scope>();
    scope->prefix = prefix;
    const ConfigElement* handlers = e.section("handlers");
    for (const ConfigElement* h : effective(handlers, "add", "name"))
        scope->handlers.push_back(mappingOf(*h));
    if (!handlers) // No <handlers>: static files only, as a bare IIS would.
        scope->handlers.push_back(HandlerMapping{"StaticFile", "*", {}, Module::Static, {}, {}, {}, "Either", false});
    const ConfigElement* dd = e.section("defaultDocument");
    scope->defaultDocumentEnabled = dd ? config::parseBool(dd->get("enabled")).value_or(true) : true;
    if (dd && dd->child("files"))
        for (const ConfigElement* f : effective(dd->child("files"), "add", "value"))
            scope->defaultDocuments.push_back(f->get("value"));
    else
        scope->defaultDocuments = {"index.html", "index.htm", "default.htm"};
    if (const ConfigElement* db = e.section("directoryBrowse")) {
        scope->directoryBrowse = config::parseBool(db->get("enabled")).value_or(false);
        scope->browseFlags = db->get("showFlags");
    }
    const ConfigElement* sc = e.section("staticContent");
    bool ownMime = !server;
    if (sc && server)
        for (const auto& [key, layer] : e.from)
            if (key.rfind("staticContent", 0) == 0 && e.layers[static_cast<size_t>(layer)].locationPath.size() > 0)
                ownMime = true;
    if (!ownMime) {
        scope->mime = server->mime;
        return scope;
    }
    auto mime = std::make_shared<std::map<std::string, std::string>>(*mimeBase);
    for (const ConfigElement* m : effective(sc, "mimeMap", "fileExtension"))
        (*mime)[config::toLower(m->get("fileExtension"))] = m->get("mimeType");
    scope->mime = std::move(mime);
    return scope;
}

} // namespace

// (Every pool used to get every FastCGI application some handler named: the sample's static pool
// had a C program's pool, and AlwaysRunning pools started programs no request could reach.)
std::set<std::tuple<std::string, std::string, std::string>> SiteMap::reachableFastCgi() const
{
    std::set<std::tuple<std::string, std::string, std::string>> out;
    // (A pattern with '/' matches within every application too, as handlerFor() does: "/cgi-bin/*"
    // reaches /shop/cgi-bin/ as well, so a handler in scope is reachable by any application there.)
    // The root application is the exception: its URLs are the URL, so "/capp/*" reaches it only
    // if /capp is not an application of its own.
    auto add = [&](const SiteConfig& site, const Application& a, const Scope& scope) {
        for (const HandlerMapping& h : scope.handlers) {
            if (h.module != Module::FastCgi)
                continue;
            std::string fixed = h.path.substr(0, h.path.find_first_of("*?["));
            if (a.path == "/" && fixed.size() > 1 && fixed.front() == '/' &&
                std::any_of(site.applications.begin(), site.applications.end(), [&](const Application& other) {
                    return other.path != "/" && fixed.compare(0, other.path.size() + 1, other.path + "/") == 0;
                }))
                continue;
            out.emplace(a.pool, h.fastCgiPath, h.fastCgiArguments);
        }
    };
    for (const SiteConfig& site : sites_) {
        for (const Application& a : site.applications) {
            std::string root = a.path == "/" ? "/" : a.path + "/";
            for (const auto& scope : site.scopes) // longest prefix first
                if (root.compare(0, scope->prefix.size(), scope->prefix) == 0) {
                    add(site, a, *scope);
                    break;
                }
        }
        for (const auto& scope : site.scopes)
            for (const Application& a : site.applications) // longest path first: the scope's owner
                if (a.path == "/" || scope->prefix.compare(0, a.path.size() + 1, a.path + "/") == 0) {
                    add(site, a, *scope);
                    break;
                }
    }
    return out;
}

std::vector<const HandlerMapping*> SiteMap::allHandlers() const
{
    std::vector<const HandlerMapping*> out;
    std::vector<const Scope*> seen{server_.get()};
    for (const HandlerMapping& h : server_->handlers)
        out.push_back(&h);
    for (const SiteConfig& s : sites_)
        for (const auto& scope : s.scopes)
            if (std::find(seen.begin(), seen.end(), scope.get()) == seen.end()) {
                seen.push_back(scope.get());
                for (const HandlerMapping& h : scope->handlers)
                    out.push_back(&h);
            }
    return out;
}

const Scope& SiteMap::scopeFor(const SiteConfig& site, const std::string& urlPath)
{
    if (site.scopes.size() == 1) // a site without <location> blocks
        return *site.scopes.front();
    for (const auto& scope : site.scopes)
        if (scope->prefix == "/" || urlPath.compare(0, scope->prefix.size(), scope->prefix) == 0 || urlPath + "/" == scope->prefix)
            return *scope;
    return *site.scopes.back();
}

std::shared_ptr<const SiteMap> SiteMap::build(const config::Config& config, std::vector<std::string>* warnings)
{
    auto map = std::make_shared<SiteMap>();
    const ConfigElement* sitesSection = config.section("sites");
    std::string defaultPool;
    const ConfigElement* siteDefaults = nullptr;
    if (sitesSection) {
        if (const ConfigElement* d = sitesSection->child("applicationDefaults"))
            defaultPool = d->get("applicationPool");
        siteDefaults = sitesSection->child("siteDefaults");
    }
    for (const ConfigElement* s : config.sites()) {
        SiteConfig site;
        site.name = s->get("name");
        site.id = static_cast<uint32_t>(config::parseUInt(s->get("id")).value_or(0));
        site.autoStart = config::parseBool(s->get("serverAutoStart")).value_or(true);
        site.healthPath = s->get("healthPath");
        if (const ConfigElement* bs = s->child("bindings"))
            for (const ConfigElement* b : bs->childrenNamed("binding")) {
                bool https = config::iequals(b->get("protocol"), "https");
                if (!https && !config::iequals(b->get("protocol"), "http")) {
                    if (warnings)
                        warnings->push_back("site " + site.name + ": binding " + b->get("protocol") + "/" + b->get("bindingInformation") +
                                            " skipped: Lido serves http and https");
                    continue;
                }
                if (auto info = config::parseBindingInfo(b->get("bindingInformation")))
                    site.bindings.push_back(SiteConfig::Binding{info->ip, info->port, info->host, https,
                                                                static_cast<uint32_t>(config::parseUInt(b->get("sslFlags")).value_or(0)),
                                                                config::expandEnvironment(b->get("certificateFile")),
                                                                config::expandEnvironment(b->get("certificateKeyFile")),
                                                                https && b->get("acme") == "true", b->get("proxyProtocol") == "true"});
            }
        for (const ConfigElement* a : s->childrenNamed("application")) {
            Application app;
            app.path = stripSlash(a->get("path"));
            app.pool = a->find("applicationPool") ? *a->find("applicationPool") : defaultPool;
            for (const ConfigElement* v : a->childrenNamed("virtualDirectory")) {
                VirtualDirectory vd{stripSlash(v->get("path")), stripSlash(config::expandEnvironment(v->get("physicalPath"))), nullptr,
                                    fs::parseSymlinkPolicy(v->get("symlinks"))};
                // The older switch: followSymlinksOutside="true" (when symlinks is not written) is Always.
                if (!v->find("symlinks") && config::parseBool(v->get("followSymlinksOutside")).value_or(false))
                    vd.symlinks = fs::SymlinkPolicy::Always;
                vd.root = std::make_shared<fs::RootFolder>(vd.physicalPath);
                app.directories.push_back(std::move(vd));
            }
            std::sort(app.directories.begin(), app.directories.end(),
                      [](const VirtualDirectory& x, const VirtualDirectory& y) { return x.path.size() > y.path.size(); });
            site.applications.push_back(std::move(app));
        }
        std::sort(site.applications.begin(), site.applications.end(),
                  [](const Application& x, const Application& y) { return x.path.size() > y.path.size(); });
        const ConfigElement* limits = s->child("limits");
        const ConfigElement* defaultLimits = siteDefaults ? siteDefaults->child("limits") : nullptr;
        auto limit = [&](const char* attr) {
            if (limits && limits->find(attr))
                return limits->get(attr);
            if (defaultLimits)
                return defaultLimits->get(attr);
            return limits ? limits->get(attr) : std::string();
        };
        site.maxConnections = config::parseUInt(limit("maxConnections")).value_or(4294967295u);
        site.connectionTimeout = span(limit("connectionTimeout"), std::chrono::milliseconds(120000));
        const ConfigElement* logFile = s->child("logFile");
        const ConfigElement* defaultLog = siteDefaults ? siteDefaults->child("logFile") : nullptr;
        auto logAttr = [&](const char* attr) {
            if (logFile && logFile->find(attr))
                return logFile->get(attr);
            if (defaultLog && defaultLog->find(attr))
                return defaultLog->get(attr);
            return std::string();
        };
        std::string dir = config::expandEnvironment(logAttr("directory"));
        site.logDirectory = dir.empty() || config::looksLikeWindowsPath(dir) ? std::string() : dir + "/W3SVC" + std::to_string(site.id);
        site.logPeriod = logAttr("period");
        site.logFields = logAttr("logExtFileFlags");
        if (std::string size = logAttr("truncateSize"); !size.empty() && size.find_first_not_of("0123456789") == std::string::npos && size.size() < 19)
            site.logTruncateSize = std::stoull(size);
        site.logEnabled = config::parseBool(logAttr("enabled")).value_or(true);
        const ConfigElement* trace = s->child("traceFailedRequestsLogging");
        const ConfigElement* defaultTrace = siteDefaults ? siteDefaults->child("traceFailedRequestsLogging") : nullptr;
        auto traceAttr = [&](const char* attr) {
            if (trace && trace->find(attr))
                return trace->get(attr);
            if (defaultTrace && defaultTrace->find(attr))
                return defaultTrace->get(attr);
            return trace ? trace->get(attr) : defaultTrace ? defaultTrace->get(attr) : std::string();
        };
        site.traceEnabled = config::parseBool(traceAttr("enabled")).value_or(false);
        std::string traceDir = config::expandEnvironment(traceAttr("directory"));
        site.traceDirectory = config::looksLikeWindowsPath(traceDir) ? std::string() : traceDir;
        site.traceMaxFiles = config::parseUInt(traceAttr("maxLogFiles")).value_or(50);
        site.traceMaxBytes = config::parseUInt(traceAttr("maxLogFileSizeKB")).value_or(1024) * 1024;
        map->sites_.push_back(std::move(site));
    }

    auto mimeBase = std::make_shared<std::map<std::string, std::string>>();
    std::ifstream types("/etc/mime.types");
    std::string line;
    while (std::getline(types, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream ls(line);
        std::string type, ext;
        ls >> type;
        while (ls >> ext)
            (*mimeBase)["." + config::toLower(ext)] = type;
    }
    config::EffectiveSettings serverSettings = config::effectiveSettings(config, "", "/");
    map->server_ = scopeFrom(serverSettings, "/", mimeBase, nullptr);
    size_t serverLayers = serverSettings.layers.size();
    for (SiteConfig& site : map->sites_) {
        for (const std::string& prefix : config::scopePrefixes(config, site.name)) {
            config::EffectiveSettings e = config::effectiveSettings(config, site.name, prefix == "/" ? "/" : prefix.substr(0, prefix.size() - 1));
            if (e.layers.size() == serverLayers && prefix == "/") {
                site.scopes.push_back(map->server_);
                continue;
            }
            site.scopes.push_back(scopeFrom(e, prefix, mimeBase, map->server_.get()));
        }
    }
    return map;
}

SiteMap::~SiteMap() = default;

const SiteConfig* SiteMap::siteFor(const std::string& localIp, uint16_t localPort, const std::string& host) const
{
    const SiteConfig* best = nullptr;
    int bestScore = -1;
    std::string ip = localIp.rfind("::ffff:", 0) == 0 ? localIp.substr(7) : localIp;
    for (const SiteConfig& s : sites_)
        for (const SiteConfig::Binding& b : s.bindings) {
            if (b.port != localPort || (b.ip != "*" && b.ip != ip && b.ip != "[" + ip + "]"))
                continue;
            if (!b.host.empty() && b.host != host)
                continue;
            int score = (b.host.empty() ? 0 : 2) + (b.ip == "*" ? 0 : 1);
            if (score > bestScore) {
                best = &s;
                bestScore = score;
            }
        }
    return best;
}

bool SiteMap::route(const SiteConfig& site, const std::string& urlPath, Route& out) const
{
    auto under = [](std::string_view path, std::string_view prefix) {
        if (prefix == "/" || prefix.empty())
            return true;
        return path.substr(0, prefix.size()) == prefix && (path.size() == prefix.size() || path[prefix.size()] == '/');
    };
    const std::string_view url(urlPath);
    for (const Application& app : site.applications) {
        if (!under(url, app.path))
            continue;
        std::string_view rest = app.path == "/" ? url : url.substr(app.path.size());
        if (rest.empty())
            rest = "/";
        for (const VirtualDirectory& vd : app.directories) {
            if (!under(rest, vd.path))
                continue;
            std::string_view inside = vd.path == "/" ? rest : rest.substr(vd.path.size());
            out.site = &site;
            out.scope = &scopeFor(site, urlPath);
            out.application = &app;
            out.directory = &vd;
            out.urlPath = urlPath;
            out.physicalPath.reserve(vd.physicalPath.size() + inside.size());
            out.physicalPath.assign(vd.physicalPath).append(inside);
            out.relativePath.assign(inside.size() > 1 ? inside.substr(1) : std::string_view());
            out.vdirUrl.assign(app.path == "/" ? std::string_view() : std::string_view(app.path));
            out.vdirUrl.append(vd.path == "/" ? std::string_view() : std::string_view(vd.path)).append("/");
            return true;
        }
    }
    return false;
}

// Patterns are nearly always literals and '*' ("*.php", "/cgi-bin/*"): matched here without
// glibc's multibyte-aware fnmatch, which was 7 % of the engine's user time on a static file; a
// pattern with '?', '[' or '\\' still goes to fnmatch.
bool SiteMap::pathPatternMatches(std::string_view pattern, const char* text)
{
    for (char c : pattern)
        if (c == '?' || c == '[' || c == '\\')
            return ::fnmatch(std::string(pattern).c_str(), text, 0) == 0;
    std::string_view t(text);
    size_t p = 0, i = 0, star = std::string_view::npos, resume = 0;
    while (i < t.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            resume = i;
        } else if (p < pattern.size() && pattern[p] == t[i]) {
            ++p;
            ++i;
        } else if (star != std::string_view::npos) {
            p = star + 1; // the last '*' takes one more character
            i = ++resume;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

HandlerMatch SiteMap::handlerFor(const Route& route, const std::string& method)
{
    // One stat of the whole path; only when nothing is there is the path searched for a script
    // followed by PATH_INFO.
    std::string scriptUrl, scriptFile, pathInfo;
    mode_t type = fs::cachedFileType(route.physicalPath);
    mode_t scriptType = type;
    if (type == 0) {
        const std::string& base = route.directory->physicalPath;
        std::string_view inside = std::string_view(route.physicalPath).substr(base.size());
        size_t pos = 0;
        while (pos < inside.size()) {
            size_t next = inside.find('/', pos + 1);
            if (next == std::string::npos)
                break;
            std::string candidate = base + std::string(inside.substr(0, next));
            if (fs::cachedFileType(candidate) == S_IFREG) {
                pathInfo = inside.substr(next);
                scriptFile = std::move(candidate);
                scriptUrl = route.urlPath.substr(0, route.urlPath.size() - pathInfo.size());
                scriptType = S_IFREG;
                break;
            }
            pos = next;
        }
    }
    // The patterns are matched against the URL's own characters (a suffix of a C string is one):
    // no copy per handler and request.
    for (const HandlerMapping& m : route.scope->handlers) {
        bool withInfo = !pathInfo.empty() && m.allowPathInfo;
        const std::string& url = withInfo ? scriptUrl : route.urlPath;
        mode_t t = withInfo ? scriptType : type;
        bool pathMatches;
        if (m.path == "*")
            pathMatches = true;
        else if (m.path.find('/') != std::string::npos) {
            // A pattern with '/' matches the URL, or the URL within its application (so that
            // "/cgi-bin/*" serves the cgi-bin of every application, as a per-application
            // handler list would in IIS).
            bool root = route.application->path == "/";
            pathMatches = pathPatternMatches(m.path, url.c_str()) ||
                          (!root && pathPatternMatches(m.path, url.c_str() + route.application->path.size()));
        } else
            pathMatches = pathPatternMatches(m.path, url.c_str() + url.rfind('/') + 1);
        if (!pathMatches)
            continue;
        if (!m.verbs.empty() && std::none_of(m.verbs.begin(), m.verbs.end(), [&](const std::string& v) { return config::iequals(v, method); }))
            continue;
        if (m.resourceType == "File" && t != S_IFREG)
            continue;
        if (m.resourceType == "Directory" && t != S_IFDIR)
            continue;
        if (m.resourceType == "Either" && t != S_IFREG && t != S_IFDIR)
            continue;
        if (withInfo)
            return HandlerMatch{&m, std::move(scriptUrl), std::move(scriptFile), std::move(pathInfo)};
        return HandlerMatch{&m, route.urlPath, route.physicalPath, std::string()};
    }
    return {};
}

std::string Scope::mimeType(const std::string& fileName) const
{
    auto dot = fileName.rfind('.');
    if (dot != std::string::npos && mime) {
        auto it = mime->find(config::toLower(fileName.substr(dot)));
        if (it != mime->end())
            return it->second;
    }
    return {};
}

} // namespace lido::routing
