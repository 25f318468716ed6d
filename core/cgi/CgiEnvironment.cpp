#include "cgi/CgiEnvironment.h"

#include "util/Text.h"

namespace lido::cgi {

std::vector<std::pair<std::string, std::string>> cgiVariables(const CgiContext& c)
{
    const http::Request& r = *c.request;
    std::vector<std::pair<std::string, std::string>> v;
    v.reserve(32 + r.headers.size());
    auto set = [&](std::string name, std::string value) { v.emplace_back(std::move(name), std::move(value)); };
    set("GATEWAY_INTERFACE", "CGI/1.1");
    set("SERVER_SOFTWARE", c.serverSoftware);
    set("SERVER_NAME", r.host.empty() ? r.localAddress : r.host);
    set("SERVER_ADDR", r.localAddress);
    set("SERVER_PORT", std::to_string(r.localPort));
    set("SERVER_PROTOCOL", "HTTP/" + std::to_string(r.versionMajor) + "." + std::to_string(r.versionMinor));
    set("REQUEST_METHOD", r.method);
    set("REQUEST_URI", r.target);
    set("QUERY_STRING", c.rewrittenQuery ? *c.rewrittenQuery : r.query);
    if (c.rewritten)
        set("HTTP_X_ORIGINAL_URL", r.target);
    set("SCRIPT_NAME", c.scriptName);
    set("SCRIPT_FILENAME", c.scriptFilename);
    set("DOCUMENT_ROOT", c.documentRoot);
    if (!c.pathInfo.empty()) {
        set("PATH_INFO", c.pathInfo);
        set("PATH_TRANSLATED", c.pathTranslated);
    }
    set("REMOTE_ADDR", r.remoteAddress);
    set("REMOTE_PORT", std::to_string(r.remotePort));
    // IIS's and Apache's names for a request that came over TLS.
    set("HTTPS", r.secure ? "on" : "off");
    set("SERVER_PORT_SECURE", r.secure ? "1" : "0");
    set("REQUEST_SCHEME", r.secure ? "https" : "http");
    set("REDIRECT_STATUS", "200"); // php-cgi refuses to run without it (cgi.force_redirect)
    set("PATH", "/usr/local/bin:/usr/bin:/bin");
    if (c.contentLength)
        set("CONTENT_LENGTH", std::to_string(*c.contentLength));
    if (const std::string* type = r.header("Content-Type"))
        set("CONTENT_TYPE", *type);
    const size_t fromHeaders = v.size(); // a header's name only ever meets another header's
    for (const http::Header& h : r.headers) {
        // httpoxy: a "Proxy:" header must never become HTTP_PROXY. A name with '_' could pose as
        // one written with '-' (X_Forwarded_For vs X-Forwarded-For): such headers are dropped,
        // as nginx and Apache do.
        // X-Original-URL is the server's to say (after a rewrite): a client's is dropped, since
        // frameworks trust it for routing (the IIS "X-Original-URL" access-control bypass).
        if (http::iequals(h.name, "Proxy") || h.name.find('_') != std::string::npos || http::iequals(h.name, "Content-Type") ||
            http::iequals(h.name, "Content-Length") || http::iequals(h.name, "X-Original-URL"))
            continue;
        std::string name;
        name.reserve(5 + h.name.size());
        name += "HTTP_";
        for (char ch : h.name) // ASCII (a header name is a token): no locale per byte
            name += ch == '-' ? '_' : upperAscii(ch);
        bool merged = false;
        for (size_t i = fromHeaders; i < v.size(); ++i)
            if (v[i].first == name) {
                v[i].second += (name == "HTTP_COOKIE" ? "; " : ", ") + h.value;
                merged = true;
                break;
            }
        if (!merged)
            set(name, h.value);
    }
    for (const auto& [k, val] : c.extra) {
        bool replaced = false;
        for (auto& [name, value] : v)
            if (name == k) {
                value = val;
                replaced = true;
            }
        if (!replaced)
            set(k, val);
    }
    return v;
}

std::vector<std::string> cgiEnvironment(const CgiContext& c)
{
    std::vector<std::string> out;
    for (const auto& [k, v] : cgiVariables(c))
        out.push_back(k + "=" + v);
    return out;
}

} // namespace lido::cgi
