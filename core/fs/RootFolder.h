#pragma once
// The folder a virtual directory's physicalPath names now. A release swap (Capistrano's
// `current` link pointed at releases/N+1, a kubelet's ..data renamed over) changes what the path
// resolves to; the descriptor files are opened beneath follows it within a second: the path is
// looked up again at most once a second, and a new folder gets a new descriptor. A request holds
// the handle it started with, so one in flight finishes on the old release.
#include "util/Fd.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>

namespace lido::fs {

struct FolderHandle {
    Fd fd; // O_PATH | O_DIRECTORY; -1 when the path names no folder
    dev_t dev = 0;
    ino_t ino = 0;
};

class RootFolder {
public:
    explicit RootFolder(std::string path);
    const std::string& path() const { return path_; }
    // The handle to open beneath; held by the caller for as long as it uses the descriptor.
    std::shared_ptr<const FolderHandle> current() const;

private:
    std::string path_;
    mutable std::atomic<std::shared_ptr<const FolderHandle>> handle_;
    mutable std::atomic<int64_t> nextCheck_{0}; // steady clock, milliseconds
};

} // namespace lido::fs
