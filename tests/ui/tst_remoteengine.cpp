// The console's remote engine client against a real lidod: the same EngineClient interface as
// the in-process engine, over the admin socket.
#include "EngineClient.h"
#include "EngineSupport.h"
#include "MainWindow.h"
#include "PoolDialog.h"
#include "PoolsPage.h"
#include "TimeChart.h"

#include "admin/AdminServer.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QtTest>

static lido::engine::PoolMetrics pool(const EngineClient& c, const std::string& name)
{
    for (const auto& p : c.snapshot().fastcgi)
        if (p.pool == name)
            return p;
    return {};
}

// An application pool "app" with one FastCGI instance from the start, on *.app under /app.
static void alwaysRunningApp(EngineFixture& f)
{
    f.values["@POOLS@"] = "<add name=\"app\" startMode=\"AlwaysRunning\" />";
    f.values["@APPS@"] = R"(<application path="/app" applicationPool="app"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" maxInstances=\"1\" /></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"App\" path=\"*.app\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi\" />";
}

class tst_RemoteEngine : public QObject {
    Q_OBJECT
private slots:
    void attachesToALidod()
    {
        EngineFixture f;
        alwaysRunningApp(f);
        Lidod d(f);
        RemoteEngineClient client;
        QSignalSpy failures(&client, &EngineClient::commandFailed);
        QSignalSpy snapshots(&client, &EngineClient::snapshotReady);
        client.connectTo(d.socket);
        QTRY_VERIFY(client.isConnected());
        QTRY_VERIFY(!client.snapshot().sites.empty());
        QCOMPARE(client.snapshot().sites.front().name, std::string("Main"));
        QTRY_COMPARE(pool(client, "app").idle, 1);
        bool started = false;
        for (const auto& e : client.eventsSince(0))
            started = started || e.code == "engine.started";
        QVERIFY(started); // the events from before the console attached

        client.controlPool("app", lido::engine::PoolAction::Stop);
        QTRY_VERIFY(!pool(client, "app").running);
        QCOMPARE(pool(client, "app").stoppedReason, std::string("stopped by the administrator"));
        QTRY_VERIFY(!client.eventsSince(0).empty() && client.eventsSince(0).back().code != "engine.started");
        QCOMPARE(fetch(f.port, "/app/x.app").status, 503);

        client.controlPool("nosuch", lido::engine::PoolAction::Stop);
        QTRY_COMPARE(failures.size(), 1);
        QCOMPARE(failures.front().front().toString(), QString("no application pool 'nosuch'"));

        client.controlSite("Main", lido::engine::SiteAction::Stop);
        QTRY_VERIFY(!client.snapshot().sites.front().started);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 0);
        QVERIFY(snapshots.size() >= 3); // once a second
    }

    // The engine keeps each pool's chart figures whether a console watches or not: a console that
    // attaches (or restarts) shows the minutes before it at once, on the pools page and the
    // pool's own page, instead of empty charts.
    void chartsStartFromTheEnginesHistory()
    {
        EngineFixture f;
        alwaysRunningApp(f);
        Lidod d(f);
        auto kept = [&] { // the admin channel's answer, as the console gets it
            testsupport::Run r = testsupport::lidoctl({"--connect", d.socket, "bridge"}, "{\"id\":1,\"op\":\"poolHistory\",\"pool\":\"app\"}\n");
            return QJsonDocument::fromJson(r.out.section('\n', 0, 0).toUtf8()).object()["result"].toArray();
        };
        QTRY_VERIFY_WITH_TIMEOUT(kept().size() >= 6, 15000);
        QJsonArray last = kept().last().toArray();
        QCOMPARE(last.size(), 12);    // time, requests/s, busy, total, queued, p99, six causes
        QCOMPARE(last[3].toInt(), 1); // AlwaysRunning: its one instance

        RemoteEngineClient client;
        QSignalSpy snapshots(&client, &EngineClient::snapshotReady);
        client.connectTo(d.socket);
        MainWindow w(&client);
        QVERIFY(w.openFile(d.file));
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        PoolsPage* page = w.poolsPage();
        QTRY_VERIFY(page->model()->rowCount() == 2);
        w.showPool("app");
        QCOMPARE(page->selectedPool(), QString("app"));
        QTRY_VERIFY(page->chart()->points() >= 6);
        QVERIFY2(page->chart()->points() > snapshots.size() + 2, // more than the page could have seen itself
                 qPrintable(QString("%1 points after %2 snapshots").arg(page->chart()->points()).arg(snapshots.size())));
        for (const auto& p : page->historyOf("app"))
            QCOMPARE(p.total, 1.0f); // the pool's own figures (not another pool's answer)
        PoolDialog* detail = page->openPool("app");
        QTRY_VERIFY(detail->instancesChart()->points() >= 6);
        QCOMPARE(detail->instancesChart()->peak(0), 1.0); // the instance, the whole time
        detail->close();
    }

    // What `lido` decides at start (app/lido/main.cpp): a live engine on the admin socket is
    // Answering (the console attaches and starts none of its own, so no second engine fails to
    // bind the same ports); a dead engine's socket file, or none, is Absent (it runs its own).
    void findsTheRunningEngineToAttachTo()
    {
        EngineFixture f;
        QString socket = f.s.path("admin.sock");
        QCOMPARE(probeEngine(socket), EngineProbe::Absent);
        {
            Lidod d(f);
            QTRY_VERIFY(QFile::exists(socket));
            QString error;
            QCOMPARE(probeEngine(socket, &error), EngineProbe::Answering);
            RemoteEngineClient client;
            QSignalSpy path(&client, &RemoteEngineClient::runningConfigPathKnown);
            client.connectTo(socket);
            QTRY_COMPARE(path.size(), 1); // the file the console then opens
            QCOMPARE(path.front().front().toString(), d.file);
            d.process.kill(); // dies without removing its socket file
            d.process.waitForFinished();
        }
        QVERIFY(QFile::exists(socket));
        QCOMPARE(probeEngine(socket), EngineProbe::Absent);
        // Where it looks first: root's own is the service's socket; others' is theirs, with the
        // service's as the fallback.
        if (::geteuid() == 0)
            QCOMPARE(QString::fromStdString(lido::admin::clientSocketPath()), QString("/run/lido/admin.sock"));
    }

    void saysWhenNoEngineRuns()
    {
        RemoteEngineClient client;
        QSignalSpy failures(&client, &EngineClient::commandFailed);
        client.connectTo("/nonexistent/admin.sock");
        QTRY_COMPARE(failures.size(), 1);
        QVERIFY(failures.front().front().toString().startsWith("Engine at /nonexistent/admin.sock: "));
    }
};

QTEST_MAIN(tst_RemoteEngine)
#include "tst_remoteengine.moc"
