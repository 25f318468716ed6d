// Which user a pool's programs run as, read from the programs' own output (the CGI and FastCGI
// helpers print getuid()), with the engine running as root as it does in CI: never root unless
// the file says identityType="LocalSystem".
#include "EngineSupport.h"

#include <pwd.h>

namespace {

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
