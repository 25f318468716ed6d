#pragma once
// Edit commands in the spirit of appcmd, shared by lidoctl, its batch mode, generated scripts and
// the console:  VERB KIND KEY [ATTR=VALUE | ATTR]...
//   VERB  set | unset | add | remove
//   KIND  pool NAME | site NAME | fastcgi FULLPATH[|ARGUMENTS] | handler NAME | element PATH
//   ATTR  an attribute, with dots for nested elements: failure.rapidFailProtectionMaxCrashes=3
// `add site` also takes bindings=PROTOCOL/IP:PORT:HOST[,...], physicalPath=DIR and
// applicationPool=POOL for its root application, and picks the next free id when none is given.
#include "config/ElementPath.h"
#include "util/Result.h"

#include <string>
#include <string_view>
#include <vector>

namespace lido::config {

class ConfigDocument;

Result<ElementPath> pathForKind(std::string_view kind, std::string_view key);

Result<void> applyEdit(ConfigDocument& doc, std::string_view verb, std::string_view kind, std::string_view key,
                       const std::vector<std::string>& args);

// One command as words (VERB KIND KEY ARGS...), e.g. a line of `lidoctl batch`.
Result<void> applyEditWords(ConfigDocument& doc, const std::vector<std::string>& words);

// Splits a line into words as the POSIX shell would (quotes and backslashes; no command
// substitution, no globbing). Used for `lidoctl batch` input.
Result<std::vector<std::string>> splitShellWords(const std::string& line);

} // namespace lido::config
