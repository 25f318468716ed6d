#include "util/PathWatch.h"

#include <cerrno>
#include <cstring>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::util {

namespace {

std::pair<std::string, std::string> splitLast(const std::string& path)
{
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return {".", path};
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

} // namespace

std::vector<std::pair<std::string, std::string>> linkChain(const std::string& start)
{
    std::vector<std::pair<std::string, std::string>> out;
    std::string path = start;
    if (path.empty() || path[0] != '/') {
        char cwd[4096];
        if (::getcwd(cwd, sizeof cwd))
            path = std::string(cwd) + "/" + path;
    }
    for (int links = 0; links < 40; ++links) {
        // The first component from the left that is a link is replaced by its target.
        bool replaced = false;
        for (size_t at = 1; at <= path.size() && !replaced; ++at) {
            if (at != path.size() && path[at] != '/')
                continue;
            std::string prefix = path.substr(0, at);
            struct stat st {};
            if (::lstat(prefix.c_str(), &st) != 0 || !S_ISLNK(st.st_mode))
                continue;
            char target[4096];
            ssize_t n = ::readlink(prefix.c_str(), target, sizeof target - 1);
            if (n <= 0)
                break;
            target[n] = '\0';
            auto [folder, name] = splitLast(prefix);
            out.emplace_back(folder, name);
            path = (target[0] == '/' ? std::string(target) : folder + (folder == "/" ? "" : "/") + target) + path.substr(at);
            replaced = true;
        }
        if (!replaced)
            break;
    }
    out.push_back(splitLast(path));
    return out;
}

PathWatch::PathWatch(std::string path) : path_(std::move(path)) {}

PathWatch::~PathWatch()
{
    if (fd_ >= 0)
        ::close(fd_);
}

Result<void> PathWatch::start()
{
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0)
        return fail(std::string("inotify: ") + std::strerror(errno));
    rewatch();
    std::string own = linkChain(path_).front().first;
    if (!folders_.count(own))
        return fail("cannot watch " + own + ": " + std::strerror(errno));
    return {};
}

void PathWatch::rewatch()
{
    // A link is replaced by a rename over it (IN_MOVED_TO) or by unlink and symlink (IN_CREATE);
    // a file also by a write in place.
    constexpr uint32_t mask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_ATTRIB | IN_DELETE;
    std::map<std::string, std::set<std::string>> wanted;
    for (const auto& [folder, name] : linkChain(path_)) {
        wanted[folder].insert(name);
        // A folder that is not there, such as a link between `ln -sfn`'s unlink and its symlink,
        // is waited for from the nearest folder that is: otherwise its coming back goes unseen
        // and every later change with it.
        std::string missing = folder;
        struct stat st {};
        while (missing != "/" && ::stat(missing.c_str(), &st) != 0) {
            auto [up, base] = splitLast(missing);
            wanted[up].insert(base);
            missing = up;
        }
    }
    for (auto it = folders_.begin(); it != folders_.end();) {
        if (!wanted.count(it->first)) { // an old release, no longer on the way
            ::inotify_rm_watch(fd_, it->second);
            names_.erase(it->second);
            it = folders_.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [folder, names] : wanted) {
        int wd = ::inotify_add_watch(fd_, folder.c_str(), mask); // a folder already watched keeps its wd
        if (wd < 0)
            continue; // gone meanwhile; the change that removed it is the next event
        folders_[folder] = wd;
        names_[wd] = names;
    }
}

bool PathWatch::concerns(const char* events, size_t length)
{
    bool hit = false;
    for (size_t at = 0; at + sizeof(inotify_event) <= length;) {
        const auto* e = reinterpret_cast<const inotify_event*>(events + at);
        if (e->mask & IN_IGNORED) { // its folder went away
            names_.erase(e->wd);
            for (auto it = folders_.begin(); it != folders_.end(); ++it)
                if (it->second == e->wd) {
                    folders_.erase(it);
                    break;
                }
        } else if (auto w = names_.find(e->wd); e->len > 0 && w != names_.end() && w->second.count(e->name)) {
            hit = true;
        }
        at += sizeof(inotify_event) + e->len;
    }
    if (hit)
        rewatch();
    return hit;
}

bool PathWatch::readEvents()
{
    alignas(inotify_event) char buf[8192];
    bool hit = false;
    for (;;) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0)
            return hit;
        hit = concerns(buf, static_cast<size_t>(n)) || hit;
    }
}

} // namespace lido::util
