#include "http/ProxyProtocol.h"

#include <asio.hpp>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <sys/socket.h>

namespace lido::http {

namespace {

constexpr std::string_view kV1 = "PROXY ";
constexpr std::string_view kV2 = std::string_view("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kV1Max = 107; // the specification's longest line, CRLF included
constexpr size_t kV2Max = 16 + 65535;

ProxyHeader invalid(std::string why)
{
    ProxyHeader h;
    h.result = ProxyHeader::Result::Invalid;
    h.error = std::move(why);
    return h;
}

bool parsePort(std::string_view s, uint16_t& port)
{
    unsigned v = 0;
    if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0'))
        return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v > 65535)
        return false;
    port = static_cast<uint16_t>(v);
    return true;
}

bool parseAddress(std::string_view s, int family, std::string& out)
{
    char text[INET6_ADDRSTRLEN] = {};
    unsigned char bin[16];
    std::string copy(s);
    if (::inet_pton(family, copy.c_str(), bin) != 1 || !::inet_ntop(family, bin, text, sizeof text))
        return false;
    out = text;
    return true;
}

ProxyHeader parseV1(std::string_view data)
{
    size_t end = data.find("\r\n");
    if (end == std::string_view::npos) {
        if (data.size() >= kV1Max || data.find('\n') != std::string_view::npos)
            return invalid("a PROXY v1 line longer than 107 bytes, or without CRLF");
        return {};
    }
    if (end + 2 > kV1Max)
        return invalid("a PROXY v1 line longer than 107 bytes");
    std::string_view line = data.substr(kV1.size(), end - kV1.size());
    ProxyHeader h;
    h.version = 1;
    h.length = end + 2;
    h.result = ProxyHeader::Result::Done;
    if (line.rfind("UNKNOWN", 0) == 0) { // anything may follow; the socket's addresses stand
        h.local = true;
        return h;
    }
    std::string_view parts[5];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= line.size() && n < 5; ++i)
        if (i == line.size() || line[i] == ' ') {
            parts[n++] = line.substr(start, i - start);
            start = i + 1;
        }
    if (n != 5 || start != line.size() + 1 || (parts[0] != "TCP4" && parts[0] != "TCP6"))
        return invalid("a PROXY v1 line is \"PROXY TCP4|TCP6 source destination sport dport\" or \"PROXY UNKNOWN\"");
    int family = parts[0] == "TCP4" ? AF_INET : AF_INET6;
    if (!parseAddress(parts[1], family, h.sourceAddress) || !parseAddress(parts[2], family, h.destinationAddress))
        return invalid("a PROXY v1 line with an address that is not " + std::string(parts[0] == "TCP4" ? "IPv4" : "IPv6"));
    if (!parsePort(parts[3], h.sourcePort) || !parsePort(parts[4], h.destinationPort))
        return invalid("a PROXY v1 line with a port that is not 0 to 65535");
    return h;
}

ProxyHeader parseV2(std::string_view data)
{
    if (data.size() < 16)
        return {};
    auto byte = [&](size_t i) { return static_cast<unsigned char>(data[i]); };
    if ((byte(12) >> 4) != 2)
        return invalid("a PROXY v2 header of version " + std::to_string(byte(12) >> 4));
    unsigned command = byte(12) & 0xf;
    if (command > 1)
        return invalid("a PROXY v2 header with command " + std::to_string(command));
    size_t length = (size_t(byte(14)) << 8) | byte(15);
    if (data.size() < 16 + length)
        return {};
    ProxyHeader h;
    h.version = 2;
    h.length = 16 + length;
    h.result = ProxyHeader::Result::Done;
    unsigned family = byte(13);
    if (command == 0 || (family != 0x11 && family != 0x21)) { // LOCAL (a health check), or not TCP over IP
        h.local = true;
        return h;
    }
    size_t need = family == 0x11 ? 12 : 36;
    if (length < need)
        return invalid("a PROXY v2 header too short for its addresses");
    const auto* a = reinterpret_cast<const unsigned char*>(data.data() + 16);
    char text[INET6_ADDRSTRLEN] = {};
    int af = family == 0x11 ? AF_INET : AF_INET6;
    size_t alen = family == 0x11 ? 4 : 16;
    ::inet_ntop(af, a, text, sizeof text);
    h.sourceAddress = text;
    ::inet_ntop(af, a + alen, text, sizeof text);
    h.destinationAddress = text;
    h.sourcePort = static_cast<uint16_t>((a[2 * alen] << 8) | a[2 * alen + 1]);
    h.destinationPort = static_cast<uint16_t>((a[2 * alen + 2] << 8) | a[2 * alen + 3]);
    return h;
}

// One connection's header being read: the socket and timer until done.
struct Reader : std::enable_shared_from_this<Reader> {
    Reader(asio::ip::tcp::socket s, std::function<void(asio::ip::tcp::socket, ProxyHeader)> d)
        : socket(std::move(s)), timer(socket.get_executor()), done(std::move(d))
    {
    }
    asio::ip::tcp::socket socket;
    asio::steady_timer timer;
    std::function<void(asio::ip::tcp::socket, ProxyHeader)> done;
    std::string got;
    bool finished = false;

