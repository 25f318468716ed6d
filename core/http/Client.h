#pragma once
// A small HTTP/1.1 client for what the engine asks of other servers itself (an ACME CA): one
// request per connection, over TLS for https:// URLs with the peer's certificate and name checked,
// with a deadline for the whole exchange. Blocking: call it from a thread that may wait.
#include "http/Http.h"
#include "util/Result.h"

#include <chrono>
#include <string>
#include <vector>

namespace lido::http {

struct ClientResponse {
    int status = 0;
    std::vector<Header> headers;
    std::string body;
    const std::string* header(std::string_view name) const; // case-insensitive, first
};

struct ClientOptions {
    std::string caFile; // trusted CAs (PEM) for https; empty: the system's
    std::chrono::milliseconds timeout{30000};
    size_t maxBody = 4 << 20;
};

// The error names the URL and what failed (resolve, connect, TLS, timeout, a malformed answer).
Result<ClientResponse> fetchUrl(const std::string& method, const std::string& url, const std::vector<Header>& headers, const std::string& body,
                                const ClientOptions& options);

} // namespace lido::http
