#include "rewrite/Rewriter.h"

#include <cctype>

namespace lido::rewrite {

using config::RewriteRule;
using config::RewriteTemplate;
using Kind = RewriteTemplate::Part::Kind;

namespace {

struct Scope {
    const config::RewriteRules& rules;
    const Context& context;
    const std::string& path; // the URL as it is now, with '/'
    const std::vector<std::string>* r = nullptr;
    const std::vector<std::string>* c = nullptr;
};

std::string expand(const std::vector<RewriteTemplate::Part>& parts, const Scope& s)
{
    std::string out;
    for (const auto& p : parts) {
        switch (p.kind) {
        case Kind::Text: out += p.text; break;
        case Kind::RuleRef:
            if (s.r && static_cast<size_t>(p.index) < s.r->size())
                out += (*s.r)[static_cast<size_t>(p.index)];
            break;
        case Kind::ConditionRef:
            if (s.c && static_cast<size_t>(p.index) < s.c->size())
                out += (*s.c)[static_cast<size_t>(p.index)];
            break;
        case Kind::Variable: {
            std::string name = p.text;
            for (char& ch : name)
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            if (s.context.variable)
                if (auto v = s.context.variable(name, s.path))
                    out += *v;
            break;
        }
        case Kind::Function: {
            std::string arg = expand(p.inner, s), f = p.text;
            for (char& ch : f)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (f == "tolower")
                for (char& ch : arg)
                    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            out += f == "urlencode" ? urlEncode(arg) : f == "urldecode" ? urlDecode(arg) : arg;
            break;
        }
        case Kind::Map: {
            std::string name = p.text;
            for (char& ch : name)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (auto it = s.rules.maps.find(name); it != s.rules.maps.end())
                out += it->second.lookup(expand(p.inner, s));
            break;
        }
        }
    }
    return out;
}

// The conditions of a rule whose match matched; their captures in c.
bool conditionsHold(const RewriteRule& rule, Scope& s, std::vector<std::string>& c)
{
    if (rule.conditions.empty())
        return true;
    bool any = false;
    for (const auto& cond : rule.conditions) {
        s.c = &c;
        std::string input = expand(cond.input.parts, s);
        bool holds = false;
        std::optional<std::vector<std::string>> captures;
        switch (cond.type) {
        case config::RewriteCondition::Type::IsFile: holds = s.context.exists && s.context.exists(input, false); break;
        case config::RewriteCondition::Type::IsDirectory: holds = s.context.exists && s.context.exists(input, true); break;
        case config::RewriteCondition::Type::Pattern:
            captures = cond.pattern.match(input);
            holds = captures.has_value();
            break;
        }
        if (cond.negate)
            holds = !holds;
        if (holds && captures && !cond.negate) {
            if (rule.trackAllCaptures) {
                if (c.empty())
                    c = *captures;
                else
                    c.insert(c.end(), captures->begin() + 1, captures->end());
            } else {
                c = *captures;
            }
        }
        if (rule.matchAny && holds)
            return true;
        if (!rule.matchAny && !holds)
            return false;
        any = any || holds;
    }
    return !rule.matchAny || any;
}

void splitQuery(const std::string& url, std::string& path, std::string& query)
{
    auto q = url.find('?');
    path = url.substr(0, q);
    query = q == std::string::npos ? std::string() : url.substr(q + 1);
}

} // namespace

Outcome run(const config::RewriteRules& rules, const std::string& path, const std::string& query, const Context& context)
{
    Outcome out;
    std::string current = path, currentQuery = query;
    for (const RewriteRule& rule : rules.rules) {
        std::string input = current.empty() || current.front() != '/' ? current : current.substr(1);
        auto r = rule.match.match(input);
        bool matched = r.has_value() != rule.match.negate;
        if (!matched)
            continue;
        std::vector<std::string> none, c;
        Scope s{rules, context, current, rule.match.negate ? &none : &*r, nullptr};
        if (!conditionsHold(rule, s, c))
            continue;
        s.c = &c;
        using T = config::RewriteAction::Type;
        const auto& a = rule.action;
        if (a.type != T::None)
            out.matched.push_back(rule.name);
        switch (a.type) {
        case T::None: break;
        case T::Rewrite: {
            std::string url = expand(a.url.parts, s), newPath, newQuery;
            splitQuery(url, newPath, newQuery);
            if (newPath.find("://") == std::string::npos && (newPath.empty() || newPath.front() != '/'))
                newPath = "/" + newPath; // relative to the scope's root
            if (a.appendQueryString && !currentQuery.empty())
                newQuery = newQuery.empty() ? currentQuery : newQuery + "&" + currentQuery;
            current = newPath;
            currentQuery = newQuery;
            out.kind = Outcome::Kind::Rewrite;
            out.path = current;
            out.query = currentQuery;
            out.logRewrittenUrl = out.logRewrittenUrl || a.logRewrittenUrl;
            break;
        }
        case T::Redirect: {
            std::string url = expand(a.url.parts, s);
            if (url.find("://") == std::string::npos && (url.empty() || url.front() != '/'))
                url = "/" + url;
            if (a.appendQueryString && !currentQuery.empty())
                url += (url.find('?') == std::string::npos ? "?" : "&") + currentQuery;
            out.kind = Outcome::Kind::Redirect;
            out.location = url;
            out.status = a.redirectStatus;
            return out;
        }
        case T::CustomResponse:
            out.kind = Outcome::Kind::CustomResponse;
            out.status = a.statusCode;
            out.substatus = a.subStatusCode;
            out.reason = a.statusReason;
            out.description = a.statusDescription;
            return out;
        case T::AbortRequest: out.kind = Outcome::Kind::Abort; return out;
        }
        if (rule.stopProcessing)
            break;
    }
    return out;
}

} // namespace lido::rewrite
