#pragma once
// What the GUI tests share: screenshots into the test output folder, and finding a tree item by
// its label.
#include <QAbstractButton>
#include <QAbstractItemModel>
#include <QApplication>
#include <QDir>
#include <QMessageBox>
#include <QPointer>
#include <QTimer>
#include <QSettings>
#include <QStandardPaths>
#include <QWidget>
#include <QtTest>

namespace guitest {

// Every GUI test saves what it shows, to be looked at (LIDO_SCREENSHOT_DIR, else the temp folder).
inline void screenshot(QWidget* w, const QString& name)
{
    QString dir = qEnvironmentVariable("LIDO_SCREENSHOT_DIR", QDir::tempPath());
    QDir().mkpath(dir);
    QVERIFY(w->grab().save(dir + "/" + name + ".png"));
}

inline QModelIndex findLabel(QAbstractItemModel* m, const QString& label, const QModelIndex& parent = {})
{
    for (int r = 0; r < m->rowCount(parent); ++r) {
        QModelIndex i = m->index(r, 0, parent);
        if (i.data().toString() == label)
            return i;
        if (QModelIndex found = findLabel(m, label, i); found.isValid())
            return found;
    }
    return {};
}

// Test settings stay out of the user's, and start empty.
inline void isolateSettings()
{
    QApplication::setOrganizationName("LidoTest");
    QStandardPaths::setTestModeEnabled(true);
    QSettings().clear(); // nothing left from an earlier run
}

// Answers the next message box named `name` (one the window runs modally) with `button`, as a
// user would click it; *asked (when given) tells afterwards whether it came, and with what text.
inline void answerMessageBox(const QString& name, QMessageBox::StandardButton button, QString* asked = nullptr)
{
    QTimer::singleShot(0, [name, button, asked] {
        for (int i = 0; i < 250; ++i) {
            for (QWidget* w : QApplication::topLevelWidgets())
                if (auto* box = qobject_cast<QMessageBox*>(w); box && box->isVisible() && box->objectName() == name) {
                    if (asked)
                        *asked = box->text();
                    QTest::mouseClick(box->button(button), Qt::LeftButton);
                    return;
                }
            QTest::qWait(20);
        }
    });
}

} // namespace guitest
