// Which user a pool's programs run as, read from the programs' own output (the CGI and FastCGI
// helpers print getuid()), with the engine running as root as it does in CI: never root unless
// the file says identityType="LocalSystem".
#include "EngineSupport.h"

#include <grp.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

namespace {

gid_t gidOf(const char* group)
{
    struct group* g = ::getgrnam(group);
    return g ? g->gr_gid : gid_t(-1);
}

// A port below 1024 that nothing listens on (the test runs as root, so it may try).
uint16_t freeLowPort()
{
    for (uint16_t p = 1023; p > 600; --p) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(p);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (ok)
            return p;
    }
    return 0;
}

// In the child before exec: what systemd does for the packaged unit's User=lido with
// AmbientCapabilities= (here with nobody): the user, then the five capabilities as ambient ones.
void becomeServiceUser()
{
    constexpr int caps[] = {CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_CHOWN};
    uid_t uid = 65534;
    gid_t gid = 65534;
    ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    if (::setgroups(0, nullptr) != 0 || ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0)
        ::_exit(120);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
    for (int c : caps) {
        data[c / 32].effective |= 1u << (c % 32);
        data[c / 32].permitted |= 1u << (c % 32);
        data[c / 32].inheritable |= 1u << (c % 32);
    }
    if (::syscall(SYS_capset, &header, data) != 0)
        ::_exit(121);
    for (int c : caps)
        if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0)
            ::_exit(122);
}

uid_t uidOf(const char* user)
{
    passwd* pw = ::getpwnam(user);
    return pw ? pw->pw_uid : uid_t(-1);
}

QByteArray uidLine(const Response& r) { return r.body.split('\n').first(); }

} // namespace

