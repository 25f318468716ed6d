// The tray under Xvfb with a real tray host (trayer) and the engine running in-process: its menu
// stops a pool of the engine, a rapid-fail stop turns it red and notifies with the reason, the
// notification opens that pool, and closing the window keeps Lido serving.
#include "EngineClient.h"
#include "EngineSupport.h"
#include "MainWindow.h"
#include "GuiSupport.h"
#include "PoolDialog.h"
#include "PoolsModel.h"
#include "TimeChart.h"
#include "PoolsPage.h"
#include "Tray.h"
#include "HostTree.h"

#include <pwd.h>
#include <QApplication>
#include <QComboBox>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QToolBar>
#include <QTreeView>
#include <QPainter>
#include <QSignalSpy>
#include <QSvgRenderer>
#include <QSystemTrayIcon>
#include <QTableView>
#include <QtTest>

using guitest::screenshot;

namespace {

// The pool's FastCGI process pool of the application whose arguments are `args`.
lido::engine::PoolMetrics pool(InProcessEngineClient& c, const std::string& name, const std::string& args = {})
{
    for (const auto& p : c.snapshot().fastcgi)
        if (p.pool == name && (args.empty() ? p.application.find(' ') == std::string::npos : p.application.ends_with(" " + args)))
            return p;
    return {};
}

// Pools "app" (healthy) and "fragile" (its program exits at start; two crashes stop it).
void twoPools(EngineFixture& f)
{
    f.values["@POOLS@"] = R"(<add name="app" startMode="AlwaysRunning" /><add name="fragile"><failure rapidFailProtectionMaxCrashes="2" /></add>)";
    f.values["@APPS@"] = R"(<application path="/app" applicationPool="app"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)"
                         R"(<application path="/fragile" applicationPool="fragile"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" maxInstances=\"1\" />"
                            "<application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" arguments=\"fragile\" maxInstances=\"1\">"
                            "<environmentVariables><environmentVariable name=\"HELPER_EXIT_AT_START\" value=\"3\" /></environmentVariables>"
                            "</application></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"Fragile\" path=\"/fragile/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi|fragile\" />"
                             "<add name=\"App\" path=\"*.app\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi\" />";
}

} // namespace

