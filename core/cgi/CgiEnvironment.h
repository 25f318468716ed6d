#pragma once
// The CGI/1.1 meta-variables (RFC 3875 §4.1) for one request, as a pure function. Also used for
// FastCGI parameters.
#include "http/Http.h"

#include <string>
#include <utility>
#include <vector>

namespace lido::cgi {

struct CgiContext {
    const http::Request* request = nullptr;
    std::string scriptName;     // URL of the script
    std::string pathInfo;       // decoded, may be empty
    std::string pathTranslated; // physical path for pathInfo, empty when pathInfo is
    std::string scriptFilename;
    std::string documentRoot;
    std::string serverSoftware = "Lido/0.1";
    std::optional<uint64_t> contentLength; // known body length (chunked bodies are buffered first)
    // Rewritten by URL Rewrite: QUERY_STRING follows the rewritten URL, and HTTP_X_ORIGINAL_URL
    // is the client's (REQUEST_URI always is), as behind IIS.
    std::optional<std::string> rewrittenQuery;
    bool rewritten = false;
    std::vector<std::pair<std::string, std::string>> extra; // configured variables, added last
};

std::vector<std::pair<std::string, std::string>> cgiVariables(const CgiContext& context);
std::vector<std::string> cgiEnvironment(const CgiContext& context); // NAME=value

} // namespace lido::cgi