    void finish(ProxyHeader h)
    {
        if (finished)
            return;
        finished = true;
        timer.cancel();
        auto d = std::move(done);
        d(std::move(socket), std::move(h));
    }

    // How many bytes may be taken without reading past the header: none is a byte of what follows.
    size_t safeToRead()
    {
        if (got.size() < 8)
            return 8 - got.size(); // both signatures are longer than 8 bytes
        if (got.compare(0, kV2.size(), kV2.substr(0, std::min(got.size(), kV2.size()))) == 0) {
            if (got.size() < 16)
                return 16 - got.size();
            size_t length = (size_t(static_cast<unsigned char>(got[14])) << 8) | static_cast<unsigned char>(got[15]);
            return 16 + length - got.size();
        }
        // v1: up to the line feed, found by peeking.
        char peek[kV1Max];
        ssize_t n = ::recv(socket.native_handle(), peek, kV1Max - std::min(got.size(), kV1Max - 1), MSG_PEEK | MSG_DONTWAIT);
        if (n <= 0)
            return n == 0 ? 1 : 0; // at the end: a read sees it
        std::string_view seen(peek, static_cast<size_t>(n));
        size_t lf = seen.find('\n');
        return lf == std::string_view::npos ? seen.size() : lf + 1;
    }

    void step()
    {
        ProxyHeader h = got.empty() ? ProxyHeader{} : parseProxyHeader(got);
        if (h.result != ProxyHeader::Result::Incomplete)
            return finish(std::move(h));
        socket.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](const asio::error_code& ec) {
            if (self->finished)
                return;
            if (ec)
                return self->finish(invalid("the connection closed before its PROXY header was complete"));
            size_t want = self->safeToRead();
            if (want == 0)
                return self->step();
            char buf[512];
            ssize_t n = ::recv(self->socket.native_handle(), buf, std::min(want, sizeof buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                return self->finish(invalid("the connection closed before its PROXY header was complete"));
            if (n > 0)
                self->got.append(buf, static_cast<size_t>(n));
            if (self->got.size() > kV2Max)
                return self->finish(invalid("a PROXY header longer than 65,551 bytes"));
            self->step();
        });
    }
};

} // namespace

ProxyHeader parseProxyHeader(std::string_view data)
{
    if (data.size() >= kV2.size() && data.substr(0, kV2.size()) == kV2)
        return parseV2(data);
    if (data.size() >= kV1.size() && data.substr(0, kV1.size()) == kV1)
        return parseV1(data);
    if (kV2.substr(0, std::min(data.size(), kV2.size())) == data.substr(0, std::min(data.size(), kV2.size())) ||
        kV1.substr(0, std::min(data.size(), kV1.size())) == data.substr(0, std::min(data.size(), kV1.size())))
        return {};
    return invalid("the connection does not start with a PROXY protocol header");
}

void readProxyHeader(asio::ip::tcp::socket socket, std::chrono::milliseconds timeout, std::function<void(asio::ip::tcp::socket, ProxyHeader)> done)
{
    auto r = std::make_shared<Reader>(std::move(socket), std::move(done));
    r->timer.expires_after(timeout);
    r->timer.async_wait([weak = std::weak_ptr<Reader>(r), timeout](const asio::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || self->finished)
            return;
        asio::error_code ignored;
        self->socket.cancel(ignored);
        self->finish(invalid("no complete PROXY header within " + std::to_string(timeout.count() / 1000) + " s"));
    });
    r->step();
}

} // namespace lido::http
