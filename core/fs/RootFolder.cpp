#include "fs/RootFolder.h"

#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::fs {

namespace {

std::shared_ptr<const FolderHandle> openFolder(const std::string& path)
{
    auto h = std::make_shared<FolderHandle>();
    h->fd = Fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (h->fd.get() >= 0 && ::fstat(h->fd.get(), &st) == 0) {
        h->dev = st.st_dev;
        h->ino = st.st_ino;
    }
    return h;
}

int64_t nowMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr int64_t kRecheckMs = 1000;

} // namespace

RootFolder::RootFolder(std::string path) : path_(std::move(path)), handle_(openFolder(path_)), nextCheck_(nowMs() + kRecheckMs) {}

std::shared_ptr<const FolderHandle> RootFolder::current() const
{
    int64_t now = nowMs();
    int64_t due = nextCheck_.load(std::memory_order_relaxed);
    // One thread a second looks the path up again; the others take the handle as it is.
    if (now >= due && nextCheck_.compare_exchange_strong(due, now + kRecheckMs, std::memory_order_relaxed)) {
        std::shared_ptr<const FolderHandle> held = handle_.load();
        struct stat st {};
        bool exists = ::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        if (exists != (held->fd.get() >= 0) || (exists && (st.st_dev != held->dev || st.st_ino != held->ino)))
            handle_.store(openFolder(path_));
    }
    return handle_.load();
}

} // namespace lido::fs
