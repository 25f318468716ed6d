// The property editor in the real window under Xvfb, with the engine running in-process on the
// file: an invalid value is marked as typed and refused on Apply (file untouched); a valid one is
// saved (that attribute only, history kept) and the engine applies it.
#include "EngineClient.h"
#include "EngineSupport.h"
#include "AttributeModel.h"
#include "ConfigTreeModel.h"
#include "MainWindow.h"
#include "GuiSupport.h"

#include "config/ConfigHistory.h"

#include <QApplication>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableView>
#include <QTreeView>
#include <QtTest>

using guitest::findLabel;
using guitest::screenshot;

namespace {

// Opens the editor on the attribute's value and types text into it (replacing what was there).
QLineEdit* typeInto(MainWindow& w, const QString& attribute, const QString& text)
{
    QAbstractItemModel* grid = w.attributes()->model();
    int row = -1;
    for (int r = 0; r < grid->rowCount(); ++r)
        if (grid->index(r, 0).data().toString() == attribute)
            row = r;
    if (row < 0)
        return nullptr;
    QModelIndex value = grid->index(row, AttributeModel::Value);
    w.attributes()->setCurrentIndex(value);
    w.attributes()->edit(value);
    auto* editor = w.attributes()->findChild<QLineEdit*>("attributeEditor");
    if (!editor)
        return nullptr;
    editor->selectAll();
    QTest::keyClicks(editor, text);
    return editor;
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
        QString file = f.s.config(f.text());
        QByteArray original = f.s.read("applicationHost.config");
        InProcessEngineClient client;
        QString error;
        QVERIFY2(client.start(*lido::config::loadConfig(file.toStdString()), &error, file), qPrintable(error));
        MainWindow w(&client);
        QVERIFY(w.openFile(file));
        w.resize(1200, 760);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.tabs()->setCurrentIndex(w.tabs()->count() - 1); // Configuration
        QModelIndex pool = findLabel(w.treeModel(), "Pool web");
        QVERIFY(pool.isValid());
        w.tree()->setCurrentIndex(pool);

        // Typed: marked at once with the validator's own message.
        QLineEdit* editor = typeInto(w, "queueLength", "5");
        QVERIFY(editor);
        QVERIFY2(w.helpLabel()->text().contains("queueLength: 5 is below the minimum 10"), qPrintable(w.helpLabel()->text()));
        QVERIFY(!editor->styleSheet().isEmpty());
        screenshot(&w, "propertyeditor-typing");
        QTest::keyClick(editor, Qt::Key_Return);
        QTRY_VERIFY(w.applyButton()->isEnabled()); // the delegate commits on the next turn of the event loop
        QVERIFY(!w.applyEdits()); // refused
        QVERIFY2(w.helpLabel()->text().contains("Not applied: queueLength: 5 is below the minimum 10"), qPrintable(w.helpLabel()->text()));
        QCOMPARE(f.s.read("applicationHost.config"), original);
        screenshot(&w, "propertyeditor-refused");

        // Cancel drops the edit.
        QTest::mouseClick(w.cancelButton(), Qt::LeftButton);
        QVERIFY(w.attributeModel()->pendingEdits().empty());

        editor = typeInto(w, "queueLength", "500");
        QVERIFY(editor);
        QVERIFY(!w.helpLabel()->text().contains("below the minimum"));
        QTest::keyClick(editor, Qt::Key_Return);
        QTRY_VERIFY(w.applyButton()->isEnabled());
        QTest::mouseClick(w.applyButton(), Qt::LeftButton);
        QByteArray saved = f.s.read("applicationHost.config");
        QList<QByteArray> before = original.split('\n'), after = saved.split('\n');
        QCOMPARE(after.size(), before.size());
        int changed = 0;
        for (int i = 0; i < before.size(); ++i)
            if (before[i] != after[i]) {
                ++changed;
                QCOMPARE(after[i], QByteArray(before[i]).replace(">", " queueLength=\"500\">"));
            }
        QCOMPARE(changed, 1); // exactly that attribute
        QCOMPARE(lido::config::historyFor(file.toStdString(), nullptr).list().size(), size_t(1));
        QTRY_COMPARE(client.engine()->config()->pool("web")->get("queueLength"), std::string("500")); // applied live
        QVERIFY(!w.applyButton()->isEnabled());
        screenshot(&w, "propertyeditor-applied");
    }
};

QTEST_MAIN(tst_PropertyEditor)
#include "tst_propertyeditor.moc"
