#include "engine/RequestFilter.h"

#include "config/FilterDefaults.h"
#include "config/Values.h"

#include <algorithm>

namespace lido::engine {

using config::ConfigElement;

namespace {

// The items of an IIS collection after Lido's defaults, <clear/> and <remove/>.
template <typename Item, typename Make>
void collect(const ConfigElement* collection, const char* key, std::vector<Item>& out, Make make)
{
    if (!collection)
        return;
    for (const ConfigElement& c : collection->children) {
        if (c.name == "clear") {
            out.clear();
        } else if (c.name == "remove") {
            std::string v = config::toLower(c.get(key));
            std::erase_if(out, [&](const Item& i) { return make.keyOf(i) == v; });
        } else if (c.name == "add") {
            std::string v = config::toLower(c.get(key));
            std::erase_if(out, [&](const Item& i) { return make.keyOf(i) == v; });
            out.push_back(make(c, v));
        }
    }
}

struct MakeString {
    std::string operator()(const ConfigElement&, const std::string& v) const { return v; }
    const std::string& keyOf(const std::string& s) const { return s; }
};

bool endsWith(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

RequestFilter::RequestFilter(const ConfigElement* rf)
{
    for (std::string_view s : config::kDefaultHiddenSegments)
        hiddenSegments_.emplace_back(s);
    for (std::string_view e : config::kDefaultDeniedExtensions)
        extensions_.push_back(Rule{std::string(e), false});
    apply(rf);
}

void RequestFilter::apply(const ConfigElement* rf)
{
    if (!rf)
        return;
    if (rf->find("allowHighBitCharacters"))
        allowHighBit_ = config::parseBool(rf->get("allowHighBitCharacters")).value_or(true);
    collect(rf->child("denyUrlSequences"), "sequence", sequences_, MakeString{});
    collect(rf->child("hiddenSegments"), "segment", hiddenSegments_, MakeString{});
    struct MakeExt {
        Rule operator()(const ConfigElement& c, const std::string& v) const { return Rule{v, config::parseBool(c.get("allowed")).value_or(true)}; }
        const std::string& keyOf(const Rule& r) const { return r.value; }
    };
    collect(rf->child("fileExtensions"), "fileExtension", extensions_, MakeExt{});
    collect(rf->child("verbs"), "verb", verbs_, MakeExt{});
    if (const ConfigElement* fe = rf->child("fileExtensions"); fe && fe->find("allowUnlisted"))
        allowUnlistedExtensions_ = config::parseBool(fe->get("allowUnlisted")).value_or(true);
    if (const ConfigElement* v = rf->child("verbs"); v && v->find("allowUnlisted"))
        allowUnlistedVerbs_ = config::parseBool(v->get("allowUnlisted")).value_or(true);
    if (const ConfigElement* limits = rf->child("requestLimits"))
        if (const ConfigElement* hl = limits->child("headerLimits")) {
            struct MakeLimit {
                std::pair<std::string, uint64_t> operator()(const ConfigElement& c, const std::string& v) const
                {
                    return {v, config::parseUInt(c.get("sizeLimit")).value_or(0)};
                }
                const std::string& keyOf(const std::pair<std::string, uint64_t>& p) const { return p.first; }
            };
            collect(hl, "header", headerLimits_, MakeLimit{});
        }
}

std::optional<Refusal> RequestFilter::check(const http::Request& req, const std::string& path) const
{
    if (!allowHighBit_ && std::any_of(req.target.begin(), req.target.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        return Refusal{404, 12, "the URL contains non-ASCII characters (requestFiltering/@allowHighBitCharacters is false)"};
    std::string lowerPath = config::toLower(path);
    std::string lowerRaw = sequences_.empty() ? std::string() : config::toLower(req.path); // none by default: no copy per request
    for (const std::string& seq : sequences_)
        if (!seq.empty() && (lowerRaw.find(seq) != std::string::npos || lowerPath.find(seq) != std::string::npos))
            return Refusal{404, 5, "the URL contains the sequence '" + seq + "', which requestFiltering/denyUrlSequences denies"};
    std::string_view last = std::string_view(lowerPath).substr(lowerPath.rfind('/') + 1);
    auto dot = last.rfind('.');
    std::string_view extension = dot == std::string_view::npos ? std::string_view() : last.substr(dot);
    bool listed = false;
    for (const Rule& r : extensions_) {
        // ".bak" is the text after the last dot; an entry without a dot ("~") is a suffix.
        bool matches = r.value.empty() ? false : r.value.front() == '.' ? extension == r.value : endsWith(last, r.value);
        if (!matches)
            continue;
        if (!r.allowed)
            return Refusal{404, 7, "the file extension '" + r.value + "' is denied by requestFiltering/fileExtensions"};
        listed = true;
    }
    if (!allowUnlistedExtensions_ && !listed && !last.empty())
        return Refusal{404, 7, "the file extension '" + std::string(extension) + "' is not allowed (requestFiltering/fileExtensions/@allowUnlisted is false)"};
    for (size_t start = 1; start <= lowerPath.size();) {
        size_t end = lowerPath.find('/', start);
        std::string_view segment = std::string_view(lowerPath).substr(start, end == std::string::npos ? std::string::npos : end - start);
        for (const std::string& hidden : hiddenSegments_)
            if (segment == hidden)
                return Refusal{404, 8, "the URL contains the segment '" + std::string(segment) + "', which requestFiltering/hiddenSegments hides"};
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    std::string verb = config::toLower(req.method);
    bool verbListed = false;
    for (const Rule& r : verbs_) {
        if (r.value != verb)
            continue;
        if (!r.allowed)
            return Refusal{404, 6, "the verb " + req.method + " is denied by requestFiltering/verbs"};
        verbListed = true;
    }
    if (!allowUnlistedVerbs_ && !verbListed)
        return Refusal{404, 6, "the verb " + req.method + " is not allowed (requestFiltering/verbs/@allowUnlisted is false)"};
    for (const auto& [name, limit] : headerLimits_)
        for (const http::Header& h : req.headers)
            if (config::toLower(h.name) == name && limit > 0 && h.value.size() > limit)
                return Refusal{404, 10, "the header " + h.name + " is longer (" + std::to_string(h.value.size()) +
                                            " bytes) than requestFiltering/requestLimits/headerLimits allows (" + std::to_string(limit) + ")"};
    return std::nullopt;
}

} // namespace lido::engine
