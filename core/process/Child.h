#pragma once
// A spawned program watched in the event loop, for CGI requests and FastCGI instances alike: its
// exit (pidfd), the last 4 KiB of its stderr, and terminate(grace): SIGTERM to its process group,
// SIGKILL when the grace runs out (or at once with no grace). The exit is told once, after the
// last of stderr has been read (or 300 ms after the exit at most), so a crash report has both.
#include "process/Spawn.h"

#include <asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace lido::process {

class Child : public std::enable_shared_from_this<Child> {
public:
    static constexpr size_t kStderrTail = 4096;
    struct Watch {
        std::function<void(std::string_view)> stderrData; // optional: each chunk as it arrives
        std::function<void(int waitStatus)> exited;      // once
    };

    // Spawns with a stderr pipe of its own (options.stderrFd is set here). The caller closes the
    // other descriptors it passed. Null, with the error, when the program could not be started.
    static std::shared_ptr<Child> spawn(const asio::any_io_executor& executor, SpawnOptions options, SpawnError* error);
    // The same on a spawning thread of the executor's context (two per context, made when first
    // asked), so that the event loop serves on while vfork waits for the program's exec; `done`
    // runs on the executor with the child (null and the error when it could not be started).
    // The threads go with the context, before its handlers: a child's parent-death signal is
    // tied to the thread that started it, as it was to the event loop's.
    using Spawned = std::function<void(std::shared_ptr<Child>, SpawnError)>;
    static void spawnAsync(const asio::any_io_executor& executor, SpawnOptions options, Spawned done);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    // Starts reading stderr and waiting for the exit. The callbacks live in the pending handlers
    // only (not in the Child), so an owner they capture is freed with the event loop even when
    // the program never exits.
    void watch(Watch w);
    pid_t pid() const { return pid_; }
    bool exited() const { return exited_; }
    int status() const { return status_; }
    std::chrono::milliseconds ranFor() const;
    const std::string& stderrTail() const { return tail_; }
    std::string stderrQuoted() const; // stderr: "last lines" (trailing newlines dropped), empty when none
    // SIGTERM, then SIGKILL after grace (escalated runs then); grace 0: SIGKILL now. Once.
    void terminate(std::chrono::milliseconds grace, std::function<void()> escalated = {});
    void kill(); // SIGKILL now
    const std::string& signalsSent() const { return signals_; } // "SIGTERM", "SIGTERM and SIGKILL", "SIGKILL"

private:
    struct Io;
    explicit Child(const asio::any_io_executor& executor);
    void readStderr(const std::shared_ptr<Watch>& w);
    void reaped(const std::shared_ptr<Watch>& w);
    void tell(const std::shared_ptr<Watch>& w);
    std::unique_ptr<Io> io_;
    pid_t pid_ = -1;
    int status_ = 0;
    bool exited_ = false, stderrEof_ = false, told_ = false, terminating_ = false;
    std::chrono::steady_clock::time_point startedAt_, endedAt_;
    std::string tail_;
    std::string signals_;
};

} // namespace lido::process
