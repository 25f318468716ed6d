#pragma once
// The response-header block of a CGI program (RFC 3875 §6) or a FastCGI responder, as a pure
// function of the bytes received so far. Three syntaxes:
//   Cgi     RFC 3875: lines end in LF or CRLF, whitespace around ':' optional.
//   Strict  (FastCGI default, as IIS): "Name: value" CRLF lines, "Status: NNN reason".
//   Relaxed (FastCGI, responseHeaders="Relaxed"): also "Name:value", LF-only lines, a bare
//           status code, trailing whitespace.
// No mode lets a CR or LF inside a value reach the client.
#include "http/Http.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lido::cgi {

enum class HeaderSyntax { Cgi, Strict, Relaxed };

struct ResponseHeaders {
    int status = 200;
    std::string reason;                                       // empty: the standard phrase
    std::vector<std::pair<std::string, std::string>> headers; // without Status, in order
    std::string location;
    bool hasStatus = false;
    bool hasContentType = false;
    bool hasContentLength = false;
    size_t consumed = 0; // bytes of the header block including the blank line
};

struct HeaderParse {
    enum class State { NeedMore, Done, Error };
    State state = State::NeedMore;
    ResponseHeaders head;
    std::string error; // names exactly what was wrong, e.g. "line 2 has no ':' (\"Content-Type text/html\")"
};

HeaderParse parseResponseHeaders(std::string_view data, HeaderSyntax syntax, size_t maxBytes = 65536);

// The head the server sends: Content-Length taken as the length, the hop-by-hop
// Transfer-Encoding and Connection dropped (the server frames the response itself).
http::ResponseHead toResponseHead(const ResponseHeaders& parsed);

} // namespace lido::cgi
