#include "config/ConfigDocument.h"

#include "config/AtomicFile.h"
#include "config/Schema.h"
#include "config/Values.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace lido::config {

namespace {

constexpr unsigned kParseFlags = pugi::parse_default | pugi::parse_comments | pugi::parse_declaration;

struct AttrSpan {
    std::string_view name;
    size_t nameBegin = 0;
    size_t valueBegin = 0; // after the opening quote
    size_t valueEnd = 0;   // at the closing quote
    char quote = '"';
};

// Extents of one element in text that pugixml has already accepted as well-formed.
struct TagInfo {
    size_t lt = 0;          // '<'
    size_t nameEnd = 0;
    size_t attrsEnd = 0;    // where "/>" or ">" (with the spaces before it) starts
    size_t startTagEnd = 0; // after '>'
    bool selfClosing = false;
    std::vector<AttrSpan> attrs;
    size_t closeTagBegin = 0; // "</name>" (when not self-closing)
    size_t end = 0;           // after the element
};

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

TagInfo scanStartTag(std::string_view text, size_t lt)
{
    TagInfo t;
    t.lt = lt;
    size_t i = lt + 1;
    while (i < text.size() && !isSpace(text[i]) && text[i] != '/' && text[i] != '>')
        ++i;
    t.nameEnd = i;
    size_t lastAttrEnd = i;
    for (;;) {
        size_t ws = i;
        while (i < text.size() && isSpace(text[i]))
            ++i;
        if (i >= text.size())
            break;
        if (text[i] == '/' || text[i] == '>') {
            t.attrsEnd = lastAttrEnd;
            (void)ws;
            t.selfClosing = text[i] == '/';
            t.startTagEnd = text.find('>', i) + 1;
            break;
        }
        AttrSpan a;
        a.nameBegin = i;
        while (i < text.size() && !isSpace(text[i]) && text[i] != '=')
            ++i;
        a.name = text.substr(a.nameBegin, i - a.nameBegin);
        while (i < text.size() && text[i] != '"' && text[i] != '\'')
            ++i;
        a.quote = text[i];
        a.valueBegin = i + 1;
        a.valueEnd = text.find(a.quote, a.valueBegin);
        i = a.valueEnd + 1;
        lastAttrEnd = i;
        t.attrs.push_back(a);
    }
    return t;
}

size_t skipPast(std::string_view text, size_t from, std::string_view marker)
{
    auto p = text.find(marker, from);
    return p == std::string_view::npos ? text.size() : p + marker.size();
}

TagInfo scanElement(std::string_view text, size_t lt)
{
    TagInfo t = scanStartTag(text, lt);
    if (t.selfClosing) {
        t.end = t.startTagEnd;
        return t;
    }
    int depth = 0;
    size_t i = t.startTagEnd;
    while (i < text.size()) {
        size_t p = text.find('<', i);
        if (p == std::string_view::npos)
            break;
        if (text.compare(p, 4, "<!--") == 0) {
            i = skipPast(text, p, "-->");
        } else if (text.compare(p, 9, "<![CDATA[") == 0) {
            i = skipPast(text, p, "]]>");
        } else if (text.compare(p, 2, "<?") == 0) {
            i = skipPast(text, p, "?>");
        } else if (text.compare(p, 2, "<!") == 0) {
            i = skipPast(text, p, ">");
        } else if (text.compare(p, 2, "</") == 0) {
            if (depth == 0) {
                t.closeTagBegin = p;
                t.end = skipPast(text, p, ">");
                return t;
            }
            --depth;
            i = skipPast(text, p, ">");
        } else {
            TagInfo child = scanStartTag(text, p);
            if (!child.selfClosing)
                ++depth;
            i = child.startTagEnd;
        }
    }
    t.end = text.size();
    t.closeTagBegin = text.size();
    return t;
}

size_t offsetOf(pugi::xml_node node)
{
    // pugixml reports the offset of the element's name; the '<' is just before it.
    return static_cast<size_t>(node.offset_debug()) - 1;
}

bool keysMatch(pugi::xml_node node, const PathStep& step)
{
    for (const auto& [k, v] : step.keys)
        if (node.attribute(k.c_str()).value() != v)
            return false;
    return true;
}

} // namespace

ConfigDocument::ConfigDocument() : doc_(std::make_unique<pugi::xml_document>()) {}
ConfigDocument::ConfigDocument(ConfigDocument&&) noexcept = default;
ConfigDocument& ConfigDocument::operator=(ConfigDocument&&) noexcept = default;
ConfigDocument::~ConfigDocument() = default;

