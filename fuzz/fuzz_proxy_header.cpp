// Fuzz target: arbitrary bytes as the start of a connection on a proxyProtocol="true" binding
// (the PROXY v1/v2 parser), and as X-Forwarded-For values behind a trusted proxy.
#include "http/ProxyProtocol.h"
#include "util/AddressRanges.h"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    lido::http::ProxyHeader h = lido::http::parseProxyHeader(bytes);
    if (h.result == lido::http::ProxyHeader::Result::Done && (h.length == 0 || h.length > size))
        std::abort(); // a header is never longer than what was read
    if (h.result == lido::http::ProxyHeader::Result::Done)
        // Parsing a prefix that holds the whole header gives the same header.
        if (lido::http::parseProxyHeader(bytes.substr(0, h.length)).length != h.length)
            std::abort();
    static const lido::AddressRanges trusted = [] {
        lido::AddressRanges r;
        lido::AddressRanges::parse("127.0.0.0/8, 10.0.0.0/8, ::1, 2001:db8::/32", r);
        return r;
    }();
    (void)trusted.clientBehind("127.0.0.1", {bytes});
    lido::AddressRanges mine;
    (void)lido::AddressRanges::parse(bytes, mine);
    return 0;
}
