#pragma once
// Checks a configuration tree against the schema and the rules between elements (unique keys,
// colliding bindings, references to pools and FastCGI applications, paths that must exist).
// Reports every problem at once.
#include "config/Config.h"

#include <vector>

namespace lido::config {

std::vector<Diagnostic> validateConfig(const ConfigElement& root, const std::string& fileName,
                                       const ValidateOptions& options = {});

} // namespace lido::config
