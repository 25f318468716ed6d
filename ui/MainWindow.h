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
class SitesPage;
class RequestsPage;
class EventsDock;
class QTabWidget;
class QPushButton;
class Tray;
class ChangesDialog;
class TestLoad;
class QAction;
class QSplitter;
class HostTree;
class AddDialog;
class AttributeDelegate;
class EffectiveView;
class TestPatternDialog;
class ServerList;
class ConnectionsDock;
class ServersPage;
class EditSession;

namespace lido::config {
class Config;
}

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    // client: the engine the pages show (may be null: configuration only).
    // servers: the Connections dock and the Servers overview (may be null: this machine only).
    explicit MainWindow(EngineClient* client = nullptr, ServerList* servers = nullptr, QWidget* parent = nullptr);

    // Another server's window: its running configuration, shown read-only (the file lives there;
    // edits are made on that server), followed as it changes.
    void showRunningConfigurationOf(const QString& server);
    bool readOnly() const { return !readOnly_.isEmpty(); }
    ConnectionsDock* connectionsDock() const { return connectionsDock_; }
    ServersPage* serversPage() const { return serversPage_; }

    bool openFile(const QString& path); // false (and a message in the status bar) when unreadable
    QString fileName() const { return file_; }
    QTreeView* tree() const { return tree_; }
    QTableView* attributes() const { return attributes_; }
    QListWidget* problems() const { return problems_; }
    ConfigTreeModel* treeModel() const { return treeModel_; }
    PoolsPage* poolsPage() const { return poolsPage_; }
    SitesPage* sitesPage() const { return sitesPage_; }
    RequestsPage* requestsPage() const { return requestsPage_; }
    HostTree* hostTree() const { return hostTree_; }
    void showSite(const QString& site);
    EventsDock* eventsDock() const { return eventsDock_; }
    QTabWidget* tabs() const { return tabs_; }
    QLabel* helpLabel() const { return help_; }
    QPushButton* applyButton() const { return apply_; }
    QPushButton* cancelButton() const { return cancel_; }
    AttributeModel* attributeModel() const { return attributeModel_; }
    // Applies the pending edits of every element (the one shown and those left for another):
    // refused (with the message, file untouched) while one is invalid or the whole configuration
    // would not validate; else saved atomically in one save with history (only if the file is
    // still what was loaded) and applied by the engine. Renaming a FastCGI application (fullPath
    // or arguments) first offers to update the handlers that name it.
    bool applyEdits();
    int pendingEditCount() const; // across elements
    // Before leaving (quit, close, another file) with pending edits: asks Save / Discard / Cancel
    // (a QMessageBox named "unsavedEdits"); true when it may go on.
    bool confirmLeave();
    QLabel* banner() const { return banner_; }
    // One edit command (add, remove, set) on the file as loaded: validated, saved atomically with
    // history and compare-and-swap, applied by the engine. The refusal, or "" when saved.
    QString editAndSave(const QString& verb, const QString& kind, const QString& key, const QStringList& args);
    // Configuration → Add… / Remove (the element selected in the configuration tree).
    AddDialog* showAddDialog();
    QString removeSelected(bool confirm = true);
    // The environment variables of the FastCGI application selected in the configuration tree,
    // replaced by NAME=VALUE lines (added, changed and removed in one save). The refusal, or "".
    QString setEnvironment(const QString& lines);
    QPushButton* environmentButton() const { return environment_; }
    // The Configuration page's "Effective settings" tab: for the selected site, application or
    // location, every setting in effect and where it comes from.
    EffectiveView* effectiveView() const { return effective_; }
    QTabWidget* detailTabs() const { return detailTabs_; }
    // "Test pattern…" for the selected URL Rewrite rule (or an element inside one).
    QPushButton* testPatternButton() const { return testPattern_; }
    TestPatternDialog* showTestPattern();
    // With a tray: closing the window hides it (a setting, with a first-time hint).
    void setTray(Tray* tray); // this machine's pools get Browse entries there
    // Brings the window up on the Application Pools page with that pool selected.
    void showPool(const QString& pool);
    // Configuration menu: the saved versions (show changes, restore) and Export changes….
    void showHistory();
    ChangesDialog* showChanges();
    // Engine → Send test load: GETs every application of every started site for 30 s.
    QAction* testLoadAction() const { return testLoadAction_; }
    QAction* drainAction() const { return drainAction_; }

signals:
    // The Connections dock or the Servers overview asks for a server's window (on that pool).
    void serverRequested(int server, const QString& pool);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void connectToServer(); // File → Connect to server…: asks, adds, and says how the link went
    void showElement();
    void reload();
    void selectElement(const QString& path); // in the tree, or nothing shown when it is gone
    void updateEditButtons();
    // The file changed on disk (somebody else's save): shown as it is now, pending edits kept on
    // top, a banner naming the attributes changed under them.
    void fileChangedOnDisk();

    QString file_;
    QTreeView* tree_;
    QTableView* attributes_;
    QLabel* help_;
    QListWidget* problems_;
    ConfigTreeModel* treeModel_;
    AttributeModel* attributeModel_;
    EngineClient* client_;
    PoolsPage* poolsPage_ = nullptr;
    SitesPage* sitesPage_ = nullptr;
    RequestsPage* requestsPage_ = nullptr;
    HostTree* hostTree_ = nullptr;
    EventsDock* eventsDock_ = nullptr;
    QTabWidget* tabs_;
    QPushButton* apply_;
    QPushButton* cancel_;
    QPushButton* environment_;
    QPushButton* testPattern_;
    EffectiveView* effective_;
    QTabWidget* detailTabs_;
    AttributeDelegate* delegate_;
    std::string loadedText_; // the file as last opened: the compare-and-swap base of a save
    Tray* tray_ = nullptr;
    TestLoad* testLoad_ = nullptr;
    QAction* testLoadAction_ = nullptr;
    QAction* drainAction_ = nullptr;
    std::shared_ptr<const lido::config::Config> config_;
    QSplitter* split_ = nullptr;
    ServerList* servers_ = nullptr;
    ConnectionsDock* connectionsDock_ = nullptr;
    ServersPage* serversPage_ = nullptr;
    QString readOnly_;                 // why the configuration cannot be edited here (empty: it can)
    QString settingsGroup_ = "window"; // where geometry and docks are kept
    QLabel* banner_ = nullptr;
    bool diskBanner_ = false; // the banner says the file changed under pending edits
    EditSession* session_;
};