class tst_Tray : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        guitest::isolateSettings();
        QTRY_VERIFY_WITH_TIMEOUT(QSystemTrayIcon::isSystemTrayAvailable(), 5000); // run under tests/run-with-tray.sh
    }

    // The icons the lido-console package installs in hicolor (the tray uses them through the
    // icon theme): each SVG parses, and the tray's three have the health colour at their centre.
    void packagedIconsRender()
    {
        struct Icon {
            const char* file;
            QColor centre; // invalid: not checked (the application icon)
        };
        const Icon icons[] = {{"org.lidoproject.Lido.svg", {}},
                              {"lido-healthy.svg", QColor(46, 160, 67)},
                              {"lido-degraded.svg", QColor(219, 154, 4)},
                              {"lido-failed.svg", QColor(207, 34, 46)}};
        QImage sheet(4 * 136, 136, QImage::Format_ARGB32);
        sheet.fill(Qt::white);
        QPainter sheetPainter(&sheet);
        int x = 4;
        for (const Icon& icon : icons) {
            QSvgRenderer r(QString(LIDO_SOURCE_DIR "/resources/icons/") + icon.file);
            QVERIFY2(r.isValid(), icon.file);
            QImage image(128, 128, QImage::Format_ARGB32);
            image.fill(Qt::transparent);
            QPainter p(&image);
            r.render(&p);
            p.end();
            if (icon.centre.isValid()) {
                // Inside the disc, clear of the white mark: (16, 22) of the 64-unit drawing.
                QColor got = image.pixelColor(32, 44);
                QVERIFY2(qAbs(got.red() - icon.centre.red()) < 8 && qAbs(got.green() - icon.centre.green()) < 8 &&
                             qAbs(got.blue() - icon.centre.blue()) < 8,
                         qPrintable(QString("%1: %2").arg(icon.file, got.name())));
            } else {
                QVERIFY(image.pixelColor(64, 20).alpha() == 255); // the rounded square is opaque
            }
            sheetPainter.drawImage(x, 4, image);
            x += 136;
        }
        sheetPainter.end();
        QString dir = qEnvironmentVariable("LIDO_SCREENSHOT_DIR", QDir::tempPath());
        QDir().mkpath(dir);
        QVERIFY(sheet.save(dir + "/packaged-icons.png"));
    }

    void menuControlsPoolsAndRapidFailNotifies()
    {
        EngineFixture f;
        twoPools(f);
        QString file = f.s.config(f.text());
        InProcessEngineClient client;
        QVERIFY(client.start(*lido::config::loadConfig(file.toStdString()), nullptr, file));
        Tray tray(&client);
        QVERIFY(tray.available());
        QSignalSpy notified(&tray, &Tray::notified);
        MainWindow w(&client); // hidden until the notification is clicked
        w.setTray(&tray);
        QVERIFY(w.openFile(file));
        connect(&tray, &Tray::openConsole, &w, &MainWindow::showPool);
        QTRY_VERIFY(tray.poolAction("app", "Stop") != nullptr);
        QTRY_COMPARE(pool(client, "app").idle, 1);
        QCOMPARE(tray.health(), Tray::Health::Healthy);
        QVERIFY2(tray.summary().startsWith("Lido: 1 of 1 sites serving, 3 of 3 pools started"), qPrintable(tray.summary()));
        // Each pool's submenu browses its applications (IIS Manager's Browse), there where the site answers.
        QAction* browse = tray.poolAction("app", QString("http://127.0.0.1:%1/app/").arg(f.port));
        QVERIFY(browse);
        QCOMPARE(browse->text(), QString("Browse http://127.0.0.1:%1/app/").arg(f.port));
        QVERIFY(browse->isEnabled());
        QCOMPARE(fetch(f.port, "/app/x.app").status, 200);

        // Stop from the tray menu: the engine's pool stops.
        QVERIFY(!tray.poolAction("app", "Start")->isEnabled());
        tray.poolAction("app", "Stop")->trigger();
        QTRY_VERIFY(!pool(client, "app").running);
        QCOMPARE(pool(client, "app").stoppedReason, std::string("stopped by the administrator"));
        QTRY_COMPARE(tray.health(), Tray::Health::Degraded);
        QTRY_VERIFY(tray.poolAction("app", "Start")->isEnabled());
        tray.menu()->popup(QPoint(40, 40));
        QVERIFY(QTest::qWaitForWindowExposed(tray.menu()));
        screenshot(tray.menu(), "tray-menu");
        tray.menu()->hide();

        // A rapid-failing pool: red, and a notification that says why.
        QCOMPARE(fetch(f.port, "/fragile/x").status, 503);
        QTRY_COMPARE(notified.size(), 1);
        QCOMPARE(notified.front().at(0).toString(), QString("Pool fragile stopped"));
        QVERIFY2(notified.front().at(1).toString().startsWith("pool fragile stopped by rapid-fail protection: 2 crashes in 300 s; last: exited before serving "
                                                              "a request with exit status 3"),
                 qPrintable(notified.front().at(1).toString()));
        QCOMPARE(notified.front().at(2).toString(), QString("fragile"));
        QTRY_COMPARE(tray.health(), Tray::Health::Failed);
        QVERIFY2(tray.summary().contains("(fragile stopped by rapid-fail protection)"), qPrintable(tray.summary())); // named, not counted
        QVERIFY(tray.icon()->toolTip() == tray.summary());
        // The pool's submenu says why, elided, with the whole reason in its tooltip.
        QAction* reason = tray.poolAction("fragile", "Reason");
        QVERIFY(reason && reason->isVisible() && !reason->isEnabled());
        QVERIFY2(reason->toolTip().startsWith("pool fragile stopped by rapid-fail protection: 2 crashes in 300 s"), qPrintable(reason->toolTip()));
        QVERIFY(!reason->text().isEmpty());
        auto* fragileMenu = qobject_cast<QMenu*>(reason->parent());
        QVERIFY(fragileMenu);
        fragileMenu->popup(QPoint(60, 60));
        QVERIFY(QTest::qWaitForWindowExposed(fragileMenu));
        screenshot(fragileMenu, "tray-pool-reason");
        fragileMenu->hide();

        // Clicking the notification opens that pool in the console: the notification the tray
        // host shows (under trayer, with no notification service, Qt's own balloon by the icon),
        // clicked with the mouse.
        QTRY_VERIFY(w.poolsPage()->table()->model()->rowCount() >= 3);
        w.hide();
        QWidget* balloon = nullptr;
        QTRY_VERIFY([&] {
            for (QWidget* top : QApplication::topLevelWidgets())
                if (QByteArray(top->metaObject()->className()) == "QBalloonTip" && top->isVisible())
                    balloon = top;
            return balloon != nullptr;
        }());
        QVERIFY(QTest::qWaitForWindowExposed(balloon));
        screenshot(balloon, "tray-notification");
        QTest::mouseClick(balloon, Qt::LeftButton, {}, QPoint(balloon->width() / 2, balloon->height() / 2));
        QTRY_VERIFY(w.isVisible());
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QCOMPARE(w.poolsPage()->selectedPool(), QString("fragile"));
        // The pools table: failures in the last five minutes, identity, applications, last event.
        PoolsModel* model = w.poolsPage()->model();
        int fragileRow = -1;
        for (int r = 0; r < model->rowCount(); ++r)
            if (model->poolName(r) == "fragile")
                fragileRow = r;
        QVERIFY(fragileRow >= 0);
        QTRY_VERIFY(model->index(fragileRow, PoolsModel::Failures5m).data().toULongLong() >= 2);
        // The identity in effect: as root, ApplicationPoolIdentity's www-data (nobody without it);
        // otherwise the engine's own user.
        passwd* pw = ::geteuid() == 0 ? (::getpwnam("www-data") ? ::getpwnam("www-data") : ::getpwnam("nobody")) : ::getpwuid(::geteuid());
        QTRY_COMPARE(model->index(fragileRow, PoolsModel::Identity).data().toString(),
                     QString("%1 (uid %2)").arg(pw->pw_name).arg(pw->pw_uid));
        QCOMPARE(model->index(fragileRow, PoolsModel::Applications).data().toString(), QString("Main/fragile"));
        QTRY_VERIFY(model->index(fragileRow, PoolsModel::LastEvent).data().toString().contains("pool fragile stopped by rapid-fail protection"));
        // The host tree says the same, with the reason in the tooltip.
        QTRY_VERIFY(w.hostTree()->poolItem("fragile")->toolTip(0).startsWith("fragile: stopped: pool fragile stopped by rapid-fail protection: 2 crashes"));
        QTRY_COMPARE(w.hostTree()->poolItem("app")->toolTip(0), QString("app: stopped: stopped by the administrator"));
        QCOMPARE(w.hostTree()->poolItem("web")->toolTip(0), QString("web: started"));
        QTreeWidgetItem* fragileProgram = nullptr;
        for (int i = 0; i < w.hostTree()->poolItem("fragile")->childCount(); ++i)
            if (w.hostTree()->poolItem("fragile")->child(i)->text(0) == "FastCGI lido-test-fcgi fragile")
                fragileProgram = w.hostTree()->poolItem("fragile")->child(i);
        QVERIFY(fragileProgram);
        QVERIFY(fragileProgram->toolTip(0).startsWith(LIDO_TEST_BIN_DIR "/lido-test-fcgi fragile: stopped: pool fragile stopped by rapid-fail"));
        screenshot(&w, "tray-opened-pool");

        // The pool in detail: its state, failures by cause, events; then failures as they happen.
        PoolDialog* detail = w.poolsPage()->openPool("fragile");
        QVERIFY(QTest::qWaitForWindowExposed(detail));
        QVERIFY2(detail->summary()->text().contains("stopped: pool fragile stopped by rapid-fail protection"), qPrintable(detail->summary()->text()));
        QVERIFY(detail->summary()->text().contains("failures: 2 crash"));
        QTRY_VERIFY(detail->events()->count() >= 3);
        QVERIFY(detail->events()->item(0)->text().contains("pool fragile stopped"));

        // Paused notifications stay quiet.
        tray.pauseAction()->setChecked(true);
        QCOMPARE(client.engine()->controlPool("fragile", lido::engine::PoolAction::Start).ok(), true);
        QCOMPARE(fetch(f.port, "/fragile/x").status, 503);
        QTRY_VERIFY(!pool(client, "fragile", "fragile").running);
        QTest::qWait(1500); // a snapshot or two pass
        QCOMPARE(notified.size(), 1);
        QTRY_VERIFY(detail->failuresChart()->peak(0) >= 1); // the new crashes, per second, as "crash"
        screenshot(detail, "pool-detail");
        detail->rangeBox()->setCurrentIndex(1); // the last hour: a point every 10 s, spikes kept
        QCOMPARE(detail->failuresChart()->span(), 3600);
        QVERIFY(detail->failuresChart()->peak(0) >= 1);
        detail->close();

        // Edit (the pools toolbar, F2): the pool's element in the Configuration page.
        w.showPool("fragile");
        QAction* edit = nullptr;
        for (QToolBar* bar : w.poolsPage()->findChildren<QToolBar*>())
            for (QAction* a : bar->actions())
                if (a->text() == "Edit")
                    edit = a;
        QVERIFY(edit);
        QCOMPARE(edit->shortcut(), QKeySequence(Qt::Key_F2));
        edit->trigger();
        QCOMPARE(w.tree()->currentIndex().data().toString(), QString("Pool fragile"));

        // Closing the window keeps Lido in the tray, still serving.
        w.close();
        QVERIFY(!w.isVisible());
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
    }
};

QTEST_MAIN(tst_Tray)
#include "tst_tray.moc"
