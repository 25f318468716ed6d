// Fuzz target: arbitrary bytes through the configuration loader, the validator, an in-place edit
// and the semantic diff. Any crash, leak or sanitizer report is a bug.
#include "config/Config.h"
#include "config/ConfigDiff.h"
#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace lido::config;
    std::string text(reinterpret_cast<const char*>(data), size);
    auto doc = ConfigDocument::parse(text, "fuzz.config");
    if (!doc)
        return 0;
    auto before = Config::fromDocument(*doc, ValidateOptions{false});
    for (const auto& d : before->diagnostics())
        (void)d.str();
    // Edits must either apply and still parse, or fail with a message.
    (void)applyEdit(*doc, "set", "pool", "DefaultAppPool", {"queueLength=500", "failure.rapidFailProtection=false"});
    (void)applyEdit(*doc, "add", "site", "fuzz", {"bindings=http/127.0.0.1:1:", "physicalPath=/tmp"});
    (void)applyEdit(*doc, "remove", "element", "sites/site[1]", {});
    auto after = Config::fromDocument(*doc, ValidateOptions{false});
    (void)formatSemanticDiff(semanticDiff(*before, *after));
    (void)scriptDiff(*before, *after);
    return 0;
}
