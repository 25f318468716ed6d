#include "http/Http.h"

#include "http/Connection.h"
#include "util/AddressRanges.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace lido::http {

const std::string* findHeader(const std::vector<Header>& headers, std::string_view name)
{
    for (const Header& h : headers)
        if (iequals(h.name, name))
            return &h.value;
    return nullptr;
}

const std::string* Request::header(std::string_view name) const
{
    return findHeader(headers, name);
}

std::string hostOf(std::string_view authority)
{
    std::string_view host = !authority.empty() && authority.front() == '[' ? authority.substr(0, authority.find(']') + 1)
                                                                          : authority.substr(0, authority.find(':'));
    return toLower(host);
}

bool Request::fromLoopback() const
{
    return remoteAddress.rfind("127.", 0) == 0 || remoteAddress == "::1" || remoteAddress.rfind("::ffff:127.", 0) == 0;
}

const std::string& currentHttpDate()
{
    thread_local std::time_t last = 0;
    thread_local std::string text;
    std::time_t now = std::time(nullptr);
    if (now != last) {
        last = now;
        text = httpDate(now);
    }
    return text;
}

HeaderBlock::HeaderBlock(std::vector<Header> headers) : list(std::move(headers))
{
    for (const Header& h : list)
        appendLine(wire, h);
}

void HeaderBlock::appendLine(std::string& out, const Header& h)
{
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
}

void addConfiguredHeaders(ResponseHead& head, const std::vector<Header>* always, const std::vector<Header>* redirects)
{
    if (!always && !redirects)
        return;
    size_t own = head.headers.size();
    auto has = [&](std::string_view name) { // among the response's own headers (not the configured ones added here)
        auto same = [&](const Header& h) { return iequals(h.name, name); };
        return std::any_of(head.headers.begin(), head.headers.begin() + static_cast<std::ptrdiff_t>(own), same) ||
               (head.shared && std::any_of(head.shared->list.begin(), head.shared->list.end(), same));
    };
    bool redirect = redirects && head.status >= 300 && head.status < 400 && has("Location");
    auto add = [&](const std::vector<Header>* list) {
        if (list)
            for (const Header& c : *list)
                if (!has(c.name))
                    head.headers.push_back(c);
    };
    add(always);
    if (redirect)
        add(redirects);
}

bool ResponderBase::prepareHead(ResponseHead& head)
{
    bool bodyAllowed = head.status >= 200 && head.status != 204 && head.status != 304;
    if (encoderChoice_ && bodyAllowed) {
        encoder_ = encoderChoice_(head);
        encoderChoice_ = nullptr;
    }
    addConfiguredHeaders(head, configuredAlways_, configuredRedirects_);
    return bodyAllowed;
}

void ResponderBase::completed(bool headSent, int status, uint64_t bytesSent)
{
    if (completeCb_) {
        auto cb = std::move(completeCb_);
        completeCb_ = nullptr;
        cb(headSent ? status : 0, bytesSent);
    }
}

void ResponderBase::resetResponse()
{
    substatus_ = 0;
    abortCb_ = nullptr;
    completeCb_ = nullptr;
    encoderChoice_ = nullptr;
    encoder_.reset();
    configuredAlways_ = configuredRedirects_ = nullptr;
}

const char* reasonPhrase(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return s < 200 ? "Informational" : s < 300 ? "OK" : s < 400 ? "Redirect" : s < 500 ? "Client Error" : "Server Error";
    }
}

std::string httpDate(std::time_t t)
{
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

std::optional<std::time_t> parseHttpDate(std::string_view text)
{
    std::tm tm{};
    std::string s(text);
    const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return std::nullopt;
    return timegm(&tm);
}

static int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::optional<std::string> decodePath(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%') {
            if (i + 2 >= raw.size())
                return std::nullopt;
            int hi = hexValue(raw[i + 1]), lo = hexValue(raw[i + 2]);
            if (hi < 0 || lo < 0)
                return std::nullopt;
            char d = static_cast<char>(hi * 16 + lo);
            if (d == '/' || d == '\\' || d == '\0')
                return std::nullopt;
            out += d;
            i += 2;
        } else if (c == '\\' || c == '\0') {
            return std::nullopt;
        } else {
            out += c;
        }
    }
    return out;
}

std::optional<std::string> normalizePath(std::string_view p)
{
    if (p.empty() || p.front() != '/')
        return std::nullopt;
    std::string out;
    size_t i = 0;
    while (i < p.size()) {
        size_t next = p.find('/', i + 1);
        std::string_view seg = p.substr(i + 1, next == std::string_view::npos ? std::string_view::npos : next - i - 1);
        if (seg == "..")
            return std::nullopt;
        if (seg == "." || (seg.empty() && next != std::string_view::npos)) {
            // "/./" and "//" collapse
        } else {
            out += '/';
            out += seg;
        }
        if (next == std::string_view::npos)
            break;
        i = next;
    }
    if (out.empty() || (p.back() == '/' && out.back() != '/'))
        out += '/';
    return out;
}

std::string htmlEscape(std::string_view text)
{
    std::string out;
    for (char c : text) {
        switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace lido::http

namespace lido::http {

void ConnectionSet::add(const std::shared_ptr<Graceful>& connection)
{
    if (live_.size() >= pruneAt_) { // the ones gone are dropped now and then: amortised constant time
        std::erase_if(live_, [](const std::weak_ptr<Graceful>& w) { return w.expired(); });
        pruneAt_ = std::max<size_t>(256, live_.size() * 2);
    }
    live_.push_back(connection);
    if (closing_) // joined while a stop closes the others (a PROXY header read meanwhile): it goes too
        connection->closeGracefully();
}

void ConnectionSet::closeAll()
{
    closing_ = true;
    auto live = std::move(live_);
    live_.clear();
    for (auto& w : live)
        if (auto c = w.lock())
            c->closeGracefully();
}

} // namespace lido::http

namespace lido::http {

void applyTrustedProxies(Request& request, const Limits& limits)
{
    if (!limits.trustedProxies)
        return;
    std::vector<std::string_view> values;
    for (const Header& h : request.headers)
        if (iequals(h.name, limits.forwardedHeader))
            values.push_back(h.value);
    if (values.empty())
        return;
    std::string client = limits.trustedProxies->clientBehind(request.remoteAddress, values);
    if (client != request.remoteAddress) {
        request.remoteAddress = std::move(client);
        request.remotePort = 0; // the client's port is not in X-Forwarded-For
    }
}

} // namespace lido::http
