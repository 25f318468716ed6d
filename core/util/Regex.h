#pragma once
// A compiled PCRE2 pattern (the regular expressions of IIS URL Rewrite's ECMAScript syntax),
// shared read-only between threads; each match gets its own match data. Compile errors come back
// as PCRE2's own message with the offset in the pattern.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lido {

class Regex {
public:
    struct Error {
        std::string message; // PCRE2's words
        size_t offset = 0;   // where in the pattern
    };
    // Null with the error when the pattern does not compile.
    static std::shared_ptr<const Regex> compile(std::string_view pattern, bool ignoreCase, Error* error);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    int groups() const { return groups_; } // capturing groups, not counting the whole match
    // The whole match and each group (empty for a group that did not take part), or nothing.
    std::optional<std::vector<std::string>> match(std::string_view subject) const;

private:
    Regex() = default;
    void* code_ = nullptr; // pcre2_code_8
    int groups_ = 0;
};

} // namespace lido
