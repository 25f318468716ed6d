// lidoctl end to end: exit codes, tables, edits that validate and save atomically, history.
#include "TestSupport.h"

#include <QProcess>

using testsupport::lidoctl;
using testsupport::Scratch;

class tst_Lidoctl : public QObject {
    Q_OBJECT
private slots:
    void validateExitCodes()
    {
        Scratch s;
        QString good = s.config(testsupport::baseConfig(), "good.config");
        auto r = lidoctl({"validate", good});
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out, good + ": valid (0 errors, 0 warnings)\n");

        QString bad = s.config(testsupport::baseConfig().replace("queueLength=\"1000\"", "queueLength=\"0\""), "bad.config");
        r = lidoctl({"validate", bad});
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(r.out, bad + ":5: applicationPools/add[@name='php']/@queueLength: 0 is below the minimum 10\n" + bad +
                            ": invalid (1 errors, 0 warnings)\n");

        QString broken = s.config("<configuration>\n  <system.webServer>\n</configuration>\n", "broken.config");
        r = lidoctl({"validate", broken});
        QCOMPARE(r.exitCode, 2);
        QCOMPARE(r.err, broken + ":3:3: not well-formed XML: Start-end tags mismatch\n");

        r = lidoctl({"validate", s.path("missing.config")});
        QCOMPARE(r.exitCode, 2);
        QCOMPARE(r.err, s.path("missing.config") + ": cannot read: No such file or directory\n");

