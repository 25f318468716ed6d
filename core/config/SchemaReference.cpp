#include "config/SchemaReference.h"

#include "config/Schema.h"
#include "config/Values.h"

#include <limits>

namespace lido::config {

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& separator)
{
    std::string out;
    for (const std::string& p : parts)
        out += (out.empty() ? "" : separator) + p;
    return out;
}

// What a value may be, in words: "10–65535", "00:00:01–1.00:00:00", "OnDemand, AlwaysRunning".
std::string allowed(const AttributeSpec& a)
{
    switch (a.type) {
    case AttrType::Enum:
        return "one of " + join(a.enumValues, ", ");
    case AttrType::Flags:
        return "any of " + join(a.enumValues, ", ") + " (comma-separated)";
    case AttrType::UInt: {
        bool noMax = a.max == std::numeric_limits<uint32_t>::max() || a.max == std::numeric_limits<uint64_t>::max();
        if (a.min == 0 && noMax)
            return {};
        return std::to_string(a.min) + "–" + (noMax ? std::string("") : std::to_string(a.max));
    }
    case AttrType::TimeSpan: {
        bool noMax = a.max == std::numeric_limits<uint64_t>::max();
        if (a.min == 0 && noMax)
            return {};
        return formatTimeSpan(static_cast<int64_t>(a.min)) + "–" + (noMax ? std::string("") : formatTimeSpan(static_cast<int64_t>(a.max)));
    }
    case AttrType::Directory: return "an existing folder";
    case AttrType::Executable: return "an executable file";
    case AttrType::Binding: return "address:port:host";
    case AttrType::String:
    case AttrType::Bool: break;
    }
    return {};
}

std::string notes(const AttributeSpec& a)
{
    std::string out;
    auto add = [&](const char* s) { out += (out.empty() ? "" : ", ") + std::string(s); };
    if (a.key)
        add("key");
    else if (a.required)
        add("required");
    if (a.unique)
        add("unique");
    if (a.lido)
        add("Lido");
    if (a.windowsOnly)
        add("Windows only, kept and ignored");
    return out;
}

std::string cell(std::string text)
{
    std::string out;
    for (char c : text) {
        if (c == '|')
            out += "\\|";
        else if (c == '\n')
            out += ' ';
        else
            out += c;
    }
    return out;
}

// roff: a line may not start with . or ', and backslashes are escapes.
std::string roff(const std::string& text)
{
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (text.compare(i, 3, "\xe2\x80\x93") == 0) { // en dash of the ranges
            out += "\\(en";
            i += 2;
        } else if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else
            out += c;
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\''))
        out = "\\&" + out;
    return out;
}

} // namespace

std::string referenceMarkdown()
{
    std::string out =
        "# applicationHost.config reference\n\n"
        "Every element and attribute Lido reads, with its type, default, range and what it does. This page is written from the "
        "schema table in `core/config/Schema.cpp` by `lidoctl reference --format markdown`; do not edit it by hand "
        "(`tst_reference` fails when the two differ). The same text is the man page applicationHost.config(5).\n\n"
        "Notes: *key* identifies an item among its siblings; *Lido* marks an extension that IIS does not have; *Windows only* "
        "attributes are kept in the file and have no effect on Linux. Time spans are written `[d.]hh:mm:ss`.\n";
    for (const ElementSpec& e : Schema::instance().elements()) {
        out += "\n## " + e.path + "\n\n" + e.help;
        if (e.collectionItem)
            out += " (a collection item)";
        if (e.windowsOnly)
            out += " Windows only: kept, no effect on Linux.";
        out += "\n";
        if (e.attributes.empty())
            continue;
        out += "\n| attribute | type | default | allowed | notes | description |\n|---|---|---|---|---|---|\n";
        for (const AttributeSpec& a : e.attributes)
            out += "| `" + a.name + "` | " + std::string(typeName(a.type)) + " | " + (a.defaultValue.empty() ? "" : "`" + cell(a.defaultValue) + "`") +
                   " | " + cell(allowed(a)) + " | " + notes(a) + " | " + cell(a.help) + " |\n";
    }
    return out;
}

std::string referenceManPage(const std::string& date)
{
    std::string out = ".\\\" Written from Lido's schema table by lidoctl reference --format man; do not edit.\n"
                      ".TH APPLICATIONHOST.CONFIG 5 \"" + date + "\" \"Lido\" \"File formats\"\n"
                      ".ad l\n.nh\n.SH NAME\napplicationHost.config \\- configuration of the Lido application server\n"
                      ".SH DESCRIPTION\n"
                      "Lido reads an XML file in the schema of IIS's applicationHost.config: the same element and attribute names, "
                      "value types and defaults, of which it reads what makes sense on Linux. The packaged file is\n"
                      ".IR /etc/lido/applicationHost.config ;\n"
                      ".BR lidod (8)\napplies every change to it while it runs.\n"
                      ".PP\nTime spans are written [d.]hh:mm:ss. An attribute marked\n.I key\nidentifies an item among its siblings; "
                      "one marked\n.I Lido\nis an extension that IIS does not have; one marked\n.I Windows only\nis kept and has no effect.\n"
                      ".PP\n.B lidoctl validate\n.I FILE\nnames the line and attribute of every problem.\n"
                      ".SH ELEMENTS\n";
    for (const ElementSpec& e : Schema::instance().elements()) {
        std::string path;
        for (char c : roff(e.path)) // a place to break a long path: after each slash
            path += c == '/' ? std::string("/\\:") : std::string(1, c);
        out += ".SS " + path + "\n" + roff(e.help) + (e.collectionItem ? " (a collection item)" : "") + "\n";
        for (const AttributeSpec& a : e.attributes) {
            std::string detail = std::string(typeName(a.type));
            if (!a.defaultValue.empty())
                detail += ", default " + a.defaultValue;
            if (std::string allow = allowed(a); !allow.empty())
                detail += "; " + allow;
            if (std::string n = notes(a); !n.empty())
                detail += "; " + n;
            out += ".TP\n.B " + roff(a.name) + "\n" + roff(a.help) + "\n.br\n(" + roff(detail) + ")\n";
        }
    }
    out += ".SH FILES\n.TP\n.I /etc/lido/applicationHost.config\nthe configuration of the lido service\n"
           ".TP\n.I /usr/share/doc/lido/configuration.md\nthis reference as Markdown\n"
           ".SH SEE ALSO\n.BR lidod (8),\n.BR lidoctl (1),\n.BR lido (1)\n";
    return out;
}

} // namespace lido::config
