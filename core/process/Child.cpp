#include "process/Child.h"

#include <asio/execution_context.hpp>
#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace lido::process {

struct Child::Io {
    explicit Io(const asio::any_io_executor& e) : pidfd(e), stderrPipe(e), killTimer(e), lastWords(e) {}
    asio::posix::stream_descriptor pidfd, stderrPipe;
    asio::steady_timer killTimer, lastWords;
    std::array<char, 4096> buf{};
};

Child::Child(const asio::any_io_executor& executor) : io_(std::make_unique<Io>(executor)) {}

Child::~Child() = default;

std::shared_ptr<Child> Child::spawn(const asio::any_io_executor& executor, SpawnOptions options, SpawnError* error)
{
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) {
        if (error)
            *error = SpawnError{errno, std::string("pipe: ") + std::strerror(errno)};
        return nullptr;
    }
    options.stderrFd = err[1];
    std::shared_ptr<Child> child(new Child(executor));
    child->startedAt_ = std::chrono::steady_clock::now();
    auto spawned = process::spawn(options, error);
    ::close(err[1]);
    if (!spawned) {
        ::close(err[0]);
        return nullptr;
    }
    child->pid_ = spawned->pid;
    child->io_->stderrPipe.assign(err[0]);
    if (spawned->pidfd >= 0)
        child->io_->pidfd.assign(spawned->pidfd);
    return child;
}

namespace {

// The spawning threads of one execution context (an Asio service, so that they are joined when
// the context shuts down, before its scheduler and reactor go).
class SpawnService : public asio::execution_context::service {
public:
    using key_type = SpawnService;
    static inline asio::execution_context::id id;
    explicit SpawnService(asio::execution_context& context) : service(context), threads_(std::make_unique<asio::thread_pool>(2)) {}
    asio::thread_pool& threads() { return *threads_; }

private:
    void shutdown() override
    {
        // Spawns not begun are dropped with their callbacks (the context no longer runs them);
        // one under way finishes and posts its answer, which the context then destroys. (A context
        // may be shut down twice: an engine destroys its handlers before its contexts.)
        if (!threads_)
            return;
        threads_->stop();
        threads_->join();
        threads_.reset();
    }
    std::unique_ptr<asio::thread_pool> threads_;
};

} // namespace

void Child::spawnAsync(const asio::any_io_executor& executor, SpawnOptions options, Spawned done)
{
    asio::execution_context& context = asio::query(executor, asio::execution::context);
    if (!asio::has_service<SpawnService>(context))
        // The reactor first, so that it is shut down after the spawning threads are joined (a
        // context shuts its services down newest first): a spawn under way still registers its
        // pipes with it.
        asio::steady_timer reactorFirst(executor);
    auto& service = asio::use_service<SpawnService>(context);
    asio::post(service.threads(), [executor, options = std::move(options), done = std::move(done)]() mutable {
        SpawnError error;
        auto child = spawn(executor, std::move(options), &error);
        asio::post(executor, [done = std::move(done), child = std::move(child), error = std::move(error)]() mutable {
            done(std::move(child), std::move(error));
        });
    });
}

void Child::watch(Watch w)
{
    auto pending = std::make_shared<Watch>(std::move(w));
    readStderr(pending);
    if (io_->pidfd.is_open())
        io_->pidfd.async_wait(asio::posix::stream_descriptor::wait_read, [self = shared_from_this(), pending](const asio::error_code& ec) {
            if (!ec)
                self->reaped(pending);
        });
}

std::chrono::milliseconds Child::ranFor() const
{
    auto end = exited_ ? endedAt_ : std::chrono::steady_clock::now();
    return std::chrono::duration_cast<std::chrono::milliseconds>(end - startedAt_);
}

void Child::readStderr(const std::shared_ptr<Watch>& w)
{
    io_->stderrPipe.async_read_some(asio::buffer(io_->buf), [self = shared_from_this(), w](const asio::error_code& ec, size_t n) {
        if (ec) {
            self->stderrEof_ = true;
            if (self->exited_)
                self->tell(w);
            return;
        }
        std::string_view chunk(self->io_->buf.data(), n);
        self->tail_.append(chunk);
        if (self->tail_.size() > kStderrTail)
            self->tail_.erase(0, self->tail_.size() - kStderrTail);
        if (w->stderrData)
            w->stderrData(chunk);
        self->readStderr(w);
    });
}

void Child::reaped(const std::shared_ptr<Watch>& w)
{
    status_ = process::reap(pid_);
    exited_ = true;
    endedAt_ = std::chrono::steady_clock::now();
    io_->killTimer.cancel();
    asio::error_code ignored;
    io_->pidfd.close(ignored);
    if (stderrEof_)
        return tell(w);
    // A grandchild may hold stderr open: the exit is told 300 ms later with what came by then.
    io_->lastWords.expires_after(std::chrono::milliseconds(300));
    io_->lastWords.async_wait([self = shared_from_this(), w](const asio::error_code&) { self->tell(w); });
}

void Child::tell(const std::shared_ptr<Watch>& w)
{
    if (told_)
        return;
    told_ = true;
    io_->lastWords.cancel();
    if (!stderrEof_ && io_->stderrPipe.is_open()) {
        // What is in the pipe now is read before the report.
        int fd = io_->stderrPipe.native_handle();
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        char chunk[4096];
        ssize_t n;
        while ((n = ::read(fd, chunk, sizeof chunk)) > 0) {
            tail_.append(chunk, static_cast<size_t>(n));
            if (w->stderrData)
                w->stderrData(std::string_view(chunk, static_cast<size_t>(n)));
        }
        if (tail_.size() > kStderrTail)
            tail_.erase(0, tail_.size() - kStderrTail);
        asio::error_code ignored;
        io_->stderrPipe.close(ignored);
    }
    // The callbacks go once told: they hold the owner, which must not outlive the process.
    auto exited = std::move(w->exited);
    *w = {};
    if (exited)
        exited(status_);
}

std::string Child::stderrQuoted() const
{
    std::string t = tail_;
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r'))
        t.pop_back();
    return t.empty() ? std::string() : "stderr: \"" + t + "\"";
}

void Child::terminate(std::chrono::milliseconds grace, std::function<void()> escalated)
{
    if (exited_ || terminating_ || pid_ <= 0)
        return;
    terminating_ = true;
    if (grace.count() <= 0) {
        signals_ = "SIGKILL";
        signalGroup(pid_, SIGKILL);
        return;
    }
    signals_ = "SIGTERM";
    signalGroup(pid_, SIGTERM);
    io_->killTimer.expires_after(grace);
    io_->killTimer.async_wait([self = shared_from_this(), escalated = std::move(escalated)](const asio::error_code& ec) {
        if (ec || self->exited_)
            return;
        self->signals_ = "SIGTERM and SIGKILL";
        signalGroup(self->pid_, SIGKILL);
        if (escalated)
            escalated();
    });
}

void Child::kill()
{
    if (exited_ || pid_ <= 0)
        return;
    terminating_ = true;
    signals_ = signals_.empty() ? "SIGKILL" : signals_ == "SIGTERM" ? "SIGTERM and SIGKILL" : signals_;
    signalGroup(pid_, SIGKILL);
}

} // namespace lido::process
