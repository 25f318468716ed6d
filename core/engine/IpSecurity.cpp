#include "engine/IpSecurity.h"

#include "config/Values.h"
#include "util/AddressRanges.h"

#include <algorithm>
#include <arpa/inet.h>
#include <bit>

namespace lido::engine {

namespace {

// "255.255.255.0" -> 24; an IPv6 mask may be a prefix length already. -1 when not a mask.
int prefixOf(const std::string& mask, bool v6)
{
    if (mask.empty())
        return v6 ? 128 : 32;
    if (mask.find_first_not_of("0123456789") == std::string::npos)
        return std::stoi(mask.substr(0, 3));
    in_addr a{};
    if (v6 || ::inet_pton(AF_INET, mask.c_str(), &a) != 1)
        return -1;
    uint32_t m = ntohl(a.s_addr);
    if ((m & (~m >> 1)) != 0) // not ones, then zeros
        return -1;
    return std::popcount(m);
}

} // namespace

IpSecurity::IpSecurity(const config::ConfigElement* ip)
{
    if (!ip)
        return;
    allowUnlisted_ = config::parseBool(ip->get("allowUnlisted")).value_or(true);
    proxyMode_ = config::parseBool(ip->get("enableProxyMode")).value_or(false);
    denyAction_ = ip->get("denyAction");
    for (const config::ConfigElement& c : ip->children) {
        std::string address = c.get("ipAddress");
        if (c.name == "clear") {
            rules_.clear();
        } else if (c.name == "remove") {
            std::erase_if(rules_, [&](const Rule& r) { return r.text.rfind(address + "/", 0) == 0; });
        } else if (c.name == "add" && !address.empty()) {
            std::erase_if(rules_, [&](const Rule& r) { return r.text.rfind(address + "/", 0) == 0; });
            int prefix = prefixOf(c.get("subnetMask"), address.find(':') != std::string::npos);
            auto range = std::make_shared<AddressRanges>();
            if (prefix < 0 || !AddressRanges::parse(address + "/" + std::to_string(prefix), *range).empty())
                continue; // the validator reports it with its line
            rules_.push_back(Rule{range, config::parseBool(c.get("allowed")).value_or(false), address + "/" + std::to_string(prefix)});
        }
    }
}

std::optional<bool> IpSecurity::verdict(const std::string& address, std::string& rule) const
{
    for (const Rule& r : rules_)
        if (r.range->contains(address)) {
            rule = r.text;
            return r.allowed;
        }
    return std::nullopt;
}

std::optional<Refusal> IpSecurity::refuse(const std::string& address, const std::string& why) const
{
    std::string reason = "the client address " + address + " is " + why;
    if (denyAction_ == "AbortRequest")
        return Refusal{0, 0, reason};
    if (denyAction_ == "Unauthorized")
        return Refusal{401, 503, reason};
    if (denyAction_ == "NotFound")
        return Refusal{404, 503, reason};
    return Refusal{403, 503, reason}; // IIS's 403.503: rejected for the IP address
}

std::optional<Refusal> IpSecurity::check(const http::Request& req) const
{
    if (!active())
        return std::nullopt;
    auto judge = [&](const std::string& address) -> std::optional<Refusal> {
        std::string rule;
        std::optional<bool> v = verdict(address, rule);
        if (v && !*v)
            return refuse(address, "denied by ipSecurity's rule " + rule);
        if (!v && !allowUnlisted_)
            return refuse(address, "not allowed by ipSecurity (allowUnlisted=\"false\")");
        return std::nullopt;
    };
    if (auto r = judge(req.remoteAddress.rfind("::ffff:", 0) == 0 ? req.remoteAddress.substr(7) : req.remoteAddress))
        return r;
    if (!proxyMode_)
        return std::nullopt;
    for (const http::Header& h : req.headers) {
        if (!http::iequals(h.name, "X-Forwarded-For"))
            continue;
        std::string_view list = h.value;
        size_t start = 0;
        while (start <= list.size()) {
            size_t comma = list.find(',', start);
            std::string e = config::trim(std::string(list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
            start = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
            if (e.size() > 1 && e.front() == '[') // [2001:db8::1]:443
                e = e.substr(1, e.find(']') == std::string::npos ? std::string::npos : e.find(']') - 1);
            else if (std::count(e.begin(), e.end(), ':') == 1) // 203.0.113.9:443
                e = e.substr(0, e.find(':'));
            if (!e.empty())
                if (auto r = judge(e))
                    return r;
        }
    }
    return std::nullopt;
}

} // namespace lido::engine
