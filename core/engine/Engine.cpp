#include "engine/Engine.h"

#include "cgi/CgiLimiter.h"
#include "cgi/CgiRunner.h"
#include "config/ConfigDiff.h"
#include "config/Values.h"
#include "engine/PoolIdentity.h"
#include "engine/RequestFilter.h"
#include "routing/SiteMap.h"
#include "engine/StatusPage.h"
#include "http/Connection.h"
#include "log/AccessLog.h"
#include "pool/FastCgiPool.h"
#include "fs/FileCache.h"
#include "static/StaticFiles.h"

#include <asio.hpp>
#include <atomic>
#include <csignal>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <fcntl.h>
#include <limits>
#include <sstream>
#include <sys/resource.h>
#include <thread>

namespace lido::engine {

using config::ConfigElement;
using namespace routing; // SiteMap, Route, HandlerMatch, ...

namespace {

// A site's counters outlive configuration changes: a live apply keeps them for a site that stays.
struct SiteCounters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> status[6] = {};
    std::atomic<int64_t> connections{0};
    uint64_t lastRequests = 0;          // engine ticker only
    std::atomic<double> perSecond{0};   // written by the ticker, read by snapshot() on any thread
};

struct SiteState {
    const SiteConfig* config = nullptr;
    std::shared_ptr<SiteCounters> counters = std::make_shared<SiteCounters>();
    std::shared_ptr<log::AccessLog> accessLog;
    std::string accessLogKey; // folder, period, enabled: the log is kept when they stay
    std::string failure;
    bool stopped = false; // by the administrator
};

struct PoolRuntime {
    std::shared_ptr<cgi::CgiLimiter> limiter;
    std::string limiterKey;
    PoolIdentity identity;
    process::Limits limits;
};

using EndpointKey = std::pair<std::string, uint16_t>; // address, port

struct EndpointInfo {
    uint64_t maxConnections = 0;
    std::vector<SiteState*> sites;
};

// Everything the request path reads for one configuration; immutable once published (counters
// are atomics). A live apply publishes a new one; a connection keeps the one it was accepted
// with alive, and each request reads the newest.
struct Shared {
    std::shared_ptr<const config::Config> config;
    std::shared_ptr<const SiteMap> map;
    std::map<std::string, std::unique_ptr<SiteState>> sites; // by name
    std::map<std::string, PoolRuntime> pools;
    std::map<EndpointKey, EndpointInfo> endpoints;
    std::shared_ptr<log::EventLog> events;
    http::Limits limits;
    int64_t maxConnections = 0; // engine-wide, from lido/limits or the open-file limit
    RequestFilter filter;
    std::string errorMode = "DetailedLocalOnly";
    std::chrono::milliseconds cgiTimeout{900000};
    // FastCGI process pools by (application pool, fullPath, arguments).
    std::map<std::string, std::shared_ptr<pool::FastCgiPool>> fastcgi;
};

// The published view and its generation: a connection re-reads the view only when the generation
// moved, so a request costs one integer load, not a shared_ptr copy. (A mutex rather than
// std::atomic<std::shared_ptr>: libstdc++ 12 unlocks that one with a relaxed store after a read,
// which ThreadSanitizer rightly reports as a race with the next store.)
struct SharedSlot {
    mutable std::mutex mutex;
    std::shared_ptr<Shared> view;
    std::atomic<uint64_t> generation{0};
    std::shared_ptr<Shared> load() const
    {
        std::lock_guard lock(mutex);
        return view;
    }
    void store(std::shared_ptr<Shared> next)
    {
        {
            std::lock_guard lock(mutex);
            view = std::move(next);
        }
        generation.fetch_add(1, std::memory_order_release);
    }
};

std::string fastCgiKey(const std::string& pool, const std::string& fullPath, const std::string& arguments)
{
    return pool + '\x1f' + fullPath + '\x1f' + arguments;
}

pool::FastCgiSettings fastCgiSettings(const ConfigElement& app, const ConfigElement& appPool, const std::string& runtimeDir,
                                      const PoolIdentity& identity)
{
    pool::FastCgiSettings f;
    auto num = [&](const ConfigElement& e, const char* a, uint64_t fallback) { return config::parseUInt(e.get(a)).value_or(fallback); };
    auto span = [&](const ConfigElement* e, const char* a, int64_t fallback) {
        return std::chrono::milliseconds(e ? config::parseTimeSpan(e->get(a)).value_or(fallback) : fallback);
    };
    f.poolName = appPool.get("name");
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
    const ConfigElement* pm = appPool.child("processModel");
    f.identity = identity.identity;
    f.identityShown = identity.shown;
    f.identityError = identity.error;
    if (pm) {
        f.limits.openFiles = num(*pm, "maxOpenFiles", 0);
        f.limits.addressSpaceBytes = num(*pm, "maxAddressSpaceMB", 0) * 1024 * 1024;
        f.limits.cpuSeconds = num(*pm, "maxCpuSeconds", 0);
        f.limits.processes = num(*pm, "maxUserProcesses", 0);
    }
    f.startupTimeLimit = span(pm, "startupTimeLimit", 90000);
    f.pingingEnabled = pm ? config::parseBool(pm->get("pingingEnabled")).value_or(true) : true;
    f.pingInterval = span(pm, "pingInterval", 30000);
    f.pingResponseTime = span(pm, "pingResponseTime", 90000);
    const ConfigElement* failure = appPool.child("failure");
    f.rapidFailProtection = failure ? config::parseBool(failure->get("rapidFailProtection")).value_or(true) : true;
    f.rapidFailMaxCrashes = failure ? static_cast<int>(num(*failure, "rapidFailProtectionMaxCrashes", 5)) : 5;
    f.rapidFailInterval = span(failure, "rapidFailProtectionInterval", 300000);
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
    return f;
}

bool validUtf8(std::string_view s)
{
    size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (n == 0 || i + n > s.size())
            return false;
        uint32_t cp = n == 1 ? c : c & (0x7f >> n);
        for (size_t k = 1; k < n; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // No overlong forms, no surrogates, nothing past U+10FFFF.
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

std::string percentDecodeAll(std::string_view s)
{
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string errorPage(const Shared& s, int status, const http::Request& req, const std::string& detail, int substatus = 0)
{
    bool detailed = s.errorMode == "Detailed" || (s.errorMode == "DetailedLocalOnly" && req.fromLoopback());
    std::string title = "HTTP Error " + std::to_string(status) + (substatus ? "." + std::to_string(substatus) : std::string()) + " - " +
                        http::reasonPhrase(status);
    std::string body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                       "</title><style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}</style>"
                       "</head><body><h1>" + title + "</h1>\n";
    if (detailed && !detail.empty())
        body += "<pre>" + http::htmlEscape(detail) + "</pre>\n<p>Requested URL: " + http::htmlEscape(req.target) +
                "</p>\n<p><small>This detailed page is shown to local clients only (httpErrors errorMode=\"" + s.errorMode +
                "\").</small></p>\n";
    body += "<hr><p>Lido/0.1</p></body></html>\n";
    return body;
}

void sendError(const Shared& s, const std::shared_ptr<http::Responder>& r, int status, const std::string& detail,
               std::vector<http::Header> extra = {}, int substatus = 0)
{
    if (r->closed())
        return;
    if (r->headSent()) {
        r->keepAlive(false);
        r->finish();
        return;
    }
    std::string body = errorPage(s, status, r->request(), detail, substatus);
    extra.push_back({"Content-Type", "text/html; charset=utf-8"});
    r->setSubstatus(substatus);
    r->sendHead(http::ResponseHead{status, {}, std::move(extra), body.size()});
    r->sendBody(std::move(body));
    r->finish();
}

class Dispatcher final : public http::Dispatcher {
public:
    Dispatcher(std::shared_ptr<SharedSlot> slot, std::shared_ptr<Shared> accepted, uint64_t generation, const EndpointInfo& endpoint)
        : slot_(std::move(slot)), shared_(std::move(accepted)), generation_(generation)
    {
        for (SiteState* s : endpoint.sites)
            siteCounters_.push_back(s->counters);
    }

    void opened()
    {
        for (auto& c : siteCounters_)
            ++c->connections;
    }

    void connectionClosed() override
    {
        for (auto& c : siteCounters_)
            --c->connections;
    }

    std::string errorBody(int status, const http::Request& req, const std::string& detail) override
    {
        return errorPage(*shared_, status, req, detail);
    }

    void dispatch(std::shared_ptr<http::Responder> r) override
    {
        if (uint64_t g = slot_->generation.load(std::memory_order_acquire); g != generation_) {
            shared_ = slot_->load(); // the newest configuration for each request
            generation_ = g;
        }
        serve(r, r->request().path, 0);
    }

    void serve(const std::shared_ptr<http::Responder>& r, const std::string& rawPath, int redirects)
    {
        const Shared& s = *shared_;
        const http::Request& req = r->request();
        const SiteConfig* site = s.map->siteFor(req.localAddress, req.localPort, req.host);
        if (!site) {
            sendError(s, r, 400, "no site is bound to host '" + req.host + "' on this address and port (Bad Request - Invalid Hostname)");
            return;
        }
        SiteState* state = s.sites.at(site->name).get();
        if (state->stopped) {
            sendError(s, r, 503, "site '" + site->name + "' is stopped", {{"Retry-After", "60"}});
            return;
        }
        auto started = std::chrono::steady_clock::now();
        if (redirects == 0)
            // The connection (the responder) holds this dispatcher, whose view of the configuration
            // (routes point into its site map) changes only at the next request, and a connection
            // dispatches its next request only after this one completed.
            r->onComplete([state, started, r](int status, uint64_t bytes) {
                ++state->counters->requests;
                ++state->counters->status[std::clamp(status / 100, 0, 5)];
                if (const auto& accessLog = state->accessLog) {
                    const http::Request& q = r->request();
                    log::AccessEntry e;
                    e.serverIp = q.localAddress;
                    e.method = q.method;
                    e.uriStem = q.path;
                    e.uriQuery = q.query;
                    e.serverPort = q.localPort;
                    e.clientIp = q.remoteAddress;
                    if (const std::string* ua = q.header("User-Agent"))
                        e.userAgent = *ua;
                    e.status = status;
                    e.substatus = r->substatus();
                    e.bytesSent = bytes;
                    e.timeTakenMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
                    accessLog->write(e);
                }
            });
        auto decoded = http::decodePath(rawPath);
        if (!decoded) {
            sendError(s, r, 400, "the URL contains an encoded '/', '\\' or NUL, or a malformed %-escape");
            return;
        }
        auto normal = http::normalizePath(*decoded);
        if (!normal) {
            sendError(s, r, 400, "the URL contains '..': a path may not leave its virtual directory");
            return;
        }
        if (redirects == 0)
            if (auto refused = s.filter.check(req, *normal)) {
                sendError(s, r, refused->status, refused->reason, {}, refused->substatus);
                return;
            }
        handle(r, *site, *normal, redirects, false);
    }

    // Routes a decoded, normalized path and runs its handler. A folder URL that a static handler
    // matches is rewritten to its default document, which is routed again, as IIS's default
    // document module does: index.php reaches FastCGI, index.cgi CGI, index.html stays static.
    void handle(const std::shared_ptr<http::Responder>& r, const SiteConfig& siteConfig, const std::string& path, int redirects,
                bool defaultDocument)
    {
        const Shared& s = *shared_;
        const SiteConfig* site = &siteConfig;
        const http::Request& req = r->request();
        const std::string* normal = &path;
        Route route;
        if (!s.map->route(*site, *normal, route)) {
            sendError(s, r, 404, "no application or virtual directory of site '" + site->name + "' serves " + *normal);
            return;
        }
        HandlerMatch match = s.map->handlerFor(route, req.method);
        if (!defaultDocument && match.mapping && match.mapping->module == Module::Static && normal->back() == '/' &&
            s.map->defaultDocumentEnabled() && fs::cachedFileType(route.physicalPath) == S_IFDIR)
            for (const std::string& doc : s.map->defaultDocuments())
                if (fs::cachedFileType(route.physicalPath + doc) == S_IFREG) {
                    handle(r, siteConfig, *normal + doc, redirects, true);
                    return;
                }
        if (!match.mapping) {
            struct stat st {};
            bool exists = ::stat(route.physicalPath.c_str(), &st) == 0;
            sendError(s, r, 404, exists ? "no handler mapping matches " + req.method + " " + *normal : "no file " + *normal);
            return;
        }
        auto error = [this, r](int status, const std::string& detail) { sendError(*shared_, r, status, detail); };
        switch (match.mapping->module) {
        case Module::Static:
            staticfiles::serve(r, *s.map, route, error, [this, &route](const std::string& why) { refusedLink(route, why); });
            return;
        case Module::FastCgi:
            if (scriptAllowed(r, route, match))
                runFastCgi(r, route, match);
            return;
        case Module::Cgi:
            if (scriptAllowed(r, route, match))
                runCgi(r, route, match, redirects);
            return;
        }
    }

    void refusedLink(const Route& route, const std::string& why)
    {
        shared_->events->add(log::Severity::Warning, "site " + route.site->name, "request.symlink-refused", why + " (URL " + route.urlPath + ")");
    }

    // A script reached through a link that its virtual directory's policy refuses is not run
    // (the interpreter opens it by name, so this is checked before, with the same walk).
    bool scriptAllowed(const std::shared_ptr<http::Responder>& r, const Route& route, const HandlerMatch& match)
    {
        const VirtualDirectory& vd = *route.directory;
        if (vd.symlinks == fs::SymlinkPolicy::Always || match.scriptFile.size() <= vd.physicalPath.size() + 1)
            return true;
        fs::Opened o = fs::openBeneath(vd.rootFd, match.scriptFile.substr(vd.physicalPath.size() + 1), vd.symlinks, O_PATH);
        if (o.fd >= 0)
            ::close(o.fd);
        if (o.fd >= 0 || (o.error != EXDEV && o.error != ELOOP))
            return true; // (a missing script is the handler's to report)
        std::string why = o.refusal.empty() ? "the script is reached through a symbolic link out of its virtual directory" : o.refusal;
        refusedLink(route, why);
        sendError(*shared_, r, 403, why);
        return false;
    }

    void runCgi(const std::shared_ptr<http::Responder>& r, const Route& route, const HandlerMatch& match, int redirects)
    {
        const Shared& s = *shared_;
        struct stat st {};
        if (::stat(match.scriptFile.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            sendError(s, r, 404, "no CGI program " + match.scriptUrl);
            return;
        }
        auto pool = s.pools.find(route.application->pool);
        if (pool == s.pools.end()) {
            sendError(s, r, 503, "application pool '" + route.application->pool + "' is not running");
            return;
        }
        cgi::CgiJob job;
        job.responder = r;
        job.limiter = pool->second.limiter;
        job.events = s.events;
        job.scriptFile = match.scriptFile;
        if (match.mapping->scriptProcessor.empty()) {
            if (::access(match.scriptFile.c_str(), X_OK) != 0) {
                sendError(s, r, 403, "the CGI program " + match.scriptFile + " is not executable");
                return;
            }
            job.program = match.scriptFile;
            job.argv = {match.scriptFile};
        } else {
            // scriptProcessor: "interpreter [args]", %s is the script (IIS convention).
            std::istringstream words(match.mapping->scriptProcessor);
            std::string w;
            bool placed = false;
            while (words >> w) {
                if (w == "%s") {
                    w = match.scriptFile;
                    placed = true;
                }
                job.argv.push_back(w);
            }
            if (!placed)
                job.argv.push_back(match.scriptFile);
            job.program = job.argv.front();
        }
        auto slash = match.scriptFile.rfind('/');
        job.workingDirectory = match.scriptFile.substr(0, slash);
        std::string base = match.scriptFile.substr(slash + 1);
        job.nph = base.rfind("nph-", 0) == 0;
        job.context.request = &r->request();
        job.context.scriptName = match.scriptUrl;
        job.context.pathInfo = match.pathInfo;
        if (!match.pathInfo.empty())
            job.context.pathTranslated = route.directory->physicalPath + match.pathInfo;
        job.context.scriptFilename = match.scriptFile;
        job.context.documentRoot = route.directory->physicalPath;
        // Always the pool's identity: IIS's createProcessAsUser chooses between the pool's and the
        // authenticated Windows user's, and Lido has no Windows users.
        if (!pool->second.identity.error.empty()) {
            sendError(s, r, 503, pool->second.identity.error, {{"Retry-After", "60"}});
            return;
        }
        job.identity = pool->second.identity.identity;
        job.limits = pool->second.limits;
        job.timeout = s.cgiTimeout;
        auto self = shared_from_self();
        job.error = [self, r](int status, const std::string& detail, std::vector<http::Header> extra) {
            sendError(*self->shared_, r, status, detail, std::move(extra));
        };
        job.localRedirect = [self, r, redirects](const std::string& path) {
            if (redirects >= 5) {
                sendError(*self->shared_, r, 502, "more than 5 local redirects");
                return;
            }
            std::string p = path.substr(0, path.find('?'));
            self->serve(r, p, redirects + 1);
        };
        cgi::runCgi(std::move(job));
    }

    void runFastCgi(const std::shared_ptr<http::Responder>& r, const Route& route, const HandlerMatch& match)
    {
        const Shared& s = *shared_;
        const std::string& sp = match.mapping->scriptProcessor;
        auto bar = sp.find('|');
        std::string key = fastCgiKey(route.application->pool, config::expandEnvironment(sp.substr(0, bar)),
                                     bar == std::string::npos ? std::string() : sp.substr(bar + 1));
        auto it = s.fastcgi.find(key);
        if (it == s.fastcgi.end()) {
            sendError(s, r, 503, "no FastCGI application '" + sp + "' runs in application pool '" + route.application->pool + "'");
            return;
        }
        cgi::CgiContext c;
        c.request = &r->request();
        c.scriptName = match.scriptUrl;
        c.pathInfo = match.pathInfo;
        if (!match.pathInfo.empty())
            c.pathTranslated = route.directory->physicalPath + match.pathInfo;
        c.scriptFilename = match.scriptFile;
        c.documentRoot = route.directory->physicalPath;
        c.contentLength = r->request().contentLength;
        auto self = shared_from_self();
        pool::FastCgiJob job;
        job.responder = r;
        job.url = r->request().target;
        job.error = [self, r](int status, const std::string& detail, std::vector<http::Header> extra) {
            sendError(*self->shared_, r, status, detail, std::move(extra));
        };
        auto fastcgiPool = it->second;
        if (r->request().chunked) {
            // FastCGI applications want CONTENT_LENGTH too: a chunked body is collected first.
            auto body = std::make_shared<std::string>();
            auto pending = std::make_shared<pool::FastCgiJob>(std::move(job));
            auto context = std::make_shared<cgi::CgiContext>(c);
            r->onBody([body](std::string_view chunk) { body->append(chunk); },
                      [body, pending, context, fastcgiPool] {
                          context->contentLength = body->size();
                          pending->params = cgi::cgiVariables(*context);
                          pending->body = std::move(*body);
                          fastcgiPool->submit(std::move(*pending));
                      });
            return;
        }
        job.params = cgi::cgiVariables(c);
        // The application's UTF-8 server variables: decoded from the URL and checked; a value
        // that is not UTF-8 is refused rather than passed on half-decoded.
        for (const std::string& name : fastcgiPool->settings().utf8ServerVariables)
            for (auto& [k, v] : job.params) {
                if (k != name)
                    continue;
                std::string decoded = v;
                if (k == "REQUEST_URI" || k == "QUERY_STRING" || k == "UNENCODED_URL")
                    decoded = percentDecodeAll(v);
                if (!validUtf8(decoded)) {
                    sendError(s, r, 400, "the server variable " + k + " is not valid UTF-8 (utf8ServerVariables)");
                    return;
                }
                v = decoded;
            }
        fastcgiPool->submit(std::move(job));
    }

    std::shared_ptr<Dispatcher> shared_from_self() { return self_.lock(); }
    std::weak_ptr<Dispatcher> self_;

private:
    std::shared_ptr<SharedSlot> slot_;
    std::shared_ptr<Shared> shared_; // the configuration of the current request (kept alive by it)
    uint64_t generation_ = 0;
    std::vector<std::shared_ptr<SiteCounters>> siteCounters_;
};

// /status and /metrics, answered by the engine itself (no pool involved), so they answer even
// when every pool is saturated. Clients not on the allow-list get 403.
class StatusDispatcher final : public http::Dispatcher {
public:
    StatusDispatcher(std::function<Snapshot()> snapshot, std::vector<std::string> allow, std::chrono::steady_clock::time_point started)
        : snapshot_(std::move(snapshot)), allow_(std::move(allow)), started_(started)
    {
    }
    std::string errorBody(int status, const http::Request&, const std::string&) override
    {
        return std::to_string(status) + " " + http::reasonPhrase(status) + "\n";
    }
    void dispatch(std::shared_ptr<http::Responder> r) override
    {
        const http::Request& req = r->request();
        std::string client = req.remoteAddress.rfind("::ffff:", 0) == 0 ? req.remoteAddress.substr(7) : req.remoteAddress;
        auto reply = [&](int status, const std::string& type, std::string body) {
            r->sendHead(http::ResponseHead{status, {}, {{"Content-Type", type}, {"Cache-Control", "no-store"}}, body.size()});
            r->sendBody(std::move(body));
            r->finish();
        };
        if (std::find(allow_.begin(), allow_.end(), client) == allow_.end()) {
            reply(403, "text/plain", "403 Forbidden: " + client + " is not in lido/statusListener/@allow\n");
            return;
        }
        std::string path = req.path;
        if (path == "/status")
            reply(200, "application/json", statusJson(snapshot_(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()));
        else if (path == "/metrics")
            reply(200, "text/plain; version=0.0.4", prometheusMetrics(snapshot_()));
        else
            reply(404, "text/plain", "404 Not Found: try /status or /metrics\n");
    }

private:
    std::function<Snapshot()> snapshot_;
    std::vector<std::string> allow_;
    std::chrono::steady_clock::time_point started_;
};

struct Worker {
    asio::io_context io{1};
    std::map<EndpointKey, std::unique_ptr<asio::ip::tcp::acceptor>> acceptors; // touched on this worker's thread only
    std::map<EndpointKey, std::unique_ptr<asio::steady_timer>> acceptBackoff;   // after EMFILE/ENFILE
    std::thread thread;
};

// accept() errors that mean "no descriptor or memory left": accepting again at once would fail
// again at once (a busy loop on every core), so the listener waits a little.
bool outOfDescriptors(const asio::error_code& ec)
{
    return ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}
constexpr std::chrono::milliseconds kAcceptBackoff{100};

// The open-file limit: the soft limit is raised to the hard one at start, as nginx and lighttpd
// do, and the engine keeps a quarter of it (at least 64) for pools, logs and files.
struct DescriptorLimit {
    uint64_t soft = 0, hard = 0, before = 0;
};
DescriptorLimit raiseDescriptorLimit()
{
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    DescriptorLimit d{rl.rlim_cur, rl.rlim_max, rl.rlim_cur};
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised{rl.rlim_max, rl.rlim_max};
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            d.soft = rl.rlim_max;
    }
    return d;
}
int64_t connectionsFor(uint64_t softLimit)
{
    uint64_t reserve = std::max<uint64_t>(64, softLimit / 4);
    return softLimit > reserve ? static_cast<int64_t>(softLimit - reserve) : 16;
}

// Runs fn on the worker's thread and waits for it (listeners are opened and closed there).
template <typename Fn>
auto runOn(Worker& w, Fn fn) -> decltype(fn())
{
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(w.io, [&task] { task(); });
    return result.get();
}

std::string describeEndpoint(const EndpointKey& k) { return k.first + ":" + std::to_string(k.second); }

} // namespace

struct Engine::Impl {
    EngineOptions options;
    std::string runtimeDir;
    std::shared_ptr<SharedSlot> slot = std::make_shared<SharedSlot>();
    std::mutex applyMutex; // one apply (or start/stop) at a time
    std::set<std::string> stoppedSites; // by the administrator (under applyMutex)
    std::vector<std::unique_ptr<Worker>> workers;
    std::map<EndpointKey, std::shared_ptr<std::atomic<int64_t>>> endpointConnections;
    std::shared_ptr<std::atomic<int64_t>> openConnections = std::make_shared<std::atomic<int64_t>>(0); // all listeners
    DescriptorLimit descriptors;
    // Spare descriptors, given up when accept() finds none left: the open connections then still
    // have some to open files with, and new connections are answered 503 with them (shed) until
    // the number of open connections falls well below where it ran out.
    std::mutex spareMutex;
    std::vector<int> spares;
    std::atomic<int64_t> pressureCeiling{std::numeric_limits<int64_t>::max()};
    static constexpr size_t kSpares = 16;

    void takeSpares()
    {
        std::lock_guard lock(spareMutex);
        while (spares.size() < kSpares) {
            int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                break;
            spares.push_back(fd);
        }
    }
    bool releaseSpares()
    {
        std::lock_guard lock(spareMutex);
        if (spares.empty())
            return false;
        for (int fd : spares)
            ::close(fd);
        spares.clear();
        return true;
    }
    std::vector<std::shared_ptr<pool::FastCgiPool>> retired; // replaced pools still finishing their requests
    std::mutex retiredMutex;
    size_t nextWorker = 0;
    std::shared_ptr<log::EventLog> events;
    mutable std::mutex historyMutex;
    std::deque<HistoryPoint> history;
    std::unique_ptr<asio::steady_timer> ticker;
    std::unique_ptr<asio::ip::tcp::acceptor> statusAcceptor;
    std::shared_ptr<StatusDispatcher> statusDispatcher;
    std::atomic<bool> running{false};

    std::shared_ptr<Shared> current() const { return slot->load(); }

    void acceptStatus()
    {
        statusAcceptor->async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !statusAcceptor->is_open())
                return;
            if (outOfDescriptors(ec)) {
                reportAcceptFailure("the status listener", ec);
                auto wait = std::make_shared<asio::steady_timer>(statusAcceptor->get_executor(), kAcceptBackoff);
                wait->async_wait([this, wait](const asio::error_code& e) {
                    if (!e && statusAcceptor && statusAcceptor->is_open())
                        acceptStatus();
                });
                return;
            }
            if (!ec)
                http::startConnection(std::move(socket), statusDispatcher, http::Limits{});
            acceptStatus();
        });
    }

    void reportAcceptFailure(const std::string& where, const asio::error_code& ec, bool shedding = false)
    {
        events->add(log::Severity::Warning, "engine", "engine.accept-failed",
                    "accept() failed on " + where + ": " + ec.message() + " (" + std::to_string(openConnections->load()) +
                        " connections open; open-file limit " + std::to_string(descriptors.soft) + "); open connections are served, " +
                        (shedding ? "new ones get 503 until descriptors are free again (lido/limits/@maxConnections is too high for this limit)"
                                  : "new ones wait in the listen queue and are accepted again in " + std::to_string(kAcceptBackoff.count()) + " ms"));
    }

    void accept(Worker& worker, asio::ip::tcp::acceptor& acceptor, EndpointKey key, std::shared_ptr<std::atomic<int64_t>> count)
    {
        acceptor.async_accept([this, &worker, &acceptor, key, count](const asio::error_code& ec, asio::ip::tcp::socket socket) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open())
                return;
            if (outOfDescriptors(ec) && releaseSpares()) {
                // Shed from here on: connections past this many are answered 503 and closed.
                pressureCeiling = std::max<int64_t>(1, openConnections->load());
                reportAcceptFailure(describeEndpoint(key), ec, true);
                accept(worker, acceptor, key, count);
                return;
            }
            if (outOfDescriptors(ec)) {
                reportAcceptFailure(describeEndpoint(key), ec);
                auto& timer = worker.acceptBackoff[key];
                if (!timer)
                    timer = std::make_unique<asio::steady_timer>(worker.io);
                timer->expires_after(kAcceptBackoff);
                timer->async_wait([this, &worker, &acceptor, key, count](const asio::error_code& e) {
                    if (!e && acceptor.is_open())
                        accept(worker, acceptor, key, count);
                });
                return;
            }
            if (!ec) {
                uint64_t generation = slot->generation.load(std::memory_order_acquire);
                auto shared = current();
                int64_t open = openConnections->load();
                bool known = shared && shared->endpoints.count(key);
                bool engineFull = known && (open >= shared->maxConnections || open >= pressureCeiling.load());
                auto ep = known ? shared->endpoints.find(key) : decltype(shared->endpoints.find(key)){};
                if (!known || engineFull || static_cast<uint64_t>(count->load()) >= ep->second.maxConnections) {
                    // Over the engine's or the site's limit (or a listener being removed): a short
                    // 503 and close, as IIS does, instead of running out of descriptors.
                    static const std::string busy = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                    asio::error_code ignored;
                    socket.non_blocking(true, ignored);
                    socket.write_some(asio::buffer(busy), ignored);
                    socket.close(ignored);
                    if (engineFull)
                        events->add(log::Severity::Warning, "engine", "engine.connection-limit",
                                    std::to_string(openConnections->load()) + " connections open, the engine's limit (" +
                                        std::to_string(shared->maxConnections) + ", from lido/limits/@maxConnections or the open-file limit " +
                                        std::to_string(descriptors.soft) + "): new connections get 503");
                } else {
                    auto dispatcher = std::make_shared<Dispatcher>(slot, shared, generation, ep->second);
                    dispatcher->self_ = dispatcher;
                    dispatcher->opened();
                    ++*count;
                    ++*openConnections;
                    auto counted = std::shared_ptr<void>(nullptr, [count, total = openConnections](void*) {
                        --*count;
                        --*total;
                    });
                    http::Limits limits = shared->limits;
                    if (!ep->second.sites.empty())
                        limits.idleTimeout = ep->second.sites.front()->config->connectionTimeout;
                    limits.headerTimeout = std::min(limits.headerTimeout, limits.idleTimeout);
                    http::startConnection(std::move(socket), std::make_shared<CountingDispatcher>(dispatcher, counted), limits);
                }
            }
            accept(worker, acceptor, key, count);
        });
    }

    // Keeps the endpoint's connection count exact: the count drops when the connection's
    // dispatcher goes, whatever the reason.
    class CountingDispatcher final : public http::Dispatcher {
    public:
        CountingDispatcher(std::shared_ptr<Dispatcher> d, std::shared_ptr<void> token) : d_(std::move(d)), token_(std::move(token)) {}
        void dispatch(std::shared_ptr<http::Responder> r) override { d_->dispatch(std::move(r)); }
        std::string errorBody(int status, const http::Request& req, const std::string& detail) override
        {
            return d_->errorBody(status, req, detail);
        }
        // Once. (The token holds no pointer, only a deleter: testing it as a bool was always false,
        // which is why the sites' open-connection counts never dropped.)
        void connectionClosed() override
        {
            if (closed_)
                return;
            closed_ = true;
            d_->connectionClosed();
            token_.reset();
        }

    private:
        std::shared_ptr<Dispatcher> d_;
        std::shared_ptr<void> token_;
        bool closed_ = false;
    };

    // Opens a listener for key on every worker; an error string when it cannot be bound.
    std::string openListener(const EndpointKey& key)
    {
        auto count = endpointConnections.emplace(key, std::make_shared<std::atomic<int64_t>>(0)).first->second;
        std::string failure;
        for (auto& w : workers) {
            Worker* raw = w.get();
            std::string why = runOn(*raw, [this, raw, key, count]() -> std::string {
                asio::error_code ec;
                std::string ip = key.first;
                if (ip.size() > 2 && ip.front() == '[')
                    ip = ip.substr(1, ip.size() - 2);
                auto addr = asio::ip::make_address(ip, ec);
                auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(raw->io);
                asio::ip::tcp::endpoint endpoint(addr, key.second);
                if (!ec)
                    acceptor->open(endpoint.protocol(), ec);
                if (!ec)
                    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
                if (!ec) {
                    int one = 1;
                    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
                    acceptor->bind(endpoint, ec);
                }
                if (!ec)
                    acceptor->listen(asio::socket_base::max_listen_connections, ec);
                if (ec)
                    return ec.message();
                accept(*raw, *acceptor, key, count);
                raw->acceptors[key] = std::move(acceptor);
                return {};
            });
            if (!why.empty() && failure.empty())
                failure = "cannot bind " + describeEndpoint(key) + ": " + why;
        }
        if (!failure.empty())
            closeListener(key);
        return failure;
    }

    void closeListener(const EndpointKey& key)
    {
        for (auto& w : workers) {
            Worker* raw = w.get();
            runOn(*raw, [raw, key] {
                auto it = raw->acceptors.find(key);
                if (it == raw->acceptors.end())
                    return 0;
                asio::error_code ignored;
                it->second->close(ignored);
                raw->acceptBackoff.erase(key); // a waiting back-off completes with operation_aborted
                // The pending accept completes with operation_aborted later: the acceptor must
                // outlive it, so it is destroyed from a posted handler after that completion.
                auto doomed = std::shared_ptr<asio::ip::tcp::acceptor>(std::move(it->second));
                raw->acceptors.erase(it);
                asio::post(raw->io, [doomed] {});
                return 0;
            });
        }
    }

    // Builds the request path's view of a configuration. Site counters, access logs, CGI limiters
    // and FastCGI pools of `old` are reused where their settings did not change.
    std::shared_ptr<Shared> build(std::shared_ptr<const config::Config> config, const Shared* old)
    {
        auto shared = std::make_shared<Shared>();
        shared->config = config;
        shared->events = events;
        {
            const ConfigElement* l = config->section("lido/log");
            std::string level = l ? l->get("level") : "info";
            events->setMinimum(level == "trace" || level == "debug" ? log::Severity::Debug
                               : level == "warn"                    ? log::Severity::Warning
                               : level == "error"                   ? log::Severity::Error
                                                                    : log::Severity::Info);
        }
        std::vector<std::string> warnings;
        shared->map = SiteMap::build(*config, &warnings);
        for (const std::string& w : warnings)
            events->add(log::Severity::Warning, "engine", "config.unsupported", w);
        if (const ConfigElement* rl = config->section("security/requestFiltering/requestLimits")) {
            shared->limits.maxUrl = config::parseUInt(rl->get("maxUrl")).value_or(4096);
            shared->limits.maxQueryString = config::parseUInt(rl->get("maxQueryString")).value_or(2048);
            shared->limits.maxContentLength = config::parseUInt(rl->get("maxAllowedContentLength")).value_or(30000000);
        }
        if (const ConfigElement* he = config->section("httpErrors"))
            shared->errorMode = he->get("errorMode");
        shared->filter = RequestFilter(config->section("security/requestFiltering"));
        shared->maxConnections = connectionsFor(descriptors.soft);
        if (const ConfigElement* l = config->section("lido/limits"))
            if (auto n = config::parseUInt(l->get("maxConnections")); n && *n > 0)
                shared->maxConnections = static_cast<int64_t>(*n);
        if (const ConfigElement* c = config->section("cgi")) {
            shared->cgiTimeout = std::chrono::milliseconds(config::parseTimeSpan(c->get("timeout")).value_or(900000));
        }

        unsigned cores = std::max(1u, std::thread::hardware_concurrency());
        for (const ConfigElement* p : config->pools()) {
            PoolRuntime rt;
            std::string name = p->get("name");
            auto maxConcurrent = static_cast<int>(config::parseUInt(p->get("cgiMaxConcurrent")).value_or(0));
            if (maxConcurrent == 0)
                maxConcurrent = static_cast<int>(std::max(4u, 2 * cores));
            auto queue = config::parseUInt(p->get("cgiQueueLength")).value_or(1000);
            auto wait = std::chrono::milliseconds(config::parseTimeSpan(p->get("cgiQueueTimeout")).value_or(30000));
            rt.limiterKey = std::to_string(maxConcurrent) + "/" + std::to_string(queue) + "/" + std::to_string(wait.count());
            if (old)
                if (auto it = old->pools.find(name); it != old->pools.end() && it->second.limiterKey == rt.limiterKey)
                    rt.limiter = it->second.limiter;
            if (!rt.limiter)
                rt.limiter = std::make_shared<cgi::CgiLimiter>(name, maxConcurrent, queue, wait);
            rt.identity = poolIdentity(*p, *config);
            if (!rt.identity.error.empty())
                events->add(log::Severity::Error, "pool " + name, "pool.identity", rt.identity.error + "; its programs do not start");
            if (const ConfigElement* pm = p->child("processModel")) {
                rt.limits.openFiles = config::parseUInt(pm->get("maxOpenFiles")).value_or(0);
                rt.limits.addressSpaceBytes = config::parseUInt(pm->get("maxAddressSpaceMB")).value_or(0) * 1024 * 1024;
                rt.limits.cpuSeconds = config::parseUInt(pm->get("maxCpuSeconds")).value_or(0);
                rt.limits.processes = config::parseUInt(pm->get("maxUserProcesses")).value_or(0);
            }
            shared->pools.emplace(name, std::move(rt));
        }

        // FastCGI pools: every application pool that serves an application, with every FastCGI
        // application a handler names. A pool whose settings are unchanged is the same object.
        std::vector<std::pair<std::string, std::string>> fastCgiApps; // scriptProcessor split
        for (const HandlerMapping& h : shared->map->handlers())
            if (h.module == Module::FastCgi) {
                auto bar = h.scriptProcessor.find('|');
                fastCgiApps.emplace_back(config::expandEnvironment(h.scriptProcessor.substr(0, bar)),
                                         bar == std::string::npos ? std::string() : h.scriptProcessor.substr(bar + 1));
            }
        std::set<std::string> usedPools;
        for (const SiteConfig& site : shared->map->sites())
            for (const Application& a : site.applications)
                usedPools.insert(a.pool);
        for (const std::string& poolName : usedPools) {
            const ConfigElement* poolElement = config->pool(poolName);
            if (!poolElement)
                continue;
            for (const auto& [fullPath, args] : fastCgiApps) {
                std::string key = fastCgiKey(poolName, fullPath, args);
                if (shared->fastcgi.count(key))
                    continue;
                for (const ConfigElement* app : config->fastCgiApplications()) {
                    if (config::expandEnvironment(app->get("fullPath")) != fullPath || app->get("arguments") != args)
                        continue;
                    auto settings = fastCgiSettings(*app, *poolElement, runtimeDir, shared->pools.at(poolName).identity);
                    if (old)
                        if (auto it = old->fastcgi.find(key); it != old->fastcgi.end() && it->second && it->second->settings() == settings) {
                            shared->fastcgi[key] = it->second;
                            break;
                        }
                    // Each pool's strand lives on one worker; pools are spread over the workers.
                    auto& io = workers[nextWorker++ % workers.size()]->io;
                    shared->fastcgi[key] = std::make_shared<pool::FastCgiPool>(io, std::move(settings), events);
                    break;
                }
            }
        }

        for (const SiteConfig& site : shared->map->sites()) {
            auto state = std::make_unique<SiteState>();
            state->config = &site;
            std::string logDir = site.logDirectory;
            if (logDir.empty() && !options.logDirectory.empty())
                logDir = options.logDirectory + "/W3SVC" + std::to_string(site.id);
            state->accessLogKey = logDir + "|" + site.logPeriod + "|" + (site.logEnabled ? "1" : "0");
            if (old)
                if (auto it = old->sites.find(site.name); it != old->sites.end()) {
                    state->counters = it->second->counters;
                    if (it->second->accessLogKey == state->accessLogKey)
                        state->accessLog = it->second->accessLog;
                }
            if (!state->accessLog)
                state->accessLog = std::make_shared<log::AccessLog>(logDir, site.logPeriod, site.logEnabled);
            state->stopped = stoppedSites.count(site.name) > 0;
            SiteState* raw = state.get();
            shared->sites.emplace(site.name, std::move(state));
            if (!site.autoStart || raw->stopped)
                continue;
            for (const auto& b : site.bindings) {
                EndpointInfo& ep = shared->endpoints[EndpointKey(b.ip == "*" ? std::string("0.0.0.0") : b.ip, b.port)];
                ep.maxConnections = std::max(ep.maxConnections, site.maxConnections);
                if (std::find(ep.sites.begin(), ep.sites.end(), raw) == ep.sites.end())
                    ep.sites.push_back(raw);
            }
        }
        return shared;
    }

    // Opens the listeners `next` has and the running set lacks, closes those it no longer has;
    // marks the sites of a listener that cannot be bound as failed (with an event).
    std::string syncListeners(Shared& next)
    {
        std::set<EndpointKey> open;
        for (auto& [key, a] : workers.front()->acceptors)
            open.insert(key);
        // (acceptors are only touched on worker threads; the key set changes only here, under applyMutex)
        std::string failures;
        for (auto& [key, ep] : next.endpoints) {
            if (open.count(key))
                continue;
            std::string why = openListener(key);
            if (why.empty())
                continue;
            for (SiteState* s : ep.sites) {
                s->failure = why;
                events->add(log::Severity::Error, "site " + s->config->name, "site.bind-failed", "site " + s->config->name + " cannot serve: " + why);
            }
            failures += (failures.empty() ? "" : "; ") + why;
        }
        for (const EndpointKey& key : open)
            if (!next.endpoints.count(key)) {
                closeListener(key);
                events->add(log::Severity::Info, "engine", "listener.closed", "stopped listening on " + describeEndpoint(key));
            }
        return failures;
    }

    void retirePools(const Shared& old, const Shared& next, const std::string& why)
    {
        for (auto& [key, p] : old.fastcgi) {
            auto it = next.fastcgi.find(key);
            if (p && (it == next.fastcgi.end() || it->second != p)) {
                p->retire(why);
                std::lock_guard lock(retiredMutex);
                retired.push_back(p);
            }
        }
    }

    void tick()
    {
        ticker->expires_after(std::chrono::seconds(1));
        ticker->async_wait([this](const asio::error_code& ec) {
            if (ec)
                return;
            auto shared = current();
            HistoryPoint p;
            p.time = std::chrono::system_clock::now();
            for (auto& [name, s] : shared->sites) {
                uint64_t now = s->counters->requests.load();
                double perSecond = static_cast<double>(now - s->counters->lastRequests);
                s->counters->perSecond = perSecond;
                s->counters->lastRequests = now;
                p.requestsPerSecond += perSecond;
                p.errors5xx += s->counters->status[5].load();
                if (s->accessLog)
                    s->accessLog->flush();
            }
            for (auto& [name, pool] : shared->pools) {
                auto m = pool.limiter->metrics();
                p.cgiRunning += m.running;
                p.cgiQueued += m.queued;
            }
            {
                std::lock_guard lock(historyMutex);
                history.push_back(p);
                while (history.size() > 3600)
                    history.pop_front();
            }
            if (int64_t ceiling = pressureCeiling.load(); ceiling != std::numeric_limits<int64_t>::max() &&
                                                            openConnections->load() < ceiling * 3 / 4) {
                takeSpares();
                std::lock_guard lock(spareMutex);
                if (spares.size() == kSpares) {
                    pressureCeiling = std::numeric_limits<int64_t>::max();
                    events->add(log::Severity::Info, "engine", "engine.descriptors-recovered",
                                std::to_string(openConnections->load()) + " connections open: descriptors are free again, new connections are accepted");
                }
            }
            {
                std::lock_guard lock(retiredMutex);
                std::erase_if(retired, [](const std::shared_ptr<pool::FastCgiPool>& r) { return r->drained(); });
            }
            events->flush();
            tick();
        });
    }
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>())
{
    impl_->options = std::move(options);
    std::string file = impl_->options.logDirectory.empty() ? std::string() : impl_->options.logDirectory + "/lido-events.log";
    if (!impl_->options.logDirectory.empty())
        ::mkdir(impl_->options.logDirectory.c_str(), 0755);
    impl_->events = std::make_shared<log::EventLog>(file, impl_->options.logToStderr);
    // A client that disconnects must not kill the engine with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
}

