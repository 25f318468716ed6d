#include "config/AtomicFile.h"

#include "util/Fd.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lido {

namespace {

std::string errorText(int err) { return std::strerror(err); }

} // namespace

Result<void> writeFileAtomically(const std::string& requested, std::string_view content, const AtomicWriteOptions& options)
{
    // Write through a symbolic link to the file it names, so the link survives.
    std::string path = requested;
    char resolved[PATH_MAX];
    if (::realpath(requested.c_str(), resolved))
        path = resolved;
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string tmp = dir + "/." + base + ".tmp-XXXXXX";

    struct stat original {};
    bool exists = ::stat(path.c_str(), &original) == 0;

    Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (fd.get() < 0)
        return fail("cannot save " + requested + ": cannot create a temporary file in " + dir + ": " + errorText(errno) +
                    "; the file is unchanged");
    auto abandon = [&](const std::string& what, int err) {
        ::unlink(tmp.c_str());
        return fail("cannot save " + requested + ": " + what + ": " + errorText(err) + "; the file is unchanged");
    };
    const char* p = content.data();
    size_t left = content.size();
    while (left > 0) {
        ssize_t n = ::write(fd.get(), p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return abandon("writing the new version failed", errno);
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    mode_t mode = exists ? (original.st_mode & 07777) : 0644;
    if (::fchmod(fd.get(), mode) != 0)
        return abandon("cannot set its mode", errno);
    if (exists && (original.st_uid != ::geteuid() || original.st_gid != ::getegid()) &&
        ::fchown(fd.get(), original.st_uid, original.st_gid) != 0 && errno != EPERM)
        return abandon("cannot keep its owner", errno);
    if (::fsync(fd.get()) != 0)
        return abandon("syncing the new version failed", errno);
    if (::close(fd.release()) != 0)
        return abandon("closing the new version failed", errno);
    if (options.beforeRename)
        options.beforeRename();
    if (::rename(tmp.c_str(), path.c_str()) != 0)
        return abandon("replacing the file failed", errno);
    // The rename is durable only once the folder is synced.
    Fd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dirFd.get() >= 0)
        ::fsync(dirFd.get());
    return {};
}

Result<std::string> readWholeFile(const std::string& path)
{
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
        return fail(path + ": cannot read: " + errorText(errno));
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(path + ": cannot read: " + errorText(errno));
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

} // namespace lido
