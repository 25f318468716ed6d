#pragma once
// Earlier versions of a configuration file, kept beside it before every save (IIS keeps the last
// maxHistories copies the same way), and the save pipeline that uses them:
// validate -> keep the current version -> write atomically.
#include "config/AtomicFile.h"
#include "config/Config.h"
#include "util/Result.h"

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace lido::config {

class ConfigDocument;

struct HistoryEntry {
    int id = 0;           // grows with every save; lidoctl restore FILE ID
    std::string file;     // full path of the copy
    std::time_t time = 0; // when it was replaced
    uint64_t size = 0;
};

class ConfigHistory {
public:
    // folder empty: "<dir>/.<name>.history" beside the configuration file.
    explicit ConfigHistory(std::string configPath, std::string folder = {}, int maxEntries = 10);

    const std::string& folder() const { return folder_; }
    std::vector<HistoryEntry> list() const; // newest first
    Result<std::string> read(int id) const;
    // Keeps `content` as the newest entry and prunes to maxEntries.
    Result<void> keep(std::string_view content, std::time_t when);

private:
    std::string configPath_;
    std::string folder_;
    int maxEntries_;
};

// The history that a configuration's own configHistory element describes.
ConfigHistory historyFor(const std::string& configPath, const Config* config);

struct SaveOptions {
    ValidateOptions validate;
    AtomicWriteOptions write;
    // Compare-and-swap: when set, the file on disk must still have this content, else the save is
    // refused (two writers cannot lose each other's change).
    std::optional<std::string> expectedOnDisk;
};

// Validates the document, keeps the current file in the history, then writes atomically.
// A document with errors is never saved; the error lists them.
Result<void> saveConfig(const std::string& path, const ConfigDocument& doc, const SaveOptions& options = {});
// Saves history entry `id` as the current file (the current one goes into the history first).
Result<void> restoreConfig(const std::string& path, int id, const SaveOptions& options = {});

} // namespace lido::config