class tst_Identity : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        if (::geteuid() != 0)
            QSKIP("switching identities needs root (CI runs the suite as root)");
    }

    void programsRunAs_data()
    {
        QTest::addColumn<QString>("processModel"); // spliced into <processModel userName="...">
        QTest::addColumn<QString>("lido");
        QTest::addColumn<QString>("user");
        uid_t www = uidOf("www-data");
        QString defaultUser = www != uid_t(-1) ? "www-data" : "nobody";
        QTest::newRow("default: ApplicationPoolIdentity") << "" << "" << defaultUser;
        QTest::newRow("ApplicationPoolIdentity from lido's section") << "\" identityType=\"ApplicationPoolIdentity"
                                                                      << R"(<lido><applicationPoolIdentity userName="nobody" /></lido>)" << "nobody";
        QTest::newRow("LocalService") << "\" identityType=\"LocalService" << "" << "nobody";
        QTest::newRow("NetworkService") << "\" identityType=\"NetworkService" << "" << "nobody";
        QTest::newRow("userName alone: SpecificUser") << "daemon" << "" << "daemon";
        QTest::newRow("SpecificUser") << "daemon\" identityType=\"SpecificUser" << "" << "daemon";
        QTest::newRow("LocalSystem, written explicitly") << "\" identityType=\"LocalSystem" << "" << "root";
        QTest::newRow("a root user name is refused") << "\" identityType=\"ApplicationPoolIdentity" << R"(<lido><applicationPoolIdentity userName="root" /></lido>)" << "nobody";
    }
    void programsRunAs()
    {
        QFETCH(QString, processModel);
        QFETCH(QString, lido);
        QFETCH(QString, user);
        EngineFixture f;
        f.values["@USER@"] = processModel;
        f.values["@LIDO@"] = lido;
        f.useFastCgiHelper("maxInstances=\"1\"");
        QVERIFY(f.start());
        uid_t uid = uidOf(user.toUtf8().constData());
        QVERIFY(uid != uid_t(-1));
        QByteArray expected = "uid=" + QByteArray::number(uid) + " ";
        Response cgi = fetch(f.port, "/cgi-bin/helper.cgi?id");
        QCOMPARE(cgi.status, 200);
        QVERIFY2(uidLine(cgi).startsWith(expected), cgi.body.constData());
        Response fcgi = fetch(f.port, "/app/x?id");
        QCOMPARE(fcgi.status, 200);
        QVERIFY2(uidLine(fcgi).startsWith(expected), fcgi.body.constData());
        // The identity in effect, as /status, lidoctl and the console show it.
        std::string shown = user.toStdString() + " (uid " + std::to_string(uid) + ")";
        auto snap = f.engine->snapshot();
        QVERIFY2(snap.cgi.front().identity.rfind(shown, 0) == 0, snap.cgi.front().identity.c_str());
        QVERIFY2(snap.fastcgi.front().identity.rfind(shown, 0) == 0, snap.fastcgi.front().identity.c_str());
    }

    void missingUserNeverFallsBackToRoot()
    {
        EngineFixture f;
        f.values["@USER@"] = "no-such-lido-user\" identityType=\"SpecificUser";
        f.useFastCgiHelper("maxInstances=\"1\"");
        QVERIFY(f.start());
        Response cgi = fetch(f.port, "/cgi-bin/helper.cgi?id");
        QCOMPARE(cgi.status, 503);
        QVERIFY2(cgi.body.contains("user 'no-such-lido-user' does not exist"), cgi.body.constData());
        Response fcgi = fetch(f.port, "/app/x?id");
        QVERIFY(fcgi.status >= 500);
        QVERIFY(!fcgi.body.contains("uid="));
        QVERIFY(!f.events("pool.identity").empty());
    }

    void statusAndLidoctlShowTheIdentity()
    {
        EngineFixture f;
        uint16_t statusPort = freePort();
        f.values["@LIDO@"] = QString(R"(<lido><applicationPoolIdentity userName="nobody" /><statusListener bindingInformation="127.0.0.1:%1:" /></lido>)").arg(statusPort);
        Lidod d(f);
        Response status = fetch(statusPort, "/status");
        QCOMPARE(status.status, 200);
        QString nobody = QString("nobody (uid %1)").arg(uidOf("nobody"));
        QVERIFY2(status.body.contains(("\"identity\":\"" + nobody + "\"").toUtf8()), status.body.constData());
        testsupport::Run st = d.ctl({"status"});
        QCOMPARE(st.exitCode, 0);
        QVERIFY2(st.out.contains("IDENTITY") && st.out.contains(nobody), qPrintable(st.out));
    }

    // The packaged service's model: lidod as an unprivileged user (nobody here, lido in the
    // package) holding CAP_NET_BIND_SERVICE, CAP_SETUID, CAP_SETGID, CAP_KILL and CAP_CHOWN binds a
    // port below 1024, runs the pool's programs as www-data, and none of its capabilities reaches them.
    void serviceUserWithCapabilitiesRunsPoolsAsTheirIdentity()
    {
        uid_t www = uidOf("www-data");
        if (www == uid_t(-1))
            QSKIP("no www-data user here");
        EngineFixture f;
        f.port = freeLowPort();
        QVERIFY(f.port != 0);
        f.values["@PORT@"] = QString::number(f.port);
        f.useFastCgiHelper("maxInstances=\"1\"");
        f.s.write("www/cgi-bin/caps.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nid -u\ngrep -E '^Cap(Inh|Prm|Eff|Amb)' /proc/self/status\n");
        ::chmod(f.s.path("www/cgi-bin/caps.cgi").toUtf8().constData(), 0755);
        for (const char* own : {"", "logs", "run"}) {
            QDir().mkpath(f.s.path(own));
            QVERIFY(::chown(f.s.path(own).toUtf8().constData(), 65534, 65534) == 0);
        }
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("RUNTIME_DIRECTORY", f.s.path("run")); // as systemd's RuntimeDirectory= sets it
        env.remove("XDG_RUNTIME_DIR");
        Lidod d(f, {}, env, becomeServiceUser);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200); // bound below 1024 without being root

        Response cgi = fetch(f.port, "/cgi-bin/caps.cgi");
        QCOMPARE(cgi.status, 200);
        QList<QByteArray> lines = cgi.body.split('\n');
        QCOMPARE(lines.value(0), QByteArray::number(www));
        for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapAmb"})
            QVERIFY2(cgi.body.contains(QByteArray(set) + ":\t0000000000000000"), cgi.body.constData());
        Response fcgi = fetch(f.port, "/app/x?id");
        QVERIFY2(fcgi.status == 200, qPrintable(d.ctl({"events"}).out));
        QVERIFY2(uidLine(fcgi).startsWith("uid=" + QByteArray::number(www) + " "), fcgi.body.constData());
        // Recycling signals a www-data process from a nobody engine: CAP_KILL.
        testsupport::Run recycle = d.ctl({"recycle", "pool", "web"});
        QVERIFY2(recycle.exitCode == 0, qPrintable(recycle.out + recycle.err));
        QTRY_VERIFY_WITH_TIMEOUT(fetch(f.port, "/app/x?id").status == 200, 10000);
        testsupport::Run st = d.ctl({"status"});
        QVERIFY2(st.out.contains(QString("www-data (uid %1)").arg(www)), qPrintable(st.out));
        // The unprivileged engine writes its access log.
        QTRY_VERIFY_WITH_TIMEOUT(f.s.read("logs/W3SVC1/" + QDir(f.s.path("logs/W3SVC1")).entryList({"u_ex*.log"}).value(0)).contains("/cgi-bin/caps.cgi"), 5000);
    }

    // lidoctl status for members of the admin group (lidod --admin-group, the package's "lido"):
    // the socket is 0660 and the group's; a member by a supplementary group gets in, others do not,
    // and the engine's own check (SO_PEERGROUPS) holds even when the socket's mode is loosened.
    void adminGroupMembersUseTheChannel()
    {
        if (gidOf("daemon") == gid_t(-1))
            QSKIP("no daemon group here");
        EngineFixture f;
        Lidod d(f, {"--admin-group", "daemon"});
        struct stat st{};
        QVERIFY(::stat(d.socket.toUtf8().constData(), &st) == 0);
        QCOMPARE(st.st_mode & 0777, 0660u);
        QCOMPARE(st.st_gid, gidOf("daemon"));
        auto asNobody = [&](const QStringList& groups) {
            QStringList args{"--reuid=nobody", "--regid=nogroup"};
            args << (groups.isEmpty() ? QStringList{"--clear-groups"} : QStringList{"--groups=" + groups.join(',')});
            return testsupport::run("setpriv", args + QStringList{testsupport::lidoctlPath(), "--connect", d.socket, "status"});
        };
        testsupport::Run member = asNobody({"daemon"});
        QVERIFY2(member.exitCode == 0 && member.out.contains("POOL"), qPrintable(member.out + member.err));
        testsupport::Run stranger = asNobody({});
        QVERIFY(stranger.exitCode != 0);
        QVERIFY2(stranger.err.contains("permission denied: " + d.socket + " may be used by root, or a member of group daemon (usermod -aG daemon USER"),
                 qPrintable(stranger.err));
        ::chmod(d.socket.toUtf8().constData(), 0666); // loosened by hand: the engine still says no
        testsupport::Run loosened = asNobody({});
        QVERIFY(loosened.exitCode != 0);
        QVERIFY2((loosened.out + loosened.err).contains("permission denied: uid 65534"), qPrintable(loosened.out + loosened.err));
    }

    void validatorWarnsAboutRoot()
    {
        EngineFixture f;
        f.values["@USER@"] = "\" identityType=\"LocalSystem";
        testsupport::Run r = testsupport::lidoctl({"validate", f.s.config(f.text())});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains("processModel/@identityType: warning: pool web runs as root (identityType=\"LocalSystem\")"), qPrintable(r.out + r.err));
    }
};

QTEST_GUILESS_MAIN(tst_Identity)
#include "tst_identity.moc"
