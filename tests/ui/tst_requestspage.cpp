// The requests behind a failure in the real window under Xvfb, with the engine in the console's
// process: the pools page lists a slow request of the selected pool while it runs (phase, pid,
// URL), and the Requests page lists the traces a slow request, a FastCGI 500 and a CGI 503 left,
// filters them, shows one with its phases as a timeline, stderr and masked headers, and leads to
// its pool and to its events. The View menu reaches the pages by Ctrl+1… and shows or hides the
// docks; an event opens in full by Enter.
#include "EngineSupport.h"
#include "EventsDock.h"
#include "GuiSupport.h"
#include "LiveWindow.h"
#include "PoolsPage.h"
#include "RequestsPage.h"

#include <QComboBox>
#include <QDialog>
#include <QMenu>
#include <QTreeWidget>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTextBrowser>
#include <thread>

namespace {

void traced(EngineFixture& f)
{
    f.useFastCgiHelper("maxInstances=\"2\"");
    f.values["@FASTCGI@"] +=
        R"(<tracing><traceFailedRequests><add path="*"><failureDefinitions statusCodes="500-599" timeTaken="00:00:01" /></add></traceFailedRequests></tracing>)";
    f.values["@APPS@"] = "<traceFailedRequestsLogging enabled=\"true\" directory=\"" + f.s.path("traces") + "\" />";
}

int visibleRows(QTableWidget* t)
{
    int n = 0;
    for (int r = 0; r < t->rowCount(); ++r)
        n += !t->isRowHidden(r);
    return n;
}

int rowWith(QTableWidget* t, int column, const QString& text)
{
    for (int r = 0; r < t->rowCount(); ++r)
        if (t->item(r, column) && t->item(r, column)->text().contains(text))
            return r;
    return -1;
}

} // namespace

