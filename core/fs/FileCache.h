#pragma once
// A per-thread cache of small static files and of path lookups, revalidated at most once a second
// (as lighttpd's stat cache and nginx's open_file_cache do). A hit costs no system call; a file
// changed on disk is seen within a second.
#include "fs/Beneath.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lido::http {
struct HeaderBlock;
}

namespace lido::fs {

struct CachedFile {
    std::string body;
    std::string etag;
    std::string lastModified;
    std::string mimeType;
    time_t mtime = 0;
    uint64_t size = 0;
    SymlinkPolicy policy = SymlinkPolicy::IfOwnerMatch; // what it was opened under
    // A 200's Content-Type, ETag, Last-Modified and Accept-Ranges, made once for this version and
    // shared by every response (http::ResponseHead::shared).
    std::shared_ptr<const http::HeaderBlock> headers;
};

// The file type (S_IFREG, S_IFDIR, 0 when missing) of a path, cached for a second.
mode_t cachedFileType(const std::string& path);

// A cached small file for this path, if one is fresh.
std::shared_ptr<const CachedFile> cachedFile(const std::string& path);
void storeFile(const std::string& path, std::shared_ptr<const CachedFile> file);

// What a check of a path found (0: allowed, else the errno that refused it, and why), cached
// for a second under a key the caller makes (the path with what the check depended on).
struct PathVerdict {
    int error = 0;
    std::string refusal;
};
const PathVerdict* cachedVerdict(const std::string& key);
const PathVerdict& storeVerdict(const std::string& key, PathVerdict verdict); // the stored one

constexpr std::chrono::milliseconds kCacheValidity{1000};

} // namespace lido::fs
