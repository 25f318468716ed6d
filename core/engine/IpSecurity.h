#pragma once
// IIS's IP restrictions (system.webServer/security/ipSecurity): rules by address and subnet mask,
// first match wins, unlisted clients allowed or not; the client is the request's remoteAddress
// (the PROXY header's or trusted X-Forwarded-For's), and with enableProxyMode every address
// X-Forwarded-For names is checked too, as IIS does. Built once per applied configuration.
#include "config/Config.h"
#include "engine/RequestFilter.h"
#include "http/Http.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lido {
class AddressRanges;
}

namespace lido::engine {

class IpSecurity {
public:
    explicit IpSecurity(const config::ConfigElement* ipSecurity = nullptr);
    // A refusal with status 0 means the connection is dropped without an answer (denyAction="AbortRequest").
    std::optional<Refusal> check(const http::Request& request) const;
    bool active() const { return !rules_.empty() || !allowUnlisted_; }

private:
    struct Rule {
        std::shared_ptr<const AddressRanges> range;
        bool allowed = false;
        std::string text; // as written, for the message
    };
    std::optional<Refusal> refuse(const std::string& address, const std::string& why) const;
    std::optional<bool> verdict(const std::string& address, std::string& rule) const;
    std::vector<Rule> rules_;
    bool allowUnlisted_ = true;
    bool proxyMode_ = false;
    std::string denyAction_ = "Forbidden";
};

} // namespace lido::engine
