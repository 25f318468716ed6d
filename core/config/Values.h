#pragma once
// Parsing and canonical forms of IIS attribute values: booleans, whole numbers, time spans.
#include <cstdint>
#include "util/Text.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lido::config {

std::optional<bool> parseBool(std::string_view text);
std::optional<uint64_t> parseUInt(std::string_view text);

// IIS time span: [-][d.]hh:mm:ss[.fffffff]. Returns milliseconds.
std::optional<int64_t> parseTimeSpan(std::string_view text);
std::string formatTimeSpan(int64_t milliseconds);

// failureDefinitions/@statusCodes: "500-599,404.2,401.1-401.5" (a status, a status with substatus,
// or a range of either). Empty text: no codes. nullopt with why when malformed.
struct StatusRange {
    int from = 0, to = 0;        // status
    int subFrom = -1, subTo = -1; // -1: any substatus
    bool matches(int status, int substatus) const;
};
std::optional<std::vector<StatusRange>> parseStatusCodes(std::string_view text, std::string* why = nullptr);

// ip:port:host as in IIS's bindingInformation; ip is "*", IPv4 or [IPv6].
struct BindingInfo {
    std::string ip;   // "*" for all unassigned
    uint16_t port = 0;
    std::string host; // may be empty
};
std::optional<BindingInfo> parseBindingInfo(std::string_view text, std::string* why = nullptr);

using lido::iequals;
using lido::toLower;
using lido::trim;

// Escape a value for an XML attribute delimited by `quote`.
std::string escapeAttribute(std::string_view value, char quote = '"');

// Expand IIS-style %VAR% references from the environment; unset variables stay as written.
std::string expandEnvironment(std::string_view text);
// True for values that only make sense on Windows: drive letters, backslash paths, %windir%-style variables left unexpanded.
bool looksLikeWindowsPath(std::string_view text);

} // namespace lido::config
