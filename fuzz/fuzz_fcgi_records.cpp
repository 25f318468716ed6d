// Fuzz target: arbitrary bytes as an application's side of a FastCGI connection, through the
// resumable record parser. Fed whole and in chunks whose sizes come from the input, the parser
// must yield the same records and the same error (a split must never change the meaning); name-
// value content must decode and re-encode to what it decoded to. Any crash or sanitizer report
// is a bug, and so is any difference (std::abort).
#include "fastcgi/FcgiProtocol.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Seen {
    std::vector<std::pair<int, std::string>> records; // type*65536+id, content
    std::string error;
};

Seen parse(std::string_view in, size_t maxContent, const std::vector<size_t>& cuts)
{
    using namespace lido::fastcgi;
    Seen seen;
    RecordParser parser(maxContent);
    size_t at = 0, cut = 0;
    while (at < in.size() && seen.error.empty()) {
        size_t n = cuts.empty() ? in.size() : std::max<size_t>(1, cuts[cut++ % cuts.size()]);
        n = std::min(n, in.size() - at);
        seen.error = parser.feed(in.substr(at, n), [&](const Record& r) {
            seen.records.emplace_back(static_cast<int>(r.type) * 65536 + r.requestId, std::string(r.content));
        });
        at += n;
    }
    return seen;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace lido::fastcgi;
    if (size < 2)
        return 0;
    // The first byte picks the record limit, the second the chunk sizes.
    size_t maxContent = 1 + data[0] * 64;
    std::vector<size_t> cuts;
    for (size_t i = 0; i < 8; ++i)
        cuts.push_back(1 + ((data[1] >> (i % 8)) & 7) * (i + 1));
    std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
    Seen whole = parse(in, maxContent, {});
    Seen split = parse(in, maxContent, cuts);
    if (whole.records != split.records || whole.error != split.error)
        std::abort();
    for (const auto& [key, content] : whole.records) {
        if (content.size() > maxContent)
            std::abort();
        if (key / 65536 == static_cast<int>(Type::EndRequest) && !decodeEndRequest(content))
            std::abort(); // the parser let through an END_REQUEST that cannot be read
        if (auto pairs = decodeNameValues(content)) {
            auto again = decodeNameValues(encodeNameValues(*pairs));
            if (!again || *again != *pairs)
                std::abort();
        }
    }
    return 0;
}
