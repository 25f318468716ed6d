// The property editor in the real window under Xvfb, with the engine running in-process on the
// file: an invalid value is marked as typed and refused on Apply (file untouched); a valid one is
// saved (that attribute only, history kept) and the engine applies it.
#include "EngineClient.h"
#include "EngineSupport.h"
#include "AddDialog.h"
#include "AttributeModel.h"
#include "ChangesDialog.h"
#include "ConfigTreeModel.h"
#include "LiveWindow.h"
#include "MainWindow.h"
#include "GuiSupport.h"

#include "config/ConfigHistory.h"

#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QPushButton>
#include <QTableView>
#include <QTreeView>
#include <QtTest>
#include <cstdio>

using guitest::findLabel;
using guitest::screenshot;

namespace {

// Opens the editor on the attribute's value and types text into it (replacing what was there):
// a spin box for bounded numbers, a checked line for the rest. The editor, or null.
QWidget* typeIntoEditor(MainWindow& w, const QString& attribute, const QString& text)
{
    QAbstractItemModel* grid = w.attributes()->model();
    int row = -1;
    for (int r = 0; r < grid->rowCount(); ++r)
        if (grid->index(r, 0).data().toString() == attribute)
            row = r;
    if (row < 0)
        return nullptr;
    QModelIndex value = grid->index(row, AttributeModel::Value);
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete); // editors closed earlier are gone
    w.attributes()->setCurrentIndex(value);
    w.attributes()->edit(value);
    QWidget* editor = w.attributes()->findChild<QLineEdit*>("attributeEditor");
    if (auto* spin = w.attributes()->findChild<QSpinBox*>("attributeSpin")) {
        spin->selectAll();
        editor = spin;
    } else if (auto* line = qobject_cast<QLineEdit*>(editor)) {
        line->selectAll();
    }
    if (editor)
        QTest::keyClicks(editor, text);
    return editor;
}

QLineEdit* typeInto(MainWindow& w, const QString& attribute, const QString& text)
{
    return qobject_cast<QLineEdit*>(typeIntoEditor(w, attribute, text));
}

// One FastCGI application of the test helper (with these arguments, if any) and the handler
// "App" on /app/* that names it.
void oneFastCgiApp(EngineFixture& f, const QString& arguments = {})
{
    QString program = LIDO_TEST_BIN_DIR "/lido-test-fcgi";
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" + program + "\"" +
                            (arguments.isEmpty() ? QString() : " arguments=\"" + arguments + "\"") + " maxInstances=\"1\" /></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" + program +
                             (arguments.isEmpty() ? QString() : "|" + arguments) + "\" />";
}

} // namespace