class tst_RequestsPage : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { guitest::isolateSettings(); }

    void poolsPageListsRunningRequests()
    {
        EngineFixture f;
        f.useFastCgiHelper("maxInstances=\"2\"");
        LiveWindow w(f);
        QVERIFY2(w.ok(), qPrintable(w.error));
        w.window->showPool("web");
        QCOMPARE(w.window->poolsPage()->selectedPool(), QString("web"));
        QTableWidget* running = w.window->poolsPage()->runningRequests();
        QCOMPARE(running->rowCount(), 0);
        Response slow;
        std::thread client([&] { slow = fetch(f.port, "/app/report?sleep=4000"); });
        QTRY_VERIFY_WITH_TIMEOUT(rowWith(running, 5, "/app/report") >= 0 && running->item(rowWith(running, 5, "/app/report"), 1)->text() ==
                                                                                 "waiting for the application",
                                 8000);
        int row = rowWith(running, 5, "/app/report");
        QCOMPARE(running->item(row, 5)->text(), QString("GET /app/report?sleep=4000"));
        QCOMPARE(running->item(row, 2)->text(), QString("127.0.0.1"));
        QCOMPARE(running->item(row, 3)->text(), QString::number(w.client.snapshot().fastcgi.at(0).instances.at(0).pid)); // the instance's pid
        QCOMPARE(running->item(row, 4)->text(), QString("Main"));
        QVERIFY(running->isVisible());
        guitest::screenshot(w.window.get(), "pools-running-requests");
        client.join();
        QCOMPARE(slow.status, 200);
        QTRY_COMPARE_WITH_TIMEOUT(running->rowCount(), 0, 5000); // answered: gone from the list
    }

    void requestsPageShowsTraces()
    {
        EngineFixture f;
        traced(f);
        LiveWindow w(f, QSize(1280, 860));
        QVERIFY2(w.ok(), qPrintable(w.error));
        QCOMPARE(fetch(f.port, "/app/slow?sleep=1300").status, 200);
        QCOMPARE(fetch(f.port, "/app/broken?stderr=database-unreachable", "Cookie: PHPSESSID=s3cr3t\r\n").status, 500);
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi?status=503").status, 503);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200); // fine: no trace

        RequestsPage* page = w.window->requestsPage();
        QVERIFY(page);
        w.window->tabs()->setCurrentWidget(page); // the page asks for the traces when it is shown
        QTableWidget* table = page->table();
        QTRY_COMPARE(table->rowCount(), 3);
        QCOMPARE(visibleRows(table), 3);

        // Filters: by kind, then by text.
        page->kindFilter()->setCurrentIndex(1); // 5xx
        QCOMPARE(visibleRows(table), 2);
        page->kindFilter()->setCurrentIndex(3); // slow
        QCOMPARE(visibleRows(table), 1);
        QVERIFY(!table->isRowHidden(rowWith(table, 3, "/app/slow")));
        page->kindFilter()->setCurrentIndex(0);
        page->filter()->setText("cgi-bin");
        QCOMPARE(visibleRows(table), 1);
        page->filter()->clear();

        // The 500: stderr and masked cookies in the details.
        table->setCurrentCell(rowWith(table, 3, "/app/broken"), 0);
        QTRY_VERIFY(page->details()->toPlainText().contains("database-unreachable"));
        QString details = page->details()->toPlainText();
        QVERIFY2(details.contains("PHPSESSID=***") && !details.contains("s3cr3t"), qPrintable(details));
        QVERIFY(details.contains("FastCgiModule"));
        QVERIFY(page->findChild<QLabel*>("traceTitle")->text().contains("500"));

        // The slow one: its phases on the timeline, waiting for the application the longest.
        table->setCurrentCell(rowWith(table, 3, "/app/slow"), 0);
        QTRY_VERIFY(page->findChild<QLabel*>("traceTitle")->text().contains("/app/slow"));
        const auto& phases = page->timeline()->phases();
        QVERIFY(!phases.empty());
        auto longest = std::max_element(phases.begin(), phases.end(), [](const auto& a, const auto& b) { return a.ms < b.ms; });
        QCOMPARE(longest->key, QString("waiting"));
        QVERIFY(longest->ms >= 1250);
        QVERIFY(page->timeline()->isVisible() && page->timeline()->height() >= page->timeline()->sizeHint().height() / 2);
        guitest::screenshot(w.window.get(), "requests-trace");

        // Its links: the events dock filtered to its URL, then its pool.
        QVERIFY(page->eventsButton()->isEnabled());
        page->eventsButton()->click();
        QCOMPARE(w.window->eventsDock()->textFilter()->text(), QString("/app/slow?sleep=1300"));
        QVERIFY(w.window->eventsDock()->isVisible());
        QCOMPARE(page->poolButton()->text(), QString("Open pool web"));
        page->poolButton()->click();
        QCOMPARE(w.window->tabs()->currentWidget(), static_cast<QWidget*>(w.window->poolsPage()));
        QCOMPARE(w.window->poolsPage()->selectedPool(), QString("web"));

        // A new failure shows when the page is refreshed (it asks again every 5 s while shown).
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi?status=502").status, 502);
        w.window->tabs()->setCurrentWidget(page);
        QTRY_COMPARE(table->rowCount(), 4);
        QVERIFY(table->item(0, 3)->text().contains("status=502")); // newest first
    }

    // View menu: the pages by Ctrl+1…, the docks shown and hidden; an event in full by Enter.
    void viewMenuAndEventDetails()
    {
        EngineFixture f;
        LiveWindow w(f);
        QVERIFY2(w.ok(), qPrintable(w.error));
        QTabWidget* tabs = w.window->tabs();
        w.window->activateWindow(); // shortcuts go to the active window
        QVERIFY(QTest::qWaitForWindowActive(w.window.get()));
        QTest::keyClick(w.window.get(), Qt::Key_3, Qt::ControlModifier);
        QCOMPARE(tabs->currentWidget(), static_cast<QWidget*>(w.window->requestsPage()));
        QTest::keyClick(w.window.get(), Qt::Key_1, Qt::ControlModifier);
        QCOMPARE(tabs->currentWidget(), static_cast<QWidget*>(w.window->poolsPage()));
        QTest::keyClick(w.window.get(), Qt::Key_4, Qt::ControlModifier);
        QCOMPARE(tabs->currentIndex(), tabs->count() - 1); // Configuration
        QMenu* view = w.window->findChild<QMenu*>("viewMenu");
        QVERIFY(view);
        QAction* eventsPanel = nullptr;
        for (QAction* a : view->actions())
            if (a->text() == "Events panel")
                eventsPanel = a;
        QVERIFY(eventsPanel && eventsPanel->isChecked());
        eventsPanel->trigger();
        QVERIFY(!w.window->eventsDock()->isVisible());
        eventsPanel->trigger();
        QVERIFY(w.window->eventsDock()->isVisible());

        QTreeWidget* list = w.window->eventsDock()->list();
        QTRY_VERIFY(list->topLevelItemCount() > 0);
        QTreeWidgetItem* item = list->topLevelItem(list->topLevelItemCount() - 1); // the oldest
        list->setCurrentItem(item);
        list->setFocus();
        QTest::keyClick(list, Qt::Key_Return);
        QDialog* details = nullptr;
        QTRY_VERIFY((details = w.window->eventsDock()->findChild<QDialog*>("eventDetails")) != nullptr);
        QString text = details->findChild<QTextBrowser*>("eventText")->toPlainText();
        QVERIFY2(text.contains(item->text(3)) && text.contains(item->text(2)) && text.contains(QDate::currentDate().toString("yyyy-MM-dd")),
                 qPrintable(text));
        QVERIFY(QTest::qWaitForWindowExposed(details));
        guitest::screenshot(details, "event-details");
        details->close();
    }
};

QTEST_MAIN(tst_RequestsPage)
#include "tst_requestspage.moc"
