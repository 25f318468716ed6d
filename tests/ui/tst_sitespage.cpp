// The Sites page against a real in-process engine under Xvfb: the table follows the engine,
// Stop site in the toolbar stops serving it, Start brings it back; the model holds up under
// QAbstractItemModelTester with fixture snapshots too.
#include "EngineClient.h"
#include "EngineSupport.h"
#include "GuiSupport.h"
#include "HostTree.h"
#include "LiveWindow.h"
#include "MainWindow.h"
#include "SitesModel.h"
#include "PoolsPage.h"
#include "SitesPage.h"
#include "TimeChart.h"

#include <QAbstractItemModelTester>
#include <QDesktopServices>
#include <QFont>
#include <QUrl>
#include <QAction>
#include <QLabel>
#include <QMenu>
#include <QMenuBar>
#include <QTabWidget>
#include <QTableView>
#include <QTreeWidget>

using guitest::screenshot;

namespace {

// Stands in for the desktop's browser: what QDesktopServices::openUrl was asked to open.
class UrlCatcher : public QObject {
    Q_OBJECT
public:
    QList<QUrl> urls;
public slots:
    void open(const QUrl& url) { urls << url; }
};

} // namespace

class tst_SitesPage : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { guitest::isolateSettings(); }

    void modelWithFixtureSnapshots()
    {
        SitesModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setSites({{"Shop", "http 127.0.0.1:8081:", "/ (shop)", {"http://127.0.0.1:8081/"}}, {"Blog", "http *:80:blog.example.org", "/ (blog), /api (api)", {}}});
        lido::engine::Snapshot s;
        lido::engine::SiteMetrics shop;
        shop.name = "Shop";
        shop.started = true;
        shop.state = "Started";
        shop.requestsPerSecond = 42;
        shop.status5xx = 3;
        s.time = std::chrono::system_clock::now();
        std::time_t now = std::chrono::system_clock::to_time_t(s.time);
        shop.certificates = {{"shop.test", "shop.test", "/etc/lido/shop.pem", now + 12 * 86400 - 60},
                             {"", "shop.test", "/etc/lido/shop.pem", now + 90 * 86400}};
        lido::engine::SiteMetrics blog;
        blog.name = "Blog";
        blog.state = "Failed: cannot bind 0.0.0.0:80: Permission denied";
        s.sites = {shop, blog};
        model.setSnapshot(s);
        QCOMPARE(model.index(0, SitesModel::RequestsPerSecond).data().toString(), QString("42"));
        QCOMPARE(model.index(0, SitesModel::Status5xx).data().toULongLong(), 3ull);
        QCOMPARE(model.index(1, SitesModel::State).data().toString(), QString("Failed: cannot bind 0.0.0.0:80: Permission denied"));
        QCOMPARE(model.index(1, SitesModel::Bindings).data().toString(), QString("http *:80:blog.example.org")); // no URL: as written
        // A URL is a link (IIS Manager's Browse): blue, underlined, the binding in its tooltip.
        QCOMPARE(model.index(0, SitesModel::Bindings).data().toString(), QString("http://127.0.0.1:8081/"));
        QVERIFY(model.index(0, SitesModel::Bindings).data(Qt::FontRole).value<QFont>().underline());
        QVERIFY(model.index(0, SitesModel::Bindings).data(Qt::ToolTipRole).toString().startsWith("http 127.0.0.1:8081:\nClick to browse"));
        QCOMPARE(model.index(1, SitesModel::Applications).data().toString(), QString("/ (blog), /api (api)"));
        QVERIFY(!model.started(1));
        // The soonest of a site's certificates, as a person reads it; none for a site without TLS.
        QCOMPARE(model.index(0, SitesModel::Certificate).data().toString(), QString("expires in 12 days"));
        QCOMPARE(model.index(0, SitesModel::Certificate).data(Qt::ForegroundRole).value<QColor>(), QColor(150, 110, 0));
        QVERIFY(model.index(0, SitesModel::Certificate).data(Qt::ToolTipRole).toString().contains("shop.test: shop.test, valid until"));
        QCOMPARE(model.index(1, SitesModel::Certificate).data().toString(), QString());
        s.sites[0].certificates[0].notAfter = now - 3 * 86400;
        model.setSnapshot(s);
        QCOMPARE(model.index(0, SitesModel::Certificate).data().toString(), QString("expired 3 days ago"));
        QCOMPARE(model.index(0, SitesModel::Certificate).data(Qt::ForegroundRole).value<QColor>(), QColor(176, 0, 32));
    }

    void anHttpsSiteShowsItsCertificate()
    {
        EngineFixture f;
        uint16_t tlsPort = freePort();
        while (tlsPort == f.port) // (a port just given back can come again)
            tlsPort = freePort();
        QProcess make;
        make.start("openssl", {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                               f.s.path("shop.key"), "-out", f.s.path("shop.pem"), "-days", "12", "-subj", "/CN=shop.test"});
        QVERIFY(make.waitForFinished(30000) && make.exitCode() == 0);
        f.values["@SITES@"] = QString("<site name='Shop' id='2'><application path='/' applicationPool='web'><virtualDirectory path='/' physicalPath='@DIR@/www' /></application>"
                                      "<bindings><binding protocol='https' bindingInformation='127.0.0.1:%1:' certificateFile='@DIR@/shop.pem' certificateKeyFile='@DIR@/shop.key' /></bindings></site>")
                                  .arg(tlsPort);
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        w.tabs()->setCurrentWidget(w.sitesPage());
        QAbstractItemModel* m = w.sitesPage()->table()->model();
        QTRY_COMPARE(m->rowCount(), 2);
        int shop = m->index(0, SitesModel::Name).data().toString() == "Shop" ? 0 : 1;
        QTRY_COMPARE(m->index(shop, SitesModel::Certificate).data().toString(), QString("expires in 12 days"));
        QCOMPARE(m->index(1 - shop, SitesModel::Certificate).data().toString(), QString()); // Main: plain http
        w.sitesPage()->table()->resizeColumnsToContents();
        screenshot(&w, "sites-certificate-expiry");
    }

    // Engine → Drain for load balancers: /health answers 503 while the sites serve on; the item
    // is checked whoever drains (lidoctl drain on the same engine included).
    void drainFromTheEngineMenu()
    {
        EngineFixture f;
        uint16_t status = freePort();
        f.values["@LIDO@"] = QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /></lido>)").arg(status);
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        QAction* drain = w.drainAction();
        QVERIFY(drain && drain->isCheckable() && !drain->isChecked());
        QCOMPARE(fetch(status, "/health").status, 200);
        drain->trigger();
        QCOMPARE(fetch(status, "/health").status, 503);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QVERIFY(drain->isChecked());
        QMenu* menu = nullptr;
        for (QAction* a : w.menuBar()->actions())
            if (a->menu() && a->menu()->actions().contains(drain))
                menu = a->menu();
        QVERIFY(menu);
        QCOMPARE(menu->title(), QString("&Engine"));
        menu->popup(w.mapToGlobal(QPoint(80, 30)));
        QVERIFY(QTest::qWaitForWindowExposed(menu));
        menu->setActiveAction(drain);
        screenshot(menu, "engine-menu-draining");
        menu->hide();
        QLabel* mark = w.findChild<QLabel*>("drainingMark");
        QVERIFY(mark);
        QTRY_VERIFY(mark->isVisible());
        screenshot(&w, "mainwindow-draining");
        drain->trigger();
        QCOMPARE(fetch(status, "/health").status, 200);
        live.client.engine()->drain(true, "lidoctl drain"); // someone else drains: the item follows
        QTRY_VERIFY(drain->isChecked());
        live.client.engine()->drain(false, "lidoctl undrain");
        QTRY_VERIFY(!drain->isChecked());
        QVERIFY(!mark->isVisible());
    }

    void stopAndStartASite()
    {
        EngineFixture f;
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        w.tabs()->setCurrentWidget(w.sitesPage());
        for (int i = 0; i < 5; ++i)
            QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QTableView* table = w.sitesPage()->table();
        QAbstractItemModelTester tester(w.sitesPage()->model(), QAbstractItemModelTester::FailureReportingMode::QtTest); // with a real engine
        QCOMPARE(table->model()->rowCount(), 1);
        QCOMPARE(table->model()->index(0, SitesModel::Applications).data().toString(), QString("/ (web)"));
        QCOMPARE(table->model()->index(0, SitesModel::Bindings).data().toString(), QString("http://127.0.0.1:%1/").arg(f.port));
        // Browse, a click on the link, and the pool's Browse all ask the desktop for the site's URL.
        UrlCatcher browser;
        QDesktopServices::setUrlHandler("http", &browser, "open");
        table->selectRow(0);
        QVERIFY(w.sitesPage()->browseAction()->isEnabled());
        w.sitesPage()->browseAction()->trigger();
        QCOMPARE(browser.urls, QList<QUrl>{QUrl(QString("http://127.0.0.1:%1/").arg(f.port))});
        QCOMPARE(fetch(static_cast<uint16_t>(browser.urls.first().port()), "/hello.txt").status, 200); // the site answers there
        QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(table->model()->index(0, SitesModel::Bindings)).center());
        QCOMPARE(browser.urls.size(), 2);
        w.tabs()->setCurrentWidget(w.poolsPage());
        QTRY_COMPARE(w.poolsPage()->selectedUrls(), QStringList{QString("http://127.0.0.1:%1/").arg(f.port)});
        QVERIFY(w.poolsPage()->browseAction()->isEnabled());
        w.poolsPage()->browseAction()->trigger();
        QCOMPARE(browser.urls.size(), 3);
        QDesktopServices::unsetUrlHandler("http");
        w.tabs()->setCurrentWidget(w.sitesPage());
        QTRY_VERIFY(table->model()->index(0, SitesModel::Status2xx).data().toULongLong() >= 5);
        QTRY_COMPARE(table->model()->index(0, SitesModel::Connections).data().toLongLong(), 0ll); // all five closed
        QTRY_VERIFY(w.sitesPage()->stopAction()->isEnabled());
        // The host tree: the site, its application and virtual directory; activating the pool shows it.
        QTreeWidgetItem* site = w.hostTree()->siteItem("Main");
        QVERIFY(site);
        QTRY_COMPARE(site->toolTip(0), QString("Main: Started"));
        QCOMPARE(site->child(0)->text(0), QString("/  (web)"));
        QCOMPARE(site->child(0)->child(0)->text(0), "/ → " + f.s.path("www"));
        emit w.hostTree()->itemActivated(w.hostTree()->poolItem("web"), 0);
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.poolsPage()));
        QCOMPARE(w.poolsPage()->selectedPool(), QString("web"));
        emit w.hostTree()->itemActivated(site, 0);
        QCOMPARE(w.tabs()->currentWidget(), static_cast<QWidget*>(w.sitesPage()));
        screenshot(&w, "sites-started");

        w.sitesPage()->stopAction()->trigger();
        QTRY_COMPARE(table->model()->index(0, SitesModel::State).data().toString(), QString("Stopped: stopped by the administrator"));
        QCOMPARE(fetch(f.port, "/hello.txt").status, 0); // nobody listens
        QTRY_COMPARE(site->toolTip(0), QString("Main: Stopped: stopped by the administrator"));
        QTRY_VERIFY(w.sitesPage()->startAction()->isEnabled());
        screenshot(&w, "sites-stopped");
        w.sitesPage()->startAction()->trigger();
        QTRY_COMPARE(table->model()->index(0, SitesModel::State).data().toString(), QString("Started"));
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);

        // Engine → Send test load: the site's counters (and its chart) move.
        // (The fixture's root has no default document: its answers are 403s, counted all the same.)
        auto answered = [table] {
            return table->model()->index(0, SitesModel::Status2xx).data().toULongLong() + table->model()->index(0, SitesModel::Status4xx).data().toULongLong();
        };
        qulonglong before = answered();
        w.testLoadAction()->trigger();
        QTRY_VERIFY(answered() >= before + 50);
        QTRY_VERIFY(table->model()->index(0, SitesModel::RequestsPerSecond).data().toDouble() > 10);
        screenshot(&w, "sites-test-load");
        // File → Reload keeps the chart's history and the selected site.
        int seen = w.sitesPage()->chart()->points();
        QVERIFY(seen > 0);
        for (QAction* a : w.findChildren<QAction*>())
            if (a->text() == "&Reload")
                a->trigger();
        QVERIFY2(w.sitesPage()->chart()->points() >= seen, qPrintable(QString("%1 points, %2 before").arg(w.sitesPage()->chart()->points()).arg(seen)));
        QCOMPARE(w.sitesPage()->selectedSite(), QString("Main"));
    }

    // The Host tree lists under each pool the FastCGI programs its applications reach, not every
    // program some handler names (pool a showed "two" and pool b "one" before, and web both).
    void hostTreeListsTheProgramsEachPoolRuns()
    {
        EngineFixture f;
        scopedFastCgiApps(f);
        f.values["@POOLS@"] += R"(<add name="spare" />)"; // no application: no program of any kind
        QString helper = LIDO_TEST_BIN_DIR "/lido-test-fcgi";
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        HostTree* tree = live.window->hostTree();
        auto programs = [&](const QString& pool) {
            QStringList out;
            QTreeWidgetItem* p = tree->poolItem(pool);
            for (int i = 0; p && i < p->childCount(); ++i)
                if (p->child(i)->text(0).startsWith("FastCGI"))
                    out << p->child(i)->text(0);
            return out;
        };
        QCOMPARE(programs("a"), QStringList({"FastCGI lido-test-fcgi one"}));
        QCOMPARE(programs("b"), QStringList({"FastCGI lido-test-fcgi two"}));
        QCOMPARE(programs("web"), QStringList());
        // The server's CGI handler covers the applications of a, b and web; spare has none.
        auto hasCgi = [&](const QString& pool) {
            QTreeWidgetItem* p = tree->poolItem(pool);
            for (int i = 0; p && i < p->childCount(); ++i)
                if (p->child(i)->text(0) == "CGI programs")
                    return true;
            return false;
        };
        QVERIFY(hasCgi("a") && hasCgi("b") && hasCgi("web"));
        QVERIFY(tree->poolItem("spare"));
        QVERIFY(!hasCgi("spare"));
        QCOMPARE(fetch(f.port, "/a/x.app").status, 200);
        QTRY_VERIFY(tree->poolItem("a")->child(0)->toolTip(0).contains("busy"));  // the engine's pool behind it
        tree->expandAll();
        screenshot(live.window.get(), "host-tree-reachable");
    }
};

QTEST_MAIN(tst_SitesPage)
#include "tst_sitespage.moc"
