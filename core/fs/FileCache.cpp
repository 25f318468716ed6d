#include "fs/FileCache.h"

#include "util/Clock.h"

#include <sys/stat.h>
#include <unordered_map>

namespace lido::fs {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxEntries = 4096;

struct TypeEntry {
    mode_t type;
    Clock::time_point checked;
};
struct FileEntry {
    std::shared_ptr<const CachedFile> file;
    Clock::time_point checked;
};

struct VerdictEntry {
    PathVerdict verdict;
    Clock::time_point checked;
};

thread_local std::unordered_map<std::string, TypeEntry> types;
thread_local std::unordered_map<std::string, VerdictEntry> verdicts;
thread_local std::unordered_map<std::string, FileEntry> files;

} // namespace

mode_t cachedFileType(const std::string& path)
{
    auto now = coarseNow();
    auto it = types.find(path);
    if (it != types.end() && now - it->second.checked < kCacheValidity)
        return it->second.type;
    struct stat st {};
    mode_t type = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & S_IFMT) : 0;
    if (types.size() >= kMaxEntries)
        types.clear();
    types[path] = TypeEntry{type, now};
    return type;
}

std::shared_ptr<const CachedFile> cachedFile(const std::string& path)
{
    auto it = files.find(path);
    if (it == files.end() || coarseNow() - it->second.checked >= kCacheValidity)
        return nullptr;
    return it->second.file;
}

void storeFile(const std::string& path, std::shared_ptr<const CachedFile> file)
{
    if (files.size() >= kMaxEntries)
        files.clear();
    files[path] = FileEntry{std::move(file), coarseNow()};
}

const PathVerdict* cachedVerdict(const std::string& key)
{
    auto it = verdicts.find(key);
    if (it == verdicts.end() || coarseNow() - it->second.checked >= kCacheValidity)
        return nullptr;
    return &it->second.verdict;
}

const PathVerdict& storeVerdict(const std::string& key, PathVerdict verdict)
{
    if (verdicts.size() >= kMaxEntries)
        verdicts.clear();
    VerdictEntry& e = verdicts[key];
    e = VerdictEntry{std::move(verdict), coarseNow()};
    return e.verdict;
}

} // namespace lido::fs
