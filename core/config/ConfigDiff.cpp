#include "config/ConfigDiff.h"

#include "config/Schema.h"

#include <dtl/dtl.hpp>
#include <map>
#include <set>
#include <sstream>

namespace lido::config {

namespace {

using Kind = SemanticChange::Kind;

// Identity of an element among its siblings: its name and key values, or its name and the
// position among siblings of the same name when it has no keys.
std::vector<std::pair<std::string, const ConfigElement*>> identities(const ConfigElement& parent)
{
    std::vector<std::pair<std::string, const ConfigElement*>> out;
    std::map<std::string, int> counts;
    for (const ConfigElement& c : parent.children) {
        std::string id = c.name;
        bool keyed = false;
        if (c.spec && c.spec->collectionItem && !c.spec->keys().empty()) {
            keyed = true;
            for (const AttributeSpec* k : c.spec->keys()) {
                const std::string* v = c.find(k->name);
                if (!v && k->required)
                    keyed = false;
                id += '\x1f' + (v ? k->canonical(*v) : k->defaultValue);
            }
        }
        if (!keyed)
            id = c.name + '#' + std::to_string(++counts[c.name]);
        out.emplace_back(id, &c);
    }
    return out;
}

void attributes(const ConfigElement& a, const ConfigElement& b, std::vector<SemanticChange>& out)
{
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto* e : {&a, &b})
        for (const auto& [k, v] : e->attributes)
            if (seen.insert(k).second)
                names.push_back(k);
    for (const std::string& name : names) {
        const AttributeSpec* spec = b.attributeSpec(name);
        const std::string* va = a.find(name);
        const std::string* vb = b.find(name);
        SemanticChange c;
        c.kind = Kind::Changed;
        c.path = b.path;
        c.attribute = name;
        if (spec) {
            std::string oa = a.get(name), ob = b.get(name);
            if (spec->canonical(oa) == spec->canonical(ob))
                continue;
            c.oldValue = oa;
            c.newValue = ob;
            c.newIsUnset = !vb && ob.empty() && spec->defaultValue.empty() && va;
        } else {
            if (va && vb && *va == *vb)
                continue;
            c.oldValue = va ? *va : "(unset)";
            c.newValue = vb ? *vb : "(unset)";
            c.newIsUnset = !vb;
        }
        out.push_back(std::move(c));
    }
}

// The keys an item is shown by ("PHP" for a handler): its key values, or its element name.
std::string shownKey(const ConfigElement& e)
{
    std::string out;
    if (e.spec)
        for (const AttributeSpec* k : e.spec->keys())
            if (const std::string* v = e.find(k->name))
                out += (out.empty() ? "" : " ") + *v;
    return out.empty() ? e.name : out;
}

// Keyed collection items that both sides have, in another order: one change for the collection.
void order(const ConfigElement& b, const std::vector<std::pair<std::string, const ConfigElement*>>& ia,
           const std::vector<std::pair<std::string, const ConfigElement*>>& ib, std::vector<SemanticChange>& out)
{
    auto keyed = [](const ConfigElement* e) { return e->spec && e->spec->collectionItem && !e->spec->keys().empty(); };
    std::map<std::string, const ConfigElement*> inA, inB;
    for (const auto& [id, e] : ia)
        if (keyed(e))
            inA[id] = e;
    for (const auto& [id, e] : ib)
        if (keyed(e))
            inB[id] = e;
    std::vector<std::string> seqA, seqB;
    for (const auto& [id, e] : ia)
        if (inA.count(id) && inB.count(id))
            seqA.push_back(id);
    for (const auto& [id, e] : ib)
        if (inA.count(id) && inB.count(id))
            seqB.push_back(id);
    if (seqA == seqB)
        return;
    size_t k = 0;
    while (seqA[k] == seqB[k])
        ++k;
    SemanticChange c;
    c.kind = Kind::Reordered;
    c.path = b.path;
    for (const std::string& id : seqA)
        c.oldValue += (c.oldValue.empty() ? "" : ", ") + shownKey(*inA[id]);
    for (const std::string& id : seqB)
        c.newValue += (c.newValue.empty() ? "" : ", ") + shownKey(*inB[id]);
    for (size_t i = k; i < seqB.size(); ++i)
        c.movedFrom.push_back(inA[seqB[i]]->path);
    bool from = false;
    for (const auto& [id, e] : ib) {
        from = from || id == seqB[k];
        if (from && keyed(e))
            c.movedTo.push_back(e);
    }
    out.push_back(std::move(c));
}

void compare(const ConfigElement& a, const ConfigElement& b, std::vector<SemanticChange>& out)
{
    attributes(a, b, out);
    auto ia = identities(a), ib = identities(b);
    order(b, ia, ib, out);
    std::map<std::string, const ConfigElement*> mb(ib.begin(), ib.end());
    std::map<std::string, const ConfigElement*> ma(ia.begin(), ia.end());
    for (const auto& [id, e] : ia)
        if (!mb.count(id))
            out.push_back(SemanticChange{Kind::Removed, e->path, {}, {}, {}, e, false});
    for (const auto& [id, e] : ib) {
        auto it = ma.find(id);
        if (it == ma.end())
            out.push_back(SemanticChange{Kind::Added, e->path, {}, {}, {}, e, false});
        else
            compare(*it->second, *e, out);
    }
}

std::string shellWord(const std::string& s)
{
    if (s.find('\'') == std::string::npos)
        return "'" + s + "'";
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\' || c == '$' || c == '`')
            out += '\\';
        out += c;
    }
    return out + "\"";
}

void addCommands(const ConfigElement& e, std::ostringstream& out)
{
    std::vector<std::string> keys;
    if (e.spec)
        for (const AttributeSpec* k : e.spec->keys())
            keys.push_back(k->name);
    out << "add element " << shellWord(e.path);
    for (const auto& [k, v] : e.attributes)
        if (std::find(keys.begin(), keys.end(), k) == keys.end())
            out << ' ' << shellWord(k + "=" + v);
    out << '\n';
    for (const ConfigElement& c : e.children)
        addCommands(c, out);
}

} // namespace

std::string SemanticChange::str() const
{
    switch (kind) {
    case Kind::Added: return "added: " + path;
    case Kind::Removed: return "removed: " + path;
    case Kind::Reordered: return "reordered: " + path + ": " + oldValue + " -> " + newValue;
    case Kind::Changed: break;
    }
    auto shown = [](const std::string& v) { return v.empty() ? std::string("\"\"") : v; };
    return path + "/@" + attribute + ": " + shown(oldValue) + " -> " + shown(newValue);
}

std::vector<SemanticChange> semanticDiff(const Config& before, const Config& after)
{
    std::vector<SemanticChange> out;
    compare(before.root(), after.root(), out);
    return out;
}

std::string formatSemanticDiff(const std::vector<SemanticChange>& changes)
{
    std::string out;
    for (const auto& c : changes)
        out += c.str() + "\n";
    return out;
}

static std::vector<std::string> splitLines(const std::string& text)
{
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        auto nl = text.find('\n', start);
        if (nl == std::string::npos) {
            lines.push_back(text.substr(start) + "\n\\ No newline at end of file");
            break;
        }
        lines.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return lines;
}

std::string unifiedDiff(const std::string& before, const std::string& after, const std::string& beforeName,
                        const std::string& afterName)
{
    if (before == after)
        return {};
    std::vector<std::string> a = splitLines(before), b = splitLines(after);
    dtl::Diff<std::string, std::vector<std::string>> diff(a, b);
    diff.compose();
    diff.composeUnifiedHunks();
    std::ostringstream out;
    out << "--- " << beforeName << "\n+++ " << afterName << "\n";
    diff.printUnifiedFormat(out);
    return out.str();
}

std::string scriptDiff(const Config& before, const Config& after)
{
    auto changes = semanticDiff(before, after);
    std::ostringstream body;
    // Removals first, so that a key that moves (remove + add) never collides with itself. A
    // collection in another order: its items from the first one out of place are removed and
    // added again in the new order after the others (an add goes to the collection's end), new
    // items among them included.
    std::set<const ConfigElement*> readded;
    std::vector<std::string> readdedPaths;
    for (const auto& c : changes)
        if (c.kind == Kind::Reordered)
            for (const ConfigElement* e : c.movedTo) {
                readded.insert(e);
                readdedPaths.push_back(e->path + "/");
            }
    // What is added or set inside an item added again comes with it.
    auto inside = [&](const std::string& path) {
        for (const std::string& p : readdedPaths)
            if (path.compare(0, p.size(), p) == 0 || path + "/" == p)
                return true;
        return false;
    };
    for (const auto& c : changes)
        if (c.kind == Kind::Removed)
            body << "remove element " << shellWord(c.path) << '\n';
    for (const auto& c : changes)
        if (c.kind == Kind::Reordered)
            for (const std::string& path : c.movedFrom)
                body << "remove element " << shellWord(path) << '\n';
    for (const auto& c : changes)
        if (c.kind == Kind::Added && !readded.count(c.element) && !inside(c.path))
            addCommands(*c.element, body);
    for (const auto& c : changes)
        if (c.kind == Kind::Reordered)
            for (const ConfigElement* e : c.movedTo)
                addCommands(*e, body);
    for (const auto& c : changes) {
        if (c.kind != Kind::Changed || inside(c.path))
            continue;
        if (c.newIsUnset)
            body << "unset element " << shellWord(c.path) << ' ' << shellWord(c.attribute) << '\n';
        else
            body << "set element " << shellWord(c.path) << ' ' << shellWord(c.attribute + "=" + c.newValue) << '\n';
    }
    std::ostringstream out;
    out << "#!/bin/sh\n"
        << "# Generated by lidoctl diff --format script.\n"
        << "# Turns " << before.fileName() << " into " << after.fileName() << " (" << changes.size() << " changes).\n"
        << "# Usage: sh script.sh path/to/applicationHost.config\n"
        << "# All edits are applied together, validated once and saved atomically (the old file goes to the history).\n"
        << "set -eu\n"
        << "if [ $# -ne 1 ]; then echo \"usage: sh $0 applicationHost.config\" >&2; exit 2; fi\n"
        << "\"${LIDOCTL:-lidoctl}\" batch \"$1\" <<'LIDO_EDITS'\n"
        << body.str() << "LIDO_EDITS\n";
    return out.str();
}

} // namespace lido::config
