#pragma once
// IIS URL Rewrite's configuration as typed, compiled values ("URL Rewrite Module Configuration
// Reference"): rules with their match, conditions and action, values with back-references,
// server variables, functions and rewrite maps, and what is wrong with them, each problem named
// by line, element path and attribute, with PCRE2's own message and offset for a bad pattern.
// Running the rules on a request is rewrite/Rewriter's job.
#include "config/Config.h"
#include "util/Regex.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lido::config {

enum class PatternSyntax { ECMAScript, Wildcard, ExactMatch };

struct RewritePattern {
    PatternSyntax syntax = PatternSyntax::ECMAScript;
    std::string text;
    bool ignoreCase = true;
    bool negate = false;
    std::shared_ptr<const Regex> regex; // ECMAScript and Wildcard (as a regular expression)
    int groups() const { return regex ? regex->groups() : 0; }
    // The captures ({R:0} the whole match) when the input matches, before negation.
    std::optional<std::vector<std::string>> match(std::string_view input) const;
};

// "index.php?title={R:1}&host={HTTP_HOST}&x={ToLower:{C:1}}&y={Names:{R:2}}"
struct RewriteTemplate {
    struct Part {
        enum class Kind { Text, RuleRef, ConditionRef, Variable, Function, Map } kind = Kind::Text;
        std::string text; // the text, variable, function or map name
        int index = 0;    // R:n, C:n
        std::vector<Part> inner; // a function's or map's argument
    };
    std::vector<Part> parts;
    bool empty() const { return parts.empty(); }
};

struct RewriteCondition {
    RewriteTemplate input;
    enum class Type { Pattern, IsFile, IsDirectory } type = Type::Pattern;
    RewritePattern pattern;
    bool negate = false;
};

struct RewriteAction {
    enum class Type { Rewrite, Redirect, CustomResponse, AbortRequest, None } type = Type::None;
    RewriteTemplate url;
    bool appendQueryString = true;
    bool logRewrittenUrl = false;
    int redirectStatus = 301;
    int statusCode = 0, subStatusCode = 0;
    std::string statusReason, statusDescription;
};

struct RewriteRule {
    std::string name;
    int line = 0;
    bool stopProcessing = false;
    RewritePattern match;
    bool matchAny = false;         // conditions/@logicalGrouping="MatchAny"
    bool trackAllCaptures = false;
    std::vector<RewriteCondition> conditions;
    RewriteAction action;
};

struct RewriteMap {
    std::string defaultValue;
    bool ignoreCase = true;
    std::map<std::string, std::string> entries; // keys lower case when ignoreCase
    std::string lookup(const std::string& key) const;
};

struct RewriteRules {
    std::vector<RewriteRule> rules;
    std::map<std::string, RewriteMap> maps; // by lower-case name
    bool empty() const { return rules.empty(); }
};

// Parses a rules (or globalRules) collection with the rewriteMaps beside it. What is wrong is
// appended to problems (when given) and left out of the result: a rule that does not compile
// never runs.
RewriteRules parseRewriteRules(const ConfigElement* rules, const ConfigElement* maps, const std::string& file,
                               std::vector<Diagnostic>* problems);

// A pattern as it is typed (the console checks each keystroke): PCRE2's message with the offset,
// or "" when it compiles. ExactMatch always does.
std::string patternProblem(std::string_view pattern, PatternSyntax syntax);
PatternSyntax patternSyntaxOf(const ConfigElement& rule); // rule/@patternSyntax

// IIS Manager's "Test pattern": one pattern on an input, with its captures ({R:0} the whole match).
struct PatternTest {
    std::string problem; // the pattern does not compile
    bool matched = false; // after negate
    std::vector<std::string> captures;
};
PatternTest testPattern(std::string_view pattern, PatternSyntax syntax, bool ignoreCase, bool negate, std::string_view input);

// The server variables rules may read: HTTP_* and those IIS names that Lido knows.
bool knownServerVariable(std::string_view name);

} // namespace lido::config