Engine::~Engine() { stop(std::chrono::milliseconds(0)); }

bool Engine::running() const { return impl_->running; }
std::shared_ptr<log::EventLog> Engine::events() const { return impl_->events; }
std::shared_ptr<const config::Config> Engine::config() const
{
    auto shared = impl_->current();
    return shared ? shared->config : nullptr;
}

Result<void> Engine::start(std::shared_ptr<const config::Config> config)
{
    std::lock_guard guard(impl_->applyMutex);
    if (impl_->running)
        return fail("the engine is already running");
    if (!config->valid())
        return fail("the configuration has errors; the engine does not start with it");
    impl_->runtimeDir = impl_->options.runtimeDirectory;
    if (impl_->runtimeDir.empty()) {
        const char* xdg = std::getenv("XDG_RUNTIME_DIR");
        impl_->runtimeDir = xdg ? std::string(xdg) + "/lido" : ::geteuid() == 0 ? "/run/lido" : "/tmp/lido-" + std::to_string(::geteuid());
    }
    ::mkdir(impl_->runtimeDir.c_str(), 0711);
    impl_->descriptors = raiseDescriptorLimit();
    impl_->takeSpares();

    unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    int threads = impl_->options.threads > 0 ? impl_->options.threads : static_cast<int>(cores);
    impl_->workers.clear();
    impl_->endpointConnections.clear();
    for (int t = 0; t < threads; ++t) {
        auto w = std::make_unique<Worker>();
        Worker* raw = w.get();
        w->thread = std::thread([raw] {
            auto work = asio::make_work_guard(raw->io);
            raw->io.run();
        });
        impl_->workers.push_back(std::move(w));
    }
    auto shared = impl_->build(config, nullptr);
    // Listeners first (they mark the sites that cannot bind), then the view is published and
    // never written again; a connection accepted in between gets the short 503.
    std::string failures = impl_->syncListeners(*shared);
    impl_->slot->store(shared);
    for (auto& [key, p] : shared->fastcgi)
        p->start();

    // The status listener: only when configured (lido/statusListener), loopback by default.
    if (const ConfigElement* sl = config->section("lido/statusListener"); sl && config::parseBool(sl->get("enabled")).value_or(true)) {
        auto info = config::parseBindingInfo(sl->get("bindingInformation"));
        std::vector<std::string> allow;
        std::stringstream list(sl->get("allow"));
        for (std::string a; std::getline(list, a, ',');)
            if (auto t = config::trim(a); !t.empty())
                allow.push_back(t);
        Engine* engine = this;
        impl_->statusDispatcher = std::make_shared<StatusDispatcher>([engine] { return engine->snapshot(); }, allow, std::chrono::steady_clock::now());
        std::string error = runOn(*impl_->workers.front(), [this, info]() -> std::string {
            asio::error_code ec;
            std::string ip = info->ip == "*" ? "0.0.0.0" : info->ip;
            asio::ip::tcp::endpoint endpoint(asio::ip::make_address(ip, ec), info->port);
            impl_->statusAcceptor = std::make_unique<asio::ip::tcp::acceptor>(impl_->workers.front()->io);
            if (!ec)
                impl_->statusAcceptor->open(endpoint.protocol(), ec);
            if (!ec)
                impl_->statusAcceptor->set_option(asio::socket_base::reuse_address(true), ec);
            if (!ec)
                impl_->statusAcceptor->bind(endpoint, ec);
            if (!ec)
                impl_->statusAcceptor->listen(asio::socket_base::max_listen_connections, ec);
            if (ec) {
                impl_->statusAcceptor.reset();
                return ec.message();
            }
            impl_->acceptStatus();
            return {};
        });
        if (!error.empty())
            impl_->events->add(log::Severity::Error, "engine", "status.bind-failed",
                               "the status listener cannot bind " + sl->get("bindingInformation") + ": " + error);
    }
    runOn(*impl_->workers.front(), [this] {
        impl_->ticker = std::make_unique<asio::steady_timer>(impl_->workers.front()->io);
        impl_->tick();
        return 0;
    });
    impl_->running = true;
    const DescriptorLimit& d = impl_->descriptors;
    impl_->events->add(log::Severity::Info, "engine", "engine.descriptors",
                       "open-file limit " + std::to_string(d.soft) +
                           (d.soft != d.before ? " (the soft limit " + std::to_string(d.before) + " raised to the hard limit)"
                                               : " (soft and hard limit " + std::to_string(d.hard) + ")") +
                           "; at most " + std::to_string(shared->maxConnections) + " connections at once");
    for (const auto& [name, s] : shared->sites)
        if (s->failure.empty() && s->config->autoStart)
            impl_->events->add(log::Severity::Info, "site " + name, "site.started", "site " + name + " started");
    if (!failures.empty())
        return fail(failures);
    return {};
}

