#pragma once
// Keeps a running engine in step with its configuration file: watches the file's folder
// (inotify: in-place writes and renames by any tool alike) and the folder of every symbolic link
// on the way to it (util::PathWatch: a kubelet's ConfigMap, Capistrano's current), reads the whole file at one moment
// (size, mtime and inode the same before and after the read, else it is read again later),
// validates it, and applies it live. A file that is not well-formed, does not validate or changes
// while it is read is never applied: the last good configuration keeps serving, an event says why
// (file:line), and the next change is tried again.
#include "config/Config.h"
#include "util/PathWatch.h"
#include "util/Result.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace lido::engine {

class Engine;

// Reads and validates the file only if it did not change while it was read.
Result<std::shared_ptr<const config::Config>> loadConsistent(const std::string& path, const config::ValidateOptions& options = {});

class ConfigReloader {
public:
    ConfigReloader(Engine& engine, std::string path, std::chrono::milliseconds debounce = std::chrono::milliseconds(150));
    ~ConfigReloader();
    ConfigReloader(const ConfigReloader&) = delete;
    ConfigReloader& operator=(const ConfigReloader&) = delete;

    // Watches the folder from a thread of its own until destroyed.
    Result<void> watch();
    // Reads and applies now (SIGHUP, the admin channel, a change seen). Returns the semantic diff
    // applied, "no changes", or why nothing was applied. Thread-safe.
    Result<std::string> reload(const std::string& why);
    uint64_t appliedCount() const { return applied_; }
    uint64_t rejectedCount() const { return rejected_; }

private:
    void run();
    Engine& engine_;
    std::string path_;
    util::PathWatch watch_;
    std::chrono::milliseconds debounce_;
    std::mutex mutex_;
    size_t lastHash_ = 0; // of the text last applied (or found unchanged)
    std::atomic<uint64_t> applied_{0}, rejected_{0};
    int wake_ = -1;
    std::thread thread_;
};

} // namespace lido::engine
