#pragma once
// The configuration schema as data: one table of elements and attributes with type, default,
// range, enum values, required and key flags and a one-line help text. The validator, lidoctl and
// the console's property editor all read this table (IIS ships its schema as XML for the same reason).
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace lido::config {

enum class AttrType {
    String,     // any text
    Bool,       // true | false
    UInt,       // whole number within [min, max]
    TimeSpan,   // [d.]hh:mm:ss, range in milliseconds
    Enum,       // one of enumValues
    Flags,      // comma-separated subset of enumValues
    Directory,  // a folder that must exist (on this machine)
    Executable, // a file that must exist and be executable
    Binding,    // ip:port:host
};

std::string_view typeName(AttrType type);

struct AttributeSpec {
    std::string name;
    AttrType type = AttrType::String;
    std::string defaultValue;
    uint64_t min = 0;
    uint64_t max = std::numeric_limits<uint32_t>::max();
    std::vector<std::string> enumValues;
    bool required = false;
    bool key = false;         // identifies an item among its siblings (duplicates are errors)
    bool unique = false;      // unique among siblings although not a key (site id)
    bool windowsOnly = false; // kept, but has no meaning on Linux
    bool lido = false;        // a Lido extension, not in IIS
    std::string help;

    // Check one value; empty string when fine, else the message tail ("0 is below the minimum 10").
    std::string check(std::string_view value) const;
    // Canonical form for comparisons (true/false lower case, time spans and numbers normalised).
    std::string canonical(std::string_view value) const;
};

struct ElementSpec {
    std::string path;          // below <configuration>, e.g. "system.applicationHost/applicationPools/add"
    bool collectionItem = false;
    bool windowsOnly = false;
    std::string help;
    std::vector<AttributeSpec> attributes;

    const AttributeSpec* attribute(std::string_view name) const;
    const std::vector<const AttributeSpec*>& keys() const { return keys_; }
    std::string_view name() const; // last step of the path

private:
    friend class Schema;
    std::vector<const AttributeSpec*> keys_; // filled once the table is complete
};

class Schema {
public:
    static const Schema& instance();
    const ElementSpec* find(std::string_view path) const;
    const std::vector<ElementSpec>& elements() const { return elements_; }
    // The section group ("system.applicationHost", "system.webServer") that holds a section name
    // such as "applicationPools", or empty when unknown. Used to resolve short element paths.
    std::string groupOf(std::string_view section) const;
    static bool isSectionGroup(std::string_view name);

private:
    Schema();
    std::vector<ElementSpec> elements_;
};

} // namespace lido::config
