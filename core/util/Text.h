#pragma once
// Small text helpers shared by the configuration, HTTP and CGI code.
#include <string>
#include <string_view>

namespace lido {

// ASCII only (libc's tolower consults the locale for every byte).
constexpr char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }
constexpr char upperAscii(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c; }
bool iequals(std::string_view a, std::string_view b); // ASCII case-insensitive
std::string toLower(std::string_view s);
std::string trim(std::string_view s); // spaces, tabs, CR, LF at both ends
bool allTokenChars(std::string_view s); // every byte an RFC 9110 tchar (true for "")
// Every byte but A-Z a-z 0-9 - _ . ~ as %XX; and back (every %XX, %2F too: for values, not paths).
std::string urlEncode(std::string_view s);
std::string urlDecode(std::string_view s);

} // namespace lido
