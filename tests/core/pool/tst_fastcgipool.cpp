// FastCGI pools against real applications: a libfcgi helper with misbehaving modes and php-cgi.
#include "EngineSupport.h"
#include "engine/PoolHistory.h"
#include "pool/Latency.h"
#include "pool/RapidFail.h"
#include "pool/Tuning.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <csignal>
#include <sched.h>
#include <thread>


// A site whose /app/* goes to the FastCGI helper with the given application attributes.
static void useHelper(EngineFixture& f, const QString& attributes, const QString& env = {}, const QString& poolAttributes = {})
{
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" " + attributes + ">" +
                            (env.isEmpty() ? QString() : "<environmentVariables>" + env + "</environmentVariables>") + "</application></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi\" />";
    if (!poolAttributes.isEmpty())
        f.values["@POOLS@"] = poolAttributes;
}

static QString envVar(const char* name, const QString& value)
{
    return QString("<environmentVariable name=\"%1\" value=\"%2\" />").arg(name, value);
}

class tst_FastCgiPool : public QObject {
    Q_OBJECT
private slots:
    void failureWindowWithInjectedClock()
    {
        using namespace std::chrono;
        lido::pool::FailureWindow w(3, minutes(5));
        auto t0 = steady_clock::time_point{};
        QVERIFY(!w.record(t0));
        QVERIFY(!w.record(t0 + minutes(2)));
        QVERIFY(!w.record(t0 + minutes(6) + seconds(1))); // the first one left the window
        QVERIFY(w.record(t0 + minutes(6) + seconds(2)));
        QCOMPARE(w.count(), 3);
    }

    void latencyPercentilesAreOverTheLastMinute()
    {
        using namespace std::chrono;
        lido::pool::LatencyWindow w;
        auto t0 = steady_clock::time_point{} + hours(1);
        QCOMPARE(w.quantiles(t0).requests, size_t(0)); // nothing served: no figures
        for (int i = 1; i <= 100; ++i)
            w.record(t0 + milliseconds(i), i); // 1 … 100 ms
        auto q = w.quantiles(t0 + seconds(1));
        QCOMPARE(q.requests, size_t(100));
        QCOMPARE(q.p50, 51.0);
        QCOMPARE(q.p99, 100.0);
        // A minute without traffic: the pool has no p99 any more, not the one it had.
        QCOMPARE(w.quantiles(t0 + seconds(61)).requests, size_t(0));
        QCOMPARE(w.quantiles(t0 + seconds(61)).p99, 0.0);
        // Newer requests count, older ones leave: only the fast ones of the last minute.
        w.record(t0 + seconds(40), 2);
        auto later = w.quantiles(t0 + seconds(90));
        QCOMPARE(later.requests, size_t(1));
        QCOMPARE(later.p99, 2.0);
        // At most the last 1,000.
        for (int i = 0; i < 1500; ++i)
            w.record(t0 + seconds(95), i < 500 ? 1000 : 5);
        QCOMPARE(w.quantiles(t0 + seconds(96)).requests, size_t(1000));
        QCOMPARE(w.quantiles(t0 + seconds(96)).p99, 5.0);
    }

    // What the engine keeps of a pool for the console's charts, fed with chosen times: a point a
    // second for five minutes, one every ten seconds for an hour (the largest of each figure, the
    // failures of the ten summed), failures as what happened since the point before.
    void poolHistoryKeepsFiveMinutesAndAnHour()
    {
        using namespace std::chrono;
        lido::engine::PoolHistory h;
        auto t0 = system_clock::time_point{} + hours(24 * 365 * 50);
        lido::engine::PoolSample php{"php", 10, 1, 2, 0, 5, {}};
        lido::engine::PoolSample gone{"gone", 0, 0, 0, 0, 0, {}};
        for (int i = 0; i < 400; ++i) {
            php.requestsPerSecond = i == 395 ? 99 : 10;     // one spike
            php.failuresTotal[0] = 7 + static_cast<uint64_t>(i / 100); // a crash every 100 s, after 7 from before
            h.record(t0 + seconds(i), i < 10 ? std::vector{php, gone} : std::vector{php});
        }
        auto minutes = h.of("php", false);
        QCOMPARE(minutes.size(), size_t(300));                 // five minutes
        QCOMPARE(minutes.back().time, t0 + seconds(399));
        QCOMPARE(minutes.front().time, t0 + seconds(100));
        QCOMPARE(minutes.front().failures[0], uint16_t(1));   // at 100 s: the crash of that second
        QCOMPARE(minutes[1].failures[0], uint16_t(0));
        auto hour = h.of("php", true);
        QCOMPARE(hour.size(), size_t(40));                     // 400 s in tens
        QCOMPARE(hour.back().requestsPerSecond, 99.0f);        // the spike survives the ten
        QCOMPARE(hour.front().failures[0], uint16_t(0));       // the 7 from before the first point are not a burst
        int crashes = 0;
        for (const auto& p : hour)
            crashes += p.failures[0];
        QCOMPARE(crashes, 3); // at 100, 200 and 300 s
        QVERIFY(h.of("gone", false).empty()); // no longer in the configuration
        QVERIFY(h.of("nosuch", true).empty());
    }

