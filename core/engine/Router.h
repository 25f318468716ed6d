#pragma once
// The request path: a connection's dispatcher routes each request through the site map and runs
// it as a static file, a CGI program or a FastCGI request, with IIS's request filtering and
// default documents and the error pages (Router.cpp, ServerVariables.cpp); and the status
// listener's dispatcher and the health checks (StatusListener.cpp). Internal to engine/.
#include "engine/Snapshot.h"
#include "engine/View.h"
#include "http/Connection.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lido::engine {

// A load balancer's check: 200 "serving", or 503 and why (draining, stopping; for a site: stopped,
// failed, or every FastCGI pool of its applications down).
struct Health {
    int status = 200;
    std::string text;
};
Health engineHealth(const Shared& s);
Health siteHealth(const Shared& s, const std::string& site);
void answerHealth(http::Responder& r, const Health& h);

// A server variable as URL Rewrite's rules read it, for the URL as the rules before left it
// (empty: no such variable).
std::optional<std::string> serverVariable(const routing::SiteMap& map, const routing::SiteConfig& site, const http::Request& req,
                                          const std::string& name, const std::string& url);

std::string errorPage(const Shared& s, int status, const http::Request& req, const std::string& detail, int substatus = 0);
void sendError(const Shared& s, const std::shared_ptr<http::Responder>& r, int status, const std::string& detail,
               std::vector<http::Header> extra = {}, int substatus = 0);

// The dispatcher of one connection to an endpoint: each request reads the newest view (`slot`),
// starting from the one the connection was accepted with; the endpoint's sites count the
// connection until its connectionClosed().
std::shared_ptr<http::Dispatcher> siteDispatcher(std::shared_ptr<SharedSlot> slot, std::shared_ptr<Shared> accepted, uint64_t generation,
                                                 const EndpointInfo& endpoint);

// /status, /metrics, /health and /health/SITE for the clients on the allow-list.
// snapshot(true): with the running requests (/status?full).
std::shared_ptr<http::Dispatcher> statusDispatcher(std::function<Snapshot(bool)> snapshot, std::function<Health(const std::string&)> health,
                                                   std::vector<std::string> allow, std::chrono::steady_clock::time_point started);

} // namespace lido::engine
