#pragma once
// The PROXY protocol (HAProxy's, versions 1 and 2): the header a load balancer or TLS terminator
// puts before the client's bytes to say whom the connection is from. A binding that asks for it
// (proxyProtocol="true") requires it on every connection, as the specification says a receiver
// must: it never guesses.
// The standard headers first: Asio's configuration looks at libstdc++'s macros, and a file that
// included Asio before any of them would get another allocator than the rest (ASan's
// alloc-dealloc-mismatch in Asio's recycled handler memory).
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <asio/ip/tcp.hpp>

namespace lido::http {

struct ProxyHeader {
    enum class Result { Incomplete, Invalid, Done } result = Result::Incomplete;
    size_t length = 0;    // Done: the header's bytes
    std::string error;    // Invalid: why
    bool local = false;   // Done without addresses (v2 LOCAL, v1 UNKNOWN, other families): the socket's own stand
    int version = 0;      // 1 or 2
    std::string sourceAddress, destinationAddress;
    uint16_t sourcePort = 0, destinationPort = 0;
};

// The header at the start of data: Incomplete while more bytes could complete it.
ProxyHeader parseProxyHeader(std::string_view data);

// Reads exactly the header (never a byte past it: TLS or HTTP follow) within the timeout and
// hands the socket back with it (Done or Invalid).
void readProxyHeader(asio::ip::tcp::socket socket, std::chrono::milliseconds timeout,
                     std::function<void(asio::ip::tcp::socket, ProxyHeader)> done);

} // namespace lido::http
