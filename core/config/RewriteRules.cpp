#include "config/RewriteRules.h"

#include "config/Values.h"
#include "util/Text.h"

#include <algorithm>
#include <cctype>

namespace lido::config {

namespace {

std::string lower(std::string_view s)
{
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool isFunction(std::string_view name)
{
    std::string n = lower(name);
    return n == "tolower" || n == "urlencode" || n == "urldecode";
}

// Wildcard syntax: '*' matches anything and is a capture; everything else is itself.
std::string wildcardToRegex(std::string_view w)
{
    std::string out = "^";
    for (char c : w) {
        if (c == '*')
            out += "(.*)";
        else if (std::string_view("\\^$.|?+()[]{}").find(c) != std::string_view::npos)
            out += std::string("\\") + c;
        else
            out += c;
    }
    return out + "$";
}

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}
    std::optional<RewriteTemplate> run(std::string* error)
    {
        RewriteTemplate t;
        if (!parts(t.parts, false) || pos_ != s_.size()) {
            if (error)
                *error = error_.empty() ? "an unmatched '}' at offset " + std::to_string(pos_) : error_;
            return std::nullopt;
        }
        return t;
    }

private:
    bool parts(std::vector<RewriteTemplate::Part>& out, bool inner)
    {
        using Kind = RewriteTemplate::Part::Kind;
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            if (c == '}')
                return inner;
            if (c != '{') {
                if (out.empty() || out.back().kind != Kind::Text)
                    out.push_back({Kind::Text, {}, 0, {}});
                out.back().text += c;
                ++pos_;
                continue;
            }
            size_t open = pos_++;
            size_t nameEnd = s_.find_first_of(":}", pos_);
            if (nameEnd == std::string_view::npos) {
                error_ = "'{' at offset " + std::to_string(open) + " is not closed";
                return false;
            }
            std::string name(s_.substr(pos_, nameEnd - pos_));
            pos_ = nameEnd;
            if (name.empty()) {
                error_ = "an empty name in '{}' at offset " + std::to_string(open);
                return false;
            }
            if (s_[pos_] == '}') {
                ++pos_;
                out.push_back({Kind::Variable, name, 0, {}});
                continue;
            }
            ++pos_; // ':'
            if (name == "R" || name == "C") {
                size_t digitsEnd = pos_;
                while (digitsEnd < s_.size() && std::isdigit(static_cast<unsigned char>(s_[digitsEnd])))
                    ++digitsEnd;
                if (digitsEnd == pos_ || digitsEnd >= s_.size() || s_[digitsEnd] != '}' || digitsEnd - pos_ > 2) {
                    error_ = "{" + name + ":n} at offset " + std::to_string(open) + " needs a group number";
                    return false;
                }
                int n = std::stoi(std::string(s_.substr(pos_, digitsEnd - pos_)));
                pos_ = digitsEnd + 1;
                out.push_back({name == "R" ? Kind::RuleRef : Kind::ConditionRef, {}, n, {}});
                continue;
            }
            RewriteTemplate::Part p{isFunction(name) ? Kind::Function : Kind::Map, name, 0, {}};
            if (!parts(p.inner, true))
                return false;
            if (pos_ >= s_.size() || s_[pos_] != '}') {
                error_ = "{" + name + ":...} at offset " + std::to_string(open) + " is not closed";
                return false;
            }
            ++pos_;
            out.push_back(std::move(p));
        }
        if (inner)
            error_ = "a '{' is not closed";
        return !inner;
    }

    std::string_view s_;
    size_t pos_ = 0;
    std::string error_;
};

// Everything a value refers to, checked against what the rule offers.
void checkReferences(const std::vector<RewriteTemplate::Part>& parts, int ruleGroups, int conditionGroups,
                     const std::map<std::string, RewriteMap>& maps, std::vector<std::string>& problems)
{
    using Kind = RewriteTemplate::Part::Kind;
    for (const auto& p : parts) {
        switch (p.kind) {
        case Kind::Text: break;
        case Kind::RuleRef:
            if (p.index > ruleGroups)
                problems.push_back("{R:" + std::to_string(p.index) + "} refers past the match pattern's " + std::to_string(ruleGroups) +
                                   (ruleGroups == 1 ? " group" : " groups"));
            break;
        case Kind::ConditionRef:
            if (p.index > conditionGroups)
                problems.push_back("{C:" + std::to_string(p.index) + "} refers past the conditions' " + std::to_string(conditionGroups) +
                                   (conditionGroups == 1 ? " group" : " groups"));
            break;
        case Kind::Variable:
            if (!knownServerVariable(p.text))
                problems.push_back("unknown server variable {" + p.text + "}");
            break;
        case Kind::Function:
        case Kind::Map:
            if (p.kind == Kind::Map && !maps.count(lower(p.text)))
                problems.push_back("{" + p.text + ":...} is neither a function (ToLower, UrlEncode, UrlDecode) nor a rewriteMap");
            checkReferences(p.inner, ruleGroups, conditionGroups, maps, problems);
            break;
        }
    }
}

} // namespace