Result<ConfigDocument> ConfigDocument::parse(std::string text, std::string fileName)
{
    ConfigDocument d;
    d.text_ = std::move(text);
    d.fileName_ = std::move(fileName);
    if (auto r = d.reparse(); !r)
        return fail(r.error());
    // Learn the file's habits so that inserted lines look like their neighbours.
    if (d.text_.find("\r\n") != std::string::npos)
        d.newline_ = "\r\n";
    pugi::xml_node root = d.root();
    if (pugi::xml_node first = root.first_child(); root && first) {
        for (pugi::xml_node c = first; c; c = c.next_sibling()) {
            if (c.type() != pugi::node_element)
                continue;
            std::string outer = d.indentAt(offsetOf(root)), inner = d.indentAt(offsetOf(c));
            if (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0)
                d.indentUnit_ = inner.substr(outer.size());
            break;
        }
    }
    return d;
}

Result<ConfigDocument> ConfigDocument::load(const std::string& path)
{
    auto text = readWholeFile(path);
    if (!text)
        return fail(text.error());
    return parse(std::move(text).value(), path);
}

Result<void> ConfigDocument::reparse()
{
    auto fresh = std::make_unique<pugi::xml_document>();
    pugi::xml_parse_result r = fresh->load_buffer(text_.data(), text_.size(), kParseFlags, pugi::encoding_utf8);
    lineStarts_.clear();
    lineStarts_.push_back(0);
    for (size_t p = text_.find('\n'); p != std::string::npos; p = text_.find('\n', p + 1))
        lineStarts_.push_back(p + 1);
    if (!r) {
        size_t off = static_cast<size_t>(r.offset);
        int line = lineAt(off);
        size_t col = off - lineStarts_[static_cast<size_t>(line - 1)] + 1;
        return fail(fileName_ + ":" + std::to_string(line) + ":" + std::to_string(col) +
                    ": not well-formed XML: " + r.description());
    }
    if (!fresh->document_element())
        return fail(fileName_ + ":1:1: not well-formed XML: no root element");
    doc_ = std::move(fresh);
    return {};
}

pugi::xml_node ConfigDocument::root() const { return doc_->document_element(); }

int ConfigDocument::lineAt(size_t offset) const
{
    auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
    return static_cast<int>(it - lineStarts_.begin());
}

int ConfigDocument::lineOf(pugi::xml_node node) const
{
    if (!node || node.offset_debug() < 0)
        return 0;
    return lineAt(static_cast<size_t>(node.offset_debug()));
}

std::string ConfigDocument::schemaPath(pugi::xml_node node)
{
    std::vector<const char*> names;
    for (pugi::xml_node n = node; n && n.parent() && n.parent().type() == pugi::node_element; n = n.parent())
        names.push_back(n.name());
    // A location's sections have the schema of the same sections at server level.
    if (names.size() > 1 && std::string_view(names.back()) == "location")
        names.pop_back();
    std::string out;
    for (auto it = names.rbegin(); it != names.rend(); ++it)
        out += (out.empty() ? "" : "/") + std::string(*it);
    return out;
}

std::string ConfigDocument::stepOf(pugi::xml_node n, const ElementSpec* spec)
{
    PathStep step;
    step.name = n.name();
    bool keyed = false;
    if (spec && spec->collectionItem) {
        keyed = !spec->keys().empty();
        for (const AttributeSpec* k : spec->keys()) {
            pugi::xml_attribute a = n.attribute(k->name.c_str());
            if (!a && k->required)
                keyed = false;
            else if (a)
                step.keys.emplace_back(k->name, a.value());
        }
    }
    if (!keyed) {
        step.keys.clear();
        int index = 0, count = 0;
        for (pugi::xml_node s = n.parent().child(n.name()); s; s = s.next_sibling(n.name())) {
            ++count;
            if (s == n)
                index = count;
        }
        if (count > 1)
            step.index = index;
    }
    return step.str();
}

std::string ConfigDocument::displayPath(pugi::xml_node node) const
{
    std::vector<pugi::xml_node> chain;
    for (pugi::xml_node n = node; n && n != root(); n = n.parent())
        chain.push_back(n);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        pugi::xml_node n = *it;
        if (n.parent() == root() && Schema::isSectionGroup(n.name()) && it + 1 != chain.rend() &&
            Schema::instance().find(schemaPath(*(it + 1))))
            continue;
        out += (out.empty() ? "" : "/") + stepOf(n, Schema::instance().find(schemaPath(n)));
    }
    return out;
}

