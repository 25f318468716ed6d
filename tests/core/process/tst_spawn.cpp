// Starting programs without the engine: output through a pipe, the identity switch (as root),
// rlimits, the working directory, exec failures named, exit statuses and signals described.
#include "process/Child.h"
#include "process/Spawn.h"

#include <QtTest>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <thread>
#include <csignal>
#include <cstddef>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lido::process;

namespace {

struct Ran {
    int status = -1;
    std::string out;
};

// Runs a program with stdout into a pipe and waits for it.
Ran run(SpawnOptions o, SpawnError* error = nullptr)
{
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0)
        return {};
    o.stdoutFd = p[1];
    auto spawned = spawn(o, error);
    ::close(p[1]);
    Ran r;
    if (!spawned) {
        ::close(p[0]);
        return r;
    }
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0)
        r.out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    r.status = reap(spawned->pid);
    if (spawned->pidfd >= 0)
        ::close(spawned->pidfd);
    return r;
}

SpawnOptions shell(const std::string& script)
{
    SpawnOptions o;
    o.program = "/bin/sh";
    o.argv = {"/bin/sh", "-c", script};
    o.env = {"PATH=/usr/bin:/bin"};
    return o;
}

} // namespace

class tst_Spawn : public QObject {
    Q_OBJECT
private slots:
    void outputEnvironmentAndDirectory()
    {
        SpawnOptions o = shell("echo \"$GREETING\"; pwd");
        o.env.push_back("GREETING=hello");
        o.workingDirectory = "/tmp";
        Ran r = run(o);
        QCOMPARE(r.out, std::string("hello\n/tmp\n"));
        QCOMPARE(describeStatus(r.status), std::string("exit status 0"));
    }

    void rlimitsApply()
    {
        SpawnOptions o = shell("ulimit -n; ulimit -t");
        o.limits.openFiles = 77;
        o.limits.cpuSeconds = 9;
        QCOMPARE(run(o).out, std::string("77\n9\n"));
    }