class tst_PropertyEditor : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        guitest::isolateSettings();
    }

    void invalidIsRefusedValidIsSavedAndApplied()
    {
        EngineFixture f;
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        InProcessEngineClient& client = live.client;
        const QString file = live.file;
        QByteArray original = f.s.read("applicationHost.config");
        w.tabs()->setCurrentIndex(w.tabs()->count() - 1); // Configuration
        QModelIndex pool = findLabel(w.treeModel(), "Pool web");
        QVERIFY(pool.isValid());
        w.tree()->setCurrentIndex(pool);

        // A bounded number gets a spin box; what is typed is marked at once with the validator's message.
        QWidget* spin = typeIntoEditor(w, "queueLength", "5");
        QVERIFY(qobject_cast<QSpinBox*>(spin));
        QCOMPARE(qobject_cast<QSpinBox*>(spin)->minimum(), 10);
        QVERIFY2(w.helpLabel()->text().contains("queueLength: 5 is below the minimum 10"), qPrintable(w.helpLabel()->text()));
        QVERIFY(!spin->styleSheet().isEmpty());
        screenshot(&w, "propertyeditor-typing");
        QTest::keyClick(spin, Qt::Key_Escape);
        QTRY_VERIFY(!w.attributes()->findChild<QSpinBox*>("attributeSpin") || !w.attributes()->findChild<QSpinBox*>("attributeSpin")->isVisible());

        // A time span is a checked line: an invalid one can be committed, and Apply refuses it.
        QLineEdit* editor = typeInto(w, "cgiQueueTimeout", "00:99:00");
        QVERIFY(editor);
        QVERIFY2(w.helpLabel()->text().contains("cgiQueueTimeout: "), qPrintable(w.helpLabel()->text()));
        QVERIFY(!editor->styleSheet().isEmpty());
        QTest::keyClick(editor, Qt::Key_Return);
        QTRY_VERIFY(w.applyButton()->isEnabled()); // the delegate commits on the next turn of the event loop
        QVERIFY(!w.applyEdits()); // refused
        QVERIFY2(w.helpLabel()->text().contains("Not applied: cgiQueueTimeout: "), qPrintable(w.helpLabel()->text()));
        QCOMPARE(f.s.read("applicationHost.config"), original);
        screenshot(&w, "propertyeditor-refused");

        // Cancel drops the edit.
        QTest::mouseClick(w.cancelButton(), Qt::LeftButton);
        QVERIFY(w.attributeModel()->pendingEdits().empty());

        spin = typeIntoEditor(w, "queueLength", "500");
        QVERIFY(qobject_cast<QSpinBox*>(spin));
        QVERIFY(!w.helpLabel()->text().contains("below the minimum"));
        QTest::keyClick(spin, Qt::Key_Return);
        QTRY_VERIFY(w.applyButton()->isEnabled());
        QTest::mouseClick(w.applyButton(), Qt::LeftButton);
        QByteArray saved = f.s.read("applicationHost.config");
        QList<QByteArray> before = original.split('\n'), after = saved.split('\n');
        QCOMPARE(after.size(), before.size());
        int changed = 0, changedAt = -1;
        for (int i = 0; i < before.size(); ++i)
            if (before[i] != after[i]) {
                ++changed;
                changedAt = i;
                QCOMPARE(after[i], QByteArray(before[i]).replace(">", " queueLength=\"500\">"));
            }
        QCOMPARE(changed, 1); // exactly that attribute
        QCOMPARE(lido::config::historyFor(file.toStdString(), nullptr).list().size(), size_t(1));
        QTRY_COMPARE(client.engine()->config()->pool("web")->get("queueLength"), std::string("500")); // applied live
        QVERIFY(!w.applyButton()->isEnabled());
        screenshot(&w, "propertyeditor-applied");

        // Export changes: what that save changed (the newest history entry against the file).
        ChangesDialog* changes = w.showChanges();
        QVERIFY(changes);
        QVERIFY(QTest::qWaitForWindowExposed(changes));
        QCOMPARE(changes->fromBox()->currentData().toString(), QString("history:1"));
        QCOMPARE(changes->toBox()->currentData().toString(), QString("saved"));
        QCOMPARE(changes->semanticText(), QString("applicationPools/add[@name='web']/@queueLength: 1000 -> 500\n"));
        QVERIFY(changes->unifiedText().contains("+" + QString::fromUtf8(after[changedAt])));
        screenshot(changes, "changes-dialog");
        QString diff = f.s.path("changes.diff"), script = f.s.path("changes.sh"), text = f.s.path("changes.txt");
        QVERIFY(changes->exportTo(diff, ChangesDialog::Format::Unified));
        QVERIFY(changes->exportTo(text, ChangesDialog::Format::Semantic));
        QVERIFY(changes->exportTo(script, ChangesDialog::Format::Script));
        QByteArray unified = f.s.read("changes.diff");
        QVERIFY(unified.startsWith("--- " + file.toUtf8() + " (history 1)\n+++ " + file.toUtf8() + "\n"));
        QVERIFY(unified.contains("\n-" + before[changedAt] + "\n+" + after[changedAt] + "\n"));
        QCOMPARE(f.s.read("changes.txt"), QByteArray("applicationPools/add[@name='web']/@queueLength: 1000 -> 500\n"));
        QVERIFY2(f.s.read("changes.sh").contains("\nset element \"applicationPools/add[@name='web']\" 'queueLength=500'\n"), f.s.read("changes.sh").constData());
        // The running configuration is the saved one: nothing between them.
        changes->compare("running", "saved");
        QCOMPARE(changes->semanticText(), QString("(no changes)"));
        changes->close();

        // A folder attribute: browse, and a warning as soon as the folder is not there.
        QModelIndex vdir = w.treeModel()->indexOfPath("sites/site[@name='Main']/application[@path='/']/virtualDirectory[@path='/']");
        QVERIFY(vdir.isValid());
        w.tree()->setCurrentIndex(vdir);
        QLineEdit* path = typeInto(w, "physicalPath", "/nonexistent/www");
        QVERIFY(path);
        QVERIFY(path->findChild<QAction*>("browse"));
        QVERIFY2(w.helpLabel()->text().contains("physicalPath: warning: no folder /nonexistent/www on this machine"), qPrintable(w.helpLabel()->text()));
        screenshot(&w, "propertyeditor-path");
        QTest::keyClick(path, Qt::Key_Escape);

    }

    // Configuration → Add… and Remove: the same validation, the same save, applied live.
    void addAndRemoveAPool()
    {
        EngineFixture f;
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        InProcessEngineClient& client = live.client;
        QByteArray original = f.s.read("applicationHost.config");

        AddDialog* add = w.showAddDialog();
        QVERIFY(add);
        add->show();
        QVERIFY(QTest::qWaitForWindowExposed(add));
        add->kindBox()->setCurrentIndex(add->kindBox()->findData("pool"));
        QTest::keyClicks(add->keyEdit(), "extra");
        // The form is the schema's: every attribute of a pool with its default, the key (the Name
        // above) not repeated; a bounded number gets the grid's spin box, checked as it is typed.
        QTableView* grid = add->attributeGrid();
        int queueRow = -1, nameRow = -1;
        for (int r = 0; r < grid->model()->rowCount(); ++r) {
            QString attribute = grid->model()->index(r, AttributeModel::Name).data().toString();
            queueRow = attribute == "queueLength" ? r : queueRow;
            nameRow = attribute == "name" ? r : nameRow;
            if (attribute == "startMode")
                QCOMPARE(grid->model()->index(r, AttributeModel::Value).data().toString(), QString("OnDemand"));
        }
        QVERIFY(queueRow >= 0 && nameRow >= 0);
        QVERIFY(grid->isRowHidden(nameRow));
        QModelIndex queue = grid->model()->index(queueRow, AttributeModel::Value);
        grid->setCurrentIndex(queue);
        grid->edit(queue);
        auto* spin = grid->findChild<QSpinBox*>("attributeSpin");
        QVERIFY(spin);
        QCOMPARE(spin->minimum(), 10);
        spin->selectAll();
        QTest::keyClicks(spin, "5");
        QLabel* help = add->findChild<QLabel*>("addHelp");
        QVERIFY(help);
        QVERIFY2(help->text().contains("queueLength: 5 is below the minimum 10"), qPrintable(help->text())); // as it is typed
        screenshot(add, "add-typing");
        QTest::keyClicks(spin, "00"); // 500
        QTest::keyClick(spin, Qt::Key_Return);
        QTRY_COMPARE(add->attributeModel()->pendingEdits().size(), size_t(1));
        QCOMPARE(add->attributeModel()->pendingEdits().front().second, QString("500"));
        // A value the schema refuses (pasted, say) is refused on Add, with the schema's message.
        QVERIFY(add->setValue("queueLength", "5"));
        QVERIFY(!add->tryAccept());
        QVERIFY2(add->messageLabel()->text().contains("queueLength: 5 is below the minimum 10"), qPrintable(add->messageLabel()->text()));
        QCOMPARE(f.s.read("applicationHost.config"), original); // refused: untouched
        screenshot(add, "add-refused");
        QVERIFY(add->setValue("queueLength", "500"));
        add->attributesEdit()->setPlainText("processModel.maxOpenFiles=4096");
        screenshot(add, "add-pool-form");
        QVERIFY(add->tryAccept());
        QByteArray saved = f.s.read("applicationHost.config");
        QVERIFY2(saved.contains("<add name=\"extra\" queueLength=\"500\">"), saved.constData());
        QVERIFY(saved.contains("<processModel maxOpenFiles=\"4096\" />"));
        QTRY_VERIFY(client.engine()->config()->pool("extra") != nullptr); // applied live

        QModelIndex extra = findLabel(w.treeModel(), "Pool extra");
        QVERIFY(extra.isValid());
        w.tree()->setCurrentIndex(extra);
        QCOMPARE(w.removeSelected(false), QString());
        QCOMPARE(f.s.read("applicationHost.config"), original); // back to what it was
        QTRY_VERIFY(client.engine()->config()->pool("extra") == nullptr);

        // A site: its binding, folder and pool in their own fields; it serves at once.
        add = w.showAddDialog();
        QVERIFY(add);
        add->show();
        QVERIFY(QTest::qWaitForWindowExposed(add));
        add->kindBox()->setCurrentIndex(add->kindBox()->findData("site"));
        QVERIFY(add->bindingsEdit()->isVisible());
        uint16_t port = freePort();
        QTest::keyClicks(add->keyEdit(), "Shop");
        QTest::keyClicks(add->bindingsEdit(), QString("http/127.0.0.1:%1:").arg(port));
        QTest::keyClicks(add->physicalPathEdit(), f.s.path("www"));
        QTest::keyClicks(add->poolEdit(), "web");
        screenshot(add, "add-site-form");
        QVERIFY2(add->tryAccept(), qPrintable(add->messageLabel()->text()));
        QTRY_COMPARE(fetch(port, "/hello.txt").status, 200);
    }

    // A FastCGI application's environment variables: added, changed and removed in one save; the
    // engine replaces the application's processes with ones that have them.
    void environmentVariablesReachTheApplication()
    {
        EngineFixture f;
        oneFastCgiApp(f);
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        QByteArray before = fetch(f.port, "/app/x?count").body.split(' ').first();
        QVERIFY(before.startsWith("pid="));
        w.tabs()->setCurrentIndex(w.tabs()->count() - 1);
        QModelIndex app = w.treeModel()->indexOfPath("fastCgi/application[@fullPath='" LIDO_TEST_BIN_DIR "/lido-test-fcgi']");
        QVERIFY(app.isValid());
        w.tree()->setCurrentIndex(app);
        QVERIFY(w.environmentButton()->isVisible());

        QCOMPARE(w.setEnvironment("LIDO_A=1\nLIDO_B=two\n"), QString());
        QByteArray text = f.s.read("applicationHost.config");
        QVERIFY(text.contains("<environmentVariable name=\"LIDO_A\" value=\"1\" />"));
        QVERIFY(text.contains("<environmentVariable name=\"LIDO_B\" value=\"two\" />"));
        // The application's settings changed: its pool was replaced, a new process serves.
        QTRY_VERIFY(fetch(f.port, "/app/x?count").body.split(' ').first() != before);

        QCOMPARE(w.setEnvironment("LIDO_B=three"), QString());
        text = f.s.read("applicationHost.config");
        QVERIFY(!text.contains("LIDO_A"));
        QVERIFY(text.contains("<environmentVariable name=\"LIDO_B\" value=\"three\" />"));
        QVERIFY(w.setEnvironment("no equals sign").contains("is not NAME=VALUE"));
        QTRY_VERIFY([&] {
            auto config = live.client.engine()->config();
            const auto* a = config->fastCgiApplications().front();
            const auto* vars = a->child("environmentVariables");
            return vars && vars->childrenNamed("environmentVariable").size() == 1 &&
                   vars->childrenNamed("environmentVariable").front()->get("value") == "three";
        }());
        screenshot(&w, "propertyeditor-environment");
    }

    // Edits span elements and are saved in one Apply; the page follows the file when somebody
    // else changes it (edits kept, the attribute changed under one named); renaming a FastCGI
    // application offers to rename the handlers naming it; leaving with edits asks first.
    void editsSpanElementsFollowTheFileAndAskBeforeLeaving()
    {
        EngineFixture f;
        oneFastCgiApp(f, "one");
        LiveWindow live(f);
        QVERIFY2(live.ok(), qPrintable(live.error));
        MainWindow& w = *live.window;
        QCOMPARE(fetch(f.port, "/app/x").status, 200);
        w.tabs()->setCurrentIndex(w.tabs()->count() - 1);
        const QString web = "applicationPools/add[@name='web']", limits = "sites/site[@name='Main']/limits";
        auto value = [&](const QString& attribute) {
            QAbstractItemModel* grid = w.attributes()->model();
            for (int r = 0; r < grid->rowCount(); ++r)
                if (grid->index(r, 0).data().toString() == attribute)
                    return grid->index(r, AttributeModel::Value).data().toString();
            return QString();
        };

        // An edit here, another there: both stay pending, and the first is shown again on return.
        w.tree()->setCurrentIndex(w.treeModel()->indexOfPath(web));
        QWidget* spin = typeIntoEditor(w, "queueLength", "500");
        QVERIFY(spin);
        QTest::keyClick(spin, Qt::Key_Return);
        QTRY_VERIFY(w.applyButton()->isEnabled());
        QVERIFY(w.treeModel()->indexOfPath(limits).isValid());
        w.tree()->setCurrentIndex(w.treeModel()->indexOfPath(limits));
        spin = typeIntoEditor(w, "maxConnections", "77");
        QVERIFY(spin);
        QTest::keyClick(spin, Qt::Key_Return);
        QTRY_COMPARE(w.pendingEditCount(), 2);
        QCOMPARE(w.applyButton()->text(), QString("&Apply 2 edits in 2 elements"));
        w.tree()->setCurrentIndex(w.treeModel()->indexOfPath(web));
        QCOMPARE(value("queueLength"), QString("500"));
        QCOMPARE(w.pendingEditCount(), 2);

        // Somebody else saves the file (as lidoctl does: a new file renamed over it), setting the
        // attribute edited here: the page shows the new file, keeps the edits and names the clash.
        QByteArray text = f.s.read("applicationHost.config");
        text.replace("<add name=\"web\" ", "<add name=\"web\" queueLength=\"2000\" ");
        f.s.write("applicationHost.config.new", text);
        QVERIFY(::rename(f.s.path("applicationHost.config.new").toUtf8().constData(), live.file.toUtf8().constData()) == 0);
        QTRY_VERIFY(w.banner()->isVisible());
        QVERIFY2(w.banner()->text().contains("queueLength of applicationPools/add[@name='web'] changed on disk from (not set) to 2000 (yours: 500)"),
                 qPrintable(w.banner()->text()));
        QCOMPARE(w.treeModel()->config()->pool("web")->get("queueLength"), std::string("2000")); // the tree shows the new file
        QCOMPARE(w.pendingEditCount(), 2);
        QCOMPARE(value("queueLength"), QString("500"));
        screenshot(&w, "configuration-changed-on-disk");

        // One Apply saves both (over the file as it is now), and the banner goes.
        QVERIFY(w.applyEdits());
        text = f.s.read("applicationHost.config");
        QVERIFY(text.contains("queueLength=\"500\""));
        QVERIFY(text.contains("maxConnections=\"77\""));
        QVERIFY(!w.banner()->isVisible());
        QCOMPARE(w.pendingEditCount(), 0);
        QTRY_COMPARE(live.client.engine()->config()->pool("web")->get("queueLength"), std::string("500"));

        // The FastCGI application renamed (arguments one → uno): its handler follows, if asked.
        const auto* app = w.treeModel()->config()->fastCgiApplications().front();
        w.tree()->setCurrentIndex(w.treeModel()->indexOfPath(QString::fromStdString(app->path)));
        QLineEdit* arguments = typeInto(w, "arguments", "uno");
        QVERIFY(arguments);
        QTest::keyClick(arguments, Qt::Key_Return);
        QTRY_VERIFY(w.applyButton()->isEnabled());
        QString asked;
        guitest::answerMessageBox("renameHandlers", QMessageBox::Yes, &asked);
        QVERIFY(w.applyEdits());
        QVERIFY2(asked.contains("1 handler(s) name this FastCGI application") && asked.contains(": App."), qPrintable(asked));
        text = f.s.read("applicationHost.config");
        QVERIFY(text.contains("arguments=\"uno\""));
        QVERIFY2(text.contains("scriptProcessor=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi|uno\""), text.constData());
        QTRY_COMPARE(live.client.engine()->config()->handlers().front()->get("scriptProcessor"), std::string(LIDO_TEST_BIN_DIR "/lido-test-fcgi|uno"));
        QTRY_COMPARE(fetch(f.port, "/app/x").status, 200); // the handler still reaches it

        // Leaving with an edit asks: Cancel stays (edit kept), Discard goes.
        w.tree()->setCurrentIndex(w.treeModel()->indexOfPath(web));
        spin = typeIntoEditor(w, "queueLength", "600");
        QTest::keyClick(spin, Qt::Key_Return);
        QTRY_COMPARE(w.pendingEditCount(), 1);
        guitest::answerMessageBox("unsavedEdits", QMessageBox::Cancel, &asked);
        QVERIFY(!w.close());
        QVERIFY(w.isVisible());
        QCOMPARE(asked, QString("1 edit(s) of the configuration are not applied."));
        QCOMPARE(w.pendingEditCount(), 1);
        guitest::answerMessageBox("unsavedEdits", QMessageBox::Discard);
        QVERIFY(w.confirmLeave());
        QCOMPARE(w.pendingEditCount(), 0);
        QVERIFY(f.s.read("applicationHost.config").contains("queueLength=\"500\"")); // discarded, not saved
    }
};

QTEST_MAIN(tst_PropertyEditor)
#include "tst_propertyeditor.moc"