Result<std::string> Engine::apply(std::shared_ptr<const config::Config> config)
{
    std::lock_guard guard(impl_->applyMutex);
    if (!impl_->running)
        return fail("the engine is not running");
    if (!config->valid())
        return fail("the configuration has errors; the running configuration stays");
    auto old = impl_->current();
    auto changes = config::semanticDiff(*old->config, *config);
    if (changes.empty())
        return std::string("no changes");
    std::string summary = config::formatSemanticDiff(changes);
    while (!summary.empty() && summary.back() == '\n')
        summary.pop_back();
    auto next = impl_->build(config, old.get());
    // New listeners first, then the new view goes live, then what is gone is closed: a binding
    // that stays is never closed, and a request finds its site at every moment.
    std::string failures = impl_->syncListeners(*next);
    for (auto& [key, p] : next->fastcgi) {
        auto it = old->fastcgi.find(key);
        if (it == old->fastcgi.end() || it->second != p)
            p->start();
    }
    impl_->slot->store(next);
    impl_->retirePools(*old, *next, "the configuration changed");
    std::set<std::string> before, after;
    for (auto& [name, s] : old->sites)
        before.insert(name);
    for (auto& [name, s] : next->sites) {
        after.insert(name);
        if (!before.count(name) && s->failure.empty() && s->config->autoStart)
            impl_->events->add(log::Severity::Info, "site " + name, "site.started", "site " + name + " started");
    }
    for (const std::string& name : before)
        if (!after.count(name))
            impl_->events->add(log::Severity::Info, "site " + name, "site.stopped", "site " + name + " removed");
    impl_->events->addAudit(log::Severity::Info, "engine", "config.applied", "configuration applied: " + summary);
    if (!failures.empty())
        summary += "\n(applied, but " + failures + ")"; // the sites concerned are marked failed, with events
    return summary;
}