ElementPath ConfigDocument::expand(const ElementPath& path) const
{
    ElementPath full = path;
    if (!full.steps.empty() && full.steps.front().name == root().name())
        full.steps.erase(full.steps.begin());
    if (!full.steps.empty()) {
        std::string group = Schema::instance().groupOf(full.steps.front().name);
        if (!group.empty())
            full.steps.insert(full.steps.begin(), PathStep{group, {}, 0});
    }
    return full;
}

Result<pugi::xml_node> ConfigDocument::find(std::string_view path) const
{
    auto parsed = ElementPath::parse(path);
    if (!parsed)
        return fail(parsed.error());
    return find(*parsed);
}

Result<pugi::xml_node> ConfigDocument::find(const ElementPath& path) const
{
    ElementPath full = expand(path);
    pugi::xml_node cur = root();
    std::string walked;
    for (const PathStep& step : full.steps) {
        pugi::xml_node found;
        int seen = 0, matches = 0;
        for (pugi::xml_node c = cur.child(step.name.c_str()); c; c = c.next_sibling(step.name.c_str())) {
            ++seen;
            if (step.index > 0 ? seen == step.index : keysMatch(c, step)) {
                if (!found)
                    found = c;
                ++matches;
            }
        }
        walked += (walked.empty() ? "" : "/") + step.str();
        if (!found)
            return fail("no element " + walked);
        if (matches > 1 && step.index == 0 && step.keys.empty())
            return fail(walked + " names " + std::to_string(matches) + " elements; add [@key='value'] or [n]");
        cur = found;
    }
    return cur;
}

std::string ConfigDocument::indentAt(size_t pos) const
{
    size_t start = lineStarts_[static_cast<size_t>(lineAt(pos) - 1)];
    std::string_view before(text_.data() + start, pos - start);
    if (before.find_first_not_of(" \t") != std::string_view::npos)
        return {};
    return std::string(before);
}

Result<void> ConfigDocument::replace(size_t pos, size_t length, std::string_view with)
{
    std::string previous = text_;
    text_.replace(pos, length, with);
    if (auto r = reparse(); !r) {
        text_ = std::move(previous);
        (void)reparse();
        return fail("internal error: an edit produced XML that does not parse: " + r.error());
    }
    return {};
}

Result<void> ConfigDocument::setAttribute(const ElementPath& element, std::string_view name, std::string_view value)
{
    auto node = find(element);
    if (!node)
        return fail(node.error());
    TagInfo t = scanStartTag(text_, offsetOf(*node));
    for (const AttrSpan& a : t.attrs)
        if (a.name == name)
            return replace(a.valueBegin, a.valueEnd - a.valueBegin, escapeAttribute(value, a.quote));
    char quote = t.attrs.empty() ? '"' : t.attrs.back().quote;
    return replace(t.attrsEnd, 0, " " + std::string(name) + "=" + quote + escapeAttribute(value, quote) + quote);
}

Result<void> ConfigDocument::unsetAttribute(const ElementPath& element, std::string_view name)
{
    auto node = find(element);
    if (!node)
        return fail(node.error());
    TagInfo t = scanStartTag(text_, offsetOf(*node));
    for (const AttrSpan& a : t.attrs) {
        if (a.name != name)
            continue;
        size_t begin = a.nameBegin;
        while (begin > t.nameEnd && isSpace(text_[begin - 1]))
            --begin;
        return replace(begin, a.valueEnd + 1 - begin, "");
    }
    return {};
}

