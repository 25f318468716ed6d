#include "engine/Router.h"

#include "engine/ReplacedErrors.h"

#include "cgi/CgiRunner.h"
#include "config/Values.h"
#include "fs/FileCache.h"
#include "rewrite/Rewriter.h"
#include "static/StaticFiles.h"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::engine {

using namespace routing; // SiteMap, Route, HandlerMatch, ...

namespace {
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

} // namespace

namespace {
const char* moduleName(Module m)
{
    switch (m) {
    case Module::Static: return "StaticFileModule";
    case Module::Cgi: return "CgiModule";
    case Module::FastCgi: return "FastCgiModule";
    case Module::Unsupported: break;
    }
    return "unsupported";
}
} // namespace

std::string errorPage(const Shared& s, int status, const http::Request& req, const std::string& detail, int substatus)
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
               std::vector<http::Header> extra, int substatus)
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


namespace {

class Dispatcher final : public http::Dispatcher {
public:
    Dispatcher(std::shared_ptr<SharedSlot> slot, std::shared_ptr<Shared> accepted, uint64_t generation, const EndpointInfo& endpoint)
        : slot_(std::move(slot)), shared_(std::move(accepted)), generation_(generation)
    {
        auto e = std::make_shared<EndpointSites>();
        for (SiteState* s : endpoint.sites)
            e->counters.push_back(s->counters);
        e->source = endpoint.sites.empty() ? std::string("engine") : "site " + endpoint.sites.front()->config->name;
        endpoint_ = std::move(e);
    }

    // HTTP/2: each stream its own dispatcher (this one keeps one request's state at a time),
    // sharing the connection's view of the configuration and its sites' counters.
    std::shared_ptr<http::Dispatcher> forStream() override
    {
        auto d = std::make_shared<Dispatcher>(*this);
        d->self_ = d;
        return d;
    }

    void protocolEvent(const std::string& kind, const std::string& detail) override
    {
        shared_->events->add(log::Severity::Warning, endpoint_->source, kind, detail);
    }

    void opened()
    {
        for (auto& c : endpoint_->counters)
            ++c->connections;
    }

    void connectionClosed() override
    {
        for (auto& c : endpoint_->counters)
            --c->connections;
    }

    std::string errorBody(int status, const http::Request& req, const std::string& detail) override
    {
        return errorPage(*shared_, status, req, detail);
    }

    void dispatch(std::shared_ptr<http::Responder> r) override
    {
        rewritten_ = {};
        state_ = nullptr;
        scope_ = nullptr;
        executingError_ = false;
        track_ = nullptr;
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
        if (redirects == 0 && answerAcmeChallenge(*r, s))
            return;
        const SiteConfig* site = s.map->siteFor(req.localAddress, req.localPort, req.host);
        if (!site) {
            fail(r, 400, "no site is bound to host '" + req.host + "' on this address and port (Bad Request - Invalid Hostname)");
            return;
        }
        SiteState* state = s.sites.at(site->name).get();
        if (redirects == 0 && !site->healthPath.empty() && req.path == site->healthPath) {
            answerHealth(*r, siteHealth(s, site->name)); // before the site's rules; not logged, as checks come every second or two
            return;
        }
        if (state->stopped) {
            fail(r, 503, "site '" + site->name + "' is stopped", {{"Retry-After", "60"}});
            return;
        }
        state_ = state;
        useScope(r, *state->scopes.back()); // the site's, until the path is known
        if (redirects == 0) {
            started_ = std::chrono::steady_clock::now();
            responder_ = r.get();
            // A site that keeps traces tracks every request from here (the rules that fire are
            // part of its trace); else only a request routed to a program is tracked, from
            // handle(), for the board of requests running now (a static file is answered from
            // memory or sent by the kernel, and is never waiting on anything to show there).
            if (state->traces)
                newTrack(req);
            // The connection (the responder) holds this dispatcher, whose view of the configuration
            // (routes point into its site map) changes only at the next request, and a connection
            // dispatches its next request only after this one completed.
            // The connection owns and runs this callback: a plain pointer to this dispatcher, since
            // a shared one would keep the connection alive by itself (LeakSanitizer found that
            // cycle); the request's facts are members (one pointer: no allocation per request).
            r->onComplete([self = this](int status, uint64_t bytes) { self->completed(status, bytes); });
        }
        auto decoded = http::decodePath(rawPath);
        if (!decoded) {
            fail(r, 400, "the URL contains an encoded '/', '\\' or NUL, or a malformed %-escape");
            return;
        }
        auto normal = http::normalizePath(*decoded);
        if (!normal) {
            fail(r, 400, "the URL contains '..': a path may not leave its virtual directory");
            return;
        }
        if (redirects == 0) {
            const SiteScope& scope = state->scopes.size() == 1 ? *scope_ : useScope(r, state->scopeFor(*normal));
            if (auto denied = scope.ipSecurity.check(req)) {
                if (denied->status == 0) { // denyAction="AbortRequest": no answer at all
                    r->keepAlive(false);
                    r->abort();
                    return;
                }
                fail(r, denied->status, denied->reason, {}, denied->substatus);
                return;
            }
            if (auto refused = scope.filter.check(req, *normal)) {
                fail(r, refused->status, refused->reason, {}, refused->substatus);
                return;
            }
        }
        if (redirects == 0 && (!s.globalRules.empty() || !state->rewrite.empty())) {
            std::string path = *normal;
            if (applyRewrite(r, *site, *state, path))
                handle(r, *site, path, redirects, false);
            return;
        }
        handle(r, *site, *normal, redirects, false);
    }

