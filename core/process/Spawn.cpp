#include "process/Spawn.h"

#include "util/Privileges.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

// glibc's clone under its exported name: a sanitizer that intercepts clone() treats it as a
// fork and would reset the engine's own state from the child, which shares its memory. (Weak: a
// C library without the name gets clone() itself.)
extern "C" int __clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) __attribute__((weak));

namespace lido::process {

Result<Identity> resolveIdentity(const std::string& user)
{
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc = 0;
    bool numeric = !user.empty() && user.find_first_not_of("0123456789") == std::string::npos;
    if (numeric)
        rc = ::getpwuid_r(static_cast<uid_t>(std::stoul(user)), &pw, buf.data(), buf.size(), &found);
    else
        rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || !found)
        return fail("user '" + user + "' does not exist");
    Identity id;
    id.name = pw.pw_name;
    id.uid = pw.pw_uid;
    id.gid = pw.pw_gid;
    int n = 64;
    id.groups.resize(static_cast<size_t>(n));
    while (::getgrouplist(pw.pw_name, pw.pw_gid, id.groups.data(), &n) < 0)
        id.groups.resize(static_cast<size_t>(n));
    id.groups.resize(static_cast<size_t>(n));
    return id;
}

namespace {

enum Step { StepNone = -1, StepDup, StepLimits, StepGroups, StepGid, StepUid, StepChdir, StepExec };

// One /dev/null for every program started without a stdin, stdout or stderr of its own.
int devNull()
{
    static const int fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    return fd;
}

const char* stepName(int step)
{
    switch (step) {
    case StepDup: return "redirecting stdin/stdout/stderr";
    case StepLimits: return "setting limits";
    case StepGroups: return "setgroups";
    case StepGid: return "setresgid";
    case StepUid: return "setresuid";
    case StepChdir: return "chdir to the working directory";
    default: return "exec";
    }
}

// Everything the child needs, prepared before the clone as plain values: the child shares the
// engine's memory until it execs, so it reads only this and makes bare system calls (no libc
// wrapper, no sanitizer interceptor touches the engine's state from it). A step that fails is
// written here, where the parent reads it once the clone returns: no pipe per program.
struct ChildPlan {
    const char* program;
    char** argv;
    char** envp;
    const char* workingDirectory; // nullptr = unchanged
    uint64_t limits[4];            // RLIMIT_AS, _CPU, _NOFILE, _NPROC; 0 = unchanged
    bool batchScheduling;
    bool switchUser;
    uid_t uid;
    gid_t gid;
    const gid_t* groups;
    size_t groupCount;
    int fds[3];
    pid_t parent;
    volatile int failedErrno = 0;
    volatile int failedStep = StepNone;
};

// No sanitizer instrumentation in the child's code (clang would still enter and leave ThreadSanitizer's
// function frames, on the parent thread's state, for functions that never return).
#if defined(__clang__)
#define LIDO_CHILD_CODE __attribute__((noinline, disable_sanitizer_instrumentation))
#else
#define LIDO_CHILD_CODE __attribute__((noinline, no_sanitize("address", "thread", "undefined")))
#endif

// The bare call, -errno on failure. (syscall() also sets errno, the parent thread's own: that
// thread waits until the exec, and reads errno only when no child ran.)
LIDO_CHILD_CODE long sys(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0)
{
    long r = ::syscall(n, a, b, c, d, e);
    return r == -1 ? -errno : r;
}

[[noreturn]] LIDO_CHILD_CODE void childFail(ChildPlan* plan, long negErr, int step)
{
    plan->failedErrno = static_cast<int>(-negErr);
    plan->failedStep = step;
    for (;;)
        ::syscall(SYS_exit_group, 127);
}

// The child's whole life before exec, on a stack of its own inside the parent's frame (the parent
// waits, CLONE_VFORK).
LIDO_CHILD_CODE int runChild(void* arg)
{
    auto* plan = static_cast<ChildPlan*>(arg);
    // Default signal dispositions (the engine ignores SIGPIPE), own process group. The kernel's
    // sigaction with every field zero is SIG_DFL, no flags, an empty mask on every architecture.
    const unsigned long dfl[4] = {0, 0, 0, 0};
    for (long s = 1; s < 65; ++s)
        if (s != SIGKILL && s != SIGSTOP)
            sys(SYS_rt_sigaction, s, reinterpret_cast<long>(dfl), 0, 8);
    sys(SYS_setpgid, 0, 0);
    // onto 0..2; the originals may sit in 0..2 themselves, so move those up first.
    int fds[3] = {plan->fds[0], plan->fds[1], plan->fds[2]};
    for (int i = 0; i < 3; ++i)
        if (fds[i] >= 0 && fds[i] < 3) {
            long moved = sys(SYS_fcntl, fds[i], F_DUPFD, 3);
            if (moved < 0)
                childFail(plan, moved, StepDup);
            fds[i] = static_cast<int>(moved);
        }
    for (int i = 0; i < 3; ++i)
        if (long r = sys(SYS_dup3, fds[i], i, 0); r < 0)
            childFail(plan, r, StepDup);
    const int resources[4] = {RLIMIT_AS, RLIMIT_CPU, RLIMIT_NOFILE, RLIMIT_NPROC};
    for (int i = 0; i < 4; ++i)
        if (plan->limits[i] != 0) {
            rlimit rl{static_cast<rlim_t>(plan->limits[i]), static_cast<rlim_t>(plan->limits[i])};
            sys(SYS_prlimit64, 0, resources[i], reinterpret_cast<long>(&rl), 0);
        }
    if (plan->batchScheduling) {
        sched_param none{}; // (SCHED_BATCH needs no privilege)
        sys(SYS_sched_setscheduler, 0, SCHED_BATCH, reinterpret_cast<long>(&none));
    }
    if (plan->switchUser) {
        // The system calls themselves: glibc's wrappers would ask every thread of the engine to
        // change too (its setxid broadcast), and this child is one task of its own.
        if (long r = sys(SYS_setgroups, static_cast<long>(plan->groupCount), reinterpret_cast<long>(plan->groups)); r < 0)
            childFail(plan, r, StepGroups);
        if (long r = sys(SYS_setresgid, plan->gid, plan->gid, plan->gid); r < 0)
            childFail(plan, r, StepGid);
        if (long r = sys(SYS_setresuid, plan->uid, plan->uid, plan->uid); r < 0)
            childFail(plan, r, StepUid);
    }
    // No capability of the engine's reaches the program: the ambient set is what would survive
    // execve for a non-root user (a service with AmbientCapabilities=).
    sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (sys(SYS_geteuid) != 0) {
        // And none left to inherit through a program's file capabilities (the inheritable set).
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3]{};
        sys(SYS_capset, reinterpret_cast<long>(&header), reinterpret_cast<long>(none));
    }
    // After the identity switch: changing credentials clears the parent-death signal (measured:
    // a www-data CGI program outlived a SIGKILLed lidod when this came first).
    sys(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
    if (sys(SYS_getppid) != plan->parent)
        for (;;)
            ::syscall(SYS_exit_group, 127); // the engine died before the signal was armed
    if (plan->workingDirectory)
        if (long r = sys(SYS_chdir, reinterpret_cast<long>(plan->workingDirectory)); r < 0)
            childFail(plan, r, StepChdir);
    // Close every other descriptor (sockets of other clients, pipes of other children).
    sys(SYS_close_range, 3, ~0u, 0);
    const unsigned long none = 0;
    sys(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, 8);
    long r = sys(SYS_execve, reinterpret_cast<long>(plan->program), reinterpret_cast<long>(plan->argv), reinterpret_cast<long>(plan->envp));
    childFail(plan, r, StepExec);
}

} // namespace

