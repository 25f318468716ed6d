// The Application Pools page against a real in-process engine under Xvfb: the table follows the
// engine, the chart moves, Stop in the toolbar stops the engine's pool and the reason shows.
#include "EngineSupport.h"
#include "GuiSupport.h"
#include "LiveWindow.h"
#include "EngineClient.h"
#include "EventsDock.h"
#include "MainWindow.h"
#include "PoolsModel.h"
#include "InstancesTable.h"
#include "PoolDialog.h"
#include "PoolsPage.h"
#include "TimeChart.h"

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QTreeWidget>
#include <QApplication>
#include <QTabWidget>
#include <QHeaderView>
#include <QTableView>
#include <QTableWidget>
#include <QToolBar>
#include <QToolButton>
#include <QValueAxis>
#include <csignal>
#include <thread>

class tst_PoolsPage : public QObject {
    Q_OBJECT
private slots:
    // Ticks a person reads at a glance: 1, 2 or 5 times a power of ten, whole numbers for counts,
    // and axes that say their unit (they read 0/0.9/1.7/2.6/3.4 and 0/12/25/38/51 before).
    void chartTicksAreRoundNumbersWithUnits()
    {
        auto scale = [](double peak, bool whole) {
            TimeChart::Scale s = TimeChart::niceScale(peak, whole);
            return QString("%1/%2/%3").arg(s.top).arg(s.step).arg(s.ticks);
        };
        QCOMPARE(scale(3.4, true), QString("4/1/5"));
        QCOMPARE(scale(51, false), QString("60/10/7"));
        QCOMPARE(scale(0.7, false), QString("0.8/0.2/5"));
        QCOMPARE(scale(23.5, false), QString("25/5/6"));
        QCOMPARE(scale(12, true), QString("14/2/8"));
        QCOMPARE(scale(40, false), QString("50/10/6")); // not on the top edge
        QCOMPARE(scale(0, false), QString("1/0.25/5"));

        TimeChart chart("test", {"requests/s", "busy", "queue"}, 300, nullptr, 1);
        chart.setAxes("requests/s", false, "count", true);
        chart.resize(700, 420);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        QTest::qWait(100); // laid out: the plot area's height decides how many labels fit
        for (double v : {12.0, 51.0, 30.0})
            chart.append({v, 3.4, 0});
        QCOMPARE(chart.leftAxis()->max(), 60.0);
        QCOMPARE(chart.leftAxis()->tickCount(), 7);
        QCOMPARE(chart.leftAxis()->labelFormat(), QString("%d"));
        QCOMPARE(chart.leftAxis()->titleText(), QString("requests/s"));
        QCOMPARE(chart.rightAxis()->max(), 4.0);
        QCOMPARE(chart.rightAxis()->tickCount(), 5);
        QCOMPARE(chart.rightAxis()->titleText(), QString("count"));
        QTest::qWait(300); // the chart lays its axes out again on the next turns of the event loop
        guitest::screenshot(&chart, "chart-round-ticks");
        // A short chart gets fewer, still round, labels rather than labels that collide.
        chart.resize(700, 230);
        QTest::qWait(200);
        chart.append({51, 3.4, 0});
        QVERIFY2(chart.leftAxis()->tickCount() <= 4, qPrintable(QString::number(chart.leftAxis()->tickCount())));
        QCOMPARE(chart.leftAxis()->max(), 60.0);

        // An idle pool: 0 to 1 in quarters, labelled 0.25 and 0.75, not 0.3 and 0.8.
        TimeChart idle("idle", {"requests/s", "busy", "queue"}, 300, nullptr, 1);
        idle.setAxes("requests/s", false, "count", true);
        idle.resize(700, 420);
        idle.show();
        QVERIFY(QTest::qWaitForWindowExposed(&idle));
        QTest::qWait(100);
        idle.append({0, 0, 0});
        QCOMPARE(idle.leftAxis()->max(), 1.0);
        QCOMPARE(idle.leftAxis()->tickCount(), 5);
        QCOMPARE(idle.leftAxis()->labelFormat(), QString("%.2f"));
        QCOMPARE(idle.rightAxis()->labelFormat(), QString("%d"));
    }

