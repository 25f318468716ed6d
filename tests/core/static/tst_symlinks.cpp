// The virtual directory's symbolic-link policy against real links and owners (run as root, so
// that links can belong to an unprivileged user): packaged applications' links out of their
// folder work, links planted by another user to files they do not own are refused with the
// reason on the detailed page and in the event log, for static files and for scripts alike.
#include "EngineSupport.h"

#include <pwd.h>

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
    }

    void init()
    {
        f = std::make_unique<EngineFixture>();
        QDir d(f->s.path());
        d.mkpath("outside/javascript");
        d.mkpath("userdir");
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

QTEST_GUILESS_MAIN(tst_Symlinks)
#include "tst_symlinks.moc"