    void newTrack(const http::Request& req)
    {
        track_ = std::make_shared<log::RequestTrack>();
        track_->started = started_;
        track_->startedWall = std::chrono::system_clock::now();
        track_->method = req.method;
        track_->url = req.target;
        track_->client = req.remoteAddress;
        track_->site = state_->config->name;
    }

    // The request's response is complete (or its connection died): the board, the counters,
    // the access log.
    void completed(int status, uint64_t bytes)
    {
        const SiteState* state = state_; // (the next request's dispatch() clears it, after this)
        if (track_)
            finishTrack(*track_, *responder_, status, bytes);
        ++state->counters->requests;
        ++state->counters->status[std::clamp(status / 100, 0, 5)];
        if (const auto& accessLog = state->accessLog; accessLog && accessLog->enabled()) {
            const http::Request& q = responder_->request();
            log::AccessEntry e;
            e.serverIp = q.localAddress;
            e.method = q.method;
            e.uriStem = q.path;
            e.uriQuery = q.query;
            if (rewritten_.active && rewritten_.logged) { // logRewrittenUrl
                e.uriStem = rewritten_.path;
                e.uriQuery = rewritten_.query;
            }
            e.serverPort = q.localPort;
            e.clientIp = q.remoteAddress;
            if (const std::string* ua = q.header("User-Agent"))
                e.userAgent = *ua;
            if (const std::string* referer = q.header("Referer"))
                e.referer = *referer;
            if (const std::string* cookie = q.header("Cookie"))
                e.cookie = *cookie;
            e.host = q.host;
            e.protocolVersion = q.versionMajor == 2 ? "HTTP/2" : q.versionMinor == 0 ? "HTTP/1.0" : "HTTP/1.1";
            e.status = status;
            e.substatus = responder_->substatus();
            e.bytesSent = bytes;
            e.bytesReceived = responder_->bytesReceived();
            e.timeTakenMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count();
            accessLog->write(e);
        }
    }

    // ACME's HTTP-01: the CA asks http://HOST/.well-known/acme-challenge/TOKEN while the engine
    // offers that token; before any site's rules, which could not know of it.
    static bool answerAcmeChallenge(http::Responder& r, const Shared& s)
    {
        static constexpr std::string_view prefix = "/.well-known/acme-challenge/";
        const http::Request& req = r.request();
        if (!s.challenges || req.path.size() <= prefix.size() || req.path.compare(0, prefix.size(), prefix) != 0 || req.method != "GET")
            return false;
        auto answer = s.challenges->find(req.path.substr(prefix.size()));
        if (!answer)
            return false;
        r.sendHead(http::ResponseHead{200, {}, {{"Content-Type", "application/octet-stream"}}, answer->size()});
        r.sendBody(*answer);
        r.finish();
        return true;
    }

