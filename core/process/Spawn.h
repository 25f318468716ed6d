#pragma once
// Starting programs robustly: clone (CLONE_VM | CLONE_VFORK, as posix_spawn does) + exec, with
// identity (setgroups/setresgid/setresuid), rlimits, working directory, its own process group,
// PR_SET_PDEATHSIG, and a pidfd (CLONE_PIDFD) for reaping in the event loop (no SIGCHLD handler,
// no races). Failures before the exec come back as errno values and the step that failed.
#include "util/Result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lido::process {

struct Identity {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    bool operator==(const Identity&) const = default;
};

// Looks a user up (name or number) and its groups, in the parent (NSS is not safe after vfork).
Result<Identity> resolveIdentity(const std::string& user);

struct Limits {
    uint64_t addressSpaceBytes = 0; // RLIMIT_AS, 0 = unchanged
    uint64_t cpuSeconds = 0;        // RLIMIT_CPU
    uint64_t openFiles = 0;         // RLIMIT_NOFILE
    uint64_t processes = 0;         // RLIMIT_NPROC
    bool operator==(const Limits&) const = default;
};

struct SpawnOptions {
    std::string program;
    std::vector<std::string> argv; // argv[0] included
    std::vector<std::string> env;  // NAME=value
    std::string workingDirectory;
    std::optional<Identity> identity; // switch to it (only when util::canSwitchIdentity())
    Limits limits;
    // SCHED_BATCH: waking the program (a request written to it) does not preempt the thread that
    // woke it, so an event loop finishes its round first; the program still gets its fair share.
    bool batchScheduling = false;
    int stdinFd = -1; // child's ends; -1 = /dev/null
    int stdoutFd = -1;
    int stderrFd = -1;
};

struct Spawned {
    pid_t pid = -1;
    int pidfd = -1; // readable when the process exits
};

struct SpawnError {
    int err = 0;          // errno
    std::string message;  // "exec /x: No such file or directory"
};

// Returns the process, or the errno of fork/exec and a sentence.
std::optional<Spawned> spawn(const SpawnOptions& options, SpawnError* error);

// Reaps a process whose pidfd became readable. Returns the wait status.
int reap(pid_t pid);

// "exit status 3", "signal 9 (SIGKILL)".
std::string describeStatus(int waitStatus);
const char* signalName(int sig);

// Kills the whole process group (the child leads its own).
void signalGroup(pid_t pid, int sig);

} // namespace lido::process
