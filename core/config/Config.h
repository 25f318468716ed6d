#pragma once
// An immutable snapshot of a configuration: the element tree with each element's display path,
// line and schema entry, and the diagnostics of its validation. Shared across threads as
// std::shared_ptr<const Config>.
#include "util/Result.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lido::config {

struct ElementSpec;
struct AttributeSpec;
class ConfigDocument;

struct Diagnostic {
    enum class Severity { Error, Warning, Ignored };
    Severity severity = Severity::Error;
    std::string file;
    int line = 0;
    std::string path;    // element path, with /@attribute when about one attribute
    std::string message;
    // "FILE:LINE: PATH: message"; warnings and ignored parts say so after the path.
    std::string str() const;
};

struct ConfigElement {
    std::string name;
    std::string path; // display path
    int line = 0;
    const ElementSpec* spec = nullptr;
    std::vector<std::pair<std::string, std::string>> attributes; // as written, in order
    std::vector<ConfigElement> children;                          // elements only

    const std::string* find(std::string_view attribute) const;
    // The written value, else the schema default, else "".
    std::string get(std::string_view attribute) const;
    const AttributeSpec* attributeSpec(std::string_view attribute) const;
    const ConfigElement* child(std::string_view childName) const;
    std::vector<const ConfigElement*> childrenNamed(std::string_view childName) const;
};

// processModel/@identityType in effect: as written, else SpecificUser when userName is set, else
// ApplicationPoolIdentity.
std::string identityType(const ConfigElement* processModel);

struct ValidateOptions {
    // False when the file is checked on another machine than the one it runs on: missing
    // folders and programs become warnings.
    bool pathsAreLocal = true;
};

class Config {
public:
    static std::shared_ptr<const Config> fromDocument(const ConfigDocument& doc, const ValidateOptions& options = {});
    // The same, with the document's text handed over (doc.takeText()) rather than copied.
    static std::shared_ptr<const Config> fromDocument(const ConfigDocument& doc, const ValidateOptions& options, std::string text);

    const ConfigElement& root() const { return root_; }
    const std::string& fileName() const { return fileName_; }
    const std::string& text() const { return text_; }
    const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
    bool valid() const;
    int errorCount() const;

    // A section by its short or full path ("applicationPools", "system.webServer/cgi").
    const ConfigElement* section(std::string_view path) const;
    std::vector<const ConfigElement*> pools() const;
    // The system.webServer sections of a site's <location path="Site"> and <location
    // path="Site/sub/path"> blocks, outermost first, each with the URL prefix it covers within
    // the site ("/" for the site itself, "/blog/" for Site/blog).
    // Site empty: the server's own <location path=""> blocks.
    struct LocationSection {
        std::string prefix;
        const ConfigElement* webServer = nullptr;
        const ConfigElement* location = nullptr;
    };
    std::vector<LocationSection> locationsOf(const std::string& site) const;
    std::vector<const ConfigElement*> sites() const;
    std::vector<const ConfigElement*> fastCgiApplications() const;
    std::vector<const ConfigElement*> handlers() const;
    const ConfigElement* pool(std::string_view name) const;
    const ConfigElement* site(std::string_view name) const;

private:
    ConfigElement root_;
    std::string fileName_;
    std::string text_;
    std::vector<Diagnostic> diagnostics_;
    std::map<std::string, std::vector<const ConfigElement*>, std::less<>> locations_; // by site (first path step)
};

// Reads, parses and validates one file. A file that cannot be read or is not XML is an error
// value (lidoctl exits 2); a file with validation errors is a Config whose valid() is false.
Result<std::shared_ptr<const Config>> loadConfig(const std::string& path, const ValidateOptions& options = {});

} // namespace lido::config