    // URL Rewrite: the server's global rules, then the site's and its paths' in IIS's order.
    // A rewrite leaves the new URL in path (routed again from the site: application, virtual
    // directory and handler); false when the rules answered the request themselves.
    bool applyRewrite(const std::shared_ptr<http::Responder>& r, const SiteConfig& site, const SiteState& state, std::string& path)
    {
        const Shared& s = *shared_;
        const http::Request& req = r->request();
        rewrite::Context context;
        // The rules of a location match the URL below it, but {URL} and {REQUEST_FILENAME} are
        // of the whole URL, as in IIS.
        std::string scopePrefix = "/";
        context.variable = [&](const std::string& name, const std::string& url) {
            return serverVariable(*s.map, site, req, name, scopePrefix + (url.empty() ? url : url.substr(1)));
        };
        context.exists = [](const std::string& p, bool directory) { return fs::cachedFileType(p) == static_cast<mode_t>(directory ? S_IFDIR : S_IFREG); };
        std::string query = req.query;
        bool rewritten = false, logged = false;
        std::vector<std::string> matched;
        auto scope = [&](const config::RewriteRules& rules, const std::string& prefix) -> std::optional<rewrite::Outcome> {
            if (path.rfind(prefix, 0) != 0 && path + "/" != prefix)
                return std::nullopt;
            scopePrefix = prefix;
            rewrite::Outcome o = rewrite::run(rules, path.size() < prefix.size() ? std::string("/") : path.substr(prefix.size() - 1), query, context);
            matched.insert(matched.end(), o.matched.begin(), o.matched.end());
            if (o.kind != rewrite::Outcome::Kind::Rewrite)
                return o.kind == rewrite::Outcome::Kind::None ? std::nullopt : std::optional(o);
            path = o.path.find("://") != std::string::npos ? o.path : prefix + o.path.substr(1);
            query = o.query;
            rewritten = true;
            logged = logged || o.logRewrittenUrl;
            return std::nullopt;
        };
        std::optional<rewrite::Outcome> answer = scope(s.globalRules, "/");
        for (size_t i = 0; i < state.rewrite.size() && !answer; ++i)
            answer = scope(state.rewrite[i].rules, state.rewrite[i].prefix);
        if (!matched.empty() && s.events->wants(log::Severity::Debug)) {
            std::string names;
            for (const auto& m : matched)
                names += (names.empty() ? "" : ", ") + m;
            s.events->add(log::Severity::Debug, "site " + site.name, "rewrite.matched",
                          req.method + " " + req.target + ": rule " + names + (rewritten ? " -> " + path + (query.empty() ? "" : "?" + query) : ""));
        }
        if (answer && track_)
            track_->rulesFired = matched;
        if (answer) {
            switch (answer->kind) {
            case rewrite::Outcome::Kind::Redirect: http::sendRedirect(*r, answer->status, answer->location); return false;
            case rewrite::Outcome::Kind::CustomResponse: {
                std::string body = answer->description.empty() ? std::string() : answer->description + "\n";
                r->setSubstatus(answer->substatus);
                r->sendHead(http::ResponseHead{answer->status, answer->reason, {{"Content-Type", "text/plain; charset=utf-8"}}, body.size()});
                if (!body.empty())
                    r->sendBody(std::move(body));
                r->finish();
                return false;
            }
            case rewrite::Outcome::Kind::Abort: r->abort(); return false;
            case rewrite::Outcome::Kind::None:
            case rewrite::Outcome::Kind::Rewrite: break;
            }
        }
        if (!rewritten)
            return true;
        if (path.find("://") != std::string::npos) {
            fail(r, 502, "the rule " + matched.back() + " rewrites to another server (" + path +
                                     "); Lido is no reverse proxy (IIS does this with Application Request Routing)");
            return false;
        }
        // The rules' output is a URL: decoded and checked like the client's.
        auto decoded = http::decodePath(path);
        auto normal = decoded ? http::normalizePath(*decoded) : std::nullopt;
        if (!normal) {
            fail(r, 500, "the rule " + matched.back() + " rewrote the URL to " + path + ", which is not a valid path");
            return false;
        }
        path = *normal;
        rewritten_ = {true, logged, path, query};
        if (track_) {
            track_->rulesFired = matched;
            track_->rewrittenUrl = path + (query.empty() ? "" : "?" + query);
        }
        return true;
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
        if (state_->scopes.size() > 1) // (a site without locations has its one scope since serve())
            useScope(r, state_->scopeFor(*normal));
        Route route;
        if (!s.map->route(*site, *normal, route)) {
            fail(r, 404, "no application or virtual directory of site '" + site->name + "' serves " + *normal);
            return;
        }
        if (auto pool = s.anyPoolStopped ? s.pools.find(route.application->pool) : s.pools.end();
            pool != s.pools.end() && !pool->second.stopped.empty()) {
            fail(r, 503, "application pool '" + pool->first + "' is stopped: " + pool->second.stopped, {{"Retry-After", "60"}});
            return;
        }
        HandlerMatch match = SiteMap::handlerFor(route, req.method);
        if (!defaultDocument && match.mapping && match.mapping->module == Module::Static && normal->back() == '/' &&
            route.scope->defaultDocumentEnabled && fs::cachedFileType(route.physicalPath) == S_IFDIR)
            for (const std::string& doc : route.scope->defaultDocuments)
                if (fs::cachedFileType(route.physicalPath + doc) == S_IFREG) {
                    handle(r, siteConfig, *normal + doc, redirects, true);
                    return;
                }
        if (!match.mapping) {
            struct stat st {};
            bool exists = ::stat(route.physicalPath.c_str(), &st) == 0;
            fail(r, 404, exists ? "no handler mapping matches " + req.method + " " + *normal : "no file " + *normal);
            return;
        }
        if (!track_ && match.mapping->module != Module::Static)
            newTrack(req);
        if (track_ && !track_->listed) {
            track_->listed = true;
            track_->path = *normal;
            track_->application = route.application->path;
            track_->pool = route.application->pool;
            track_->virtualDirectory = route.vdirUrl;
            track_->physicalPath = match.scriptFile.empty() ? route.physicalPath : match.scriptFile;
            track_->handler = match.mapping->name;
            track_->module = moduleName(match.mapping->module);
            s.board->add(*track_);
        }
        auto error = [this, r](int status, const std::string& detail) { fail(r, status, detail); };
        switch (match.mapping->module) {
        case Module::Static:
            if (track_)
                track_->enter(log::Phase::Sending);
            staticfiles::serve(r, route, error, [this, &route](const std::string& why) { refusedLink(route, why); },
                               scope_->headers.staticCache, &scope_->compression);
            return;
        case Module::FastCgi:
            if (scriptAllowed(r, route, match)) {
                compressDynamic(r);
                runFastCgi(replacingErrors(r), route, match);
            }
            return;
        case Module::Cgi:
            if (scriptAllowed(r, route, match)) {
                compressDynamic(r);
                runCgi(replacingErrors(r), route, match, redirects);
            }
            return;
        case Module::Unsupported: {
            std::string what = match.mapping->scriptProcessor.empty() ? "" : " (" + match.mapping->scriptProcessor + ")";
            fail(r, 404, "the handler mapping " + match.mapping->name + " needs a module Lido does not run" + what +
                             "; IIS answers 404.2 when such a module is not allowed", {}, 2);
            return;
        }
        }
    }

