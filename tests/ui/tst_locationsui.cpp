// The Configuration page with <location> blocks and URL Rewrite rules, in a real window under
// Xvfb: a site's effective settings and where each comes from, editing inside a location through
// the attribute grid, a rule's pattern checked by PCRE2 as it is typed, and the "Test pattern"
// box running a rule on a typed URL.
#include "TestSupport.h"
#include "AttributeModel.h"
#include "ConfigTreeModel.h"
#include "EffectiveView.h"
#include "GuiSupport.h"
#include "MainWindow.h"
#include "TestPatternDialog.h"

#include <QApplication>
#include <QLabel>
#include <QListWidget>
#include <QLineEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTreeView>
#include <QTreeWidget>

using guitest::findLabel;
using guitest::screenshot;
using testsupport::Scratch;

class tst_LocationsUi : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { guitest::isolateSettings(); }
    void effectiveSettingsShowWhereEachComesFrom();
    void editInsideALocation();
    void patternsAreCheckedAsTyped();
    void testPatternRunsTheRule();

private:
    static QString withLocations(Scratch& s);
    static QTreeWidgetItem* findItem(QTreeWidget* tree, const QString& text);
    static bool shown(MainWindow& w, const QString& file);
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
QString tst_LocationsUi::withLocations(Scratch& s)
{
    QDir(s.path("www")).mkpath("blog");
    s.write("www/blog/index.php", "<?php echo 1;");
    QDir(s.path("www")).mkpath("blog/7");
    s.write("www/blog/7/on-disk", "a file that the rule's condition leaves alone\n");
    QString text = testsupport::baseConfig();
    text.replace("</configuration>", R"~(    <location path="Main">
        <system.webServer>
            <directoryBrowse enabled="true" />
            <httpProtocol><customHeaders><add name="X-Site" value="main" /></customHeaders></httpProtocol>
            <rewrite><rules>
                <rule name="Blog posts" stopProcessing="true">
                    <match url="^blog/(\d+)/([a-z-]+)$" />
                    <conditions>
                        <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />
                    </conditions>
                    <action type="Rewrite" url="blog/index.php?id={R:1}&amp;slug={R:2}" />
                </rule>
            </rules></rewrite>
        </system.webServer>
    </location>
    <location path="Main/php">
        <system.webServer>
            <directoryBrowse enabled="false" />
        </system.webServer>
    </location>
</configuration>)~");
    return s.config(text);
}

bool tst_LocationsUi::shown(MainWindow& w, const QString& file)
{
    if (!w.openFile(file))
        return false;
    w.resize(1300, 820);
    w.show();
    return QTest::qWaitForWindowExposed(&w);
}

QTreeWidgetItem* tst_LocationsUi::findItem(QTreeWidget* tree, const QString& text)
{
    auto found = tree->findItems(text, Qt::MatchExactly | Qt::MatchRecursive, 0);
    return found.isEmpty() ? nullptr : found.first();
}

void tst_LocationsUi::effectiveSettingsShowWhereEachComesFrom()
{
    Scratch s;
    QString file = withLocations(s);
    MainWindow w;
    QVERIFY(shown(w, file));
    QCOMPARE(w.problems()->count(), 0);
    QModelIndex app = findLabel(w.treeModel(), "Application /php");
    QVERIFY(app.isValid());
    w.tree()->setCurrentIndex(app);
    w.detailTabs()->setCurrentWidget(w.effectiveView());
    QTreeWidget* t = w.effectiveView()->tree();
    QCOMPARE(w.effectiveView()->site(), std::string("Main"));
    QCOMPARE(w.effectiveView()->urlPath(), std::string("/php"));
    QTreeWidgetItem* browse = findItem(t, "directoryBrowse");
    QVERIFY(browse);
    QTreeWidgetItem* enabled = browse->child(0);
    QCOMPARE(enabled->text(0), QString("@enabled"));
    QCOMPARE(enabled->text(1), QString("false"));
    QCOMPARE(enabled->text(2), QString("application /php")); // the application's, over the site's true
    QTreeWidgetItem* header = findItem(t, "add name=X-Site");
    QVERIFY(header);
    QCOMPARE(header->text(2), QString("site Main"));
    QTreeWidgetItem* handler = findItem(t, "add name=PHP");
    QVERIFY(handler);
    QCOMPARE(handler->text(2), QString("server"));
    QVERIFY(w.effectiveView()->title()->text().contains("server → site Main → application /php"));
    t->scrollToItem(browse);
    screenshot(&w, "locations-effective-settings");
}