    void autoTuneDecisions()
    {
        using lido::pool::nextInstanceLimit;
        using lido::pool::TuneInput;
        QCOMPARE(nextInstanceLimit(TuneInput{1, true, 0, 0.9, 16}), 2);   // waiting, CPU free: double
        QCOMPARE(nextInstanceLimit(TuneInput{8, true, 0, 0.9, 16}), 16);
        QCOMPARE(nextInstanceLimit(TuneInput{16, true, 0, 0.9, 16}), 16); // capped
        QCOMPARE(nextInstanceLimit(TuneInput{4, true, 0, 0.10, 16}), 5);  // CPU nearly busy: one at a time
        QCOMPARE(nextInstanceLimit(TuneInput{4, true, 0, 0.01, 16}), 4);  // saturated: more would not help
        QCOMPARE(nextInstanceLimit(TuneInput{4, false, 3, 0.9, 16}), 3);  // idle: give one back
        QCOMPARE(nextInstanceLimit(TuneInput{4, false, 1, 0.9, 16}), 4);
        QCOMPARE(nextInstanceLimit(TuneInput{1, false, 2, 0.9, 16}), 1);
    }

    void scheduleCrossing()
    {
        using lido::pool::scheduleCrossed;
        QVERIFY(scheduleCrossed(10799, 10800, 10800));  // 03:00:00 reached
        QVERIFY(!scheduleCrossed(10800, 10801, 10800)); // once only
        QVERIFY(!scheduleCrossed(10790, 10799, 10800));
        QVERIFY(scheduleCrossed(86399, 1, 0));           // midnight, across the day boundary
        QVERIFY(!scheduleCrossed(5, 5, 5));
    }

