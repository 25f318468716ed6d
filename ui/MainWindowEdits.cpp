// MainWindow: the Configuration page's pending edits across elements, Apply, and following the
// file on disk (split from MainWindow.cpp, which holds the window's construction).
#include "MainWindow.h"

#include "AttributeModel.h"
#include "ConfigTreeModel.h"
#include "EditSession.h"
#include "EngineClient.h"

#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"
#include "config/ConfigHistory.h"
#include "config/Schema.h"

#include <QApplication>
#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QStatusBar>
#include <QTableView>
#include <QTreeView>

using namespace lido::config;

namespace {

// Every handler, server-wide or in a <location>, whose scriptProcessor names the program.
void handlersNaming(const ConfigElement& e, const std::string& processor, std::vector<const ConfigElement*>& out)
{
    if (const std::string* p = e.find("scriptProcessor"); p && *p == processor)
        out.push_back(&e);
    for (const ConfigElement& c : e.children)
        handlersNaming(c, processor, out);
}

const ConfigElement* elementAt(const ConfigElement& e, const std::string& path)
{
    if (e.path == path)
        return &e;
    for (const ConfigElement& c : e.children)
        if (const ConfigElement* found = elementAt(c, path))
            return found;
    return nullptr;
}

} // namespace

int MainWindow::pendingEditCount() const
{
    size_t n = attributeModel_->pendingEdits().size();
    for (const auto& [path, edits] : session_->stashed())
        if (path != attributeModel_->elementPath())
            n += edits.size();
    return static_cast<int>(n);
}

void MainWindow::updateEditButtons()
{
    int n = pendingEditCount();
    apply_->setEnabled(n > 0);
    cancel_->setEnabled(n > 0);
    int elements = static_cast<int>(session_->stashed().size()) + (attributeModel_->pendingEdits().empty() ? 0 : 1);
    apply_->setText(elements > 1 ? tr("&Apply %1 edits in %2 elements").arg(n).arg(elements) : tr("&Apply"));
    if (n == 0 && diskBanner_) {
        banner_->setVisible(false);
        diskBanner_ = false;
    }
}

void MainWindow::selectElement(const QString& path)
{
    if (QModelIndex i = treeModel_->indexOfPath(path); i.isValid()) {
        if (tree_->currentIndex() == i)
            showElement();
        else
            tree_->setCurrentIndex(i);
    } else {
        tree_->setCurrentIndex({});
        showElement();
    }
}

bool MainWindow::applyEdits()
{
    // Everything pending, the element shown last so that its values win over a stale copy.
    std::map<QString, EditSession::Edits> all = session_->stashed();
    if (auto shown = attributeModel_->pendingEdits(); !shown.empty())
        all[attributeModel_->elementPath()] = shown;
    if (all.empty())
        return false;
    if (!readOnly_.isEmpty()) {
        statusBar()->showMessage(tr("Not applied: %1").arg(readOnly_), 15000);
        return false;
    }
    auto refuse = [this](const QString& why) {
        help_->setText(attributeModel_->help(attributes_->currentIndex().row()) +
                       QStringLiteral("<br><font color='#b00020'><b>%1</b></font>").arg(why.toHtmlEscaped()));
        statusBar()->showMessage(why, 15000);
        return false;
    };
    if (QString problem = attributeModel_->firstProblem(); !problem.isEmpty())
        return refuse(tr("Not applied: %1; %2 is unchanged").arg(problem, file_));

    // A FastCGI application renamed (its fullPath or arguments): the handlers naming it by its
    // old name would stop reaching it. Offer to rename them in the same save.
    for (const auto& [path, edits] : std::map<QString, EditSession::Edits>(all)) {
        const ConfigElement* app = config_ ? elementAt(config_->root(), path.toStdString()) : nullptr;
        if (!app || !app->spec || app->spec->path != "system.webServer/fastCgi/application")
            continue;
        std::string fullPath = app->get("fullPath"), arguments = app->get("arguments");
        std::string newPath = fullPath, newArguments = arguments;
        for (const auto& [attribute, value] : edits) {
            if (attribute == "fullPath")
                newPath = value.toStdString();
            else if (attribute == "arguments")
                newArguments = value.toStdString();
        }
        auto key = [](const std::string& p, const std::string& a) { return a.empty() ? p : p + "|" + a; };
        if (key(fullPath, arguments) == key(newPath, newArguments))
            continue;
        std::vector<const ConfigElement*> handlers;
        handlersNaming(config_->root(), key(fullPath, arguments), handlers);
        if (handlers.empty())
            continue;
        QStringList names;
        for (const ConfigElement* h : handlers)
            names << QString::fromStdString(h->get("name"));
        QMessageBox box(QMessageBox::Question, tr("Update the handlers?"),
                        tr("%n handler(s) name this FastCGI application as %1: %2.", nullptr, static_cast<int>(handlers.size()))
                            .arg(QString::fromStdString(key(fullPath, arguments)), names.join(", ")),
                        QMessageBox::Yes | QMessageBox::No | QMessageBox::Cancel, this);
        box.setObjectName("renameHandlers");
        box.setInformativeText(tr("Yes: they name %1 in the same save. No: they keep the old name (and no longer reach it).")
                                   .arg(QString::fromStdString(key(newPath, newArguments))));
        int answer = box.exec();
        if (answer == QMessageBox::Cancel)
            return false;
        if (answer == QMessageBox::Yes)
            for (const ConfigElement* h : handlers)
                all[QString::fromStdString(h->path)].push_back({"scriptProcessor", QString::fromStdString(key(newPath, newArguments))});
    }

    auto doc = ConfigDocument::parse(loadedText_, file_.toStdString());
    if (!doc)
        return refuse(QString::fromStdString(doc.error()));
    int count = 0;
    for (const auto& [path, edits] : all) {
        std::vector<std::string> args;
        for (const auto& [name, value] : edits)
            args.push_back(name.toStdString() + "=" + value.toStdString());
        count += static_cast<int>(edits.size());
        if (auto r = applyEdit(*doc, "set", "element", path.toStdString(), args); !r)
            return refuse(tr("Not applied: %1: %2; %3 is unchanged").arg(path, QString::fromStdString(r.error()), file_));
    }
    SaveOptions options;
    options.expectedOnDisk = loadedText_;
    if (auto r = saveConfig(file_.toStdString(), *doc, options); !r)
        return refuse(tr("Not applied: %1").arg(QString::fromStdString(r.error())));
    QString path = attributeModel_->elementPath();
    QString current = attributeModel_->data(attributeModel_->index(attributes_->currentIndex().row(), AttributeModel::Name), Qt::DisplayRole).toString();
    // Saved: nothing is pending any more (before the file is opened again, which would keep them).
    session_->clear();
    attributeModel_->discardEdits();
    openFile(file_);
    selectElement(path); // back to the element that was edited
    for (int row = 0; row < attributeModel_->rowCount(); ++row)
        if (attributeModel_->data(attributeModel_->index(row, AttributeModel::Name), Qt::DisplayRole).toString() == current)
            attributes_->setCurrentIndex(attributeModel_->index(row, AttributeModel::Value));
    if (client_)
        client_->reload();
    statusBar()->showMessage(all.size() > 1 ? tr("Saved %1 changes in %2 elements to %3; the engine applies them.").arg(count).arg(all.size()).arg(file_)
                                            : tr("Saved %n change(s) to %1; the engine applies them.", nullptr, count).arg(file_),
                             10000);
    return true;
}

