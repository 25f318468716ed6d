#include "engine/Router.h"

#include <algorithm>

// The server variables URL Rewrite's conditions and actions read ({HTTP_HOST}, {REQUEST_FILENAME},
// {HTTPS}, ...). (Split from Router.cpp.)
namespace lido::engine {

using namespace routing; // SiteMap, Route

// The server variables URL Rewrite rules read, for the URL as the rules before left it.
std::optional<std::string> serverVariable(const SiteMap& map, const SiteConfig& site, const http::Request& req, const std::string& name,
                                          const std::string& url)
{
    if (name == "REQUEST_URI" || name == "UNENCODED_URL" || name == "HTTP_URL")
        return req.target;
    if (name.rfind("HTTP_", 0) == 0) {
        std::string header = name.substr(5);
        std::replace(header.begin(), header.end(), '_', '-');
        const std::string* v = req.header(header);
        return v ? std::optional<std::string>(*v) : std::nullopt;
    }
    if (name == "QUERY_STRING")
        return req.query;
    if (name == "URL" || name == "PATH_INFO")
        return url;
    if (name == "REQUEST_FILENAME" || name == "DOCUMENT_ROOT" || name == "APPL_PHYSICAL_PATH") {
        Route route;
        if (!map.route(site, name == "REQUEST_FILENAME" ? url : "/", route))
            return std::nullopt;
        return name == "REQUEST_FILENAME" ? route.physicalPath : route.directory->physicalPath;
    }
    if (name == "REQUEST_METHOD")
        return req.method;
    if (name == "HTTPS")
        return std::string(req.secure ? "on" : "off");
    if (name == "SERVER_PORT_SECURE")
        return std::string(req.secure ? "1" : "0");
    if (name == "REQUEST_SCHEME")
        return std::string(req.secure ? "https" : "http");
    if (name == "SERVER_PORT")
        return std::to_string(req.localPort);
    if (name == "SERVER_NAME")
        return req.host.empty() ? req.localAddress : req.host;
    if (name == "SERVER_ADDR")
        return req.localAddress;
    if (name == "SERVER_PROTOCOL")
        return "HTTP/" + std::to_string(req.versionMajor) + "." + std::to_string(req.versionMinor);
    if (name == "REMOTE_ADDR" || name == "REMOTE_HOST")
        return req.remoteAddress;
    if (name == "REMOTE_PORT")
        return std::to_string(req.remotePort);
    if (name == "CACHE_URL")
        return "http://" + (req.host.empty() ? req.localAddress : req.host) + req.target;
    return std::nullopt;
}

} // namespace lido::engine
