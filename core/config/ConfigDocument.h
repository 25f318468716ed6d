#pragma once
// The configuration file as text plus a read-only pugixml tree over it. Edits patch the text in
// place (an attribute value, one inserted line, one removed element) and re-parse, so comments,
// attribute order, quoting, indentation and everything untouched survive byte for byte.
#include "config/ElementPath.h"
#include "util/Result.h"

#include <memory>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lido::config {

struct ElementSpec;
using AttributeList = std::vector<std::pair<std::string, std::string>>;

class ConfigDocument {
public:
    // Parses text; an XML error is "FILE:LINE:COL: not well-formed XML: why".
    static Result<ConfigDocument> parse(std::string text, std::string fileName);
    // Reads the whole file at once; an unreadable file is "FILE: cannot read: why".
    static Result<ConfigDocument> load(const std::string& path);

    ConfigDocument(ConfigDocument&&) noexcept;
    ConfigDocument& operator=(ConfigDocument&&) noexcept;
    ~ConfigDocument();

    const std::string& text() const { return text_; }
    // Moves the text out; the parsed tree stays readable (pugixml keeps its own copy), but no
    // edits may follow.
    std::string takeText() { return std::move(text_); }
    const std::string& fileName() const { return fileName_; }
    pugi::xml_node root() const; // <configuration>, or the document element whatever its name
    int lineOf(pugi::xml_node node) const;
    int lineAt(size_t offset) const;

    // Real path below <configuration> ("system.applicationHost/applicationPools/add") for the schema.
    static std::string schemaPath(pugi::xml_node node);
    // The path shown to users ("applicationPools/add[@name='php']").
    std::string displayPath(pugi::xml_node node) const;
    // One step of a display path: the name with its key predicate or [n].
    static std::string stepOf(pugi::xml_node node, const ElementSpec* spec);

    Result<pugi::xml_node> find(const ElementPath& path) const;
    Result<pugi::xml_node> find(std::string_view path) const;

    Result<void> setAttribute(const ElementPath& element, std::string_view name, std::string_view value);
    Result<void> unsetAttribute(const ElementPath& element, std::string_view name);
    // Adds the element named by the path's last step (its [@key='v'] predicate becomes attributes);
    // containers on the way that do not exist yet and need no key are created too.
    Result<void> addElement(const ElementPath& element, const AttributeList& attributes = {});
    Result<void> removeElement(const ElementPath& element);

private:
    ConfigDocument();
    Result<void> reparse();
    Result<void> replace(size_t pos, size_t length, std::string_view with);
    ElementPath expand(const ElementPath& path) const;
    std::string indentAt(size_t pos) const;

    std::unique_ptr<pugi::xml_document> doc_;
    std::string text_;
    std::string fileName_;
    std::vector<size_t> lineStarts_;
    std::string indentUnit_ = "    ";
    std::string newline_ = "\n";
};

} // namespace lido::config