        QCOMPARE(lidoctl({"validate", LIDO_SOURCE_DIR "/tests/fixtures/config/iis-default.applicationHost.config"}).exitCode, 0);
    }

    void show()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        auto r = lidoctl({"show", file, "pools"});
        QCOMPARE(r.exitCode, 0);
        QStringList rows = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(rows.size(), 3);
        QVERIFY(rows[0].startsWith("NAME"));
        QVERIFY(rows[1].startsWith("php "));
        QVERIFY(rows[1].contains("1000"));
        QVERIFY(rows[2].startsWith("static "));
        r = lidoctl({"show", file, "sites"});
        QVERIFY(r.out.contains("http/127.0.0.1:8081:"));
        r = lidoctl({"show", file, "handlers"});
        QVERIFY(r.out.contains("FastCgiModule"));
        r = lidoctl({"show", file, "fastcgi"});
        QVERIFY(r.out.contains(s.path("app")));
    }

    void editsSaveAndKeepHistory()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        auto r = lidoctl({"set", file, "pool", "php", "queueLength=500", "failure.rapidFailProtectionMaxCrashes=3"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QByteArray text = s.read("applicationHost.config");
        QVERIFY(text.contains("<add name=\"php\" queueLength=\"500\">"));
        QVERIFY(text.contains("rapidFailProtectionMaxCrashes=\"3\""));

        QCOMPARE(lidoctl({"add", file, "pool", "perl", "processModel.idleTimeout=00:05:00"}).exitCode, 0);
        QCOMPARE(lidoctl({"add", file, "site", "Perl", "bindings=http/127.0.0.1:9000:", "physicalPath=" + s.path("www"), "applicationPool=perl"}).exitCode, 0);
        QCOMPARE(lidoctl({"add", file, "fastcgi", s.path("app") + "|-x", "maxInstances=0"}).exitCode, 0);
        QCOMPARE(lidoctl({"add", file, "handler", "Perl", "path=*.pl", "verb=*", "modules=FastCgiModule", "scriptProcessor=" + s.path("app") + "|-x"}).exitCode, 0);
        QCOMPARE(lidoctl({"set", file, "fastcgi", s.path("app") + "|-x", "stderrMode=IgnoreAndReturn200"}).exitCode, 0);
        r = lidoctl({"validate", file});
        QVERIFY2(r.exitCode == 0, qPrintable(r.out));
        r = lidoctl({"show", file, "sites"});
        QVERIFY(r.out.contains(QRegularExpression("\\nPerl +3 ")));
        QCOMPARE(lidoctl({"remove", file, "handler", "Perl"}).exitCode, 0);
        QCOMPARE(lidoctl({"remove", file, "fastcgi", s.path("app") + "|-x"}).exitCode, 0);
        QCOMPARE(lidoctl({"remove", file, "site", "Perl"}).exitCode, 0);
        QCOMPARE(lidoctl({"remove", file, "pool", "perl"}).exitCode, 0);
        QCOMPARE(lidoctl({"unset", file, "pool", "php", "queueLength"}).exitCode, 0);
        QVERIFY(!s.read("applicationHost.config").contains("Perl"));

        r = lidoctl({"history", file});
        QCOMPARE(r.exitCode, 0);
        QStringList rows = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(rows.size(), 11); // header + 10 kept (11 saves, IIS's default of 10)
        QVERIFY(rows[1].startsWith("11 "));
        QVERIFY(rows.last().startsWith("2 "));

        QByteArray before = s.read("applicationHost.config");
        r = lidoctl({"restore", file, "2"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QVERIFY(s.read("applicationHost.config").contains("queueLength=\"500\""));
        QVERIFY(s.read("applicationHost.config") != before);
    }

    void editsInsideLocations()
    {
        // A site's or a path's settings: the location and its sections are made on the way, as
        // appcmd's set config -section does; a bad value is refused with the location's path.
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        auto r = lidoctl({"set", file, "element", "location[@path='Main']/system.webServer/directoryBrowse", "enabled=true"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        r = lidoctl({"add", file, "element", "location[@path='Main/php']/system.webServer/defaultDocument/files/add[@value='index.php']"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QByteArray text = s.read("applicationHost.config");
        QVERIFY2(text.contains("<location path=\"Main\">\n        <system.webServer>\n            <directoryBrowse enabled=\"true\" />"), text.constData());
        QVERIFY(text.contains("<location path=\"Main/php\">"));
        QVERIFY(text.contains("<add value=\"index.php\" />"));
        r = lidoctl({"set", file, "element", "location[@path='Main/php']/system.webServer/directoryBrowse", "showFlags=Sometimes"});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("location[@path='Main/php']/system.webServer/directoryBrowse/@showFlags: 'Sometimes' is not one of"), qPrintable(r.err));
        QCOMPARE(s.read("applicationHost.config"), text);
        r = lidoctl({"remove", file, "element", "location[@path='Main']"});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(!s.read("applicationHost.config").contains("directoryBrowse"));
    }

    void rejectedEditsLeaveTheFileUntouched_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("out of range") << QStringList{"set", "@FILE@", "pool", "php", "queueLength=5"}
                                      << "lidoctl: refused: the configuration does not validate; @FILE@ is unchanged:\n"
                                         "  @FILE@:5: applicationPools/add[@name='php']/@queueLength: 5 is below the minimum 10\n";
        QTest::newRow("unknown pool") << QStringList{"set", "@FILE@", "pool", "nope", "queueLength=500"}
                                      << "lidoctl: set pool nope: pool 'nope' does not exist; @FILE@ is unchanged\n";
        QTest::newRow("pool still used") << QStringList{"remove", "@FILE@", "pool", "php"}
                                         << "lidoctl: refused: the configuration does not validate; @FILE@ is unchanged:\n"
                                            "  @FILE@:12: sites/site[@name='Main']/application[@path='/php']/@applicationPool: application pool 'php' does not exist\n";
        QTest::newRow("duplicate") << QStringList{"add", "@FILE@", "pool", "php"}
                                   << "lidoctl: add pool php: pool 'php' already exists; @FILE@ is unchanged\n";
        QTest::newRow("not an assignment") << QStringList{"set", "@FILE@", "pool", "php", "queueLength"}
                                           << "lidoctl: set pool php: 'queueLength' is not ATTRIBUTE=VALUE; @FILE@ is unchanged\n";
        QTest::newRow("colliding site") << QStringList{"add", "@FILE@", "site", "Third", "bindings=http/127.0.0.1:8080:", "physicalPath=@DIR@/www", "applicationPool=php"}
                                        << "lidoctl: refused: the configuration does not validate; @FILE@ is unchanged:\n"
                                           "  @FILE@:36: sites/site[@name='Third']/bindings/binding[@protocol='http' and @bindingInformation='127.0.0.1:8080:']"
                                           "/@bindingInformation: http 127.0.0.1:8080: is already bound by site 'Main' (line 20)\n";
    }
    void rejectedEditsLeaveTheFileUntouched()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QByteArray before = s.read("applicationHost.config");
        for (QString& a : args)
            a = s.fill(a).replace("@FILE@", file);
        auto r = lidoctl(args);
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(r.err, s.fill(message).replace("@FILE@", file));
        QCOMPARE(s.read("applicationHost.config"), before);
        QVERIFY(!QDir(s.path(".applicationHost.config.history")).exists());
    }

    void batchIsAllOrNothing()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QByteArray before = s.read("applicationHost.config");
        auto r = lidoctl({"batch", file}, "set pool php queueLength=500\n# a comment\nset pool nope queueLength=1\n");
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(r.err, "lidoctl: batch line 3: pool 'nope' does not exist; " + file + " is unchanged\n");
        QCOMPARE(s.read("applicationHost.config"), before);
        r = lidoctl({"batch", file}, "set pool php \"queueLength=$(id)\"\n");
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains("command substitution, which is not allowed"));
        QCOMPARE(s.read("applicationHost.config"), before);
    }

    // Two writers at once: a batch has loaded the file and waits for its commands while another
    // lidoctl saves a change; the batch is refused rather than overwriting that change.
    void concurrentWritersDoNotLoseChanges()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QProcess slow;
        slow.start(testsupport::lidoctlPath(), {"batch", file});
        QVERIFY(slow.waitForStarted());
        // Wait until it blocks reading its commands (syscall 0 = read, on fd 0): it has loaded the file.
        QString syscall = QString("/proc/%1/syscall").arg(slow.processId());
        QTRY_VERIFY(QFile::exists(syscall) && [&] {
            QFile f(syscall);
            return f.open(QIODevice::ReadOnly) && f.readAll().startsWith("0 0x0 ");
        }());
        auto other = lidoctl({"set", file, "pool", "static", "queueLength=300"});
        QCOMPARE(other.exitCode, 0);
        slow.write("set pool php queueLength=500\n");
        slow.closeWriteChannel();
        QVERIFY(slow.waitForFinished(10000));
        QCOMPARE(slow.exitCode(), 1);
        QCOMPARE(QString::fromUtf8(slow.readAllStandardError()),
                 "lidoctl: refused: " + file + " was changed by someone else since it was loaded; reload it and edit again\n");
        QByteArray now = s.read("applicationHost.config");
        QVERIFY(now.contains("queueLength=\"300\""));
        QVERIFY(!now.contains("queueLength=\"500\""));
    }

    void lidodChecksTheConfiguration()
    {
        Scratch s;
        QString good = s.config(testsupport::baseConfig(), "good.config");
        auto r = testsupport::run(LIDO_BIN_DIR "/lidod", {"--check", "--config", good});
        QCOMPARE(r.exitCode, 0);
        QString bad = s.config(testsupport::baseConfig().replace("id=\"2\"", "id=\"1\""), "bad.config");
        r = testsupport::run(LIDO_BIN_DIR "/lidod", {"--check", "--config", bad});
        QCOMPARE(r.exitCode, 1);
        QVERIFY(r.err.contains(bad + ":23: sites/site[@name='Other']/@id: duplicate id 1 (first defined on line 12)"));
    }
};

QTEST_GUILESS_MAIN(tst_Lidoctl)
#include "tst_lidoctl.moc"