void Engine::stop(std::chrono::milliseconds grace)
{
    std::lock_guard guard(impl_->applyMutex);
    if (!impl_->running)
        return;
    impl_->running = false;
    if (impl_->statusAcceptor)
        asio::post(impl_->workers.front()->io, [this] {
            asio::error_code ignored;
            impl_->statusAcceptor->close(ignored);
        });
    for (auto& w : impl_->workers)
        asio::post(w->io, [raw = w.get()] {
            for (auto& [key, a] : raw->acceptors) {
                asio::error_code ignored;
                a->close(ignored);
            }
        });
    // In-flight requests finish within the grace period (the count drops as connections close).
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto busy = [this] {
        for (auto& [key, c] : impl_->endpointConnections)
            if (c->load() > 0)
                return true;
        return false;
    };
    while (busy() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : impl_->workers)
        w->io.stop();
    for (auto& w : impl_->workers)
        if (w->thread.joinable())
            w->thread.join();
    auto shared = impl_->current();
    for (auto& [name, s] : shared->sites)
        if (s->accessLog)
            s->accessLog->flush();
    impl_->ticker.reset();
    impl_->statusAcceptor.reset();
    // Kills the instances (signalGroup SIGKILL) before the strands go.
    for (auto& [key, p] : shared->fastcgi)
        p.reset();
    impl_->retired.clear();
    // What stays readable after a stop: the configuration (the console still shows it), no pools.
    auto stopped = std::make_shared<Shared>();
    stopped->config = shared->config;
    stopped->map = shared->map;
    stopped->events = impl_->events;
    impl_->slot->store(std::move(stopped));
    shared.reset();
    for (auto& w : impl_->workers)
        w->acceptors.clear();
    impl_->workers.clear(); // closes sockets and pipes; CGI children die with their thread (PR_SET_PDEATHSIG)
    impl_->events->add(log::Severity::Info, "engine", "engine.stopped", "the engine stopped");
    impl_->events->flush();
}

