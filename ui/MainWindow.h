#pragma once
// The console's main window. For now: the configuration tree, the selected element's attributes
// with their defaults and help, and the validator's messages.
#include <QMainWindow>
#include <memory>

class QTreeView;
class QTableView;
class QLabel;
class QListWidget;
class ConfigTreeModel;
class AttributeModel;

namespace lido::config {
class Config;
}

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);

    bool openFile(const QString& path); // false (and a message in the status bar) when unreadable
    QString fileName() const { return file_; }
    QTreeView* tree() const { return tree_; }
    QTableView* attributes() const { return attributes_; }
    QListWidget* problems() const { return problems_; }
    ConfigTreeModel* treeModel() const { return treeModel_; }

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void showElement();
    void reload();

    QString file_;
    QTreeView* tree_;
    QTableView* attributes_;
    QLabel* help_;
    QListWidget* problems_;
    ConfigTreeModel* treeModel_;
    AttributeModel* attributeModel_;
};
