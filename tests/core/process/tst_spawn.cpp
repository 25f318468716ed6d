// Starting programs without the engine: output through a pipe, the identity switch (as root),
// rlimits, the working directory, exec failures named, exit statuses and signals described.
#include "process/Spawn.h"

#include <QtTest>
#include <csignal>
#include <fcntl.h>
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

    void statusesAreDescribed()
    {
        QCOMPARE(describeStatus(run(shell("exit 3")).status), std::string("exit status 3"));
        std::string killed = describeStatus(run(shell("kill -9 $$")).status);
        QVERIFY2(killed.rfind("signal 9 (SIGKILL)", 0) == 0, killed.c_str());
        QCOMPARE(std::string(signalName(SIGTERM)), std::string("SIGTERM"));
    }
};

QTEST_GUILESS_MAIN(tst_Spawn)
#include "tst_spawn.moc"