    // httpErrors/@existingResponse="Replace": the program's error response (status 400 and up)
    // is dropped, head and body, for the custom page of its status.
    std::shared_ptr<http::Responder> replacingErrors(const std::shared_ptr<http::Responder>& r)
    {
        if (!scope_->errors.replaceExisting())
            return r;
        return std::make_shared<ErrorReplacingResponder>(r, [this, r](int status) {
            if (executingError_ || !scope_->errors.pageFor(status, 0, r->request().fromLoopback()))
                return false;
            fail(r, status, "the application answered " + std::to_string(status) + " (httpErrors existingResponse=\"Replace\")");
            return true;
        });
    }

    // urlCompression/@doDynamicCompression: the program's response is compressed as it streams
    // when its type is in dynamicTypes and the client takes a scheme. Never a 206, never a body
    // the program encoded itself; Vary whenever the type is compressible.
    void compressDynamic(const std::shared_ptr<http::Responder>& r)
    {
        const compress::Settings& cs = scope_->compression;
        if (!cs.doDynamic)
            return;
        const compress::Scheme* scheme = cs.negotiate(r->request(), false);
        r->setBodyEncoding([&cs, scheme](http::ResponseHead& head) -> std::unique_ptr<http::BodyEncoder> {
            const std::string* type = nullptr;
            for (const http::Header& h : head.headers) {
                if (http::iequals(h.name, "Content-Encoding") || http::iequals(h.name, "Content-Range"))
                    return nullptr;
                if (http::iequals(h.name, "Content-Type"))
                    type = &h.value;
            }
            if (head.status == 206 || !type || !compress::Settings::typeListed(cs.dynamicTypes, *type))
                return nullptr;
            auto vary = std::find_if(head.headers.begin(), head.headers.end(), [](const http::Header& h) { return http::iequals(h.name, "Vary"); });
            if (vary == head.headers.end())
                head.headers.push_back({"Vary", "Accept-Encoding"});
            else if (vary->value.find("Accept-Encoding") == std::string::npos && vary->value != "*")
                vary->value += ", Accept-Encoding";
            if (!scheme)
                return nullptr;
            head.headers.push_back({"Content-Encoding", std::string(compress::codingName(scheme->coding))});
            head.contentLength.reset();
            return compress::streamingEncoder(scheme->coding, scheme->dynamicLevel);
        });
    }

