#include "config/Config.h"

#include "config/ConfigDocument.h"
#include "config/ConfigValidator.h"
#include "config/Schema.h"

#include <algorithm>

namespace lido::config {

std::string Diagnostic::str() const
{
    std::string out = file + ":" + std::to_string(line) + ": " + path + ": ";
    if (severity == Severity::Warning)
        out += "warning: ";
    else if (severity == Severity::Ignored)
        out += "ignored: ";
    return out + message;
}

const std::string* ConfigElement::find(std::string_view attribute) const
{
    for (const auto& [k, v] : attributes)
        if (k == attribute)
            return &v;
    return nullptr;
}

const AttributeSpec* ConfigElement::attributeSpec(std::string_view attribute) const
{
    return spec ? spec->attribute(attribute) : nullptr;
}

std::string ConfigElement::get(std::string_view attribute) const
{
    if (const std::string* v = find(attribute))
        return *v;
    if (const AttributeSpec* a = attributeSpec(attribute))
        return a->defaultValue;
    return {};
}

const ConfigElement* ConfigElement::child(std::string_view childName) const
{
    for (const auto& c : children)
        if (c.name == childName)
            return &c;
    return nullptr;
}

std::vector<const ConfigElement*> ConfigElement::childrenNamed(std::string_view childName) const
{
    std::vector<const ConfigElement*> out;
    for (const auto& c : children)
        if (c.name == childName)
            out.push_back(&c);
    return out;
}

std::string identityType(const ConfigElement* pm)
{
    if (pm && pm->find("identityType"))
        return pm->get("identityType");
    if (pm && !pm->get("userName").empty())
        return "SpecificUser";
    return "ApplicationPoolIdentity";
}

namespace {

void build(const ConfigDocument& doc, pugi::xml_node node, const std::string& schemaPath, const std::string& parentDisplay,
           ConfigElement& out)
{
    out.name = node.name();
    out.spec = Schema::instance().find(schemaPath);
    out.line = doc.lineOf(node);
    // Section groups are left out of display paths ("applicationPools/add[...]"), but a group
    // element itself is shown by its name.
    // Inside <location> the group is kept: location[@path='Main']/system.webServer/handlers.
    bool group = schemaPath.find('/') == std::string::npos && Schema::isSectionGroup(out.name);
    std::string step = ConfigDocument::stepOf(node, out.spec);
    out.path = parentDisplay.empty() ? (group ? out.name : step) : parentDisplay + "/" + step;
    bool location = schemaPath == "location";
    size_t attributeCount = 0;
    for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute())
        ++attributeCount;
    out.attributes.reserve(attributeCount);
    for (pugi::xml_attribute a : node.attributes())
        out.attributes.emplace_back(a.name(), a.value());
    size_t n = 0;
    for (pugi::xml_node c : node.children())
        n += c.type() == pugi::node_element;
    out.children.reserve(n);
    for (pugi::xml_node c : node.children()) {
        if (c.type() != pugi::node_element)
            continue;
        // A location's sections have the schema of the same sections at server level.
        std::string childSchema = location ? std::string(c.name()) : schemaPath + "/" + c.name();
        // Known sections drop their group ("applicationPools/..."); unknown ones keep it
        // ("system.webServer/asp") so that the path still names one place.
        bool dropGroup = group && parentDisplay.empty() && Schema::instance().find(childSchema);
        build(doc, c, childSchema, dropGroup ? std::string() : out.path, out.children.emplace_back());
    }
}

void buildRoot(const ConfigDocument& doc, ConfigElement& root)
{
    pugi::xml_node r = doc.root();
    root.name = r.name();
    root.path = r.name();
    root.line = doc.lineOf(r);
    for (pugi::xml_attribute a : r.attributes())
        root.attributes.emplace_back(a.name(), a.value());
    for (pugi::xml_node c : r.children())
        if (c.type() == pugi::node_element)
            build(doc, c, c.name(), std::string(), root.children.emplace_back());
}

} // namespace

