#pragma once
// The headers a site adds to its responses, as IIS: httpProtocol/customHeaders on every response
// (unless the response sets that header itself), httpProtocol/redirectHeaders on redirects, and
// staticContent/clientCache's Cache-Control or Expires on static files, from a scope's merged
// settings (add/remove/clear by name).
#include "config/Effective.h"
#include "http/Http.h"

#include <string>
#include <vector>

namespace lido::engine {

struct ResponseHeaders {
    std::vector<http::Header> custom;
    std::vector<http::Header> redirect;
    std::vector<http::Header> staticCache;
    static ResponseHeaders from(const config::EffectiveSettings& settings);
};

} // namespace lido::engine
