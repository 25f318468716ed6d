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
class EngineClient;
class PoolsPage;
class EventsDock;
class QTabWidget;

namespace lido::config {
class Config;
}

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // client: the engine the pages show (may be null: configuration only).
    explicit MainWindow(EngineClient* client = nullptr, QWidget* parent = nullptr);

    bool openFile(const QString& path); // false (and a message in the status bar) when unreadable
    QString fileName() const { return file_; }
    QTreeView* tree() const { return tree_; }
    QTableView* attributes() const { return attributes_; }
    QListWidget* problems() const { return problems_; }
    ConfigTreeModel* treeModel() const { return treeModel_; }
    PoolsPage* poolsPage() const { return poolsPage_; }
    EventsDock* eventsDock() const { return eventsDock_; }
    QTabWidget* tabs() const { return tabs_; }

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
    EngineClient* client_;
    PoolsPage* poolsPage_ = nullptr;
    EventsDock* eventsDock_ = nullptr;
    QTabWidget* tabs_;
};
