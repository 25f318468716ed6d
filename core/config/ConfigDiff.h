#pragma once
// Differences between two configurations: semantic (elements added and removed, attributes
// changed, each named by its path and key), unified text (libdtl), and a POSIX shell script of
// lidoctl edit commands that turns the old file into the new one (IIS Manager's Generate Script).
#include "config/Config.h"

#include <string>
#include <vector>

namespace lido::config {

struct SemanticChange {
    enum class Kind { Added, Removed, Changed };
    Kind kind = Kind::Changed;
    std::string path;      // element path
    std::string attribute; // Changed only
    std::string oldValue;  // Changed: as written, or the default, or "(unset)"
    std::string newValue;
    const ConfigElement* element = nullptr; // Added: in the new config; Removed: in the old
    bool newIsUnset = false;                // Changed: the attribute is gone and has no default
    std::string str() const;
};

std::vector<SemanticChange> semanticDiff(const Config& before, const Config& after);
std::string formatSemanticDiff(const std::vector<SemanticChange>& changes);
std::string unifiedDiff(const std::string& before, const std::string& after, const std::string& beforeName,
                        const std::string& afterName);
std::string scriptDiff(const Config& before, const Config& after);

} // namespace lido::config
