#include "Init.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace lidod {

int initIfPid1()
{
    const char* off = std::getenv("LIDO_NO_INIT");
    if (::getpid() != 1 || (off && *off && std::strcmp(off, "0") != 0))
        return -1;
    static constexpr int kPassed[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1}; // the ones the engine handles; others PID 1 ignores
    sigset_t set, before;
    sigemptyset(&set);
    for (int s : kPassed)
        sigaddset(&set, s);
    sigaddset(&set, SIGCHLD);
    // Blocked before the fork, so that nothing arrives between it and sigwaitinfo; the child
    // gets the mask it had.
    sigprocmask(SIG_BLOCK, &set, &before);
    pid_t engine = ::fork();
    if (engine < 0) {
        std::fprintf(stderr, "lidod: as PID 1, cannot fork the engine (%s); it runs as PID 1 and orphans are not reaped\n", std::strerror(errno));
        sigprocmask(SIG_SETMASK, &before, nullptr);
        return -1;
    }
    if (engine == 0) {
        sigprocmask(SIG_SETMASK, &before, nullptr);
        return -1;
    }
    std::fprintf(stderr, "lidod: PID 1: the engine runs as pid %d; orphans are reaped here and signals passed on\n", int(engine));
    for (;;) {
        siginfo_t info{};
        int sig = sigwaitinfo(&set, &info);
        if (sig < 0)
            continue; // EINTR
        if (sig != SIGCHLD) {
            ::kill(engine, sig);
            continue;
        }
        int status = 0;
        for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;)
            if (pid == engine) {
                // The engine is gone; what it left behind goes with the namespace when PID 1 exits.
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
    }
}

} // namespace lidod
