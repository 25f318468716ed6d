// The virtual directory's symbolic-link policy against real links and owners (run as root, so
// that links can belong to an unprivileged user): packaged applications' links out of their
// folder work, links planted by another user to files they do not own are refused with the
// reason on the detailed page and in the event log, for static files and for scripts alike.
// Run a second time with LIDO_TEST_WITHOUT_OPENAT2 set: a seccomp filter makes the kernel answer
// openat2 with ENOSYS, as a kernel before 5.6 does, and the same answers must come.
#include "EngineSupport.h"

#include <cstddef>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

namespace {

bool withoutOpenat2() { return qEnvironmentVariableIsSet("LIDO_TEST_WITHOUT_OPENAT2"); }

void refuseOpenat2()
{
    sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
        qFatal("seccomp: %s", std::strerror(errno));
}

} // namespace

class tst_Symlinks : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        if (::geteuid() != 0)
            QSKIP("links owned by another user need root to make");
        passwd* pw = ::getpwnam("nobody");
        QVERIFY(pw);
        nobody = pw->pw_uid;
        nogroup = pw->pw_gid;
        if (withoutOpenat2()) {
            open_how how{};
            how.flags = O_PATH;
            QCOMPARE(::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how), -1L);
            QCOMPARE(errno, ENOSYS);
        }
    }

    void init()
    {
        f = std::make_unique<EngineFixture>();
        QDir d(f->s.path());
        d.mkpath("outside/javascript");
        d.mkpath("userdir");
        d.mkpath("www/docs");
        f->s.write("outside/javascript/jquery.js", "jQuery\n");     // root's, as /usr/share/javascript is
        f->s.write("outside/root-only.txt", "root's secret\n");
        ::chmod(f->s.path("outside/root-only.txt").toUtf8().constData(), 0600);
        f->s.write("userdir/mine.txt", "nobody's own file\n");
        ::chown(f->s.path("userdir/mine.txt").toUtf8().constData(), nobody, nogroup);
        ::chown(f->s.path("userdir").toUtf8().constData(), nobody, nogroup);
        // Packaged: a root-owned link to a root-owned folder outside (Debian's /usr/share/javascript).
        QVERIFY(QFile::link(f->s.path("outside/javascript"), f->s.path("www/javascript")));
        // Planted: nobody's links, one to a root-only file, one to nobody's own file.
        plant(f->s.path("outside/root-only.txt"), "www/planted.txt");
        plant(f->s.path("userdir/mine.txt"), "www/own.txt");
        // Nested: a root-owned link to nobody's folder, where nobody planted a link to root's file.
        plant(f->s.path("outside/root-only.txt"), "userdir/deeper.txt");
        QVERIFY(QFile::link(f->s.path("userdir"), f->s.path("www/userdir")));
        // A CGI program reached through a planted link.
        QFile::copy(LIDO_TEST_BIN_DIR "/lido-test-cgi", f->s.path("outside/tool.cgi"));
        ::chmod(f->s.path("outside/tool.cgi").toUtf8().constData(), 0755);
        plant(f->s.path("outside/tool.cgi"), "www/cgi-bin/tool.cgi");
        // Relative links, root's: two that stay in the folder (one through ".."), one that leaves.
        f->s.write("www/docs/readme.txt", "docs\n");
        QVERIFY(QFile::link("docs/readme.txt", f->s.path("www/readme.txt")));
        QVERIFY(QFile::link("../docs/readme.txt", f->s.path("www/docs/again.txt")));
        QVERIFY(QFile::link("../outside/javascript/jquery.js", f->s.path("www/escape.js")));
        f->values["@APPS@"] = R"(<application path="/never" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" symlinks="Never" /></application>)"
                              R"(<application path="/always" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" symlinks="Always" /></application>)";
        QVERIFY(f->start());
    }
    void cleanup() { f.reset(); }

    void packagedLinksAreFollowed()
    {
        Response r = fetch(f->port, "/javascript/jquery.js");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("jQuery\n"));
        QCOMPARE(fetch(f->port, "/own.txt").body, QByteArray("nobody's own file\n")); // link and target: both nobody's
    }

    void plantedLinkIsRefused()
    {
        Response r = fetch(f->port, "/planted.txt");
        QCOMPARE(r.status, 403);
        QVERIFY(!r.body.contains("root's secret"));
        QString why = QString("the symbolic link /planted.txt (owner uid %1) points to %2 (owner uid 0)").arg(nobody).arg(f->s.path("outside/root-only.txt"));
        QVERIFY2(r.body.contains(why.toUtf8()), r.body.constData());
        auto events = f->events("request.symlink-refused");
        QCOMPARE(events.size(), size_t(1));
        QVERIFY2(QString::fromStdString(events.front().message).contains(why + "; symlinks=\"IfOwnerMatch\""), events.front().message.c_str());
        QVERIFY(QString::fromStdString(events.front().message).endsWith("(URL /planted.txt)"));
        QCOMPARE(events.front().severity, lido::log::Severity::Warning);
    }

    void linkBehindAFollowedLinkIsChecked()
    {
        Response r = fetch(f->port, "/userdir/deeper.txt");
        QCOMPARE(r.status, 403);
        QVERIFY(r.body.contains("/userdir/deeper.txt (owner uid"));
        QCOMPARE(fetch(f->port, "/userdir/mine.txt").status, 200);
    }

    void scriptThroughAPlantedLinkDoesNotRun()
    {
        Response r = fetch(f->port, "/cgi-bin/tool.cgi");
        QCOMPARE(r.status, 403);
        QVERIFY2(r.body.contains("the symbolic link /cgi-bin/tool.cgi (owner uid"), r.body.constData());
        QCOMPARE(fetch(f->port, "/always/cgi-bin/tool.cgi").status, 200); // symlinks="Always" runs it
    }

    void neverAndAlways()
    {
        Response never = fetch(f->port, "/never/javascript/jquery.js");
        QCOMPARE(never.status, 403);
        QVERIFY(never.body.contains("symlinks=&quot;Never&quot;") || never.body.contains("symlinks=\"Never\""));
        QCOMPARE(fetch(f->port, "/always/planted.txt").body, QByteArray("root's secret\n"));
        // The same folder under IfOwnerMatch, at once: not from the small-file cache of the other.
        QCOMPARE(fetch(f->port, "/planted.txt").status, 403);
    }

    void linksInsideTheFolderAreFollowedEvenUnderNever()
    {
        QCOMPARE(fetch(f->port, "/never/readme.txt").body, QByteArray("docs\n"));
        QCOMPARE(fetch(f->port, "/never/docs/again.txt").body, QByteArray("docs\n"));
        QCOMPARE(fetch(f->port, "/never/escape.js").status, 403);
        QCOMPARE(fetch(f->port, "/escape.js").body, QByteArray("jQuery\n")); // root's link to root's file
    }

private:
    void plant(const QString& target, const QString& link)
    {
        QVERIFY(QFile::link(target, f->s.path(link)));
        QVERIFY(::lchown(f->s.path(link).toUtf8().constData(), nobody, nogroup) == 0);
    }

    std::unique_ptr<EngineFixture> f;
    uid_t nobody = 0;
    gid_t nogroup = 0;
};

int main(int argc, char** argv)
{
    if (withoutOpenat2())
        refuseOpenat2(); // before any thread starts: every thread inherits the filter
    QCoreApplication app(argc, argv);
    tst_Symlinks test;
    return QTest::qExec(&test, argc, argv);
}
#include "tst_symlinks.moc"