Result<void> ConfigDocument::addElement(const ElementPath& element, const AttributeList& attributes)
{
    ElementPath full = expand(element);
    if (full.steps.empty())
        return fail("cannot add the root element");
    const PathStep& last = full.steps.back();
    ElementPath parentPath{std::vector<PathStep>(full.steps.begin(), full.steps.end() - 1)};
    pugi::xml_node parent = root();
    if (!parentPath.steps.empty()) {
        auto p = find(parentPath);
        if (!p) {
            const PathStep& up = parentPath.steps.back();
            // Missing containers are made on the way; of keyed items only a top-level
            // <location path="..."> (a site's or a path's settings begin with it).
            bool location = up.name == "location" && parentPath.steps.size() == 1 && up.index == 0;
            if ((!up.keys.empty() && !location) || up.index > 0)
                return fail(p.error());
            if (auto r = addElement(parentPath); !r)
                return r;
            p = find(parentPath);
            if (!p)
                return fail(p.error());
        }
        parent = *p;
    }
    // Refuse a second element with the same key, or a second singleton container.
    std::string newPath = ConfigDocument::schemaPath(parent);
    newPath += (newPath.empty() ? "" : "/") + last.name;
    const ElementSpec* spec = Schema::instance().find(newPath);
    for (pugi::xml_node c = parent.child(last.name.c_str()); c; c = c.next_sibling(last.name.c_str())) {
        bool clash = false;
        if (spec)
            clash = spec->collectionItem ? (!spec->keys().empty() && keysMatch(c, last)) : true;
        else
            clash = !last.keys.empty() ? keysMatch(c, last) : last.index == 0;
        if (clash)
            return fail(displayPath(c) + " already exists");
    }

    AttributeList attrs = last.keys;
    for (const auto& a : attributes)
        if (std::none_of(attrs.begin(), attrs.end(), [&](const auto& x) { return x.first == a.first; }))
            attrs.push_back(a);
    std::string elementText = "<" + last.name;
    for (const auto& [k, v] : attrs)
        elementText += " " + k + "=\"" + escapeAttribute(v, '"') + "\"";
    elementText += " />";

    TagInfo pt = scanElement(text_, offsetOf(parent));
    std::string parentIndent = indentAt(pt.lt);
    // After the last sibling of the same name (a new site goes after the other sites, not after
    // siteDefaults), else after the last element.
    pugi::xml_node lastChild, lastSameName;
    for (pugi::xml_node c = parent.first_child(); c; c = c.next_sibling())
        if (c.type() == pugi::node_element) {
            lastChild = c;
            if (last.name == c.name())
                lastSameName = c;
        }
    if (lastSameName)
        lastChild = lastSameName;
    if (pt.selfClosing) {
        std::string with = ">" + newline_ + parentIndent + indentUnit_ + elementText + newline_ + parentIndent + "</" +
                           std::string(parent.name()) + ">";
        return replace(pt.attrsEnd, pt.startTagEnd - pt.attrsEnd, with);
    }
    if (lastChild) {
        TagInfo ct = scanElement(text_, offsetOf(lastChild));
        std::string childIndent = indentAt(ct.lt);
        if (childIndent.empty() && text_.compare(ct.lt, 1, "<") == 0 && lineAt(ct.lt) == lineAt(pt.lt))
            return replace(ct.end, 0, elementText);
        return replace(ct.end, 0, newline_ + childIndent + elementText);
    }
    std::string_view content(text_.data() + pt.startTagEnd, pt.closeTagBegin - pt.startTagEnd);
    std::string childIndent = parentIndent + indentUnit_;
    if (content.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return replace(pt.startTagEnd, content.size(), newline_ + childIndent + elementText + newline_ + parentIndent);
    // Only comments or text inside: put the new line just before the closing tag's line.
    std::string closeIndent = indentAt(pt.closeTagBegin);
    if (!closeIndent.empty() || lineStarts_[static_cast<size_t>(lineAt(pt.closeTagBegin) - 1)] == pt.closeTagBegin)
        return replace(pt.closeTagBegin - closeIndent.size(), 0, childIndent + elementText + newline_);
    return replace(pt.closeTagBegin, 0, newline_ + childIndent + elementText + newline_ + parentIndent);
}

Result<void> ConfigDocument::removeElement(const ElementPath& element)
{
    auto node = find(element);
    if (!node)
        return fail(node.error());
    if (*node == root())
        return fail("cannot remove the root element");
    TagInfo t = scanElement(text_, offsetOf(*node));
    size_t begin = t.lt, end = t.end;
    std::string indent = indentAt(begin);
    size_t lineStart = lineStarts_[static_cast<size_t>(lineAt(begin) - 1)];
    size_t after = end;
    while (after < text_.size() && (text_[after] == ' ' || text_[after] == '\t'))
        ++after;
    bool ownLine = begin - indent.size() == lineStart && (after == text_.size() || text_[after] == '\n' || text_[after] == '\r');
    if (ownLine) {
        begin = lineStart;
        end = after;
        if (end < text_.size() && text_[end] == '\r')
            ++end;
        if (end < text_.size() && text_[end] == '\n')
            ++end;
    }
    return replace(begin, end - begin, "");
}

} // namespace lido::config
