#pragma once
// What the GUI tests share: screenshots into the test output folder, and finding a tree item by
// its label.
#include <QAbstractItemModel>
#include <QApplication>
#include <QDir>
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

} // namespace guitest