    // The settings of the part of the site a URL is in: its headers from now on, its error pages.
    const SiteScope& useScope(const std::shared_ptr<http::Responder>& r, const SiteScope& scope)
    {
        scope_ = &scope;
        r->setConfiguredHeaders(&scope.headers.custom, &scope.headers.redirect);
        return scope;
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
        auto root = vd.root->current();
        // The walk's verdict is kept for a second, as the static file cache keeps its files (a
        // link changed on disk is seen within a second): the walk is a system call per request.
        std::string key = std::to_string(reinterpret_cast<uintptr_t>(root.get())) + ':' + std::to_string(static_cast<int>(vd.symlinks)) + ':' +
                          match.scriptFile;
        const fs::PathVerdict* verdict = fs::cachedVerdict(key);
        if (!verdict) {
            fs::Opened o = fs::openBeneath(root->fd.get(), match.scriptFile.substr(vd.physicalPath.size() + 1), vd.symlinks, O_PATH);
            if (o.fd >= 0)
                ::close(o.fd);
            verdict = &fs::storeVerdict(key, {o.fd >= 0 ? 0 : o.error, o.refusal});
        }
        if (verdict->error != EXDEV && verdict->error != ELOOP)
            return true; // (a missing script is the handler's to report)
        std::string why = verdict->refusal.empty() ? "the script is reached through a symbolic link out of its virtual directory" : verdict->refusal;
        refusedLink(route, why);
        fail(r, 403, why);
        return false;
    }

    // What CGI and FastCGI both tell the program about the request (RFC 3875's variables).
    cgi::CgiContext contextFor(const http::Request& req, const Route& route, const HandlerMatch& match) const
    {
        cgi::CgiContext c;
        if (rewritten_.active) {
            c.rewritten = true;
            c.rewrittenQuery = rewritten_.query;
        }
        c.request = &req;
        c.scriptName = match.scriptUrl;
        c.pathInfo = match.pathInfo;
        if (!match.pathInfo.empty())
            c.pathTranslated = route.directory->physicalPath + match.pathInfo;
        c.scriptFilename = match.scriptFile;
        c.documentRoot = route.directory->physicalPath;
        return c;
    }

