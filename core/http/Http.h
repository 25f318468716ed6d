#pragma once
// HTTP request and response values shared by the connection, the router and the handlers.
#include "util/Text.h"

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lido::http {

struct Header {
    std::string name;
    std::string value;
};

struct Request {
    std::string method;
    std::string target; // as sent: /path?query
    std::string path;   // raw (still percent-encoded) path part
    std::string query;  // without '?'
    int versionMajor = 1;
    int versionMinor = 1;
    std::vector<Header> headers;
    std::string host; // Host header, lower case, without port
    std::optional<uint64_t> contentLength;
    bool chunked = false;
    bool keepAlive = true;
    std::string remoteAddress;
    uint16_t remotePort = 0;
    std::string localAddress;
    uint16_t localPort = 0;
    bool secure = false; // arrived over TLS

    const std::string* header(std::string_view name) const; // case-insensitive, first
    bool hasBody() const { return chunked || (contentLength && *contentLength > 0); }
    bool fromLoopback() const;
};

// Headers that many responses send alike (a cached file's Content-Type, ETag, Last-Modified),
// with their HTTP/1.1 text made once: "Name: value\r\n" each.
struct HeaderBlock {
    explicit HeaderBlock(std::vector<Header> headers);
    static void appendLine(std::string& out, const Header& h); // "Name: value\r\n"
    std::vector<Header> list;
    std::string wire;
};

struct ResponseHead {
    int status = 200;
    std::string reason; // empty: standard phrase
    std::vector<Header> headers;
    std::optional<uint64_t> contentLength; // unknown: chunked (HTTP/1.1) or close-delimited
    // Headers sent before `headers`, held rather than copied: a cached file's Content-Type, ETag
    // and Last-Modified, the same on every response for it (no allocation per request).
    std::shared_ptr<const HeaderBlock> shared = nullptr; // (an initializer: aggregates may leave it out)

    template <class F>
    void forEachHeader(F&& f) const
    {
        if (shared)
            for (const Header& h : shared->list)
                f(h);
        for (const Header& h : headers)
            f(h);
    }
};

// A content coding applied to a response body as it streams (gzip, br): each piece in, its
// encoded bytes out (possibly none yet); finish() gives the end of the stream.
class BodyEncoder {
public:
    virtual ~BodyEncoder() = default;
    virtual std::string encode(std::string_view piece) = 0;
    virtual std::string finish() = 0;
};
// Decides, from the head about to be sent, whether the body is encoded: it may edit the head
// (Content-Encoding, Vary, no Content-Length) and returns the encoder, or null for none.
using EncoderChoice = std::function<std::unique_ptr<BodyEncoder>(ResponseHead& head)>;

// The first header of that name (case-insensitive), or null.
const std::string* findHeader(const std::vector<Header>& headers, std::string_view name);
// The host of a Host header or an :authority: lower case, without the port ("[::1]" keeps its brackets).
std::string hostOf(std::string_view authority);

const char* reasonPhrase(int status);
std::string httpDate(std::time_t t);
// The Date header's value now (made once a second per thread).
const std::string& currentHttpDate();
// The configured headers (httpProtocol) a response gets on top of its own: `always` unless the
// response sets that header itself, `redirects` when it is a 3xx with a Location.
void addConfiguredHeaders(ResponseHead& head, const std::vector<Header>* always, const std::vector<Header>* redirects);
std::optional<std::time_t> parseHttpDate(std::string_view text);
using lido::iequals;

// Percent-decodes a URL path. Refuses (nullopt) encoded '/', '\', NUL and malformed escapes,
// so that a decoded path can never name something its raw form hid.
std::optional<std::string> decodePath(std::string_view raw);
// Removes "." segments; refuses ".." (nullopt) instead of resolving it.
std::optional<std::string> normalizePath(std::string_view decoded);
std::string htmlEscape(std::string_view text);

} // namespace lido::http
