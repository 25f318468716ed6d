#include "config/ConfigHistory.h"

#include "config/ConfigDocument.h"
#include "config/Values.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

namespace lido::config {

namespace {

constexpr const char* kPrefix = "cfghistory_";

std::string dirOf(const std::string& path)
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

std::string baseOf(const std::string& path)
{
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

ConfigHistory::ConfigHistory(std::string configPath, std::string folder, int maxEntries)
    : configPath_(std::move(configPath)), folder_(std::move(folder)), maxEntries_(std::max(1, maxEntries))
{
    if (folder_.empty())
        folder_ = dirOf(configPath_) + "/." + baseOf(configPath_) + ".history";
}

std::vector<HistoryEntry> ConfigHistory::list() const
{
    std::vector<HistoryEntry> out;
    DIR* d = ::opendir(folder_.c_str());
    if (!d)
        return out;
    while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name.rfind(kPrefix, 0) != 0)
            continue;
        int id = 0;
        long long when = 0;
        if (std::sscanf(name.c_str() + std::strlen(kPrefix), "%10d_%lld", &id, &when) != 2)
            continue;
        HistoryEntry h;
        h.id = id;
        h.file = folder_ + "/" + name;
        h.time = static_cast<std::time_t>(when);
        struct stat st {};
        if (::stat(h.file.c_str(), &st) == 0)
            h.size = static_cast<uint64_t>(st.st_size);
        out.push_back(h);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end(), [](const HistoryEntry& a, const HistoryEntry& b) { return a.id > b.id; });
    return out;
}

Result<std::string> ConfigHistory::read(int id) const
{
    for (const HistoryEntry& h : list())
        if (h.id == id)
            return readWholeFile(h.file);
    return fail("no history entry " + std::to_string(id) + " in " + folder_);
}

Result<void> ConfigHistory::keep(std::string_view content, std::time_t when)
{
    if (::mkdir(folder_.c_str(), 0700) != 0 && errno != EEXIST)
        return fail("cannot create the history folder " + folder_ + ": " + std::strerror(errno));
    auto entries = list();
    int next = entries.empty() ? 1 : entries.front().id + 1;
    char name[96];
    std::snprintf(name, sizeof name, "%s%010d_%lld.config", kPrefix, next, static_cast<long long>(when));
    if (auto r = writeFileAtomically(folder_ + "/" + name, content); !r)
        return fail("cannot keep the previous version in the history: " + r.error());
    entries = list();
    for (size_t i = static_cast<size_t>(maxEntries_); i < entries.size(); ++i)
        ::unlink(entries[i].file.c_str());
    return {};
}

ConfigHistory historyFor(const std::string& configPath, const Config* config)
{
    std::string folder;
    int max = 10;
    if (config) {
        if (const ConfigElement* h = config->section("configHistory")) {
            std::string p = expandEnvironment(h->get("path"));
            if (!p.empty() && !looksLikeWindowsPath(p))
                folder = p;
            if (auto n = parseUInt(h->get("maxHistories")))
                max = static_cast<int>(std::min<uint64_t>(*n, 1000));
        }
    }
    return ConfigHistory(configPath, folder, max);
}

static std::string listErrors(const Config& config)
{
    std::string out;
    int shown = 0;
    for (const Diagnostic& d : config.diagnostics()) {
        if (d.severity != Diagnostic::Severity::Error)
            continue;
        if (++shown > 20) {
            out += "\n  ... and " + std::to_string(config.errorCount() - 20) + " more";
            break;
        }
        out += "\n  " + d.str();
    }
    return out;
}

Result<void> saveConfig(const std::string& path, const ConfigDocument& doc, const SaveOptions& options)
{
    auto config = Config::fromDocument(doc, options.validate);
    if (!config->valid())
        return fail("refused: the configuration does not validate; " + path + " is unchanged:" + listErrors(*config));
    // Lido's writers take turns (an exclusive lock on a file beside the configuration), so the
    // compare-and-swap below compares with what is really there when the rename happens.
    auto slash = path.rfind('/');
    std::string lockPath = slash == std::string::npos ? "." + path + ".lock" : path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".lock";
    int lockFd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockFd >= 0)
        ::flock(lockFd, LOCK_EX);
    struct Unlock {
        int fd;
        ~Unlock()
        {
            if (fd >= 0)
                ::close(fd); // releases the lock
        }
    } unlock{lockFd};
    auto current = readWholeFile(path);
    if (options.expectedOnDisk && (!current || *current != *options.expectedOnDisk))
        return fail("refused: " + path + " was changed by someone else since it was loaded; reload it and edit again");
    if (current && *current == doc.text())
        return {};
    bool keepHistory = true;
    if (const ConfigElement* h = config->section("configHistory"))
        keepHistory = parseBool(h->get("enabled")).value_or(true);
    if (current && keepHistory) {
        struct stat st {};
        std::time_t when = ::stat(path.c_str(), &st) == 0 ? st.st_mtime : std::time(nullptr);
        if (auto r = historyFor(path, config.get()).keep(*current, when); !r)
            return fail(r.error() + "; " + path + " is unchanged");
    }
    return writeFileAtomically(path, doc.text(), options.write);
}

Result<void> restoreConfig(const std::string& path, int id, const SaveOptions& options)
{
    auto currentDoc = ConfigDocument::load(path);
    std::shared_ptr<const Config> current = currentDoc ? Config::fromDocument(*currentDoc, options.validate) : nullptr;
    auto text = historyFor(path, current.get()).read(id);
    if (!text)
        return fail(text.error());
    auto doc = ConfigDocument::parse(std::move(text).value(), path);
    if (!doc)
        return fail("history entry " + std::to_string(id) + " is not usable: " + doc.error());
    return saveConfig(path, *doc, options);
}

} // namespace lido::config
