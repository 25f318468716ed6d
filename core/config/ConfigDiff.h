#pragma once
// Differences between two configurations: semantic (elements added and removed, attributes
// changed, each named by its path and key), unified text (libdtl), and a POSIX shell script of
// lidoctl edit commands that turns the old file into the new one (IIS Manager's Generate Script).
#include "config/Config.h"

#include <string>
#include <vector>

namespace lido::config {

struct SemanticChange {
    // Reordered: items of a collection kept on both sides stand in another order (handlers and
    // rewrite rules are tried in order, so this changes behaviour).
    enum class Kind { Added, Removed, Changed, Reordered };
    Kind kind = Kind::Changed;
    std::string path;      // element path (Reordered: the collection's)
    std::string attribute; // Changed only
    std::string oldValue;  // Changed: as written, or the default, or "(unset)"; Reordered: the keys in the old order
    std::string newValue;  // Reordered: in the new order
    const ConfigElement* element = nullptr; // Added: in the new config; Removed: in the old
    bool newIsUnset = false;                // Changed: the attribute is gone and has no default
    // Reordered: the old paths of the items from the first one out of place on, and the new
    // elements from there to the collection's end, in their order (what a script removes and adds).
    std::vector<std::string> movedFrom = {};
    std::vector<const ConfigElement*> movedTo = {};
    std::string str() const;
};

std::vector<SemanticChange> semanticDiff(const Config& before, const Config& after);
std::string formatSemanticDiff(const std::vector<SemanticChange>& changes);
std::string unifiedDiff(const std::string& before, const std::string& after, const std::string& beforeName,
                        const std::string& afterName);
std::string scriptDiff(const Config& before, const Config& after);

} // namespace lido::config
