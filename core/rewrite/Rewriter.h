#pragma once
// Runs IIS URL Rewrite rules on one request, as the module does: rules in order, each matched
// against the URL path (without its leading '/') that the rules before it left, conditions
// with MatchAll/MatchAny and their captures, then the action. A Rewrite hands its URL to the
// next rule unless stopProcessing; Redirect, CustomResponse and AbortRequest end the run. Server
// variables and file checks come from the caller, so the rules run without an engine in tests.
#include "config/RewriteRules.h"
#include "util/Text.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lido::rewrite {

struct Context {
    // A server variable ("HTTP_HOST", "REQUEST_FILENAME", ...) for the URL as it is now
    // (urlPath: with its leading '/'); nothing when it has no value.
    std::function<std::optional<std::string>(const std::string& name, const std::string& urlPath)> variable;
    // IsFile / IsDirectory on a physical path.
    std::function<bool(const std::string& path, bool directory)> exists;
};

struct Outcome {
    enum class Kind { None, Rewrite, Redirect, CustomResponse, Abort } kind = Kind::None;
    std::string path;  // Rewrite: the new URL path, with its leading '/'
    std::string query; // Rewrite: the new query string
    std::string location; // Redirect
    int status = 0, substatus = 0; // Redirect, CustomResponse
    std::string reason, description;
    bool logRewrittenUrl = false;
    std::vector<std::string> matched; // the rules whose action ran, in order
};

// path: the decoded URL path with its leading '/' (relative to the rules' scope); query: without '?'.
Outcome run(const config::RewriteRules& rules, const std::string& path, const std::string& query, const Context& context);

// The functions rules may call. urlDecode decodes every %XX (also %2F: it is for values, not
// paths); the engine uses it for the utf8ServerVariables too.
using lido::urlDecode;
using lido::urlEncode;

} // namespace lido::rewrite
