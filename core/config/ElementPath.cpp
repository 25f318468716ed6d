#include "config/ElementPath.h"

#include <cctype>

namespace lido::config {

std::string quoteXPathValue(std::string_view value)
{
    char q = value.find('\'') == std::string_view::npos ? '\'' : '"';
    return q + std::string(value) + q;
}

std::string PathStep::str() const
{
    std::string out = name;
    if (!keys.empty()) {
        out += '[';
        for (size_t i = 0; i < keys.size(); ++i) {
            if (i)
                out += " and ";
            out += "@" + keys[i].first + "=" + quoteXPathValue(keys[i].second);
        }
        out += ']';
    } else if (index > 0) {
        out += "[" + std::to_string(index) + "]";
    }
    return out;
}

std::string ElementPath::str() const
{
    std::string out;
    for (const auto& s : steps)
        out += (out.empty() ? "" : "/") + s.str();
    return out;
}

Result<ElementPath> ElementPath::parse(std::string_view text)
{
    ElementPath path;
    size_t i = 0;
    auto bad = [&](const std::string& why) {
        return fail("element path '" + std::string(text) + "': " + why + " at character " + std::to_string(i + 1));
    };
    auto skipSpace = [&] {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
            ++i;
    };
    if (!text.empty() && text.front() == '/')
        ++i;
    while (i < text.size()) {
        PathStep step;
        while (i < text.size() && text[i] != '/' && text[i] != '[')
            step.name += text[i++];
        if (step.name.empty())
            return bad("expected an element name");
        if (i < text.size() && text[i] == '[') {
            ++i;
            skipSpace();
            if (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
                int n = 0;
                while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])))
                    n = n * 10 + (text[i++] - '0');
                step.index = n;
                skipSpace();
            } else {
                for (;;) {
                    if (i >= text.size() || text[i] != '@')
                        return bad("expected '@attribute'");
                    ++i;
                    std::string key;
                    while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_' ||
                                               text[i] == '-' || text[i] == '.' || text[i] == ':'))
                        key += text[i++];
                    skipSpace();
                    if (key.empty() || i >= text.size() || text[i] != '=')
                        return bad("expected '@attribute=' with a quoted value");
                    ++i;
                    skipSpace();
                    if (i >= text.size() || (text[i] != '\'' && text[i] != '"'))
                        return bad("expected a quoted value");
                    char q = text[i++];
                    auto close = text.find(q, i);
                    if (close == std::string_view::npos)
                        return bad("unterminated value");
                    step.keys.emplace_back(key, std::string(text.substr(i, close - i)));
                    i = close + 1;
                    skipSpace();
                    if (text.substr(i, 3) == "and") {
                        i += 3;
                        skipSpace();
                        continue;
                    }
                    break;
                }
            }
            if (i >= text.size() || text[i] != ']')
                return bad("expected ']'");
            ++i;
        }
        path.steps.push_back(std::move(step));
        if (i < text.size()) {
            if (text[i] != '/')
                return bad("expected '/'");
            ++i;
        }
    }
    if (path.steps.empty())
        return fail("element path is empty");
    return path;
}

} // namespace lido::config
