// The console window on a real configuration under Xvfb: the models hold up under
// QAbstractItemModelTester, selecting a pool shows its settings, problems point at elements.
#include "TestSupport.h"
#include "AttributeModel.h"
#include "ConfigTreeModel.h"
#include "EngineClient.h"
#include "MainWindow.h"
#include "PoolsPage.h"
#include "TimeChart.h"
#include "GuiSupport.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QComboBox>
#include <QListWidget>
#include <QSettings>
#include <QSplitter>
#include <QTableView>
#include <QTreeView>

using testsupport::Scratch;

using guitest::findLabel;
using guitest::screenshot;

class tst_MainWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        guitest::isolateSettings();
    }

    void modelsPassTheModelTester()
    {
        auto config = lido::config::loadConfig(LIDO_SOURCE_DIR "/tests/fixtures/config/iis-default.applicationHost.config");
        QVERIFY(config);
        ConfigTreeModel tree;
        QAbstractItemModelTester treeTester(&tree, QAbstractItemModelTester::FailureReportingMode::QtTest);
        tree.setConfig(*config);
        QVERIFY(tree.rowCount() > 3);
        QModelIndex pool = findLabel(&tree, "Pool DefaultAppPool");
        QVERIFY(pool.isValid());
        QCOMPARE(tree.element(pool)->path, std::string("applicationPools/add[@name='DefaultAppPool']"));
        QCOMPARE(tree.parent(pool).data().toString(), QString("applicationPools"));

        AttributeModel attrs;
        QAbstractItemModelTester attrTester(&attrs, QAbstractItemModelTester::FailureReportingMode::QtTest);
        attrs.setElement(*config, tree.element(pool));
        QVERIFY(attrs.rowCount() > 10);
        bool sawQueue = false;
        for (int r = 0; r < attrs.rowCount(); ++r)
            if (attrs.index(r, AttributeModel::Name).data() == "queueLength") {
                sawQueue = true;
                QCOMPARE(attrs.index(r, AttributeModel::Value).data().toString(), QString("1000"));
                QCOMPARE(attrs.index(r, AttributeModel::Default).data().toString(), QString("1000"));
            }
        QVERIFY(sawQueue);
        tree.setConfig(nullptr);
        QCOMPARE(tree.rowCount(), 0);
    }

    void windowShowsTheSampleConfiguration()
    {
        Scratch s;
        QString text = QString::fromUtf8(s.read("none"));
        QFile sample(LIDO_SOURCE_DIR "/resources/sample/applicationHost.config");
        QVERIFY(sample.open(QIODevice::ReadOnly));
        text = QString::fromUtf8(sample.readAll())
                   .replace("@SAMPLE_DIR@", LIDO_SOURCE_DIR "/resources/sample")
                   .replace("@BIN_DIR@", LIDO_BIN_DIR)
                   .replace("@LOG_DIR@", s.path("log"));
        QString file = s.config(text);

        MainWindow w;
        QVERIFY(w.openFile(file));
        w.resize(1200, 760);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QCOMPARE(w.windowTitle(), "Lido — " + file);
        QCOMPARE(w.problems()->count(), 0);

        QModelIndex php = findLabel(w.treeModel(), "Pool php");
        QVERIFY(php.isValid());
        w.tree()->setCurrentIndex(php);
        QAbstractItemModel* grid = w.attributes()->model();
        QStringList names;
        for (int r = 0; r < grid->rowCount(); ++r)
            names << grid->index(r, 0).data().toString();
        QVERIFY(names.contains("queueLength"));
        QVERIFY(names.contains("startMode"));
        w.attributes()->setCurrentIndex(grid->index(names.indexOf("queueLength"), 1));
        screenshot(&w, "mainwindow-sample");
    }

    void problemsListPointsAtTheElement()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig().replace("queueLength=\"1000\"", "queueLength=\"0\""));
        MainWindow w;
        QVERIFY(w.openFile(file));
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QCOMPARE(w.problems()->count(), 1);
        QCOMPARE(w.problems()->item(0)->text(), file + ":5: applicationPools/add[@name='php']/@queueLength: 0 is below the minimum 10");
        emit w.problems()->itemActivated(w.problems()->item(0));
        QCOMPARE(w.tree()->currentIndex().data().toString(), QString("Pool php"));
        QVERIFY(w.attributes()->model()->rowCount() > 0);
        screenshot(&w, "mainwindow-problem");
    }

    void stateIsRestoredBetweenRuns()
    {
        QSettings().clear();
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        InProcessEngineClient client; // not started: the pages exist, nothing runs
        {
            MainWindow first(&client);
            QVERIFY(first.openFile(file));
            first.show();
            QVERIFY(QTest::qWaitForWindowExposed(&first));
            first.tabs()->setCurrentIndex(first.tabs()->count() - 1); // Configuration
            first.findChild<QSplitter*>("mainSplitter")->setSizes({250, 850});
            first.poolsPage()->rangeBox()->setCurrentIndex(1); // the last hour
            QCOMPARE(first.poolsPage()->chart()->span(), 3600);
            first.close();
        }
        MainWindow second(&client);
        QVERIFY(second.openFile(file));
        second.show();
        QVERIFY(QTest::qWaitForWindowExposed(&second));
        QCOMPARE(second.tabs()->currentIndex(), second.tabs()->count() - 1);
        QCOMPARE(second.findChild<QSplitter*>("mainSplitter")->sizes().first(), 250);
        QCOMPARE(second.poolsPage()->rangeBox()->currentIndex(), 1);
        QCOMPARE(second.poolsPage()->chart()->span(), 3600);
        QCOMPARE(QSettings().value("config/lastFile").toString(), file);
    }

    void unreadableFileIsReported()
    {
        MainWindow w;
        QVERIFY(!w.openFile("/nonexistent/applicationHost.config"));
        QCOMPARE(w.problems()->count(), 1);
        QVERIFY(w.problems()->item(0)->text().contains("cannot read"));
    }
};

QTEST_MAIN(tst_MainWindow)
#include "tst_mainwindow.moc"
