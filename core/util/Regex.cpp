#include "util/Regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace lido {

std::shared_ptr<const Regex> Regex::compile(std::string_view pattern, bool ignoreCase, Error* error)
{
    int code = 0;
    PCRE2_SIZE offset = 0;
    uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (ignoreCase ? PCRE2_CASELESS : 0);
    pcre2_code* compiled = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &code, &offset, nullptr);
    if (!compiled) {
        if (error) {
            PCRE2_UCHAR text[256];
            pcre2_get_error_message(code, text, sizeof text);
            *error = Error{reinterpret_cast<const char*>(text), static_cast<size_t>(offset)};
        }
        return nullptr;
    }
    pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE); // where the machine has a JIT; else interpreted
    std::shared_ptr<Regex> r(new Regex);
    r->code_ = compiled;
    uint32_t count = 0;
    pcre2_pattern_info(compiled, PCRE2_INFO_CAPTURECOUNT, &count);
    r->groups_ = static_cast<int>(count);
    return r;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

std::optional<std::vector<std::string>> Regex::match(std::string_view subject) const
{
    auto* code = static_cast<pcre2_code*>(code_);
    pcre2_match_data* data = pcre2_match_data_create_from_pattern(code, nullptr);
    int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, data, nullptr);
    std::optional<std::vector<std::string>> out;
    if (rc > 0) {
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
        out.emplace(static_cast<size_t>(groups_) + 1);
        for (int i = 0; i < rc; ++i)
            if (ov[2 * i] != PCRE2_UNSET)
                (*out)[static_cast<size_t>(i)] = std::string(subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
    }
    pcre2_match_data_free(data);
    return out;
}

} // namespace lido