std::optional<std::vector<std::string>> RewritePattern::match(std::string_view input) const
{
    if (syntax == PatternSyntax::ExactMatch) {
        bool same = ignoreCase ? lido::iequals(input, text) : input == text;
        if (!same)
            return std::nullopt;
        return std::vector<std::string>{std::string(input)};
    }
    return regex ? regex->match(input) : std::nullopt;
}

std::string RewriteMap::lookup(const std::string& key) const
{
    auto it = entries.find(ignoreCase ? lower(key) : key);
    return it == entries.end() ? defaultValue : it->second;
}

bool knownServerVariable(std::string_view name)
{
    static const char* const known[] = {"REQUEST_URI", "QUERY_STRING", "REQUEST_FILENAME", "HTTPS", "REQUEST_METHOD", "SERVER_PORT",
                                        "SERVER_NAME", "SERVER_ADDR", "SERVER_PROTOCOL", "SERVER_PORT_SECURE", "REMOTE_ADDR", "REMOTE_HOST",
                                        "REMOTE_PORT", "URL", "UNENCODED_URL", "CACHE_URL", "PATH_INFO", "APPL_PHYSICAL_PATH",
                                        "DOCUMENT_ROOT"};
    std::string n = lower(name);
    for (char& c : n)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (n.rfind("HTTP_", 0) == 0 && n.size() > 5)
        return true;
    return std::any_of(std::begin(known), std::end(known), [&](const char* k) { return n == k; });
}

