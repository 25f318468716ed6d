#pragma once
// The configuration reference, written from the schema table so that it cannot go stale: every
// element and attribute with its type, default, range or values and help line. Markdown for the
// project's docs/configuration.md, roff for applicationHost.config(5). `lidoctl reference` prints
// either; the build makes the man page with it, and a test compares docs/configuration.md.
#include <string>

namespace lido::config {

std::string referenceMarkdown();
std::string referenceManPage(const std::string& date);

} // namespace lido::config