    void servesAndKeepsConnections()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\"");
        QVERIFY(f.start());
        Response a = fetch(f.port, "/app/x?count");
        Response b = fetch(f.port, "/app/x?count");
        QCOMPARE(a.status, 200);
        QVERIFY(a.body.startsWith("pid="));
        QByteArray pid = a.body.split(' ').first();
        QCOMPARE(b.body, pid + " served=2\n"); // the same process, the same kept-open connection
        Response env = fetch(f.port, "/app/x?env");
        QVERIFY2(env.body.contains("process _FCGI_X_PIPE_=" + f.s.path("run").toUtf8() + "/web-"), env.body.constData());
        QTRY_COMPARE(f.engine->snapshot().fastcgi.front().completed, uint64_t(3));
        auto m = f.engine->snapshot().fastcgi.front();
        QCOMPARE(m.pool, std::string("web"));
        QCOMPARE(m.idle, 1);
    }

    // Instances start under SCHED_BATCH unless schedulingPolicy="Normal": a request written to
    // one does not preempt the engine's event loop (measured in the README).
    void schedulingPolicy_data()
    {
        QTest::addColumn<QString>("attributes");
        QTest::addColumn<int>("policy");
        QTest::newRow("default (Auto)") << QString() << SCHED_BATCH;
        QTest::newRow("Batch") << QString("schedulingPolicy=\"Batch\"") << SCHED_BATCH;
        QTest::newRow("Normal") << QString("schedulingPolicy=\"Normal\"") << SCHED_OTHER;
    }
    void schedulingPolicy()
    {
        QFETCH(QString, attributes);
        QFETCH(int, policy);
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\" " + attributes);
        QVERIFY(f.start());
        Response a = fetch(f.port, "/app/x?count");
        QCOMPARE(a.status, 200);
        pid_t pid = a.body.split(' ').first().mid(4).toInt();
        QVERIFY2(pid > 0, a.body.constData());
        QCOMPARE(::sched_getscheduler(pid), policy);
    }

    // Auto: an application that mostly waits (here: sleeps 20 ms per request) is moved to the
    // kernel's default policy, so that it starts at once when woken; one that computes (20 ms of
    // CPU per request) is moved back to SCHED_BATCH. Each step is one event. The pool decides
    // once a second from /proc: requests go on until it has, or until the deadline.
    void autoSchedulingFollowsTheApplication()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\"");
        QVERIFY(f.start());
        Response a = fetch(f.port, "/app/x?count");
        pid_t pid = a.body.split(' ').first().mid(4).toInt();
        QVERIFY2(pid > 0, a.body.constData());
        QCOMPARE(::sched_getscheduler(pid), SCHED_BATCH);
        auto serveUntil = [&](const char* url, int policy) {
            QElapsedTimer t;
            t.start();
            while (::sched_getscheduler(pid) != policy && t.elapsed() < 15000)
                if (fetch(f.port, url).status != 200)
                    return false;
            return ::sched_getscheduler(pid) == policy;
        };
        QVERIFY(serveUntil("/app/x?sleep=20", SCHED_OTHER));
        auto moved = f.events("pool.scheduling");
        QCOMPARE(moved.size(), size_t(1));
        QVERIFY2(moved.back().message.find("mostly wait") != std::string::npos, moved.back().message.c_str());
        QVERIFY(serveUntil("/app/x?spin=20", SCHED_BATCH));
        moved = f.events("pool.scheduling");
        QCOMPARE(moved.size(), size_t(2));
        QVERIFY2(moved.back().message.find("compute") != std::string::npos, moved.back().message.c_str());
        // The same process throughout: the policy changes in place, no instance is replaced.
        QCOMPARE(fetch(f.port, "/app/x?count").body.split(' ').first(), a.body.split(' ').first());
    }

    void tcpProtocol()
    {
        EngineFixture f;
        useHelper(f, "protocol=\"Tcp\"");
        QVERIFY(f.start());
        Response env = fetch(f.port, "/app/x?env");
        QCOMPARE(env.status, 200);
        QVERIFY2(env.body.contains("process _FCGI_X_PIPE_=127.0.0.1:"), env.body.constData());
    }

    void stderrModes_data()
    {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("body");
        QTest::newRow("ReturnStdErrIn500") << "ReturnStdErrIn500" << 500 << QByteArray("warning%20from%20the%20app");
        QTest::newRow("ReturnGeneric500") << "ReturnGeneric500" << 500 << QByteArray();
        QTest::newRow("IgnoreAndReturn200") << "IgnoreAndReturn200" << 200 << QByteArray("hello from the FastCGI helper");
        QTest::newRow("TerminateProcess") << "TerminateProcess" << 500 << QByteArray("stderrMode=TerminateProcess");
    }
    void stderrModes()
    {
        QFETCH(QString, mode);
        QFETCH(int, status);
        QFETCH(QByteArray, body);
        EngineFixture f;
        useHelper(f, "stderrMode=\"" + mode + "\"");
        QVERIFY(f.start());
        Response r = fetch(f.port, "/app/x?stderr=warning%20from%20the%20app");
        QCOMPARE(r.status, status);
        if (!body.isEmpty())
            QVERIFY2(r.body.contains(body), r.body.constData());
        if (mode == "ReturnGeneric500")
            QVERIFY(!r.body.contains("warning"));
        QTRY_VERIFY(!f.events("fastcgi.stderr").empty()); // logged whatever the mode
        QString logged = QString::fromStdString(f.events("fastcgi.stderr").back().message);
        QVERIFY2(logged.endsWith("/app/x?stderr=warning%20from%20the%20app: warning%20from%20the%20app"), qPrintable(logged));
        QCOMPARE(fetch(f.port, "/app/x").status, 200);
    }

    void relaxedAndStrictHeaders()
    {
        EngineFixture strict;
        useHelper(strict, "");
        QVERIFY(strict.start());
        Response r = fetch(strict.port, "/app/x?relaxed");
        QCOMPARE(r.status, 502);
        QVERIFY2(r.body.contains("line 1 ends with LF only (strict syntax wants CRLF)"), r.body.constData());
        EngineFixture relaxed;
        useHelper(relaxed, "responseHeaders=\"Relaxed\"");
        QVERIFY(relaxed.start());
        r = fetch(relaxed.port, "/app/x?relaxed");
        QCOMPARE(r.status, 201);
        QCOMPARE(r.header("content-type"), std::string("text/plain"));
        QCOMPARE(r.body, QByteArray("relaxed\n"));
    }

    void crashWhileServingIsExplained()
    {
        EngineFixture f;
        useHelper(f, "");
        QVERIFY(f.start());
        Response r = fetch(f.port, "/app/x?crash");
        QCOMPARE(r.status, 502);
        QVERIFY2(r.body.contains("exited with signal 6 (SIGABRT) while serving this request"), r.body.constData());
        QCOMPARE(fetch(f.port, "/app/x").status, 200); // a new instance takes over
        QCOMPARE(f.engine->snapshot().fastcgi.front().crashes, uint64_t(1));
    }

    void rapidFailStopsThePoolAndSaysWhy()
    {
        EngineFixture f;
        useHelper(f, "", envVar("HELPER_EXIT_AT_START", "3"),
                  R"(<add name="fragile"><failure rapidFailProtectionMaxCrashes="3" /></add>)");
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="fragile"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)"
                             R"(<application path="/static" applicationPool="fragile"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/static/hello.txt").status, 200);
        for (int i = 0; i < 6; ++i)
            fetch(f.port, "/app/x");
        QTRY_VERIFY(!f.events("pool.rapid-fail").empty());
        QString sentence = QString::fromStdString(f.events("pool.rapid-fail").front().message);
        QVERIFY2(QRegularExpression("^pool fragile stopped by rapid-fail protection: 3 crashes in 300 s; last: exited before serving a request with "
                                    "exit status 3 after \\d+ ms; stderr: \"fcgi-helper: cannot start: configured to fail with status 3\"$")
                     .match(sentence)
                     .hasMatch(),
                 qPrintable(sentence));
        Response r = fetch(f.port, "/app/x");
        QCOMPARE(r.status, 503);
        QVERIFY(r.body.contains("stopped by rapid-fail protection"));
        auto pools = f.engine->snapshot().fastcgi;
        auto it = std::find_if(pools.begin(), pools.end(), [](const auto& p) { return p.pool == "fragile"; });
        QVERIFY(it != pools.end());
        QVERIFY(!it->running);
        QCOMPARE(QString::fromStdString(it->stoppedReason), sentence);
        // As in IIS, the whole application pool stops: its static files answer 503 too, saying why.
        QTRY_COMPARE(fetch(f.port, "/static/hello.txt").status, 503);
        Response page = fetch(f.port, "/static/hello.txt");
        QVERIFY2(page.body.contains("application pool &#39;fragile&#39; is stopped: pool fragile stopped by rapid-fail protection: 3 crashes in 300 s") ||
                     page.body.contains("application pool 'fragile' is stopped: pool fragile stopped by rapid-fail protection: 3 crashes in 300 s"),
                 page.body.constData());
        QVERIFY(page.body.contains("until an administrator starts it"));
        QTRY_VERIFY(!f.events("pool.application-stopped").empty());
        QVERIFY2(QString::fromStdString(f.events("pool.application-stopped").front().message)
                     .startsWith("application pool fragile stopped: all its applications answer 503, static files and CGI too, until an "
                                 "administrator starts it (lidoctl start pool fragile, or Start in the console); pool fragile stopped by "
                                 "rapid-fail protection: 3 crashes in 300 s"),
                 f.events("pool.application-stopped").front().message.c_str());
        // One call starts it again.
        QVERIFY(f.engine->controlPool("fragile", lido::engine::PoolAction::Start));
        QTRY_COMPARE(fetch(f.port, "/static/hello.txt").status, 200);
        auto fragileRuns = [&] {
            auto snapshot = f.engine->snapshot(); // one snapshot: begin() and end() of the same vector
            return std::any_of(snapshot.fastcgi.begin(), snapshot.fastcgi.end(), [](const auto& p) { return p.pool == "fragile" && p.running; });
        };
        QTRY_VERIFY(fragileRuns());
    }

    // An application that cannot start is tried again after 0.2 s, 0.4 s, 0.8 s (restartBackoff,
    // doubling), not four times within a millisecond: the crashes are spread, each back-off is an
    // event and the snapshot says when the next start is; rapid-fail protection still stops it.
    void failedStartsBackOff()
    {
        EngineFixture f;
        useHelper(f, "", envVar("HELPER_EXIT_AT_START", "3"),
                  R"(<add name="fragile"><failure rapidFailProtectionMaxCrashes="4" restartBackoff="00:00:00.200" /></add>)");
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="fragile"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        Response r;
        std::thread client([&] { r = fetch(f.port, "/app/x"); }); // waits in the queue while the pool tries
        auto fragile = [&] {
            for (const auto& p : f.engine->snapshot().fastcgi)
                if (p.pool == "fragile")
                    return p;
            return lido::pool::PoolMetrics{};
        };
        QTRY_VERIFY(fragile().retryInSeconds > 0);
        QVERIFY(fragile().running && fragile().failedStarts >= 1);
        QTRY_VERIFY(!f.events("pool.rapid-fail").empty());
        client.join();
        QCOMPARE(r.status, 503); // the waiting request gets the stop's reason
        auto failed = f.events("pool.instance-failed");
        QCOMPARE(int(failed.size()), 4);
        for (size_t i = 1; i < failed.size(); ++i) {
            auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(failed[i].time - failed[i - 1].time).count();
            long wanted = 200L << (i - 1); // 200, 400, 800 ms
            QVERIFY2(gap >= wanted - 20, qPrintable(QString("crash %1 came %2 ms after the one before, %3 ms wanted").arg(i).arg(gap).arg(wanted)));
        }
        QStringList backoffs;
        for (const auto& e : f.events("pool.start-backoff"))
            backoffs << QString::fromStdString(e.message).section(": ", 1);
        QCOMPARE(backoffs.mid(0, 3), QStringList({"retrying in 0.2 s", "retrying in 0.4 s", "retrying in 0.8 s"}));
        QVERIFY(QString::fromStdString(f.events("pool.start-backoff").front().message).startsWith("pool fragile is failing to start (1 in a row)"));
        QVERIFY(!fragile().running);
        QCOMPARE(fragile().retryInSeconds, 0.0); // stopped: nothing is retried
        // Started by the administrator: at once, no back-off left over.
        QVERIFY(f.engine->controlPool("fragile", lido::engine::PoolAction::Start));
        QTRY_VERIFY(fragile().running);
        QCOMPARE(fragile().failedStarts, 0);
    }

    // The sample says it: a pool that rapid-fail protection stopped stays stopped until an
    // administrator starts it. Mending the file (here: the variable that makes it fail) is applied,
    // and the pool stays stopped, with an event that says so and how to start it.
    void rapidFailStopSurvivesTheFix()
    {
        EngineFixture f;
        QString pool = R"(<add name="fragile"><failure rapidFailProtectionMaxCrashes="2" restartBackoff="00:00:00" /></add>)";
        useHelper(f, "", envVar("HELPER_EXIT_AT_START", "3"), pool);
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="fragile"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        fetch(f.port, "/app/x");
        QTRY_VERIFY(!f.events("pool.rapid-fail").empty());
        useHelper(f, "", {}, pool); // mended
        auto applied = f.apply();
        QVERIFY2(applied.ok(), applied.ok() ? "" : applied.error().c_str());
        QVERIFY2(QString::fromStdString(*applied).contains("environmentVariables"), applied->c_str());
        QTRY_VERIFY(!f.events("pool.kept-stopped").empty());
        QString kept = QString::fromStdString(f.events("pool.kept-stopped").front().message);
        QVERIFY2(kept.startsWith("pool fragile stays stopped after the configuration change: pool fragile stopped by rapid-fail protection") &&
                     kept.contains("lidoctl start pool fragile"),
                 qPrintable(kept));
        Response r = fetch(f.port, "/app/x");
        QCOMPARE(r.status, 503);
        QVERIFY2(r.body.contains("an administrator starts it"), r.body.constData());
        QVERIFY(f.engine->controlPool("fragile", lido::engine::PoolAction::Start));
        QTRY_COMPARE(fetch(f.port, "/app/x").status, 200); // the mended application serves
    }

    // A FastCGI pool exists only where a request can reach it: /a's pool runs the program its
    // <location> maps, /b's the other, the site's own pool neither. Every pool used to get every
    // FastCGI application a handler named (and an AlwaysRunning pool started them all).
    void poolsOnlyWhereRequestsReachThem()
    {
        EngineFixture f;
        scopedFastCgiApps(f);
        QString helper = LIDO_TEST_BIN_DIR "/lido-test-fcgi";
        QVERIFY(f.start());
        QStringList pools;
        for (const auto& p : f.engine->snapshot().fastcgi)
            pools << QString::fromStdString(p.pool + " " + p.application);
        pools.sort();
        QCOMPARE(pools, QStringList({"a " + helper + " one", "b " + helper + " two"}));
        QCOMPARE(fetch(f.port, "/a/x.app").status, 200);
        QCOMPARE(fetch(f.port, "/b/x.app").status, 200);
        QCOMPARE(fetch(f.port, "/x.app").status, 404); // the site's root has no such handler: a file that is not there
    }

    void execFailureIsNamed()
    {
        EngineFixture f;
        f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"@DIR@/www/hello.txt\" /></fastCgi>";
        f.values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"@DIR@/www/hello.txt\" />";
        ::chmod(f.s.path("www/hello.txt").toUtf8().constData(), 0755); // executable but not a program
        QVERIFY(f.start());
        Response r = fetch(f.port, "/app/x");
        QVERIFY(r.status == 503 || r.status == 502);
        QTRY_VERIFY(!f.events("pool.instance-failed").empty());
        QString sentence = QString::fromStdString(f.events("pool.instance-failed").front().message);
        QVERIFY2(sentence.contains("could not be started: exec " + f.s.path("www/hello.txt") + ": Exec format error (not a program for this machine"),
                 qPrintable(sentence));
    }

    void queueFullGets503()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\" queueLength=\"2\"");
        QVERIFY(f.start());
        auto responses = concurrently(f.port, "/app/x?sleep=300", 8);
        int ok = 0, busy = 0;
        for (const Response& r : responses) {
            ok += r.status == 200;
            busy += r.status == 503 && r.header("retry-after") == "5";
        }
        for (const Response& r : responses)
            QVERIFY2(r.status == 200 || r.status == 503, qPrintable(QString::number(r.status) + " " + QString::fromUtf8(r.body)));
        QVERIFY(busy >= 1);
        QVERIFY(f.engine->snapshot().fastcgi.front().queueFull >= 1);
    }

    void signalBeforeTerminate()
    {
        { // 0 (the default): SIGKILL at once, said as the pool's own stop, not as a crash
            EngineFixture f;
            useHelper(f, "maxInstances=\"1\"");
            QVERIFY(f.start());
            QCOMPARE(fetch(f.port, "/app/x").status, 200);
            QVERIFY(f.engine->controlPool("web", lido::engine::PoolAction::Recycle));
            QTRY_VERIFY(!f.events("instance.stopped").empty());
            QString stopped = QString::fromStdString(f.events("instance.stopped").front().message);
            QVERIFY2(QRegularExpression("^instance \\d+ \\(pid \\d+\\) stopped \\(recycled: by the administrator\\): killed with SIGKILL, as "
                                        "signalBeforeTerminateSeconds is 0$")
                         .match(stopped)
                         .hasMatch(),
                     qPrintable(stopped));
        }
        for (bool ignores : {false, true}) {
            EngineFixture f;
            useHelper(f, "maxInstances=\"1\" signalBeforeTerminateSeconds=\"1\"", ignores ? envVar("HELPER_IGNORE_TERM", "1") : QString());
            QVERIFY(f.start());
            QCOMPARE(fetch(f.port, "/app/x").status, 200);
            QVERIFY(f.engine->controlPool("web", lido::engine::PoolAction::Recycle));
            QTRY_VERIFY(!f.events("instance.stopped").empty());
            QString stopped = QString::fromStdString(f.events("instance.stopped").front().message);
            if (ignores) {
                QVERIFY(!f.events("instance.killed").empty());
                QVERIFY(QString::fromStdString(f.events("instance.killed").front().message).contains("did not exit within 1 s of SIGTERM; killed with SIGKILL"));
                QVERIFY2(stopped.endsWith("): ignored SIGTERM for 1 s (signalBeforeTerminateSeconds), killed with SIGKILL"), qPrintable(stopped));
            } else {
                QVERIFY(f.events("instance.killed").empty());
                // libfcgi applications leave their accept loop on SIGTERM and exit normally.
                QVERIFY2(stopped.endsWith("): exited on SIGTERM with exit status 0"), qPrintable(stopped));
            }
        }
    }

    void monitoredFileChangeRecyclesWithoutFailures()
    {
        EngineFixture f;
        f.s.write("php.ini", "memory_limit=1\n");
        useHelper(f, "maxInstances=\"2\" monitorChangesTo=\"@DIR@/php.ini\"");
        QVERIFY(f.start());
        std::atomic<bool> stop{false};
        std::atomic<int> ok{0}, failed{0};
        std::thread load([&] {
            while (!stop) {
                Response r = fetch(f.port, "/app/x?sleep=20");
                (r.status == 200 ? ok : failed)++;
                if (r.status != 200)
                    qWarning("failed during recycle: %d %s", r.status, r.body.constData());
            }
        });
        QTest::qWait(300);
        f.s.write("php.ini", "memory_limit=2\n"); // rewritten in place
        QTRY_VERIFY(!f.events("pool.recycled").empty());
        QTest::qWait(300);
        stop = true;
        load.join();
        if (failed.load() != 0)
            for (const auto& e : f.engine->events()->since(0))
                qWarning("%s %s: %s", e.code.c_str(), e.source.c_str(), e.message.c_str());
        QCOMPARE(failed.load(), 0);
        QVERIFY(ok > 10);
        QVERIFY(QString::fromStdString(f.events("pool.recycled").front().message).contains("the monitored file " + f.s.path("php.ini") + " changed"));
        QVERIFY(!f.events("instance.stopped").empty());
    }

    void instanceMaxRequestsRecycles()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\" instanceMaxRequests=\"2\"");
        QVERIFY(f.start());
        QByteArray first = fetch(f.port, "/app/x?count").body;
        QByteArray second = fetch(f.port, "/app/x?count").body;
        QByteArray third = fetch(f.port, "/app/x?count").body;
        QCOMPARE(second.split(' ').first(), first.split(' ').first());
        QVERIFY(third.split(' ').first() != first.split(' ').first());
        QVERIFY(third.endsWith("served=1\n"));
        // Replaced instances leave nothing open behind them (pipes, sockets, pidfds).
        auto openFds = [] { return QDir("/proc/self/fd").entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System).size(); };
        QTRY_COMPARE(f.events("instance.stopped").size(), size_t(1));
        qsizetype before = openFds();
        for (int i = 0; i < 10; ++i)
            QCOMPARE(fetch(f.port, "/app/x").status, 200);
        QTRY_COMPARE(f.events("instance.stopped").size(), size_t(6));
        QTRY_VERIFY(openFds() <= before + 1);
    }

    // Instances that exit with status 0 after N requests recycled themselves: no crash, no
    // rapid-fail stop, a request written just before the exit is sent again, and one warning says
    // what to set.
    void selfRecyclingIsNotACrash()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"4\" instanceMaxRequests=\"100000\"", envVar("HELPER_EXIT_AFTER", "50"));
        QVERIFY(f.start());
        std::map<int, int> statuses = keepAliveLoad(f.port, "/app/x", 5000, 16);
        QCOMPARE(statuses[200], 5000);
        auto m = f.engine->snapshot().fastcgi.front();
        QVERIFY(m.running);
        QCOMPARE(m.crashes, uint64_t(0));
        // Three exits teach the pool N; from then on it recycles the instances at N itself.
        QVERIFY2(m.selfRecycles >= 3, qPrintable(QString::number(m.selfRecycles)));
        QVERIFY2(m.selfRecycles + m.recycles >= 95, qPrintable(QString::number(m.selfRecycles + m.recycles)));
        QVERIFY(f.events("pool.rapid-fail").empty());
        QVERIFY(f.events("pool.instance-failed").empty());
        auto recycled = f.events("instance.self-recycled");
        QVERIFY(!recycled.empty());
        QVERIFY2(QString::fromStdString(recycled.front().message).contains("exited with status 0 after 50 requests (not counted as a crash)"),
                 recycled.front().message.c_str());
        auto advice = f.events("pool.self-recycle-advice");
        QCOMPARE(advice.size(), size_t(1));
        QVERIFY2(QString::fromStdString(advice.front().message).contains("set instanceMaxRequests to 50 or less"), advice.front().message.c_str());
        QCOMPARE(advice.front().severity, lido::log::Severity::Warning);
        QVERIFY(QString::fromStdString(m.advice).contains("set instanceMaxRequests to 50 or less"));
    }

    // A non-zero exit between requests is still a crash, counted toward rapid-fail.
    void nonZeroExitBetweenRequestsIsACrash()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\" instanceMaxRequests=\"100000\"", {}, {});
        QVERIFY(f.start());
        QByteArray pid = fetch(f.port, "/app/x?count").body.split(' ').first().mid(4);
        QVERIFY(!pid.isEmpty());
        ::kill(pid.toInt(), SIGKILL);
        QTRY_COMPARE(f.engine->snapshot().fastcgi.front().crashes, uint64_t(1));
        QCOMPARE(f.engine->snapshot().fastcgi.front().selfRecycles, uint64_t(0));
        QCOMPARE(fetch(f.port, "/app/x").status, 200);
    }

    void phpCgiRecyclingItselfKeepsThePoolUp()
    {
        if (!QFile::exists("/usr/bin/php-cgi"))
            QSKIP("php-cgi is not installed");
        EngineFixture f;
        f.s.write("www/hello.php", "<?php echo 'hello ', getmypid(), \"\\n\";");
        f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"/usr/bin/php-cgi\" maxInstances=\"4\" instanceMaxRequests=\"100000\">"
                                "<environmentVariables><environmentVariable name=\"PHP_FCGI_MAX_REQUESTS\" value=\"50\" />"
                                "</environmentVariables></application></fastCgi>";
        f.values["@HANDLERS@"] = "<add name=\"PHP\" path=\"*.php\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"/usr/bin/php-cgi\" resourceType=\"File\" />";
        QVERIFY(f.start());
        std::map<int, int> statuses = keepAliveLoad(f.port, "/hello.php", 20000, 16);
        QCOMPARE(statuses[200], 20000);
        auto m = f.engine->snapshot().fastcgi.front();
        QVERIFY(m.running);
        QCOMPARE(m.crashes, uint64_t(0));
        QVERIFY2(m.selfRecycles >= 3, qPrintable(QString::number(m.selfRecycles)));
        QVERIFY2(m.selfRecycles + m.recycles >= 395, qPrintable(QString::number(m.selfRecycles + m.recycles)));
        QVERIFY(f.events("pool.rapid-fail").empty());
        QCOMPARE(f.events("pool.self-recycle-advice").size(), size_t(1));
    }

    void clientAbortFreesTheInstance()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\"");
        QVERIFY(f.start());
        {
            Client c(f.port);
            c.send(getRequest("/app/x?sleep=300"));
            QThread::msleep(50);
        }
        Response r = fetch(f.port, "/app/x");
        QCOMPARE(r.status, 200);
    }

    void autoTunedInstancesGrowUnderLoad()
    {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        QSKIP("the auto-tuner reads idle CPU, which a sanitizer's slowdown takes away");
#endif
        EngineFixture f;
        useHelper(f, "maxInstances=\"0\"");
        QVERIFY(f.start());
        std::atomic<bool> stop{false};
        std::vector<std::thread> load;
        for (int i = 0; i < 6; ++i)
            load.emplace_back([&] {
                while (!stop)
                    fetch(f.port, "/app/x?sleep=50");
            });
        // The load threads are joined before any check fails (a failed QTRY returning with them
        // still running would abort the whole test executable).
        int reached = 0;
        for (int waited = 0; waited < 20000 && reached < 4; waited += 50) {
            reached = f.engine->snapshot().fastcgi.front().maxInstances;
            QTest::qWait(50);
        }
        stop = true;
        for (auto& t : load)
            t.join();
        QVERIFY2(reached >= 4, qPrintable(QString("maxInstances reached %1 (the tuner grows only while the CPU has room: is the machine busy?)").arg(reached)));
    }

    void periodicRestart()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\"", {}, R"(<add name="cycled"><recycling><periodicRestart requests="3" time="00:00:02" /></recycling></add>)");
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="cycled"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        for (int i = 0; i < 3; ++i)
            QCOMPARE(fetch(f.port, "/app/x").status, 200);
        QTRY_VERIFY(!f.events("pool.recycled").empty());
        QCOMPARE(QString::fromStdString(f.events("pool.recycled").front().message), QString("pool cycled recycled: periodicRestart requests (3) reached"));
        QCOMPARE(fetch(f.port, "/app/x?count").body.split(' ').last(), QByteArray("served=1\n")); // a fresh instance
        QTRY_VERIFY_WITH_TIMEOUT(f.events("pool.recycled").size() >= 2, 6000);
        QCOMPARE(QString::fromStdString(f.events("pool.recycled")[1].message), QString("pool cycled recycled: periodicRestart time (2 s) reached"));
    }

    void startupTimeLimit()
    {
        EngineFixture f;
        useHelper(f, "", envVar("HELPER_SLEEP_AT_START", "5000"),
                  R"(<add name="slow"><processModel startupTimeLimit="00:00:01" /></add>)");
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="slow"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        Response r = fetch(f.port, "/app/x");
        QCOMPARE(r.status, 502);
        QVERIFY2(r.body.contains("did not answer within startupTimeLimit (1 s)"), r.body.constData());
        QVERIFY(!f.events("pool.instance-failed").empty());
    }

    // pingInterval and pingResponseTime have a floor of one second: real pings, a few seconds.
    void pingsKeepHealthyInstancesAndReplaceAHungOne()
    {
        EngineFixture f;
        useHelper(f, "maxInstances=\"1\"", envVar("HELPER_FREEZE_AFTER_FIRST", "1"),
                  R"(<add name="pinged"><processModel pingInterval="00:00:01" pingResponseTime="00:00:01" /></add>)");
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="pinged"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        Response first = fetch(f.port, "/app/x?count");
        QCOMPARE(first.status, 200);
        pid_t frozen = first.body.split(' ').first().mid(4).toInt();
        QVERIFY(frozen > 0);
        // The helper stops itself (SIGSTOP) after its first request: alive, holding its connection,
        // deaf. Only the ping can tell; it is replaced and the event says why.
        QTRY_VERIFY_WITH_TIMEOUT(!f.events("pool.instance-failed").empty(), 8000);
        QString why = QString::fromStdString(f.events("pool.instance-failed").front().message);
        QVERIFY2(why.contains("(pid " + QString::number(frozen) + ") did not answer a ping (FCGI_GET_VALUES) within pingResponseTime (1 s)"),
                 qPrintable(why));
        QTRY_VERIFY(::kill(frozen, 0) != 0); // killed and reaped
        auto m = f.engine->snapshot().fastcgi.front();
        QCOMPARE(m.pingFailures, uint64_t(1));
        QVERIFY(m.pingsAnswered >= 1); // its start-up answer
        Response next = fetch(f.port, "/app/x?count");
        QCOMPARE(next.status, 200);
        QVERIFY(next.body.endsWith("served=1\n"));
    }

    void rapidFailCountsPingFailures()
    {
        EngineFixture f;
        useHelper(f, "", envVar("HELPER_FREEZE_AFTER_FIRST", "1"),
                  R"(<add name="deaf"><processModel pingInterval="00:00:01" pingResponseTime="00:00:01" />)"
                  R"(<failure rapidFailProtectionMaxCrashes="1" /></add>)");
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="deaf"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/app/x").status, 200);
        QTRY_VERIFY_WITH_TIMEOUT(!f.events("pool.rapid-fail").empty(), 8000);
        QString why = QString::fromStdString(f.events("pool.rapid-fail").front().message);
        QVERIFY2(QRegularExpression("^pool deaf stopped by rapid-fail protection: 1 crashes in 300 s; last: did not answer a ping "
                                    "\\(FCGI_GET_VALUES\\) within pingResponseTime \\(1 s\\) after \\d+ ms$").match(why).hasMatch(),
                 qPrintable(why));
        Response r = fetch(f.port, "/app/x");
        QCOMPARE(r.status, 503);
        QVERIFY(r.body.contains("did not answer a ping"));
    }

    void pingsLeaveAnsweringInstancesAlone_data()
    {
        QTest::addColumn<QString>("program");
        QTest::newRow("libfcgi") << LIDO_TEST_BIN_DIR "/lido-test-fcgi";
        QTest::newRow("php-cgi") << "/usr/bin/php-cgi";
    }
    void pingsLeaveAnsweringInstancesAlone()
    {
        QFETCH(QString, program);
        if (!QFile::exists(program))
            QSKIP("not installed");
        EngineFixture f;
        f.s.write("www/pid.php", "<?php echo 'pid=', getmypid(), \"\\n\";");
        f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" + program + "\" maxInstances=\"1\" /></fastCgi>";
        f.values["@HANDLERS@"] = "<add name=\"App\" path=\"*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" + program + "\" />";
        f.values["@POOLS@"] = R"(<add name="pinged"><processModel pingInterval="00:00:01" pingResponseTime="00:00:01" /></add>)";
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="pinged"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        QVERIFY(f.start());
        QByteArray pid = fetch(f.port, "/app/pid.php?count").body.split(' ').first().trimmed();
        QVERIFY(pid.startsWith("pid="));
        // Three pings answered on the connection the instance keeps: the same process serves on.
        QTRY_VERIFY_WITH_TIMEOUT(f.engine->snapshot().fastcgi.front().pingsAnswered >= 4, 8000);
        Response again = fetch(f.port, "/app/pid.php?count");
        QCOMPARE(again.status, 200);
        QCOMPARE(again.body.split(' ').first().trimmed(), pid);
        QVERIFY(f.events("pool.instance-failed").empty());
        QCOMPARE(f.engine->snapshot().fastcgi.front().pingFailures, uint64_t(0));
    }

    void utf8ServerVariables()
    {
        EngineFixture f;
        useHelper(f, "utf8ServerVariables=\"SCRIPT_NAME,REQUEST_URI\"");
        QVERIFY(f.start());
        Response r = fetch(f.port, "/app/caf%C3%A9?env");
        QCOMPARE(r.status, 200);
        QVERIFY2(r.body.contains("SCRIPT_NAME=/app/caf\xC3\xA9\n"), r.body.constData());
        QVERIFY2(r.body.contains("REQUEST_URI=/app/caf\xC3\xA9?env\n"), r.body.constData());
        Response bad = fetch(f.port, "/app/caf%E9?env"); // Latin-1, not UTF-8
        QCOMPARE(bad.status, 400);
        QVERIFY(bad.body.contains("the server variable SCRIPT_NAME is not valid UTF-8"));
        EngineFixture plain;
        useHelper(plain, "");
        QVERIFY(plain.start());
        Response asToday = fetch(plain.port, "/app/caf%E9?env");
        QCOMPARE(asToday.status, 200); // not listed: passed on as it is
        QVERIFY(asToday.body.contains("REQUEST_URI=/app/caf%E9?env\n"));
    }

    void statusEndpointsAnswerWhileSaturated()
    {
        EngineFixture f;
        uint16_t statusPort = freePort();
        useHelper(f, "maxInstances=\"1\"");
        f.values["@LIDO@"] = QString("<lido><statusListener bindingInformation=\"127.0.0.1:%1:\" /></lido>").arg(statusPort);
        QVERIFY(f.start());
        std::vector<std::unique_ptr<Client>> busy;
        for (int i = 0; i < 6; ++i) {
            busy.push_back(std::make_unique<Client>(f.port));
            busy.back()->send(getRequest("/app/x?sleep=1500"));
        }
        QTRY_VERIFY(f.engine->snapshot().fastcgi.front().queued >= 4);
        auto started = std::chrono::steady_clock::now();
        Response status = fetch(statusPort, "/status");
        QVERIFY(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1000)); // not behind the pool's queue
        QCOMPARE(status.status, 200);
        QCOMPARE(status.header("content-type"), std::string("application/json"));
        QJsonDocument json = QJsonDocument::fromJson(status.body);
        QVERIFY2(json.isObject(), status.body.constData());
        QJsonObject pool = json["pools"].toArray().first().toObject();
        QCOMPARE(pool["pool"].toString(), QString("web"));
        QVERIFY(pool["listen queue"].toInt() >= 4);
        QCOMPARE(pool["active processes"].toInt(), 1);
        QCOMPARE(pool["max children reached"].toInt(), 1);
        QCOMPARE(pool["processes"].toArray().first().toObject()["state"].toString(), QString("Running"));
        // RSS and CPU are read when the pool publishes (at least once a second).
        auto rss = [&] {
            QJsonDocument again = QJsonDocument::fromJson(fetch(statusPort, "/status").body);
            return again["pools"].toArray().first().toObject()["processes"].toArray().first().toObject()["rss bytes"].toDouble();
        };
        QTRY_VERIFY(rss() > 0);
        Response metrics = fetch(statusPort, "/metrics");
        QCOMPARE(metrics.status, 200);
        QVERIFY(metrics.body.contains("# TYPE lido_pool_instances gauge\n"));
        QVERIFY(metrics.body.contains("lido_pool_instances{pool=\"web\",application=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\",state=\"busy\"} 1\n"));
        QVERIFY(QRegularExpression("lido_pool_queue_length\\{pool=\"web\",application=\"[^\"]+\"\\} [4-6]\n").match(QString::fromUtf8(metrics.body)).hasMatch());
        QVERIFY(metrics.body.contains("lido_pool_failures_total{pool=\"web\",cause=\"crash\"} 0\n"));
        for (auto& c : busy)
            QCOMPARE(c->read(20000).status, 200);
    }

    void statusAllowList()
    {
        EngineFixture f;
        uint16_t statusPort = freePort();
        f.values["@LIDO@"] = QString("<lido><statusListener bindingInformation=\"127.0.0.1:%1:\" allow=\"10.0.0.1\" /></lido>").arg(statusPort);
        QVERIFY(f.start());
        Response r = fetch(statusPort, "/status");
        QCOMPARE(r.status, 403);
        QVERIFY(r.body.contains("127.0.0.1 is not in lido/statusListener/@allow"));
    }

    void phpCgi()
    {
        if (!QFile::exists("/usr/bin/php-cgi"))
            QSKIP("php-cgi is not installed");
        EngineFixture f;
        f.s.write("www/info.php", "<?php header('X-Lido: yes'); echo 'php ', PHP_MAJOR_VERSION, ' ', $_SERVER['REQUEST_METHOD'], ' ', "
                                  "$_GET['q'] ?? '-', ' ', file_get_contents('php://input'), \"\\n\";");
        f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"/usr/bin/php-cgi\"><environmentVariables>"
                                "<environmentVariable name=\"PHP_FCGI_MAX_REQUESTS\" value=\"0\" /></environmentVariables></application></fastCgi>";
        f.values["@HANDLERS@"] = "<add name=\"PHP\" path=\"*.php\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"/usr/bin/php-cgi\" resourceType=\"File\" />";
        QVERIFY(f.start());
        Response r = fetch(f.port, "/info.php?q=1");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("x-lido"), std::string("yes"));
        QVERIFY2(r.body.startsWith("php 8 GET 1 "), r.body.constData());
        Client c(f.port);
        c.send("POST /info.php HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n4\r\nbody\r\n0\r\n\r\n");
        Response post = c.read();
        QCOMPARE(post.status, 200);
        QVERIFY2(post.body.startsWith("php 8 POST - body"), post.body.constData());
        QCOMPARE(fetch(f.port, "/missing.php").status, 404);
    }
};

QTEST_GUILESS_MAIN(tst_FastCgiPool)
#include "tst_fastcgipool.moc"
