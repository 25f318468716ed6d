#pragma once
// What request filtering refuses when the configuration says nothing: Lido's defaults for Linux,
// applied before the configured items of each collection unless it starts with <clear/>. The
// schema's help text and the README list them from here.
#include <array>
#include <string_view>

namespace lido::config {

// URL segments never served (404.8): version-control folders and per-folder secrets.
inline constexpr std::array<std::string_view, 6> kDefaultHiddenSegments = {".git", ".svn", ".hg", ".env", ".htaccess", ".htpasswd"};
// Extensions never served (404.7): configuration files and editor or backup leftovers ("~" is a
// suffix: index.php~).
inline constexpr std::array<std::string_view, 6> kDefaultDeniedExtensions = {".config", ".bak", ".orig", ".swp", ".swo", "~"};

} // namespace lido::config
