#include "util/AddressRanges.h"

#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace lido {

namespace {

// An address as 16 bytes, IPv4 mapped into IPv6; false when it is not one.
bool toBytes(std::string_view text, unsigned char out[16])
{
    std::string copy(text);
    if (copy.size() > 2 && copy.front() == '[' && copy.back() == ']')
        copy = copy.substr(1, copy.size() - 2);
    unsigned char v4[4];
    if (::inet_pton(AF_INET, copy.c_str(), v4) == 1) {
        std::memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        std::memcpy(out + 12, v4, 4);
        return true;
    }
    return ::inet_pton(AF_INET6, copy.c_str(), out) == 1;
}

std::string_view trimmed(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// One X-Forwarded-For entry: an address, perhaps with a port (1.2.3.4:80, [::1]:80).
std::string_view entryAddress(std::string_view e)
{
    if (!e.empty() && e.front() == '[') {
        size_t close = e.find(']');
        return close == std::string_view::npos ? e : e.substr(1, close - 1);
    }
    if (std::count(e.begin(), e.end(), ':') == 1)
        return e.substr(0, e.find(':'));
    return e;
}

} // namespace

std::string AddressRanges::parse(std::string_view list, AddressRanges& out)
{
    out.ranges_.clear();
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string_view item = trimmed(list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        start = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
        if (item.empty())
            continue;
        Range r{};
        std::string_view address = item.substr(0, item.find('/'));
        if (!toBytes(address, r.bytes))
            return "'" + std::string(item) + "' is not an IP address or a CIDR range (10.0.0.0/8, 2001:db8::/32)";
        bool v4 = address.find(':') == std::string_view::npos;
        int maxBits = v4 ? 32 : 128;
        int bits = maxBits;
        if (size_t slash = item.find('/'); slash != std::string_view::npos) {
            std::string_view b = item.substr(slash + 1);
            auto [end, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
            if (b.empty() || ec != std::errc() || end != b.data() + b.size() || bits < 0 || bits > maxBits)
                return "'" + std::string(item) + "': the prefix length is 0 to " + std::to_string(maxBits);
        }
        r.prefix = v4 ? 96 + bits : bits;
        out.ranges_.push_back(r);
    }
    return {};
}

bool AddressRanges::contains(std::string_view address) const
{
    unsigned char a[16];
    if (ranges_.empty() || !toBytes(address, a))
        return false;
    for (const Range& r : ranges_) {
        int full = r.prefix / 8, rest = r.prefix % 8;
        if (std::memcmp(a, r.bytes, static_cast<size_t>(full)) != 0)
            continue;
        if (rest && ((a[full] ^ r.bytes[full]) & (0xff << (8 - rest)) & 0xff))
            continue;
        return true;
    }
    return false;
}

std::string AddressRanges::clientBehind(const std::string& peer, const std::vector<std::string_view>& forwardedFor) const
{
    if (!contains(peer))
        return peer;
    std::vector<std::string_view> hops;
    for (std::string_view header : forwardedFor) {
        size_t start = 0;
        while (start <= header.size()) {
            size_t comma = header.find(',', start);
            std::string_view e = trimmed(header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
            start = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
            if (!e.empty())
                hops.push_back(e);
        }
    }
    std::string client = peer;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        std::string_view address = entryAddress(*it);
        unsigned char ignored[16];
        if (!toBytes(address, ignored))
            break; // not an address (a forged "unknown"): the last trusted hop stands
        client = std::string(address);
        if (!contains(client))
            break;
    }
    return client;
}

} // namespace lido