bool MainWindow::confirmLeave()
{
    int n = pendingEditCount();
    if (n == 0)
        return true;
    QMessageBox box(QMessageBox::Question, tr("Unsaved edits"), tr("%n edit(s) of the configuration are not applied.", nullptr, n),
                    QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
    box.setObjectName("unsavedEdits");
    box.setInformativeText(tr("Save applies them to %1 (the engine applies them); Discard drops them.").arg(file_));
    int answer = box.exec();
    if (answer == QMessageBox::Save)
        return applyEdits();
    if (answer == QMessageBox::Discard) {
        session_->clear();
        attributeModel_->discardEdits();
        updateEditButtons();
        return true;
    }
    return false;
}

void MainWindow::reload()
{
    if (file_.isEmpty())
        return;
    // What is pending stays, on top of the file as it is now.
    QString path = attributeModel_->elementPath();
    session_->stash(path, attributeModel_->pendingEdits());
    if (openFile(file_))
        selectElement(path);
}

void MainWindow::fileChangedOnDisk()
{
    if (file_.isEmpty() || !readOnly_.isEmpty())
        return;
    auto before = config_;
    QString path = attributeModel_->elementPath();
    session_->stash(path, attributeModel_->pendingEdits());
    std::map<QString, EditSession::Edits> pending = session_->stashed();
    if (!openFile(file_))
        return; // unreadable or not XML now: openFile says so; the edits stay
    selectElement(path);
    QString name = QFileInfo(file_).fileName();
    if (pending.empty()) {
        statusBar()->showMessage(tr("%1 changed on disk; shown as it is now.").arg(file_), 10000);
        return;
    }
    int n = 0;
    for (const auto& [p, edits] : pending)
        n += static_cast<int>(edits.size());
    QStringList conflicts = before && config_ ? EditSession::conflicts(*before, *config_, pending) : QStringList();
    if (conflicts.isEmpty()) {
        banner_->setText(tr("<b>%1 changed on disk</b> and is shown as it is now. Your %n pending edit(s) are kept on top of it; "
                            "Apply saves them.", nullptr, n).arg(name.toHtmlEscaped()));
        banner_->setStyleSheet("QLabel { background: #fff4ce; color: black; padding: 4px 8px; border: 1px solid #e0c060; }");
    } else {
        QString items;
        for (const QString& c : conflicts)
            items += "<li>" + c.toHtmlEscaped() + "</li>";
        banner_->setText(tr("<b>%1 changed on disk under your edits:</b><ul>%2</ul>Apply saves yours over them; Cancel keeps the file's.")
                             .arg(name.toHtmlEscaped(), items));
        banner_->setStyleSheet("QLabel { background: #fde7e9; color: black; padding: 4px 8px; border: 1px solid #d08080; }");
    }
    banner_->setVisible(true);
    diskBanner_ = true;
}
