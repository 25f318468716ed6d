#include "engine/ConfigReloader.h"

#include "config/ConfigDocument.h"
#include "engine/Engine.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::engine {

namespace {

bool sameFile(const struct stat& a, const struct stat& b)
{
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
           a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

} // namespace

Result<std::shared_ptr<const config::Config>> loadConsistent(const std::string& path, const config::ValidateOptions& options)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(path + ": " + std::strerror(errno));
    struct stat before {}, after {};
    std::string text;
    bool ok = ::fstat(fd, &before) == 0;
    if (ok) {
        text.resize(static_cast<size_t>(before.st_size));
        size_t got = 0;
        while (got < text.size()) {
            ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += static_cast<size_t>(n);
        }
        text.resize(got);
        char probe;
        ok = ::fstat(fd, &after) == 0 && ::pread(fd, &probe, 1, static_cast<off_t>(got)) == 0; // nothing beyond what was read
    }
    ::close(fd);
    if (!ok || !sameFile(before, after) || text.size() != static_cast<size_t>(before.st_size))
        return fail(path + ": the file changed while it was read (a writer is at work); not applied");
    // A file renamed over this one meanwhile was complete in itself (and its rename is the next event).
    auto doc = config::ConfigDocument::parse(std::move(text), path);
    if (!doc)
        return fail(doc.error());
    std::string owned = doc->takeText();
    return config::Config::fromDocument(*doc, options, std::move(owned));
}

ConfigReloader::ConfigReloader(Engine& engine, std::string path, std::chrono::milliseconds debounce)
    : engine_(engine), path_(std::move(path)), watch_(path_), debounce_(debounce)
{
    if (auto running = engine_.config())
        lastHash_ = std::hash<std::string>{}(running->text());
}

ConfigReloader::~ConfigReloader()
{
    if (wake_ >= 0) {
        uint64_t one = 1;
        (void)!::write(wake_, &one, sizeof one);
    }
    if (thread_.joinable())
        thread_.join();
    if (wake_ >= 0)
        ::close(wake_);
}

Result<void> ConfigReloader::watch()
{
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0)
        return fail(std::string("eventfd: ") + std::strerror(errno));
    if (auto w = watch_.start(); !w)
        return w;
    thread_ = std::thread([this] { run(); });
    return {};
}

void ConfigReloader::run()
{
    bool pending = false;
    for (;;) {
        pollfd fds[2] = {{watch_.fd(), POLLIN, 0}, {wake_, POLLIN, 0}};
        // Debounce: once the file changed, wait until it has been quiet for a moment.
        int n = ::poll(fds, 2, pending ? static_cast<int>(debounce_.count()) : -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (fds[1].revents)
            return;
        if (n == 0) {
            pending = false;
            (void)reload("the file changed");
            continue;
        }
        if (watch_.readEvents())
            pending = true;
    }
}

Result<std::string> ConfigReloader::reload(const std::string& why)
{
    std::lock_guard lock(mutex_);
    auto events = engine_.events();
    auto config = loadConsistent(path_);
    if (!config) {
        ++rejected_;
        events->add(log::Severity::Error, "engine", "config.rejected", "configuration not applied (" + why + "): " + config.error() +
                                                                            "; the running configuration stays");
        return fail(config.error());
    }
    size_t hash = std::hash<std::string>{}((*config)->text());
    if (hash == lastHash_)
        return std::string("no changes");
    if (!(*config)->valid()) {
        ++rejected_;
        std::string first;
        int shown = 0;
        for (const config::Diagnostic& d : (*config)->diagnostics())
            if (d.severity == config::Diagnostic::Severity::Error && shown++ < 3)
                first += (first.empty() ? "" : "; ") + d.str();
        int errors = (*config)->errorCount();
        std::string message = first + (errors > 3 ? " (and " + std::to_string(errors - 3) + " more)" : "");
        events->add(log::Severity::Error, "engine", "config.rejected",
                    "configuration not applied (" + why + "): " + message + "; the running configuration stays");
        return fail(message);
    }
    auto result = engine_.apply(*config);
    if (!result) {
        ++rejected_;
        return result;
    }
    lastHash_ = hash;
    ++applied_;
    return result;
}

} // namespace lido::engine