    void runCgi(const std::shared_ptr<http::Responder>& r, const Route& route, const HandlerMatch& match, int redirects)
    {
        const Shared& s = *shared_;
        struct stat st {};
        if (::stat(match.scriptFile.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
            fail(r, 404, "no CGI program " + match.scriptUrl);
            return;
        }
        auto pool = s.pools.find(route.application->pool);
        if (pool == s.pools.end()) {
            fail(r, 503, "application pool '" + route.application->pool + "' is not running");
            return;
        }
        cgi::CgiJob job;
        job.responder = r;
        job.limiter = pool->second.limiter;
        job.events = s.events;
        job.scriptFile = match.scriptFile;
        if (match.mapping->scriptProcessor.empty()) {
            if (::access(match.scriptFile.c_str(), X_OK) != 0) {
                fail(r, 403, "the CGI program " + match.scriptFile + " is not executable");
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
        job.context = contextFor(r->request(), route, match);
        // Always the pool's identity: IIS's createProcessAsUser chooses between the pool's and the
        // authenticated Windows user's, and Lido has no Windows users.
        if (!pool->second.settings.identity.error.empty()) {
            fail(r, 503, pool->second.settings.identity.error, {{"Retry-After", "60"}});
            return;
        }
        job.identity = pool->second.settings.identity.identity;
        job.limits = pool->second.settings.limits;
        job.timeout = scope_->cgiTimeout;
        job.track = track_;
        auto self = shared_from_self();
        job.error = [self, r](int status, const std::string& detail, std::vector<http::Header> extra) {
            self->fail(r, status, detail, std::move(extra));
        };
        job.localRedirect = [self, r, redirects](const std::string& path) {
            if (redirects >= 5) {
                self->fail(r, 502, "more than 5 local redirects");
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
        const HandlerMapping& h = *match.mapping;
        auto it = s.fastcgi.find(fastCgiKey(route.application->pool, h.fastCgiPath, h.fastCgiArguments));
        if (it == s.fastcgi.end()) {
            fail(r, 503, "no FastCGI application '" + h.scriptProcessor + "' runs in application pool '" + route.application->pool + "'");
            return;
        }
        cgi::CgiContext c = contextFor(r->request(), route, match);
        c.contentLength = r->request().contentLength;
        auto self = shared_from_self();
        pool::FastCgiJob job;
        job.responder = r;
        job.url = r->request().target;
        job.track = track_;
        job.error = [self, r](int status, const std::string& detail, std::vector<http::Header> extra) {
            self->fail(r, status, detail, std::move(extra));
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
                    decoded = rewrite::urlDecode(v);
                if (!validUtf8(decoded)) {
                    fail(r, 400, "the server variable " + k + " is not valid UTF-8 (utf8ServerVariables)");
                    return;
                }
                v = decoded;
            }
        fastcgiPool->submit(std::move(job));
    }

    // An error the server makes: the site's custom error page when httpErrors says so for this
    // client, else Lido's detailed or short page.
    void fail(const std::shared_ptr<http::Responder>& r, int status, const std::string& detail, std::vector<http::Header> extra = {},
              int substatus = 0)
    {
        const Shared& s = *shared_;
        const ErrorPage* page = state_ && !executingError_ && !r->headSent() && !r->closed()
                                    ? scope_->errors.pageFor(status, substatus, r->request().fromLoopback())
                                    : nullptr;
        if (!page)
            return sendError(s, r, status, detail, std::move(extra), substatus);
        executingError_ = true; // an error while sending the error page gets Lido's own
        r->setSubstatus(substatus);
        switch (page->mode) {
        case ErrorPage::Mode::Redirect: return http::sendRedirect(*r, 302, page->path);
        case ErrorPage::Mode::File: return sendErrorFile(r, status, page->path, detail, std::move(extra), substatus);
        case ErrorPage::Mode::ExecuteURL: {
            // A static file goes with the error's status; a script runs with the client's
            // request (REQUEST_URI is the client's URL) and answers as it will.
            std::string path = page->path.substr(0, page->path.find('?'));
            Route route;
            if (s.map->route(*state_->config, path, route))
                if (HandlerMatch m = SiteMap::handlerFor(route, "GET"); m.mapping && m.mapping->module == Module::Static)
                    return sendErrorFile(r, status, route.physicalPath, detail, std::move(extra), substatus);
            handle(r, *state_->config, path, 1, false);
            return;
        }
        }
    }

    void sendErrorFile(const std::shared_ptr<http::Responder>& r, int status, const std::string& file, const std::string& detail,
                       std::vector<http::Header> extra, int substatus)
    {
        const Shared& s = *shared_;
        std::ifstream in(file, std::ios::binary);
        std::string body;
        if (in) {
            body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            body.resize(std::min<size_t>(body.size(), 1024 * 1024));
        }
        if (!in && body.empty()) {
            s.events->add(log::Severity::Warning, "site " + state_->config->name, "site.error-page-missing",
                          "the custom error page " + file + " for status " + std::to_string(status) + " cannot be read");
            return sendError(s, r, status, detail, std::move(extra), substatus);
        }
        std::string type = s.map->serverScope().mimeType(file);
        extra.push_back({"Content-Type", type.empty() ? "text/html; charset=utf-8" : type});
        r->sendHead(http::ResponseHead{status, {}, std::move(extra), body.size()});
        r->sendBody(std::move(body));
        r->finish();
    }

    // The request is over: off the board, and a trace kept when the site keeps them and the
    // scope's rules say it failed. On the request's thread, with this request's scope.
    void finishTrack(log::RequestTrack& t, const http::Responder& responder, int status, uint64_t bytes)
    {
        t.enter(log::Phase::Done);
        const Shared& s = *shared_;
        s.board->remove(t);
        if (!state_ || !state_->traces || !scope_ || scope_->tracing.empty())
            return;
        const TraceRules::Rule* rule = scope_->tracing.ruleFor(t.path.empty() ? responder.request().path : t.path, scope_->prefix);
        if (!rule)
            return;
        auto taken = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::microseconds(t.enteredAt(log::Phase::Done)));
        std::string stderrText = t.stderrText();
        auto failure = TraceRules::failure(*rule, status, responder.substatus(), taken, !stderrText.empty());
        if (!failure)
            return;
        const http::Request& q = responder.request();
        t.protocol = q.versionMajor == 2 ? "HTTP/2" : "HTTP/" + std::to_string(q.versionMajor) + "." + std::to_string(q.versionMinor);
        for (const http::Header& h : q.headers)
            t.headers.push_back(log::maskedHeader(h.name, h.value));
        auto written = state_->traces->write(t, *rule, *failure, status, responder.substatus(), bytes, eventsOf(t, *s.events));
        if (!written)
            s.events->add(log::Severity::Warning, "site " + state_->config->name, "trace.write-failed", written.error());
    }

    std::shared_ptr<Dispatcher> shared_from_self() { return self_.lock(); }
    std::weak_ptr<Dispatcher> self_;

private:
    std::shared_ptr<SharedSlot> slot_;
    std::shared_ptr<Shared> shared_; // the configuration of the current request (kept alive by it)
    struct Rewritten {
        bool active = false, logged = false; // logged: logRewrittenUrl
        std::string path, query;
    } rewritten_; // this request's URL Rewrite result (a connection serves one request at a time)
    const SiteState* state_ = nullptr; // this request's site
    const SiteScope* scope_ = nullptr; // the part of it the URL is in
    bool executingError_ = false;      // a custom error page is being sent
    std::shared_ptr<log::RequestTrack> track_; // this request's, listed on the board once routed
    std::chrono::steady_clock::time_point started_; // this request's arrival
    http::Responder* responder_ = nullptr;          // its connection or stream (which holds this)
    uint64_t generation_ = 0;
    // The connection's sites (its counters of open connections) and the events' source (the
    // endpoint's first site), shared by its HTTP/2 streams' dispatchers (a copy per stream).
    struct EndpointSites {
        std::vector<std::shared_ptr<SiteCounters>> counters;
        std::string source;
    };
    std::shared_ptr<const EndpointSites> endpoint_;
};

} // namespace

std::shared_ptr<http::Dispatcher> siteDispatcher(std::shared_ptr<SharedSlot> slot, std::shared_ptr<Shared> accepted, uint64_t generation,
                                                 const EndpointInfo& endpoint)
{
    auto d = std::make_shared<Dispatcher>(std::move(slot), std::move(accepted), generation, endpoint);
    d->self_ = d;
    d->opened();
    return d;
}

} // namespace lido::engine
