#include "config/ConfigEdit.h"

#include "config/ConfigDocument.h"
#include "config/Values.h"

#include <algorithm>
#include <wordexp.h>

namespace lido::config {

namespace {

struct Assignment {
    std::vector<std::string> elements; // nested element names
    std::string attribute;
    std::string value;
    bool hasValue = false;
};

Result<Assignment> parseAssignment(const std::string& arg)
{
    Assignment a;
    auto eq = arg.find('=');
    std::string name = arg.substr(0, eq);
    if (eq != std::string::npos) {
        a.value = arg.substr(eq + 1);
        a.hasValue = true;
    }
    size_t start = 0;
    for (;;) {
        auto dot = name.find('.', start);
        std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (part.empty())
            return fail("'" + arg + "' is not ATTRIBUTE=VALUE");
        if (dot == std::string::npos) {
            a.attribute = part;
            break;
        }
        a.elements.push_back(part);
        start = dot + 1;
    }
    return a;
}

ElementPath child(ElementPath base, const std::vector<std::string>& names)
{
    for (const auto& n : names)
        base.steps.push_back(PathStep{n, {}, 0});
    return base;
}

std::string describe(std::string_view kind, std::string_view key)
{
    return kind == "element" ? "element " + std::string(key) : std::string(kind) + " '" + std::string(key) + "'";
}

Result<void> setAll(ConfigDocument& doc, const ElementPath& base, const std::vector<Assignment>& assignments)
{
    for (const Assignment& a : assignments) {
        ElementPath target = child(base, a.elements);
        if (!a.elements.empty() && !doc.find(target))
            if (auto r = doc.addElement(target); !r)
                return r;
        if (auto r = doc.setAttribute(target, a.attribute, a.value); !r)
            return r;
    }
    return {};
}

Result<void> addSite(ConfigDocument& doc, const ElementPath& base, std::vector<Assignment>& assignments)
{
    std::string bindings, physicalPath, pool;
    bool hasId = false;
    std::vector<Assignment> rest;
    for (const Assignment& a : assignments) {
        if (a.elements.empty() && a.attribute == "bindings")
            bindings = a.value;
        else if (a.elements.empty() && a.attribute == "physicalPath")
            physicalPath = a.value;
        else if (a.elements.empty() && a.attribute == "applicationPool")
            pool = a.value;
        else {
            hasId = hasId || (a.elements.empty() && a.attribute == "id");
            rest.push_back(a);
        }
    }
    AttributeList attrs;
    if (!hasId) {
        uint64_t maxId = 0;
        if (auto sites = doc.find("sites"))
            for (pugi::xml_node s : sites->children("site"))
                maxId = std::max<uint64_t>(maxId, parseUInt(s.attribute("id").value()).value_or(0));
        attrs.emplace_back("id", std::to_string(maxId + 1));
    }
    if (auto r = doc.addElement(base, attrs); !r)
        return r;
    if (auto r = setAll(doc, base, rest); !r)
        return r;
    if (!physicalPath.empty() || !pool.empty()) {
        ElementPath app = base;
        app.steps.push_back(PathStep{"application", {{"path", "/"}}, 0});
        if (auto r = doc.addElement(app, pool.empty() ? AttributeList{} : AttributeList{{"applicationPool", pool}}); !r)
            return r;
        if (!physicalPath.empty()) {
            ElementPath vdir = app;
            vdir.steps.push_back(PathStep{"virtualDirectory", {{"path", "/"}}, 0});
            if (auto r = doc.addElement(vdir, {{"physicalPath", physicalPath}}); !r)
                return r;
        }
    }
    size_t start = 0;
    while (!bindings.empty() && start <= bindings.size()) {
        auto comma = bindings.find(',', start);
        std::string one = trim(bindings.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        auto slash = one.find('/');
        if (slash == std::string::npos)
            return fail("binding '" + one + "' is not PROTOCOL/IP:PORT:HOST, e.g. http/127.0.0.1:8080:");
        ElementPath b = base;
        b.steps.push_back(PathStep{"bindings", {}, 0});
        b.steps.push_back(PathStep{"binding", {{"protocol", one.substr(0, slash)}, {"bindingInformation", one.substr(slash + 1)}}, 0});
        if (auto r = doc.addElement(b); !r)
            return r;
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return {};
}

} // namespace

Result<ElementPath> pathForKind(std::string_view kind, std::string_view key)
{
    auto step = [](std::string section, std::string item, std::vector<std::pair<std::string, std::string>> keys) {
        ElementPath p;
        p.steps.push_back(PathStep{std::move(section), {}, 0});
        p.steps.push_back(PathStep{std::move(item), std::move(keys), 0});
        return p;
    };
    if (key.empty())
        return fail("the " + std::string(kind) + " needs a name");
    if (kind == "pool")
        return step("applicationPools", "add", {{"name", std::string(key)}});
    if (kind == "site")
        return step("sites", "site", {{"name", std::string(key)}});
    if (kind == "handler")
        return step("handlers", "add", {{"name", std::string(key)}});
    if (kind == "fastcgi") {
        auto bar = key.find('|');
        std::vector<std::pair<std::string, std::string>> keys{{"fullPath", std::string(key.substr(0, bar))}};
        if (bar != std::string_view::npos)
            keys.emplace_back("arguments", std::string(key.substr(bar + 1)));
        return step("fastCgi", "application", std::move(keys));
    }
    if (kind == "element")
        return ElementPath::parse(key);
    return fail("unknown kind '" + std::string(kind) + "': use pool, site, fastcgi, handler or element");
}

Result<void> applyEdit(ConfigDocument& doc, std::string_view verb, std::string_view kind, std::string_view key,
                       const std::vector<std::string>& args)
{
    auto base = pathForKind(kind, key);
    if (!base)
        return fail(base.error());
    std::vector<Assignment> assignments;
    for (const auto& arg : args) {
        auto a = parseAssignment(arg);
        if (!a)
            return fail(a.error());
        if (verb == "unset" ? a->hasValue : (verb != "remove" && !a->hasValue))
            return fail(verb == "unset" ? "unset takes attribute names, not '" + arg + "'"
                                        : "'" + arg + "' is not ATTRIBUTE=VALUE");
        assignments.push_back(std::move(a).value());
    }
    bool exists = static_cast<bool>(doc.find(*base));
    if (verb == "add") {
        if (exists)
            return fail(describe(kind, key) + " already exists");
        if (kind == "site")
            return addSite(doc, *base, assignments);
        std::vector<Assignment> nested;
        AttributeList top;
        for (const Assignment& a : assignments) {
            if (a.elements.empty())
                top.emplace_back(a.attribute, a.value);
            else
                nested.push_back(a);
        }
        if (auto r = doc.addElement(*base, top); !r)
            return r;
        return setAll(doc, *base, nested);
    }
    if (!exists && verb == "set" && kind == "element" && !base->steps.empty() && base->steps.back().keys.empty() &&
        base->steps.back().index == 0) {
        // As appcmd's set config: a section that is not written yet (in a location, too) is made.
        if (auto r = doc.addElement(*base, {}); !r)
            return r;
        exists = true;
    }
    if (!exists)
        return fail(describe(kind, key) + " does not exist");
    if (verb == "remove") {
        if (!args.empty())
            return fail("remove takes no attributes");
        return doc.removeElement(*base);
    }
    if (verb == "set") {
        if (assignments.empty())
            return fail("set needs at least one ATTRIBUTE=VALUE");
        return setAll(doc, *base, assignments);
    }
    if (verb == "unset") {
        for (const Assignment& a : assignments) {
            ElementPath target = child(*base, a.elements);
            if (!doc.find(target))
                continue;
            if (auto r = doc.unsetAttribute(target, a.attribute); !r)
                return r;
        }
        return {};
    }
    return fail("unknown command '" + std::string(verb) + "': use set, unset, add or remove");
}

Result<void> applyEditWords(ConfigDocument& doc, const std::vector<std::string>& words)
{
    if (words.size() < 3)
        return fail("expected VERB KIND KEY [ATTRIBUTE=VALUE...]");
    return applyEdit(doc, words[0], words[1], words[2], std::vector<std::string>(words.begin() + 3, words.end()));
}

Result<std::vector<std::string>> splitShellWords(const std::string& line)
{
    wordexp_t we{};
    int rc = ::wordexp(line.c_str(), &we, WRDE_NOCMD | WRDE_UNDEF);
    if (rc != 0) {
        if (rc == WRDE_NOSPACE)
            ::wordfree(&we);
        const char* why = rc == WRDE_BADCHAR  ? "an unquoted | & ; < > ( ) { } or newline"
                          : rc == WRDE_CMDSUB ? "command substitution, which is not allowed"
                          : rc == WRDE_BADVAL ? "an undefined variable"
                                              : "unbalanced quotes";
        return fail(std::string("cannot split the line into words: it has ") + why);
    }
    std::vector<std::string> words(we.we_wordv, we.we_wordv + we.we_wordc);
    ::wordfree(&we);
    return words;
}

} // namespace lido::config