    void initTestCase()
    {
        guitest::isolateSettings();
    }

    void modelWithFixtureSnapshots()
    {
        PoolsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setPools({"php", "static"});
        lido::engine::Snapshot s;
        lido::engine::PoolMetrics php;
        php.pool = "php";
        php.busy = 2;
        php.idle = 1;
        php.queued = 7;
        php.running = false;
        php.stoppedReason = "pool php stopped by rapid-fail protection: 5 crashes in 300 s";
        php.crashes = 5;
        s.fastcgi.push_back(php);
        model.setSnapshot(s);
        QCOMPARE(model.index(0, PoolsModel::Instances).data().toString(), QString("2 busy / 1 idle / 3"));
        QCOMPARE(model.index(0, PoolsModel::Queue).data().toInt(), 7);
        QCOMPARE(model.index(0, PoolsModel::State).data().toString(), "Stopped: " + QString::fromStdString(php.stoppedReason));
        QCOMPARE(model.index(0, PoolsModel::Failures).data().toULongLong(), 5ull);
        QCOMPARE(model.index(1, PoolsModel::State).data().toString(), QString("Started"));
        QCOMPARE(model.index(1, PoolsModel::Instances).data().toString(), QString("-"));
    }

    void liveEngine()
    {
        EngineFixture f;
        f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" maxInstances=\"2\" /></fastCgi>";
        f.values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                                 "/lido-test-fcgi\" />";
        QString file = f.s.config(f.text());
        auto config = lido::config::loadConfig(file.toStdString());
        QVERIFY(config && (*config)->valid());
        InProcessEngineClient client;
        QString error;
        QVERIFY2(client.start(*config, &error), qPrintable(error));
        MainWindow w(&client);
        QVERIFY(w.openFile(file));
        w.resize(1200, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.poolsPage()));
        QAbstractItemModelTester tester(w.poolsPage()->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);

        // No request yet: no p99 (a figure there would be made up).
        QTRY_VERIFY(w.poolsPage()->model()->index(0, PoolsModel::Instances).data().toString() != "-");
        QCOMPARE(w.poolsPage()->model()->index(0, PoolsModel::P99).data().toString(), QString("-"));
        QVERIFY(w.poolsPage()->model()->headerData(PoolsModel::P99, Qt::Horizontal, Qt::ToolTipRole).toString().contains("last minute"));
        // Three clients keep both instances busy; the guard stops them whatever happens.
        struct Load {
            std::atomic<bool> stop{false};
            std::vector<std::thread> threads;
            ~Load() { finish(); }
            void finish()
            {
                stop = true;
                for (auto& t : threads)
                    if (t.joinable())
                        t.join();
            }
        } load;
        for (int i = 0; i < 3; ++i)
            load.threads.emplace_back([&] {
                while (!load.stop)
                    fetch(f.port, "/app/x?sleep=20");
            });
        QTRY_VERIFY_WITH_TIMEOUT(w.poolsPage()->chart()->points() >= 3, 8000);
        QTRY_VERIFY(w.poolsPage()->model()->index(0, PoolsModel::Instances).data().toString().endsWith("/ 2"));
        QTRY_VERIFY(w.poolsPage()->model()->index(0, PoolsModel::P99).data().toString().toDouble() >= 20); // sleep=20
        // A crash is a failure on the chart's failures/s series, in the second it happened.
        QCOMPARE(fetch(f.port, "/app/x?crash=1").status, 502);
        QTRY_VERIFY(w.poolsPage()->chart()->peak(1) >= 1);
        QTest::qWait(1200);
        QString dir = qEnvironmentVariable("LIDO_SCREENSHOT_DIR", QDir::tempPath());
        QDir().mkpath(dir);
        QVERIFY(w.grab().save(dir + "/pools-live.png"));
        load.finish();
        // File → Reload keeps what the chart has seen, and the selection.
        int seen = w.poolsPage()->chart()->points();
        QAction* reload = nullptr;
        for (QAction* a : w.findChildren<QAction*>())
            if (a->text() == "&Reload")
                reload = a;
        QVERIFY(reload);
        reload->trigger();
        QVERIFY2(w.poolsPage()->chart()->points() >= seen, qPrintable(QString("%1 points, %2 before").arg(w.poolsPage()->chart()->points()).arg(seen)));
        QCOMPARE(w.poolsPage()->selectedPool(), QString("web"));

