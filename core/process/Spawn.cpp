#include "process/Spawn.h"

#include "util/Privileges.h"

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

// After vfork the parent reads nothing the child could have changed (the child only runs
// runChild on a prepared plan), so GCC's clobber warning for the parameters is moot here.
#pragma GCC diagnostic ignored "-Wclobbered"

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

void setLimit(int resource, uint64_t value)
{
    if (value == 0)
        return;
    rlimit rl{static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    ::setrlimit(resource, &rl);
}

[[noreturn]] void childFail(int errorPipe, int err, int step)
{
    int msg[2] = {err, step};
    (void)!::write(errorPipe, msg, sizeof msg);
    ::_exit(127);
}

enum Step { StepDup, StepLimits, StepGroups, StepGid, StepUid, StepChdir, StepExec };

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

} // namespace

namespace {

// Everything the child needs, prepared before vfork: after it only async-signal-safe calls.
struct ChildPlan {
    const SpawnOptions* options;
    char** argv;
    char** envp;
    bool switchUser;
    int fds[3];
    int errorPipe;
    pid_t parent;
};

// Not inlined: the child runs on the parent's stack (vfork), so its locals must live in a frame of
// their own below spawn's, never in spawn's frame that the parent reads again after vfork.
[[noreturn]] __attribute__((noinline)) void runChild(const ChildPlan* plan)
{
    const SpawnOptions& o = *plan->options;
    // Default signal dispositions (the engine ignores SIGPIPE), own process group.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s)
        ::sigaction(s, &dfl, nullptr);
    ::setpgid(0, 0);
    // dup2 onto 0..2; the originals may sit in 0..2 themselves, so move those up first.
    int fds[3] = {plan->fds[0], plan->fds[1], plan->fds[2]};
    for (int i = 0; i < 3; ++i)
        if (fds[i] >= 0 && fds[i] < 3) {
            int moved = ::fcntl(fds[i], F_DUPFD, 3);
            if (moved < 0)
                childFail(plan->errorPipe, errno, StepDup);
            fds[i] = moved;
        }
    for (int i = 0; i < 3; ++i)
        if (::dup2(fds[i], i) < 0)
            childFail(plan->errorPipe, errno, StepDup);
    setLimit(RLIMIT_AS, o.limits.addressSpaceBytes);
    setLimit(RLIMIT_CPU, o.limits.cpuSeconds);
    setLimit(RLIMIT_NOFILE, o.limits.openFiles);
    setLimit(RLIMIT_NPROC, o.limits.processes);
    if (o.batchScheduling) {
        sched_param none{}; // (SCHED_BATCH needs no privilege)
        ::sched_setscheduler(0, SCHED_BATCH, &none);
    }
    if (plan->switchUser) {
        // The system calls themselves: glibc's wrappers would ask every thread of the engine to
        // change too (its setxid broadcast), and this child is one task of its own.
        if (::syscall(SYS_setgroups, o.identity->groups.size(), o.identity->groups.data()) != 0)
            childFail(plan->errorPipe, errno, StepGroups);
        if (::syscall(SYS_setresgid, o.identity->gid, o.identity->gid, o.identity->gid) != 0)
            childFail(plan->errorPipe, errno, StepGid);
        if (::syscall(SYS_setresuid, o.identity->uid, o.identity->uid, o.identity->uid) != 0)
            childFail(plan->errorPipe, errno, StepUid);
    }
    // No capability of the engine's reaches the program: the ambient set is what would survive
    // execve for a non-root user (a service with AmbientCapabilities=).
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (::geteuid() != 0) {
        // And none left to inherit through a program's file capabilities (the inheritable set).
        __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3]{};
        ::syscall(SYS_capset, &header, none);
    }
    // After the identity switch: changing credentials clears the parent-death signal (measured:
    // a www-data CGI program outlived a SIGKILLed lidod when this came first).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != plan->parent)
        ::_exit(127); // the engine died before the signal was armed
    if (!o.workingDirectory.empty() && ::chdir(o.workingDirectory.c_str()) != 0)
        childFail(plan->errorPipe, errno, StepChdir);
    // Close every other descriptor (sockets of other clients, pipes of other children).
    int keep = plan->errorPipe;
    if (keep > 3)
        ::syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u);
    ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    ::execve(o.program.c_str(), plan->argv, plan->envp);
    childFail(plan->errorPipe, errno, StepExec);
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

    int errorPipe[2];
    if (::pipe2(errorPipe, O_CLOEXEC) != 0) {
        if (error)
            *error = SpawnError{errno, std::string("pipe: ") + std::strerror(errno)};
        return std::nullopt;
    }
    int devnull = devNull();
    ChildPlan plan{&o, argv.data(), envp.data(), o.identity.has_value() && util::canSwitchIdentity(),
                   {o.stdinFd >= 0 ? o.stdinFd : devnull, o.stdoutFd >= 0 ? o.stdoutFd : devnull, o.stderrFd >= 0 ? o.stderrFd : devnull},
                   errorPipe[1], ::getpid()};

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); // no handler may run in the child before exec
    pid_t pid = ::vfork();
    if (pid == 0)
        runChild(&plan);
    int forkErrno = errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(errorPipe[1]);
    if (pid < 0) {
        ::close(errorPipe[0]);
        if (error)
            *error = SpawnError{forkErrno, std::string("fork: ") + std::strerror(forkErrno)};
        return std::nullopt;
    }
    // vfork returns once the child has exec'd or exited: the pipe holds the child's errno or EOF.
    int msg[2] = {0, 0};
    ssize_t n = ::read(errorPipe[0], msg, sizeof msg);
    ::close(errorPipe[0]);
    if (n == sizeof msg) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (error)
            *error = SpawnError{msg[0], std::string(stepName(msg[1])) + " " + o.program + ": " + std::strerror(msg[0])};
        return std::nullopt;
    }
    Spawned s;
    s.pid = pid;
    s.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (s.pidfd >= 0)
        ::fcntl(s.pidfd, F_SETFD, FD_CLOEXEC);
    return s;
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
