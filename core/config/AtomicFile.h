#pragma once
// The one atomic save: write a temporary file in the same folder, fsync it, rename it over the
// original, fsync the folder. Owner and mode of the original are kept. On any failure the original
// is untouched and the temporary file is removed.
#include "util/Result.h"

#include <functional>
#include <string>
#include <string_view>

namespace lido {

struct AtomicWriteOptions {
    // Called after the temporary file is complete and synced, before the rename (tests use it to
    // simulate a crash at the worst moment).
    std::function<void()> beforeRename;
};

Result<void> writeFileAtomically(const std::string& path, std::string_view content, const AtomicWriteOptions& options = {});

// Reads a whole file; the error names the file and the reason.
Result<std::string> readWholeFile(const std::string& path);

} // namespace lido