RewriteRules parseRewriteRules(const ConfigElement* rules, const ConfigElement* maps, const std::string& file, std::vector<Diagnostic>* problems)
{
    RewriteRules out;
    auto problem = [&](const ConfigElement& e, const std::string& attribute, const std::string& message) {
        if (problems)
            problems->push_back(Diagnostic{Diagnostic::Severity::Error, file, e.line, e.path + (attribute.empty() ? "" : "/@" + attribute), message});
    };
    auto flag = [](const ConfigElement& e, const char* attribute, bool fallback) { return parseBool(e.get(attribute)).value_or(fallback); };
    if (maps)
        for (const ConfigElement* m : maps->childrenNamed("rewriteMap")) {
            RewriteMap map;
            map.defaultValue = m->get("defaultValue");
            map.ignoreCase = flag(*m, "ignoreCase", true);
            for (const ConfigElement* a : m->childrenNamed("add"))
                map.entries[map.ignoreCase ? lower(a->get("key")) : a->get("key")] = a->get("value");
            out.maps[lower(m->get("name"))] = std::move(map);
        }
    if (!rules)
        return out;
    for (const ConfigElement& item : rules->children) {
        if (item.name == "clear") {
            out.rules.clear();
            continue;
        }
        if (item.name == "remove") {
            std::erase_if(out.rules, [&](const RewriteRule& r) { return r.name == item.get("name"); });
            continue;
        }
        if (item.name != "rule")
            continue;
        RewriteRule r;
        r.name = item.get("name");
        r.line = item.line;
        r.stopProcessing = flag(item, "stopProcessing", false);
        std::string syntaxName = item.get("patternSyntax");
        PatternSyntax syntax = syntaxName == "Wildcard" ? PatternSyntax::Wildcard : syntaxName == "ExactMatch" ? PatternSyntax::ExactMatch : PatternSyntax::ECMAScript;
        bool ok = true;
        auto compile = [&](const ConfigElement& e, const char* attribute, RewritePattern& p) {
            p.syntax = syntax;
            p.text = e.get(attribute);
            p.ignoreCase = flag(e, "ignoreCase", true);
            p.negate = flag(e, "negate", false);
            if (syntax == PatternSyntax::ExactMatch)
                return;
            Regex::Error err;
            p.regex = Regex::compile(syntax == PatternSyntax::Wildcard ? wildcardToRegex(p.text) : p.text, p.ignoreCase, &err);
            if (!p.regex) {
                problem(e, attribute, "the pattern \"" + p.text + "\" does not compile: " + err.message + " at offset " + std::to_string(err.offset));
                ok = false;
            }
        };
        const ConfigElement* match = item.child("match");
        if (!match) {
            problem(item, "", "a rule needs a <match url=\"...\"/>");
            continue;
        }
        compile(*match, "url", r.match);
        int conditionGroups = 0;
        std::vector<std::pair<const ConfigElement*, const char*>> templates; // checked once all groups are known
        if (const ConfigElement* conditions = item.child("conditions")) {
            r.matchAny = conditions->get("logicalGrouping") == "MatchAny";
            r.trackAllCaptures = flag(*conditions, "trackAllCaptures", false);
            for (const ConfigElement* add : conditions->childrenNamed("add")) {
                RewriteCondition c;
                std::string type = add->get("matchType");
                c.type = type == "IsFile" ? RewriteCondition::Type::IsFile : type == "IsDirectory" ? RewriteCondition::Type::IsDirectory : RewriteCondition::Type::Pattern;
                std::string why;
                auto input = Parser(add->get("input")).run(&why);
                if (!input) {
                    problem(*add, "input", why);
                    ok = false;
                    continue;
                }
                c.input = std::move(*input);
                if (c.type == RewriteCondition::Type::Pattern) {
                    compile(*add, "pattern", c.pattern);
                    conditionGroups = r.trackAllCaptures ? conditionGroups + c.pattern.groups() : std::max(conditionGroups, c.pattern.groups());
                }
                c.negate = flag(*add, "negate", false);
                templates.emplace_back(add, "input");
                r.conditions.push_back(std::move(c));
            }
        }
        if (const ConfigElement* action = item.child("action")) {
            std::string type = action->get("type");
            using T = RewriteAction::Type;
            r.action.type = type == "Rewrite" ? T::Rewrite : type == "Redirect" ? T::Redirect : type == "CustomResponse" ? T::CustomResponse
                            : type == "AbortRequest"                                          ? T::AbortRequest
                                                                                              : T::None;
            std::string why;
            if (auto url = Parser(action->get("url")).run(&why))
                r.action.url = std::move(*url);
            else {
                problem(*action, "url", why);
                ok = false;
            }
            if ((r.action.type == T::Rewrite || r.action.type == T::Redirect) && action->get("url").empty()) {
                problem(*action, "url", "a " + type + " action needs a url");
                ok = false;
            }
            templates.emplace_back(action, "url");
            r.action.appendQueryString = flag(*action, "appendQueryString", true);
            r.action.logRewrittenUrl = flag(*action, "logRewrittenUrl", false);
            std::string redirect = action->get("redirectType");
            r.action.redirectStatus = redirect == "Found" || redirect == "302"       ? 302
                                      : redirect == "SeeOther" || redirect == "303"  ? 303
                                      : redirect == "Temporary" || redirect == "307" ? 307
                                                                                     : 301;
            r.action.statusCode = static_cast<int>(parseUInt(action->get("statusCode")).value_or(0));
            r.action.subStatusCode = static_cast<int>(parseUInt(action->get("subStatusCode")).value_or(0));
            r.action.statusReason = action->get("statusReason");
            r.action.statusDescription = action->get("statusDescription");
            if (r.action.type == T::CustomResponse && (r.action.statusCode < 100 || r.action.statusCode > 999)) {
                problem(*action, "statusCode", "a CustomResponse action needs a statusCode from 100 to 999");
                ok = false;
            }
        }
        // Back-references and names, in the action's url and the conditions' inputs.
        for (const auto& [e, attribute] : templates) {
            std::string why;
            auto t = Parser(e->get(attribute)).run(&why);
            if (!t)
                continue;
            std::vector<std::string> found;
            checkReferences(t->parts, r.match.negate ? 0 : r.match.groups(), conditionGroups,
                            out.maps, found);
            for (const std::string& f : found) {
                problem(*e, attribute, f);
                ok = false;
            }
        }
        if (ok && flag(item, "enabled", true))
            out.rules.push_back(std::move(r));
    }
    return out;
}

PatternSyntax patternSyntaxOf(const ConfigElement& rule)
{
    std::string name = rule.get("patternSyntax");
    return name == "Wildcard" ? PatternSyntax::Wildcard : name == "ExactMatch" ? PatternSyntax::ExactMatch : PatternSyntax::ECMAScript;
}

std::string patternProblem(std::string_view pattern, PatternSyntax syntax)
{
    if (syntax == PatternSyntax::ExactMatch)
        return {};
    Regex::Error err;
    if (Regex::compile(syntax == PatternSyntax::Wildcard ? wildcardToRegex(pattern) : std::string(pattern), true, &err))
        return {};
    return err.message + " at offset " + std::to_string(err.offset);
}

PatternTest testPattern(std::string_view pattern, PatternSyntax syntax, bool ignoreCase, bool negate, std::string_view input)
{
    PatternTest t;
    RewritePattern p;
    p.syntax = syntax;
    p.text = std::string(pattern);
    p.ignoreCase = ignoreCase;
    if (syntax != PatternSyntax::ExactMatch) {
        Regex::Error err;
        p.regex = Regex::compile(syntax == PatternSyntax::Wildcard ? wildcardToRegex(pattern) : p.text, ignoreCase, &err);
        if (!p.regex) {
            t.problem = err.message + " at offset " + std::to_string(err.offset);
            return t;
        }
    }
    auto captures = p.match(input);
    t.matched = captures.has_value() != negate;
    if (captures && !negate)
        t.captures = std::move(*captures);
    return t;
}

} // namespace lido::config
