#include "fs/Beneath.h"

#include "util/Fd.h"

#include <atomic>
#include <cerrno>
#include <deque>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string_view>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace lido::fs {

SymlinkPolicy parseSymlinkPolicy(const std::string& text)
{
    return text == "Never" ? SymlinkPolicy::Never : text == "Always" ? SymlinkPolicy::Always : SymlinkPolicy::IfOwnerMatch;
}

namespace {

constexpr int kMaxLinks = 40; // as the kernel's own limit

std::vector<std::string_view> components(std::string_view path)
{
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        std::string_view c = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (!c.empty() && c != ".")
            out.push_back(c);
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    return out;
}

// Resolves `path` from `dir` (or from / when absolute) one component at a time, each with
// O_NOFOLLOW; every symbolic link on the way is read through its own descriptor and followed
// only when its owner (or root) owns what it resolves to.
Opened walk(int dir, std::string_view path, int flags, int& links, const std::string& shownFrom)
{
    Fd at(path.starts_with('/') ? ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC) : ::fcntl(dir, F_DUPFD_CLOEXEC, 0));
    if (at.get() < 0)
        return Opened{-1, errno, {}};
    auto parts = components(path);
    std::string shown = path.starts_with('/') ? std::string() : shownFrom;
    if (parts.empty()) {
        int fd = ::openat(at.get(), ".", flags | O_CLOEXEC);
        return Opened{fd, fd < 0 ? errno : 0, {}};
    }
    for (size_t i = 0; i < parts.size(); ++i) {
        bool last = i + 1 == parts.size();
        std::string name(parts[i]);
        shown += "/" + name;
        Fd self(::openat(at.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (self.get() < 0)
            return Opened{-1, errno, {}};
        struct stat st {};
        if (::fstat(self.get(), &st) != 0)
            return Opened{-1, errno, {}};
        if (!S_ISLNK(st.st_mode)) {
            if (last) {
                // Opened again by name for reading: O_NOFOLLOW makes a link put there meanwhile fail.
                int fd = ::openat(at.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
                return Opened{fd, fd < 0 ? errno : 0, {}};
            }
            at = std::move(self);
            continue;
        }
        if (++links > kMaxLinks)
            return Opened{-1, ELOOP, {}};
        char buf[4096];
        ssize_t n = ::readlinkat(self.get(), "", buf, sizeof buf); // this link, not whatever has its name now
        if (n < 0 || n == static_cast<ssize_t>(sizeof buf))
            return Opened{-1, n < 0 ? errno : ENAMETOOLONG, {}};
        std::string target(buf, static_cast<size_t>(n));
        Opened resolved = walk(at.get(), target, last ? flags : O_PATH | O_DIRECTORY, links, shown.substr(0, shown.rfind('/')));
        if (resolved.fd < 0)
            return resolved;
        Fd t(resolved.fd);
        struct stat ts {};
        if (::fstat(t.get(), &ts) != 0)
            return Opened{-1, errno, {}};
        if (st.st_uid != 0 && st.st_uid != ts.st_uid)
            return Opened{-1, EXDEV,
                          "the symbolic link " + shown + " (owner uid " + std::to_string(st.st_uid) + ") points to " + target +
                              " (owner uid " + std::to_string(ts.st_uid) +
                              "); symlinks=\"IfOwnerMatch\" follows a link out of its folder only when the link's owner owns its target"};
        if (last)
            return Opened{t.release(), 0, {}};
        at = std::move(t);
    }
    return Opened{-1, ENOENT, {}};
}

// What openat2's RESOLVE_BENEATH does, for kernels without it (before 5.6, gVisor, valgrind, a
// seccomp profile that refuses it): one component at a time from descriptors already open, each
// with O_NOFOLLOW; a relative link's target is walked on in its place, and an absolute link or a
// ".." above the folder is EXDEV, as the kernel reports it. ".." goes back to the descriptor the
// walk came through, so a folder moved meanwhile does not lead out.
Opened walkBeneath(int rootFd, std::string_view path, int flags)
{
    std::vector<Fd> dirs;
    dirs.emplace_back(::fcntl(rootFd, F_DUPFD_CLOEXEC, 0));
    if (dirs.back().get() < 0)
        return Opened{-1, errno, {}};
    std::deque<std::string> todo;
    for (auto c : components(path))
        todo.emplace_back(c);
    int links = 0;
    // A trailing '/' (of the path, or of the last link's target) asks for a directory, as it does of the kernel.
    bool directory = !path.empty() && path.back() == '/';
    auto here = [&] {
        int fd = ::openat(dirs.back().get(), ".", flags | O_CLOEXEC);
        return Opened{fd, fd < 0 ? errno : 0, {}};
    };
    if (todo.empty())
        return here();
    while (!todo.empty()) {
        std::string name = std::move(todo.front());
        todo.pop_front();
        if (name == "..") {
            if (dirs.size() == 1)
                return Opened{-1, EXDEV, {}};
            dirs.pop_back();
            if (todo.empty())
                return here();
            continue;
        }
        Fd self(::openat(dirs.back().get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
        if (self.get() < 0)
            return Opened{-1, errno, {}};
        struct stat st {};
        if (::fstat(self.get(), &st) != 0)
            return Opened{-1, errno, {}};
        if (S_ISLNK(st.st_mode)) {
            if (++links > kMaxLinks)
                return Opened{-1, ELOOP, {}};
            char buf[4096];
            ssize_t n = ::readlinkat(self.get(), "", buf, sizeof buf);
            if (n <= 0 || n == static_cast<ssize_t>(sizeof buf))
                return Opened{-1, n < 0 ? errno : n == 0 ? ENOENT : ENAMETOOLONG, {}};
            std::string_view target(buf, static_cast<size_t>(n));
            if (target.front() == '/')
                return Opened{-1, EXDEV, {}};
            auto parts = components(target);
            if (todo.empty())
                directory = target.back() == '/';
            for (auto it = parts.rbegin(); it != parts.rend(); ++it)
                todo.emplace_front(*it);
            if (todo.empty())
                return here();
            continue;
        }
        if (todo.empty()) {
            // Opened again by name with the caller's flags: O_NOFOLLOW makes a link put there meanwhile
            // fail (with O_PATH it opens the link itself, so that is looked at).
            Fd fd(::openat(dirs.back().get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | (directory ? O_DIRECTORY : 0)));
            if (fd.get() < 0)
                return Opened{-1, errno, {}};
            struct stat now {};
            if ((flags & O_PATH) && ::fstat(fd.get(), &now) == 0 && S_ISLNK(now.st_mode))
                return Opened{-1, ELOOP, {}};
            return Opened{fd.release(), 0, {}};
        }
        if (!S_ISDIR(st.st_mode))
            return Opened{-1, ENOTDIR, {}};
        dirs.push_back(std::move(self));
    }
    return here();
}

// Whether the kernel has openat2 (it is asked until it answers ENOSYS once).
std::atomic<bool> kernelBeneath{true};

} // namespace

Opened openBeneath(int rootFd, const std::string& relative, SymlinkPolicy policy, int flags)
{
    const char* rel = relative.empty() ? "." : relative.c_str();
    if (policy == SymlinkPolicy::Always) {
        int fd = ::openat(rootFd, rel, flags | O_CLOEXEC);
        return Opened{fd, fd < 0 ? errno : 0, {}};
    }
    open_how how{};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd = -1, err = ENOSYS;
    if (kernelBeneath.load(std::memory_order_relaxed)) {
        fd = static_cast<int>(::syscall(SYS_openat2, rootFd, rel, &how, sizeof how));
        err = fd < 0 ? errno : 0;
        if (err == ENOSYS)
            kernelBeneath.store(false, std::memory_order_relaxed);
    }
    // EPERM as well: Docker's seccomp profile refused openat2 with it before 20.10 (a real EPERM
    // comes back from the walk too).
    if (err == ENOSYS || err == EPERM) {
        Opened walked = walkBeneath(rootFd, relative, flags);
        fd = walked.fd;
        err = walked.error;
    }
    if (fd >= 0)
        return Opened{fd, 0, {}};
    if (err != EXDEV && err != ELOOP)
        return Opened{-1, err, {}};
    if (policy == SymlinkPolicy::Never)
        return Opened{-1, EXDEV, "the path leaves its virtual directory through a symbolic link (symlinks=\"Never\")"};
    int links = 0;
    return walk(rootFd, relative, flags, links, std::string());
}

} // namespace lido::fs
