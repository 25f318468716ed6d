#pragma once
// IIS request filtering (system.webServer/security/requestFiltering): denied URL sequences,
// file extensions, hidden segments, verbs and header size limits, answered 404 with IIS's
// substatus. Built once per applied configuration; check() is pure.
#include "config/Config.h"
#include "http/Http.h"

#include <optional>
#include <string>
#include <vector>

namespace lido::engine {

struct Refusal {
    int status = 404;
    int substatus = 0;  // 5 sequence, 6 verb, 7 extension, 8 hidden segment, 10 header too long, 12 high-bit
    std::string reason; // for the detailed error page and the event
};

class RequestFilter {
public:
    // From a requestFiltering element (null: Lido's defaults only), such as a scope's merged one
    // (config::EffectiveSettings): its collections add, remove or <clear/> as IIS's do.
    explicit RequestFilter(const config::ConfigElement* requestFiltering = nullptr);

    // rawPath as the client sent it, path decoded and normalized.
    std::optional<Refusal> check(const http::Request& request, const std::string& path) const;

private:
    void apply(const config::ConfigElement* requestFiltering);
    struct Rule {
        std::string value; // lower case
        bool allowed = false;
    };
    std::vector<std::string> sequences_;
    std::vector<std::string> hiddenSegments_; // lower case
    std::vector<Rule> extensions_;
    bool allowUnlistedExtensions_ = true;
    std::vector<Rule> verbs_;
    bool allowUnlistedVerbs_ = true;
    std::vector<std::pair<std::string, uint64_t>> headerLimits_;
    bool allowHighBit_ = true;
};

} // namespace lido::engine
