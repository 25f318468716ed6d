#include "config/Effective.h"

#include "config/Schema.h"
#include "config/Values.h"

#include <algorithm>

namespace lido::config {

const std::vector<std::string_view>& locationSections()
{
    static const std::vector<std::string_view> names = {"handlers",     "defaultDocument", "directoryBrowse", "staticContent",
                                                        "httpErrors",   "httpProtocol",    "security",        "rewrite",
                                                        "urlCompression", "cgi",             "tracing"};
    return names;
}

namespace {

bool isLocationSection(std::string_view name)
{
    const auto& names = locationSections();
    return std::find(names.begin(), names.end(), name) != names.end();
}

struct Merger {
    EffectiveSettings& out;
    int layer = 0;
    size_t strip = 0; // the length of "location[@path='...']/system.webServer/" in source paths

    void mark(const ConfigElement& e)
    {
        out.from[e.path] = layer;
        for (const auto& [name, value] : e.attributes)
            out.from[e.path + "/@" + name] = layer;
    }

    void copy(ConfigElement& dst, const ConfigElement& src)
    {
        dst.name = src.name;
        dst.spec = src.spec;
        dst.line = src.line;
        dst.path = src.path.substr(std::min(strip, src.path.size()));
        dst.attributes = src.attributes;
        mark(dst);
        dst.children.clear();
        dst.children.reserve(src.children.size());
        for (const ConfigElement& c : src.children)
            copy(dst.children.emplace_back(), c);
    }

    static bool isItem(const ConfigElement& e) { return e.spec && e.spec->collectionItem; }

    // Same key values, by the key attributes of `by` (a remove names only the keys).
    static bool sameKey(const ConfigElement& item, const ConfigElement& by)
    {
        if (!by.spec || by.spec->keys().empty())
            return false;
        for (const AttributeSpec* k : by.spec->keys()) {
            std::string a = item.get(k->name), b = by.get(k->name);
            if (k->type != AttrType::String && k->type != AttrType::Executable) {
                a = k->canonical(a);
                b = k->canonical(b);
            }
            if (a != b)
                return false;
        }
        return true;
    }

    // IIS's mergeAppend="false" collections: a lower level's items go before the inherited ones
    // (handler mappings and default documents are tried in that order).
    static bool prepends(const ConfigElement& collection)
    {
        return collection.name == "handlers" || (collection.name == "files" && collection.path.rfind("defaultDocument/", 0) == 0);
    }

    void merge(ConfigElement& dst, const ConfigElement& src)
    {
        bool prepend = prepends(dst);
        size_t insertAt = 0; // where this level's next item goes in a prepending collection
        for (const auto& [name, value] : src.attributes) {
            auto it = std::find_if(dst.attributes.begin(), dst.attributes.end(), [&](const auto& a) { return a.first == name; });
            if (it != dst.attributes.end())
                it->second = value;
            else
                dst.attributes.emplace_back(name, value);
            out.from[dst.path + "/@" + name] = layer;
        }
        for (const ConfigElement& c : src.children) {
            auto& kids = dst.children;
            if (c.name == "clear" && isItem(c)) {
                // The markers stay: readers that add defaults of their own (request filtering's
                // hidden segments) see the clear as IIS would.
                kids.erase(std::remove_if(kids.begin(), kids.end(), [](const ConfigElement& k) { return isItem(k); }), kids.end());
                copy(kids.emplace_back(), c);
                insertAt = kids.size();
            } else if (c.name == "remove" && isItem(c)) {
                kids.erase(std::remove_if(kids.begin(), kids.end(),
                                          [&](const ConfigElement& k) { return isItem(k) && k.name != "remove" && k.name != "clear" && sameKey(k, c); }),
                           kids.end());
                copy(kids.emplace_back(), c);
            } else if (isItem(c)) {
                auto same = std::find_if(kids.begin(), kids.end(), [&](const ConfigElement& k) { return k.name == c.name && sameKey(k, c); });
                if (same != kids.end())
                    copy(*same, c); // a child level's item of the same key replaces the inherited one
                else if (prepend)
                    copy(*kids.emplace(kids.begin() + static_cast<std::ptrdiff_t>(std::min(insertAt++, kids.size()))), c);
                else
                    copy(kids.emplace_back(), c);
            } else {
                auto same = std::find_if(kids.begin(), kids.end(), [&](const ConfigElement& k) { return k.name == c.name && !isItem(k); });
                if (same != kids.end())
                    merge(*same, c);
                else
                    copy(kids.emplace_back(), c);
            }
        }
    }