        // Stop from the toolbar: the engine's pool stops and the page says so.
        QCOMPARE(w.poolsPage()->selectedPool(), QString("web"));
        QToolButton* button = nullptr;
        for (QToolBar* bar : w.poolsPage()->findChildren<QToolBar*>())
            if (auto* b = qobject_cast<QToolButton*>(bar->widgetForAction(w.poolsPage()->stopAction())))
                button = b;
        QVERIFY(button);
        QVERIFY(!w.poolsPage()->startAction()->isEnabled()); // it runs: Start has nothing to do
        QVERIFY(w.poolsPage()->stopAction()->isEnabled());
        QTest::mouseClick(button, Qt::LeftButton);
        auto running = [&] {
            auto s = client.snapshot();
            return !s.fastcgi.empty() && s.fastcgi.front().running;
        };
        QTRY_VERIFY(!running());
        QTRY_COMPARE(w.poolsPage()->model()->index(0, PoolsModel::State).data().toString(),
                     QString("Stopped: stopped by the administrator"));
        QCOMPARE(fetch(f.port, "/app/x").status, 503);
        // The events dock shows why, newest first.
        QTreeWidget* events = w.eventsDock()->list();
        auto hasStopped = [&] {
            for (int i = 0; i < events->topLevelItemCount(); ++i)
                if (events->topLevelItem(i)->text(3) == "pool web stopped: stopped by the administrator" && !events->topLevelItem(i)->isHidden())
                    return true;
            return false;
        };
        QTRY_VERIFY(hasStopped());
        w.eventsDock()->severityFilter()->setCurrentIndex(2); // errors only: the warning is filtered out
        QVERIFY(!hasStopped());
        w.eventsDock()->severityFilter()->setCurrentIndex(0);
        QVERIFY(hasStopped());
        QTRY_VERIFY(!w.poolsPage()->stopAction()->isEnabled()); // stopped: Stop and Recycle are greyed out, Start is not
        QVERIFY(!w.poolsPage()->recycleAction()->isEnabled());
        QVERIFY(w.poolsPage()->startAction()->isEnabled());
        QVERIFY(w.grab().save(dir + "/pools-stopped.png"));
        w.poolsPage()->startAction()->trigger();
        QTRY_VERIFY(running());
        client.stop();
    }

    // Instances that recycle themselves after N requests: the pool stays started, and the advice
    // to set instanceMaxRequests shows in its row and on its page.
    void selfRecyclingAdviceShows()
    {
        EngineFixture f;
        f.useFastCgiHelper("maxInstances=\"2\" instanceMaxRequests=\"100000\"", {{"HELPER_EXIT_AFTER", "20"}});
        QString file = f.s.config(f.text());
        InProcessEngineClient client;
        QVERIFY(client.start(*lido::config::loadConfig(file.toStdString()), nullptr, file));
        MainWindow w(&client);
        QVERIFY(w.openFile(file));
        w.resize(1400, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        std::map<int, int> statuses;
        std::atomic<bool> done{false};
        std::thread load([&] {
            // Not a multiple of 20: an instance is still there afterwards for the chart to show.
            statuses = keepAliveLoad(f.port, "/app/x", 410, 4);
            done = true;
        });
        QTRY_VERIFY_WITH_TIMEOUT(done, 30000); // the window keeps painting meanwhile
        load.join();
        QCOMPARE(statuses[200], 410);
        PoolsPage* page = w.poolsPage();
        QAbstractItemModel* pools = page->table()->model();
        int row = -1;
        for (int r = 0; r < pools->rowCount(); ++r)
            if (pools->index(r, 0).data().toString() == "web")
                row = r;
        QVERIFY(row >= 0);
        QTRY_VERIFY(pools->index(row, PoolsModel::State).data().toString().startsWith("Started; warning: instances exit by themselves after 20 requests"));
        QVERIFY(pools->index(row, PoolsModel::State).data().toString().contains("set instanceMaxRequests to 20 or less"));
        page->table()->selectRow(row);
        guitest::screenshot(&w, "pools-self-recycle-advice");
        auto mostInstances = [&] {
            double most = 0;
            for (const auto& p : page->historyOf("web"))
                most = std::max(most, double(p.total));
            return most;
        };
        QTRY_VERIFY(mostInstances() >= 1 && page->historyOf("web").size() >= 2);
        int seen = static_cast<int>(page->historyOf("web").size());
        PoolDialog* detail = page->openPool("web");
        // It opens with what the pools page saw of the pool, not empty charts.
        QVERIFY2(detail->instancesChart()->points() >= seen, qPrintable(QString("%1 points, %2 seen").arg(detail->instancesChart()->points()).arg(seen)));
        QVERIFY(detail->instancesChart()->peak(0) >= mostInstances());
        QCOMPARE(detail->instancesChart()->points(), detail->latencyChart()->points());
        QVERIFY(QTest::qWaitForWindowExposed(detail));
        QTRY_VERIFY(detail->summaryText().contains("Warning: instances exit by themselves after 20 requests"));
        guitest::screenshot(detail, "pool-page-self-recycle-advice");
        detail->close();
        client.stop();
    }

    // "Recycle instance" under the pools table: that process goes, another takes its place.
    void recycleOneInstance()
    {
        EngineFixture f;
        f.values["@POOLS@"] = R"(<add name="app" startMode="AlwaysRunning" />)";
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="app"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" maxInstances=\"2\" /></fastCgi>";
        f.values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                                 "/lido-test-fcgi\" />";
        QString file = f.s.config(f.text());
        InProcessEngineClient client;
        QVERIFY(client.start(*lido::config::loadConfig(file.toStdString()), nullptr, file));
        MainWindow w(&client);
        QVERIFY(w.openFile(file));
        w.resize(1200, 800);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        PoolsPage* page = w.poolsPage();
        QAbstractItemModel* pools = page->table()->model();
        for (int r = 0; r < pools->rowCount(); ++r)
            if (pools->index(r, 0).data().toString() == "app")
                page->table()->selectRow(r);
        QCOMPARE(page->selectedPool(), QString("app"));
        QTableWidget* instances = page->instances();
        QTRY_COMPARE(instances->rowCount(), 2);
        QTRY_COMPARE(instances->item(0, 1)->text(), QString("idle"));
        instances->selectRow(0);
        pid_t pid = instances->item(0, 0)->text().toInt();
        QVERIFY(pid > 0 && ::kill(pid, 0) == 0);
        QVERIFY(page->recycleInstanceAction()->isEnabled());
        guitest::screenshot(&w, "pools-instances");
        page->recycleInstanceAction()->trigger();
        QTRY_VERIFY(::kill(pid, 0) != 0 || [pid] {
            QFile stat(QString("/proc/%1/stat").arg(pid)); // reaped soon; a zombie until then
            return stat.open(QIODevice::ReadOnly) && stat.readAll().contains(") Z ");
        }());
        // AlwaysRunning: the pool keeps two, the recycled pid is not among them.
        QTRY_VERIFY(instances->rowCount() == 2 && instances->item(0, 0)->text().toInt() != pid && instances->item(1, 0)->text().toInt() != pid);
        // The pool page has the same table.
        PoolDialog* detail = page->openPool("app");
        QVERIFY(QTest::qWaitForWindowExposed(detail));
        QTRY_COMPARE(detail->instances()->table()->rowCount(), 2);
        detail->close();
        bool logged = false;
        for (const auto& e : client.eventsSince(0))
            logged = logged || (e.code == "instance.recycled" && e.message.find("(pid " + std::to_string(pid) + ") recycled") != std::string::npos);
        QVERIFY(logged);
    }

    // A pool that cannot start says it is trying ("Failing to start, retrying in 3 s"), as
    // Supervisor's BACKOFF does; once rapid-fail protection stopped it, mending the file (the
    // console's engine follows the file) leaves it stopped with the reason, until Start.
    void failingToStartThenKeptStopped()
    {
        EngineFixture f;
        QString pool = R"(<add name="fragile"><failure rapidFailProtectionMaxCrashes="2" restartBackoff="00:00:03" /></add>)";
        f.values["@POOLS@"] = pool;
        f.values["@APPS@"] = R"(<application path="/app" applicationPool="fragile"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
        auto helper = [&](bool failing) {
            f.values["@FASTCGI@"] = QString("<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\">%1</application></fastCgi>")
                                        .arg(failing ? R"(<environmentVariables><environmentVariable name="HELPER_EXIT_AT_START" value="3" /></environmentVariables>)"
                                                     : "");
            f.values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                                     "/lido-test-fcgi\" />";
        };
        helper(true);
        LiveWindow w(f);
        QVERIFY2(w.ok(), qPrintable(w.error));
        w.window->showPool("fragile");
        PoolsModel* model = w.window->poolsPage()->model();
        auto state = [&] {
            for (int r = 0; r < model->rowCount(); ++r)
                if (model->poolName(r) == "fragile")
                    return model->index(r, PoolsModel::State).data().toString();
            return QString();
        };
        Response first;
        std::thread client([&] { first = fetch(f.port, "/app/x"); });
        QTRY_VERIFY_WITH_TIMEOUT(state().startsWith("Failing to start, retrying in "), 5000);
        QVERIFY2(state().contains("(1 failed start in a row)"), qPrintable(state()));
        guitest::screenshot(w.window.get(), "pools-failing-to-start");
        client.join();
        QCOMPARE(first.status, 503);
        QTRY_VERIFY(state().startsWith("Stopped: pool fragile stopped by rapid-fail protection: 2 crashes in 300 s"));

        helper(false); // mended in the file; the console's engine applies it
        f.s.config(f.text());
        QTRY_VERIFY_WITH_TIMEOUT(state().contains("kept after the configuration changed; an administrator starts it"), 8000);
        QCOMPARE(fetch(f.port, "/app/x").status, 503);
        guitest::screenshot(w.window.get(), "pools-kept-stopped");
        QVERIFY(w.window->poolsPage()->startAction()->isEnabled());
        w.window->poolsPage()->startAction()->trigger();
        QTRY_COMPARE(state(), QString("Started"));
        QTRY_COMPARE(fetch(f.port, "/app/x").status, 200);

        // A small window: the pools table still shows four rows (it showed one and a half).
        w.window->resize(900, 560);
        QTest::qWait(50); // laid out on the next turn of the event loop
        QTableView* table = w.window->poolsPage()->table();
        int rows = table->viewport()->height() / table->verticalHeader()->defaultSectionSize();
        QVERIFY2(rows >= 4, qPrintable(QString("%1 rows visible in %2 px").arg(rows).arg(table->viewport()->height())));
        guitest::screenshot(w.window.get(), "pools-small-window");
    }
};

QTEST_MAIN(tst_PoolsPage)
#include "tst_poolspage.moc"
