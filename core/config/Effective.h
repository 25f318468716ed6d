#pragma once
// IIS's configuration inheritance: the system.webServer settings in effect for one URL of a site.
// The server's sections, then <location path="">, then <location path="Site">, then the
// application's and deeper paths' locations, each on top of the one before: attributes override,
// collections merge with add/remove/clear. Pure; built once per applied configuration and scope.
#include "config/Config.h"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lido::config {

// The system.webServer sections a <location> may set (the others are read at server level only).
const std::vector<std::string_view>& locationSections();

struct EffectiveSettings {
    struct Layer {
        std::string label;        // "server", "location path=''", "site Main", "application /php", "path /php/docs"
        std::string locationPath; // the location's path as written; empty for the top level
        int line = 0;
    };
    std::vector<Layer> layers;
    ConfigElement webServer; // "system.webServer" with the merged sections; paths as at server level

    // A merged section by its path below system.webServer ("handlers", "security/requestFiltering").
    const ConfigElement* section(std::string_view path) const;
    // The layer that wrote an element (attribute empty) or one of its attributes; -1: a default.
    int layerOf(const ConfigElement& element, std::string_view attribute = {}) const;
    // One line per element and per written attribute, with the layer it comes from: what the
    // console's effective-settings view shows and what the golden tests compare.
    std::string describe() const;

    std::map<std::string, int, std::less<>> from; // merged path [+ "/@attribute"] -> layer
};

// The settings for urlPath (decoded, "/php/docs/a.php") of a site; site empty: the server's own.
EffectiveSettings effectiveSettings(const Config& config, const std::string& site, std::string_view urlPath);

// The URL prefixes of a site at which its settings change ("/" and one per <location>), longest first.
std::vector<std::string> scopePrefixes(const Config& config, const std::string& site);

} // namespace lido::config