Snapshot Engine::snapshot() const
{
    Snapshot snap;
    snap.time = std::chrono::system_clock::now();
    auto shared = impl_->current();
    if (!shared)
        return snap;
    for (const auto& [name, s] : shared->sites) {
        SiteMetrics m;
        m.name = name;
        m.id = s->config->id;
        m.started = impl_->running && s->failure.empty() && s->config->autoStart && !s->stopped;
        m.state = !s->failure.empty() ? "Failed: " + s->failure : m.started ? "Started" : s->stopped ? "Stopped: stopped by the administrator" : "Stopped";
        const SiteCounters& c = *s->counters;
        m.requests = c.requests;
        m.requestsPerSecond = c.perSecond;
        m.status1xx = c.status[1];
        m.status2xx = c.status[2];
        m.status3xx = c.status[3];
        m.status4xx = c.status[4];
        m.status5xx = c.status[5];
        m.openConnections = c.connections;
        snap.sites.push_back(m);
    }
    for (const auto& [name, p] : shared->pools) {
        snap.cgi.push_back(p.limiter->metrics());
        snap.cgi.back().identity = p.identity.shown;
    }
    for (const auto& [key, p] : shared->fastcgi)
        if (p)
            snap.fastcgi.push_back(p->metrics());
    return snap;
}