    // What the engine has does not reach the program: not its ignored SIGPIPE (a CGI program
    // piped into `head` must die of it), not its blocked signals, not a descriptor it forgot to
    // mark close-on-exec, and the program leads a process group of its own.
    void theProgramStartsClean()
    {
        struct sigaction ignore {}, before {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ignore, &before);
        sigset_t usr1, old;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &usr1, &old);
        int stray = ::open("/dev/null", O_RDONLY); // no O_CLOEXEC
        Ran r = run(shell("grep -E '^Sig(Ign|Blk):' /proc/self/status; ls /proc/$$/fd | sort -n | tr '\\n' ' '; "
                          "echo; [ \"$(ps -o pgid= -p $$ | tr -d ' ')\" = \"$$\" ] && echo leader"));
        ::close(stray);
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        ::sigaction(SIGPIPE, &before, nullptr);
        QVERIFY2(stray > 2, "the test's stray descriptor");
        QCOMPARE(QString::fromStdString(r.out), QString("SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n0 1 2 \nleader\n"));
    }

    void identitySwitch()
    {
        if (::geteuid() != 0)
            QSKIP("switching users needs root");
        auto nobody = resolveIdentity("nobody");
        QVERIFY(nobody.ok());
        SpawnOptions o = shell("id -u; id -g");
        o.identity = *nobody;
        QCOMPARE(run(o).out, std::to_string(nobody->uid) + "\n" + std::to_string(nobody->gid) + "\n");
        QVERIFY(!resolveIdentity("no-such-lido-user").ok());
        QCOMPARE(resolveIdentity("no-such-lido-user").error(), std::string("user 'no-such-lido-user' does not exist"));
    }

    void execFailuresAreNamed()
    {
        SpawnError error;
        SpawnOptions o;
        o.program = "/nonexistent/program";
        o.argv = {o.program};
        QVERIFY(!spawn(o, &error));
        QCOMPARE(error.err, ENOENT);
        QCOMPARE(error.message, std::string("exec /nonexistent/program: No such file or directory"));
        o = shell("true");
        o.workingDirectory = "/nonexistent-folder";
        QVERIFY(!spawn(o, &error));
        QCOMPARE(error.message, std::string("chdir to the working directory /bin/sh: No such file or directory"));
        // A file that is executable but no program: ENOEXEC, which the pools explain.
        QTemporaryDir dir;
        QString path = dir.filePath("data.bin");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray("\x01\x02\x03\x04", 4));
        f.close();
        ::chmod(path.toUtf8().constData(), 0755);
        o = SpawnOptions{};
        o.program = path.toStdString();
        o.argv = {o.program};
        QVERIFY(!spawn(o, &error));
        QCOMPARE(error.err, ENOEXEC);
    }

    // CGI programs start on a spawning thread, so that the event loop serves on while vfork waits
    // for the exec: the answer comes back on the loop's own thread, a failure with its errno, and
    // a stdin left unset reads as empty (/dev/null).
    void spawnAsyncAnswersOnTheLoop()
    {
        asio::io_context io;
        auto loop = std::this_thread::get_id();
        std::thread::id answeredOn;
        int status = -1;
        std::string stderrText;
        SpawnOptions o = shell("cat; echo done >&2; exit 4");
        Child::spawnAsync(io.get_executor(), o, [&](std::shared_ptr<Child> child, SpawnError error) {
            answeredOn = std::this_thread::get_id();
            QVERIFY2(child, error.message.c_str());
            child->watch({[&](std::string_view chunk) { stderrText.append(chunk); }, [&](int s) { status = s; }});
        });
        SpawnError failed;
        bool failureAnswered = false;
        SpawnOptions missing;
        missing.program = "/nonexistent/program";
        missing.argv = {missing.program};
        Child::spawnAsync(io.get_executor(), missing, [&](std::shared_ptr<Child> child, SpawnError error) {
            failureAnswered = !child;
            failed = error;
        });
        asio::steady_timer guard(io, std::chrono::seconds(20));
        guard.async_wait([&](const asio::error_code&) { io.stop(); });
        while (!io.stopped() && (status < 0 || !failureAnswered))
            io.run_one();
        QCOMPARE(answeredOn, loop);
        QCOMPARE(describeStatus(status), std::string("exit status 4")); // cat saw the end of an empty stdin
        QCOMPARE(stderrText, std::string("done\n"));
        QVERIFY(failureAnswered);
        QCOMPARE(failed.err, ENOENT);
    }

    // A context that goes with spawns queued drops them: no answer runs on a context that is gone.
    void aContextGoesWithItsSpawns()
    {
        int answers = 0;
        {
            asio::io_context io;
            for (int i = 0; i < 20; ++i)
                Child::spawnAsync(io.get_executor(), shell("exit 0"), [&](std::shared_ptr<Child>, SpawnError) { ++answers; });
        } // never run
        QCOMPARE(answers, 0);
    }

    void statusesAreDescribed()
    {
        QCOMPARE(describeStatus(run(shell("exit 3")).status), std::string("exit status 3"));
        std::string killed = describeStatus(run(shell("kill -9 $$")).status);
        QVERIFY2(killed.rfind("signal 9 (SIGKILL)", 0) == 0, killed.c_str());
        QCOMPARE(std::string(signalName(SIGTERM)), std::string("SIGTERM"));
    }

    // A kernel that refuses CLONE_PIDFD with EINVAL (gVisor): programs start all the same, with
    // a pidfd from pidfd_open. Last: the seccomp filter that plays that kernel stays with the process.
    void startsWhereCloneHasNoPidfd()
    {
        sock_filter code[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])), // the flags' low half
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_PIDFD, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
        QVERIFY(::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
        QVERIFY(::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) == 0);
        int pidfd = -1;
        QCOMPARE(::syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, 0), -1L); // the filter holds
        QCOMPARE(errno, EINVAL);

        Ran r = run(shell("echo started"));
        QCOMPARE(r.out, std::string("started\n"));
        SpawnError error;
        auto spawned = spawn(shell("exit 4"), &error);
        QVERIFY2(spawned, error.message.c_str());
        QVERIFY(spawned->pidfd >= 0);
        pollfd p{spawned->pidfd, POLLIN, 0};
        QCOMPARE(::poll(&p, 1, 10000), 1); // readable once the program has exited
        QCOMPARE(describeStatus(reap(spawned->pid)), std::string("exit status 4"));
        ::close(spawned->pidfd);
        QVERIFY(!spawn([] {
            SpawnOptions o;
            o.program = "/nonexistent/program";
            o.argv = {o.program};
            return o;
        }(), &error));
        QCOMPARE(error.err, ENOENT);
    }
};

QTEST_GUILESS_MAIN(tst_Spawn)
#include "tst_spawn.moc"
