#pragma once
// Addresses and CIDR ranges, IPv4 and IPv6: the proxies whose X-Forwarded-For is believed
// (lido/forwardedFor/@trustedProxies: nginx's set_real_ip_from with real_ip_recursive), and
// ipSecurity's rules.
#include <string>
#include <string_view>
#include <vector>

namespace lido {

class AddressRanges {
public:
    // "10.0.0.0/8, 127.0.0.1, ::1": an error names the entry that is neither.
    static std::string parse(std::string_view list, AddressRanges& out);
    bool empty() const { return ranges_.empty(); }
    bool contains(std::string_view address) const;
    // The client behind a peer in these ranges: the X-Forwarded-For values (every such header, in
    // order) read from the right, past the addresses in these ranges; the peer itself when it is
    // not in them.
    std::string clientBehind(const std::string& peer, const std::vector<std::string_view>& forwardedFor) const;

private:
    struct Range {
        unsigned char bytes[16];
        int prefix; // bits, of the IPv6 form (IPv4 is ::ffff:a.b.c.d, 96 + its bits)
    };
    std::vector<Range> ranges_;
};

} // namespace lido