std::shared_ptr<const Config> Config::fromDocument(const ConfigDocument& doc, const ValidateOptions& options)
{
    return fromDocument(doc, options, doc.text());
}

std::shared_ptr<const Config> Config::fromDocument(const ConfigDocument& doc, const ValidateOptions& options, std::string text)
{
    auto config = std::make_shared<Config>();
    config->fileName_ = doc.fileName();
    config->text_ = std::move(text);
    buildRoot(doc, config->root_);
    for (const ConfigElement& loc : config->root_.children)
        if (loc.name == "location" && loc.child("system.webServer")) {
            std::string where = loc.get("path");
            if (where == ".")
                where.clear();
            config->locations_[where.substr(0, where.find('/'))].push_back(&loc);
        }
    config->diagnostics_ = validateConfig(config->root_, config->fileName_, options);
    return config;
}

bool Config::valid() const { return errorCount() == 0; }

int Config::errorCount() const
{
    return static_cast<int>(std::count_if(diagnostics_.begin(), diagnostics_.end(),
                                          [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::Error; }));
}

std::vector<Config::LocationSection> Config::locationsOf(const std::string& site) const
{
    std::vector<LocationSection> out;
    auto found = locations_.find(site);
    if (found == locations_.end())
        return out;
    for (const ConfigElement* loc : found->second) {
        std::string where = loc->get("path");
        if (where == ".")
            where.clear();
        while (!where.empty() && where.back() == '/')
            where.pop_back();
        const ConfigElement* web = loc->child("system.webServer");
        if (where == site)
            out.push_back({"/", web, loc});
        else if (where.rfind(site + "/", 0) == 0)
            out.push_back({where.substr(site.size()) + "/", web, loc});
    }
    std::stable_sort(out.begin(), out.end(), [](const LocationSection& a, const LocationSection& b) { return a.prefix.size() < b.prefix.size(); });
    return out;
}

const ConfigElement* Config::section(std::string_view path) const
{
    std::string full(path);
    if (full.find('/') == std::string::npos || !Schema::isSectionGroup(full.substr(0, full.find('/')))) {
        std::string group = Schema::instance().groupOf(full.substr(0, full.find('/')));
        if (!group.empty())
            full = group + "/" + full;
    }
    const ConfigElement* cur = &root_;
    size_t start = 0;
    while (cur && start <= full.size()) {
        auto slash = full.find('/', start);
        std::string_view step = std::string_view(full).substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        cur = cur->child(step);
        if (slash == std::string::npos)
            break;
        start = slash + 1;
    }
    return cur;
}

static std::vector<const ConfigElement*> itemsOf(const ConfigElement* parent, std::string_view name)
{
    return parent ? parent->childrenNamed(name) : std::vector<const ConfigElement*>{};
}

std::vector<const ConfigElement*> Config::pools() const { return itemsOf(section("applicationPools"), "add"); }
std::vector<const ConfigElement*> Config::sites() const { return itemsOf(section("sites"), "site"); }
std::vector<const ConfigElement*> Config::fastCgiApplications() const { return itemsOf(section("fastCgi"), "application"); }
std::vector<const ConfigElement*> Config::handlers() const { return itemsOf(section("handlers"), "add"); }

const ConfigElement* Config::pool(std::string_view name) const
{
    for (const ConfigElement* p : pools())
        if (p->get("name") == name)
            return p;
    return nullptr;
}

const ConfigElement* Config::site(std::string_view name) const
{
    for (const ConfigElement* s : sites())
        if (s->get("name") == name)
            return s;
    return nullptr;
}

Result<std::shared_ptr<const Config>> loadConfig(const std::string& path, const ValidateOptions& options)
{
    auto doc = ConfigDocument::load(path);
    if (!doc)
        return fail(doc.error());
    // The document is not needed afterwards: its text moves into the snapshot instead of a copy.
    std::string text = doc->takeText();
    return Config::fromDocument(*doc, options, std::move(text));
}

} // namespace lido::config
