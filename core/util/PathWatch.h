#pragma once
// Watching a file by its path, through symbolic links: inotify on the file's folder and on the
// folder of every link on the way to it, so that a file written in place, a file renamed over
// and a link replaced anywhere on the way (a kubelet's ConfigMap: name -> ..data/name with ..data
// renamed over; Capistrano's current -> releases/N) are all a change of the path. Used by the
// configuration reloader and by FastCGI's monitorChangesTo.
#include "util/Result.h"

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace lido::util {

// The folders and names a path's resolution depends on: each symbolic link met on the way (its
// folder and its name) and, last, the file itself in the folder it resolves to. Relative and
// absolute links alike; at most 40 links, the kernel's own limit.
std::vector<std::pair<std::string, std::string>> linkChain(const std::string& path);

class PathWatch {
public:
    explicit PathWatch(std::string path);
    ~PathWatch();
    PathWatch(const PathWatch&) = delete;
    PathWatch& operator=(const PathWatch&) = delete;

    // Opens the inotify descriptor (non-blocking) and watches the chain; fails when the path's
    // own folder cannot be watched.
    Result<void> start();
    int fd() const { return fd_; }
    // Reads what is there to read; true when an event concerns the path. The chain is watched
    // anew after such an event, since a link on the way may point elsewhere now.
    bool readEvents();
    // Parses events already read (for callers that read the descriptor themselves).
    bool concerns(const char* events, size_t length);
    void rewatch();

private:
    std::string path_;
    int fd_ = -1;
    std::map<int, std::set<std::string>> names_; // watch -> names in its folder that matter
    std::map<std::string, int> folders_;         // folder -> its watch
};

} // namespace lido::util
