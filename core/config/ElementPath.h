#pragma once
// Element paths as users read them in messages and type them in lidoctl:
//   applicationPools/add[@name='php']/processModel
//   fastCgi/application[@fullPath='/usr/bin/php-cgi' and @arguments='-c /etc/php.ini']
//   system.webServer/defaultDocument/files/clear[2]
// The section groups system.applicationHost and system.webServer may be left out.
#include "util/Result.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lido::config {

struct PathStep {
    std::string name;
    std::vector<std::pair<std::string, std::string>> keys; // [@k='v' and ...]
    int index = 0;                                          // [n], 1-based; 0 = none
    std::string str() const;
};

struct ElementPath {
    std::vector<PathStep> steps;
    static Result<ElementPath> parse(std::string_view text);
    std::string str() const;
};

std::string quoteXPathValue(std::string_view value);

} // namespace lido::config