void tst_LocationsUi::editInsideALocation()
{
    Scratch s;
    QString file = withLocations(s);
    MainWindow w;
    QVERIFY(shown(w, file));
    QModelIndex loc = findLabel(w.treeModel(), "Location Main/php");
    QVERIFY(loc.isValid());
    QModelIndex browse = findLabel(w.treeModel(), "directoryBrowse", w.treeModel()->index(0, 0, loc));
    QVERIFY(browse.isValid());
    w.tree()->setCurrentIndex(browse);
    QCOMPARE(w.attributeModel()->elementPath(), QString("location[@path='Main/php']/system.webServer/directoryBrowse"));
    QAbstractItemModel* grid = w.attributes()->model();
    for (int r = 0; r < grid->rowCount(); ++r)
        if (grid->index(r, 0).data().toString() == "enabled")
            QVERIFY(grid->setData(grid->index(r, AttributeModel::Value), "true", Qt::EditRole));
    QVERIFY(w.applyEdits());
    QVERIFY(s.read("applicationHost.config").contains("<location path=\"Main/php\">\n        <system.webServer>\n            <directoryBrowse enabled=\"true\" />"));
}

void tst_LocationsUi::patternsAreCheckedAsTyped()
{
    Scratch s;
    QString file = withLocations(s);
    MainWindow w;
    QVERIFY(shown(w, file));
    QModelIndex rule = findLabel(w.treeModel(), "Rule Blog posts");
    QVERIFY(rule.isValid());
    QModelIndex match = findLabel(w.treeModel(), "match", rule);
    QVERIFY(match.isValid());
    w.tree()->setCurrentIndex(match);
    QVERIFY(w.testPatternButton()->isVisible());
    QAbstractItemModel* grid = w.attributes()->model();
    int urlRow = -1;
    for (int r = 0; r < grid->rowCount(); ++r)
        if (grid->index(r, 0).data().toString() == "url")
            urlRow = r;
    QVERIFY(urlRow >= 0);
    QModelIndex value = grid->index(urlRow, AttributeModel::Value);
    w.attributes()->setCurrentIndex(value);
    w.attributes()->edit(value);
    auto* editor = w.attributes()->findChild<QLineEdit*>();
    QVERIFY(editor);
    editor->selectAll();
    QTest::keyClicks(editor, "^blog/(\\d+");
    QTRY_VERIFY2(w.helpLabel()->text().contains("missing closing parenthesis at offset 10"), qPrintable(w.helpLabel()->text()));
    screenshot(&w, "locations-pattern-as-typed");
    QTest::keyClicks(editor, ")$");
    QTRY_VERIFY(!w.helpLabel()->text().contains("does not compile"));
}

void tst_LocationsUi::testPatternRunsTheRule()
{
    Scratch s;
    QString file = withLocations(s);
    MainWindow w;
    QVERIFY(shown(w, file));
    w.tree()->setCurrentIndex(findLabel(w.treeModel(), "Rule Blog posts"));
    TestPatternDialog* d = w.showTestPattern();
    QVERIFY(d);
    d->show();
    QVERIFY(QTest::qWaitForWindowExposed(d));
    QCOMPARE(d->pattern()->text(), QString("^blog/(\\d+)/([a-z-]+)$"));
    QTest::keyClicks(d->input(), "blog/2026/hello-lido");
    QCOMPARE(d->status()->text(), QString("The input data matches the pattern."));
    QCOMPARE(d->captures()->rowCount(), 3);
    QCOMPARE(d->captures()->item(1, 0)->text(), QString("{R:1}"));
    QCOMPARE(d->captures()->item(1, 1)->text(), QString("2026"));
    QCOMPARE(d->captures()->item(2, 1)->text(), QString("hello-lido"));
    QVERIFY2(d->result()->text().startsWith("The rule rewrites it to /blog/index.php?id=2026&slug=hello-lido"), qPrintable(d->result()->text()));
    screenshot(d, "locations-test-pattern");
    // A URL that is a file in the site's folder: the pattern matches, the condition (not a file) stops the rule.
    d->input()->setText("blog/7/on-disk");
    QCOMPARE(d->status()->text(), QString("The input data matches the pattern."));
    QVERIFY2(d->result()->text().startsWith("The rule does not apply"), qPrintable(d->result()->text()));
    d->input()->setText("about/us");
    QCOMPARE(d->status()->text(), QString("The input data does not match the pattern."));
    d->input()->setText("blog/7/on-disk");
    d->pattern()->setText("^blog/(.*)$");
    QCOMPARE(d->status()->text(), QString("The input data matches the pattern."));
    QVERIFY(d->result()->text().contains("differs"));
    d->pattern()->setText("^blog/(.*$");
    QVERIFY(d->status()->text().contains("does not compile"));
    d->close();
}
#endif

QTEST_MAIN(tst_LocationsUi)
#include "tst_locationsui.moc"