std::optional<Spawned> spawn(const SpawnOptions& o, SpawnError* error)
{
    std::vector<char*> argv, envp;
    for (const auto& a : o.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : o.env)
        envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    int devnull = devNull();
    bool switchUser = o.identity.has_value() && util::canSwitchIdentity();
    ChildPlan plan{o.program.c_str(),
                   argv.data(),
                   envp.data(),
                   o.workingDirectory.empty() ? nullptr : o.workingDirectory.c_str(),
                   {o.limits.addressSpaceBytes, o.limits.cpuSeconds, o.limits.openFiles, o.limits.processes},
                   o.batchScheduling,
                   switchUser,
                   switchUser ? o.identity->uid : 0,
                   switchUser ? o.identity->gid : 0,
                   switchUser ? o.identity->groups.data() : nullptr,
                   switchUser ? o.identity->groups.size() : 0,
                   {o.stdinFd >= 0 ? o.stdinFd : devnull, o.stdoutFd >= 0 ? o.stdoutFd : devnull, o.stderrFd >= 0 ? o.stderrFd : devnull},
                   ::getpid()};

    // The child runs on this stack until it execs; the parent waits for that (CLONE_VFORK), as
    // glibc's posix_spawn does. CLONE_PIDFD hands back the descriptor that tells of the exit.
    alignas(64) char childStack[32 * 1024];
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); // no handler may run in the child before exec
    int pidfd = -1;
    auto* cloneCall = &__clone != nullptr ? &__clone : &::clone;
    static std::atomic<bool> withPidfd{true}; // gVisor refuses CLONE_PIDFD with EINVAL
    bool asked = withPidfd.load(std::memory_order_relaxed);
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = cloneCall(runChild, childStack + sizeof childStack, flags | (asked ? CLONE_PIDFD : 0), &plan, &pidfd);
    if (pid < 0 && errno == EINVAL && asked) {
        withPidfd.store(false, std::memory_order_relaxed);
        asked = false;
        pid = cloneCall(runChild, childStack + sizeof childStack, flags, &plan, &pidfd);
    }
    int forkErrno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (pid < 0) {
        if (error)
            *error = SpawnError{forkErrno, std::string("fork: ") + std::strerror(forkErrno)};
        return std::nullopt;
    }
    if (plan.failedStep != StepNone) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        ::close(pidfd);
        int err = plan.failedErrno;
        if (error)
            *error = SpawnError{err, std::string(stepName(plan.failedStep)) + " " + o.program + ": " + std::strerror(err)};
        return std::nullopt;
    }
    if (!asked)
        pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    return Spawned{pid, pidfd}; // (a pidfd is close-on-exec always)
}

int reap(pid_t pid)
{
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

const char* signalName(int sig)
{
    switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGSYS: return "SIGSYS";
    default: return "signal";
    }
}

std::string describeStatus(int status)
{
    if (WIFEXITED(status))
        return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "signal " + std::to_string(WTERMSIG(status)) + " (" + signalName(WTERMSIG(status)) + ")" +
               (WCOREDUMP(status) ? ", core dumped" : "");
    return "status " + std::to_string(status);
}

void signalGroup(pid_t pid, int sig)
{
    if (pid > 0 && ::kill(-pid, sig) != 0)
        ::kill(pid, sig);
}

} // namespace lido::process