    void section(const ConfigElement& s)
    {
        if (!isLocationSection(s.name))
            return;
        auto& kids = out.webServer.children;
        auto same = std::find_if(kids.begin(), kids.end(), [&](const ConfigElement& k) { return k.name == s.name; });
        if (same != kids.end())
            merge(*same, s);
        else
            copy(kids.emplace_back(), s);
    }
};

std::string trimmedPath(std::string p)
{
    if (p == ".")
        p.clear();
    while (!p.empty() && p.back() == '/')
        p.pop_back();
    return p;
}

// The application of a site that serves a URL path: the longest application path that prefixes it.
std::string applicationOf(const ConfigElement* site, std::string_view urlPath)
{
    std::string best = "/";
    if (!site)
        return best;
    for (const ConfigElement* a : site->childrenNamed("application")) {
        std::string p = trimmedPath(a->get("path"));
        if (p.empty() || p == "/")
            continue;
        if (urlPath.substr(0, p.size()) == p && (urlPath.size() == p.size() || urlPath[p.size()] == '/') && p.size() > best.size())
            best = p;
    }
    return best;
}

bool covers(const std::string& prefix, std::string_view urlPath)
{
    // "/php/" covers "/php" and everything below it.
    return urlPath.substr(0, prefix.size()) == prefix || std::string(urlPath) + "/" == prefix;
}

} // namespace

EffectiveSettings effectiveSettings(const Config& config, const std::string& site, std::string_view urlPath)
{
    EffectiveSettings out;
    out.webServer.name = "system.webServer";
    out.webServer.path = "system.webServer";
    out.webServer.spec = Schema::instance().find("system.webServer");
    Merger m{out};
    out.layers.push_back({"server", "", 0});
    for (const ConfigElement& c : config.root().children)
        if (c.name == "system.webServer") {
            out.webServer.line = c.line;
            for (const ConfigElement& s : c.children)
                m.section(s);
        }
    auto apply = [&](const Config::LocationSection& loc, std::string label) {
        m.layer = static_cast<int>(out.layers.size());
        m.strip = loc.webServer->path.size() + 1;
        out.layers.push_back({std::move(label), loc.location->get("path"), loc.location->line});
        for (const ConfigElement& s : loc.webServer->children)
            m.section(s);
    };
    for (const auto& loc : config.locationsOf(""))
        if (trimmedPath(loc.location->get("path")).empty())
            apply(loc, "location path=''");
    if (site.empty())
        return out;
    const ConfigElement* siteElement = config.site(site);
    std::string urlApp = applicationOf(siteElement, urlPath);
    for (const auto& loc : config.locationsOf(site)) {
        if (!covers(loc.prefix, urlPath))
            continue;
        std::string at = loc.prefix == "/" ? "/" : loc.prefix.substr(0, loc.prefix.size() - 1);
        std::string locApp = applicationOf(siteElement, at);
        if (locApp != urlApp && !parseBool(loc.location->get("inheritInChildApplications")).value_or(true))
            continue;
        std::string label = loc.prefix == "/" ? "site " + site : at == locApp ? "application " + at : "path " + at;
        apply(loc, std::move(label));
    }
    return out;
}

std::vector<std::string> scopePrefixes(const Config& config, const std::string& site)
{
    std::vector<std::string> out{"/"};
    for (const auto& loc : config.locationsOf(site))
        if (std::find(out.begin(), out.end(), loc.prefix) == out.end())
            out.push_back(loc.prefix);
    // Where inheritInChildApplications="false" stops at an application, that application is a scope too.
    if (const ConfigElement* s = config.site(site))
        for (const ConfigElement* a : s->childrenNamed("application")) {
            std::string p = trimmedPath(a->get("path"));
            if (!p.empty() && p != "/" && std::find(out.begin(), out.end(), p + "/") == out.end())
                for (const auto& loc : config.locationsOf(site))
                    if (covers(loc.prefix, p) && loc.prefix != p + "/" && !parseBool(loc.location->get("inheritInChildApplications")).value_or(true)) {
                        out.push_back(p + "/");
                        break;
                    }
        }
    std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return out;
}

const ConfigElement* EffectiveSettings::section(std::string_view path) const
{
    const ConfigElement* cur = &webServer;
    size_t start = 0;
    while (cur) {
        size_t slash = path.find('/', start);
        cur = cur->child(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
    return cur;
}

int EffectiveSettings::layerOf(const ConfigElement& element, std::string_view attribute) const
{
    std::string key = element.path;
    if (!attribute.empty())
        key += "/@" + std::string(attribute);
    auto it = from.find(key);
    return it == from.end() ? -1 : it->second;
}

namespace {

void describeElement(const EffectiveSettings& s, const ConfigElement& e, int depth, std::string& out)
{
    auto label = [&](int layer) { return layer < 0 ? std::string("default") : s.layers[static_cast<size_t>(layer)].label; };
    std::string indent(static_cast<size_t>(depth) * 2, ' ');
    if (depth > 0)
        out += indent + e.path + "  [" + label(s.layerOf(e)) + "]\n";
    for (const auto& [name, value] : e.attributes)
        out += indent + "  @" + name + " = " + value + "  [" + label(s.layerOf(e, name)) + "]\n";
    for (const ConfigElement& c : e.children)
        describeElement(s, c, depth + 1, out);
}

} // namespace

std::string EffectiveSettings::describe() const
{
    std::string out;
    describeElement(*this, webServer, 0, out);
    return out;
}

} // namespace lido::config
