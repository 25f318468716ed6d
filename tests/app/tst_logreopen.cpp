// logrotate's way with lidod's logs: the files are renamed, SIGUSR1 arrives (the packaged
// /etc/logrotate.d/lido's postrotate), and the next lines go to new files of the old names while
// the renamed ones keep what they had. The engine serves on throughout.
#include "EngineSupport.h"
#include "log/EventLog.h"

#include <QDir>
#include <csignal>

class tst_LogReopen : public QObject {
    Q_OBJECT
private slots:
    void sigusr1ReopensEventAndAccessLogs()
    {
        EngineFixture f;
        QDir().mkpath(f.s.path("events"));
        Lidod d(f, {"--log-dir", f.s.path("events")});
        QCOMPARE(fetch(f.port, "/hello.txt?before").status, 200);
        QDir logs(f.s.path("logs/W3SVC1"));
        QString access;
        QTRY_VERIFY_WITH_TIMEOUT(!(access = logs.entryList({"u_ex*.log"}).value(0)).isEmpty() &&
                                     f.s.read("logs/W3SVC1/" + access).contains("/hello.txt before"), 5000);
        QString events = f.s.path("events/lido-events.log");
        QTRY_VERIFY_WITH_TIMEOUT(f.s.read("events/lido-events.log").contains("engine.started"), 5000);

        // What logrotate does: rename, then signal.
        QVERIFY(QFile::rename(logs.filePath(access), logs.filePath(access + ".1")));
        QVERIFY(QFile::rename(events, events + ".1"));
        QVERIFY(::kill(d.pid(), SIGUSR1) == 0);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(events) && f.s.read("events/lido-events.log").contains("log.reopened"), 5000);
        QVERIFY2(f.s.read("events/lido-events.log").contains("log files reopened: the event log and the access logs of 1 site"),
                 f.s.read("events/lido-events.log").constData());

        QCOMPARE(fetch(f.port, "/hello.txt?after").status, 200);
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(logs.filePath(access)) && f.s.read("logs/W3SVC1/" + access).contains("/hello.txt after"), 5000);
        QByteArray fresh = f.s.read("logs/W3SVC1/" + access);
        QVERIFY2(fresh.startsWith("#Software: Lido"), fresh.constData()); // a new file gets the W3C header again
        QVERIFY(!fresh.contains("/hello.txt before"));
        QByteArray rotated = f.s.read("logs/W3SVC1/" + access + ".1");
        QVERIFY(rotated.contains("/hello.txt before"));
        QVERIFY2(!rotated.contains("/hello.txt after"), rotated.constData());
        QByteArray oldEvents = f.s.read("events/lido-events.log.1");
        QVERIFY(oldEvents.contains("engine.started"));
        QVERIFY(!oldEvents.contains("log.reopened"));
        QCOMPARE(d.process.state(), QProcess::Running);
    }

    void aLogFileThatCannotBeOpenedIsReportedAndServingGoesOn()
    {
        EngineFixture f;
        QDir().mkpath(f.s.path("events"));
        Lidod d(f, {"--log-dir", f.s.path("events")});
        QTRY_VERIFY_WITH_TIMEOUT(f.s.read("events/lido-events.log").contains("engine.started"), 5000);
        // The folder became a file (a careless cleanup; root ignores modes, so no chmod would do):
        // reopening fails, says so, and nothing else stops.
        QVERIFY(QDir(f.s.path("events")).removeRecursively());
        f.s.write("events", "not a folder\n");
        QVERIFY(::kill(d.pid(), SIGUSR1) == 0);
        QTRY_VERIFY_WITH_TIMEOUT(d.ctl({"events"}).out.contains("the event log could not be reopened: Failed opening file"), 5000);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QCOMPARE(d.process.state(), QProcess::Running);
    }

    // The events of the run before a restart are the engine's again (read back from its file), so
    // the console and lidoctl events still show why the service was restarted.
    void eventsSurviveARestart()
    {
        EngineFixture f;
        QDir().mkpath(f.s.path("events"));
        {
            Lidod d(f, {"--log-dir", f.s.path("events")});
            QCOMPARE(d.ctl({"stop", "pool", "web"}).exitCode, 0);
            QTRY_VERIFY_WITH_TIMEOUT(d.ctl({"events"}).out.contains("application pool web stopped by the administrator"), 5000);
        } // stopped (SIGTERM), as systemctl restart does
        QVERIFY(f.s.read("events/lido-events.log").contains("application pool web stopped by the administrator"));
        Lidod again(f, {"--log-dir", f.s.path("events")});
        QTRY_VERIFY_WITH_TIMEOUT(again.ctl({"events"}).out.count("engine: lidod serving ") >= 2, 5000); // both runs' starts
        QString events = again.ctl({"events"}).out;
        // In the order they happened: the first run's stop before the second run's start.
        int stop = events.indexOf("application pool web stopped by the administrator");
        QVERIFY2(stop > 0 && stop < events.lastIndexOf("engine: lidod serving "), qPrintable(events));
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200); // the stop was the first run's
    }

    // What is read back: time to the millisecond, severity, code, source and message, a message
    // of several lines (a program's stderr) whole, and the numbering goes on after them.
    void theFileIsReadBackAsEvents()
    {
        testsupport::Scratch s;
        s.write("lido-events.log", "2026-12-04T10:11:12.345 info [engine.started] engine: lidod serving /etc/lido/applicationHost.config\n"
                                   "2026-12-04T10:11:13.002 error [pool.instance-failed] pool php: instance 1 exited; stderr: \"line 1\n"
                                   "line 2\"\n");
        lido::log::EventLog log(s.path("lido-events.log").toStdString(), false);
        auto events = log.since(0);
        QCOMPARE(events.size(), size_t(2));
        QCOMPARE(events[0].code, std::string("engine.started"));
        QCOMPARE(events[0].source, std::string("engine"));
        QCOMPARE(events[0].severity, lido::log::Severity::Info);
        QCOMPARE(std::chrono::duration_cast<std::chrono::milliseconds>(events[1].time - events[0].time).count(), 657LL);
        QCOMPARE(events[1].severity, lido::log::Severity::Error);
        QCOMPARE(events[1].message, std::string("instance 1 exited; stderr: \"line 1\nline 2\""));
        log.add(lido::log::Severity::Info, "engine", "engine.test", "after");
        QCOMPARE(log.since(2).size(), size_t(1));
        QCOMPARE(log.since(2).front().seq, uint64_t(3));
    }
};

QTEST_GUILESS_MAIN(tst_LogReopen)
#include "tst_logreopen.moc"
