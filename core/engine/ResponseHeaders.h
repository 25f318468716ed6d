#pragma once
// The headers a site adds to its responses, as IIS: httpProtocol/customHeaders on every response
// (unless the response sets that header itself), httpProtocol/redirectHeaders on redirects, and
// staticContent/clientCache's Cache-Control or Expires on static files. The server's settings
// with the site's <location path="Site"> on top (add/remove/clear by name).
#include "config/Config.h"
#include "http/Http.h"

#include <string>
#include <vector>

namespace lido::engine {

struct ResponseHeaders {
    std::vector<http::Header> custom;
    std::vector<http::Header> redirect;
    std::vector<http::Header> staticCache;
    static ResponseHeaders forSite(const config::Config& config, const std::string& site);
};

} // namespace lido::engine