Result<void> Engine::controlPool(const std::string& name, PoolAction action)
{
    auto shared = impl_->current();
    if (!shared || !shared->config->pool(name))
        return fail("no application pool '" + name + "'");
    for (auto& [key, p] : shared->fastcgi) {
        if (!p || key.substr(0, key.find('\x1f')) != name)
            continue;
        switch (action) {
        case PoolAction::Start: p->restart(); break;
        case PoolAction::Stop: p->stop("stopped by the administrator"); break;
        case PoolAction::Recycle: p->recycle("recycled by the administrator"); break;
        }
    }
    return {};
}

Result<void> Engine::recycleInstance(const std::string& name, int pid)
{
    auto shared = impl_->current();
    if (!shared || !shared->config->pool(name))
        return fail("no application pool '" + name + "'");
    for (auto& [key, p] : shared->fastcgi)
        if (p && key.substr(0, key.find('\x1f')) == name && p->recycleInstance(pid, "recycled by the administrator"))
            return {};
    return fail("no running instance with pid " + std::to_string(pid) + " in application pool '" + name + "'");
}

Result<void> Engine::controlSite(const std::string& name, SiteAction action)
{
    std::lock_guard guard(impl_->applyMutex);
    auto old = impl_->current();
    if (!impl_->running || !old)
        return fail("the engine is not running");
    if (!old->sites.count(name))
        return fail("no site '" + name + "'");
    bool stop = action == SiteAction::Stop;
    if (stop == (impl_->stoppedSites.count(name) > 0))
        return {}; // already so
    if (stop)
        impl_->stoppedSites.insert(name);
    else
        impl_->stoppedSites.erase(name);
    auto next = impl_->build(old->config, old.get());
    std::string failures = impl_->syncListeners(*next);
    impl_->slot->store(next);
    impl_->events->add(log::Severity::Info, "site " + name, stop ? "site.stopped" : "site.started",
                       "site " + name + (stop ? " stopped by the administrator" : " started"));
    if (!failures.empty())
        return fail(failures);
    return {};
}

std::vector<HistoryPoint> Engine::history() const
{
    std::lock_guard lock(impl_->historyMutex);
    return {impl_->history.begin(), impl_->history.end()};
}

} // namespace lido::engine
