#include "engine/Router.h"

#include "engine/StatusPage.h"

#include <algorithm>
#include <set>

// The status listener (/status, /metrics, /health, /health/SITE) and the health checks a load
// balancer reads, on a site's own health path too. (Split from Router.cpp, whose job is the
// request path.)
namespace lido::engine {

using routing::Application;

Health engineHealth(const Shared& s)
{
    if (s.health && (s.health->draining || s.health->stopping))
        return {503, s.health->why()};
    return {200, "serving"};
}

Health siteHealth(const Shared& s, const std::string& name)
{
    Health engine = engineHealth(s);
    if (engine.status != 200)
        return engine;
    auto it = s.sites.find(name);
    if (it == s.sites.end())
        return {404, "no site '" + name + "'"};
    const SiteState& site = *it->second;
    if (!site.failure.empty())
        return {503, "site " + name + " failed: " + site.failure};
    if (site.stopped || !site.config->autoStart)
        return {503, "site " + name + " is stopped"};
    // Its FastCGI pools: one that runs is enough (an application of the site may still serve).
    std::set<std::string> pools;
    bool anyApplicationServes = false;
    std::string stoppedPool;
    for (const Application& a : site.config->applications) {
        pools.insert(a.pool);
        auto p = s.pools.find(a.pool);
        if (p != s.pools.end() && !p->second.stopped.empty())
            stoppedPool = a.pool + ": " + p->second.stopped;
        else
            anyApplicationServes = true;
    }
    if (!anyApplicationServes)
        return {503, "site " + name + ": the application pool of every application is stopped (" + stoppedPool + ")"};
    int total = 0;
    std::string down;
    for (const auto& [key, p] : s.fastcgi) {
        std::string poolName = key.substr(0, key.find('\x1f'));
        if (!p || !pools.count(poolName))
            continue;
        if (auto ap = s.pools.find(poolName); ap != s.pools.end() && !ap->second.stopped.empty())
            continue; // its applications answer 503 whatever the processes do
        ++total;
        PoolMetrics m = p->metrics();
        if (m.running)
            return {200, "serving"};
        down += (down.empty() ? "" : "; ") + m.pool + " " + m.application + ": " + (m.stoppedReason.empty() ? "stopped" : m.stoppedReason);
    }
    if (total > 0)
        return {503, "site " + name + ": every FastCGI pool is down (" + down + ")"};
    return {200, "serving"};
}

void answerHealth(http::Responder& r, const Health& h)
{
    std::string body = h.text + "\n";
    r.sendHead(http::ResponseHead{h.status, {}, {{"Content-Type", "text/plain; charset=utf-8"}, {"Cache-Control", "no-store"}}, body.size()});
    if (r.request().method != "HEAD")
        r.sendBody(std::move(body));
    r.finish();
}

namespace {

// /status and /metrics, answered by the engine itself (no pool involved), so they answer even
// when every pool is saturated. Clients not on the allow-list get 403.
class StatusDispatcher final : public http::Dispatcher {
public:
    StatusDispatcher(std::function<Snapshot(bool)> snapshot, std::function<Health(const std::string&)> health, std::vector<std::string> allow,
                     std::chrono::steady_clock::time_point started)
        : snapshot_(std::move(snapshot)), health_(std::move(health)), allow_(std::move(allow)), started_(started)
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
            reply(200, "application/json",
                  statusJson(snapshot_(req.query == "full" || req.query.rfind("full&", 0) == 0 || req.query.find("&full") != std::string::npos),
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()));
        else if (path == "/metrics")
            reply(200, "text/plain; version=0.0.4", prometheusMetrics(snapshot_(false)));
        else if (path == "/health" || path.rfind("/health/", 0) == 0)
            answerHealth(*r, health_(path == "/health" ? std::string() : http::decodePath(path.substr(8)).value_or(path.substr(8))));
        else
            reply(404, "text/plain", "404 Not Found: try /status, /metrics, /health or /health/SITE\n");
    }

private:
    std::function<Snapshot(bool)> snapshot_;
    std::function<Health(const std::string&)> health_; // "": the engine's; else the site's
    std::vector<std::string> allow_;
    std::chrono::steady_clock::time_point started_;
};

} // namespace

std::shared_ptr<http::Dispatcher> statusDispatcher(std::function<Snapshot(bool)> snapshot, std::function<Health(const std::string&)> health,
                                                   std::vector<std::string> allow, std::chrono::steady_clock::time_point started)
{
    return std::make_shared<StatusDispatcher>(std::move(snapshot), std::move(health), std::move(allow), started);
}

} // namespace lido::engine
