#include "MainWindow.h"

#include "AddDialog.h"
#include "AttributeDelegate.h"
#include "ChangesDialog.h"
#include "AttributeModel.h"
#include "EffectiveView.h"
#include "TestPatternDialog.h"
#include "ConfigTreeModel.h"
#include "EngineClient.h"
#include "EventsDock.h"
#include "HostTree.h"
#include "PoolsModel.h"
#include "PoolsPage.h"
#include "RequestsPage.h"
#include "ConnectionsDock.h"
#include "EditSession.h"
#include "ServerList.h"
#include "ServersPage.h"
#include "SitesPage.h"
#include "SiteUrls.h"
#include "TestLoad.h"
#include "Tray.h"

#include "admin/AdminServer.h"
#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"
#include "config/ConfigHistory.h"
#include "config/Schema.h"
#include "config/Values.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QDialog>
#include <QDialogButtonBox>
#include <QInputDialog>
#include <QPlainTextEdit>
#include <QProcess>
#include <QTableWidget>
#include <QDockWidget>
#include <QPushButton>
#include <QFileDialog>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QSystemTrayIcon>
#include <QMessageBox>
#include <QTabWidget>
#include <QTableView>
#include <QTreeView>
#include <QVBoxLayout>

using namespace lido::config;

MainWindow::MainWindow(EngineClient* client, ServerList* servers, QWidget* parent)
    : QMainWindow(parent), tree_(new QTreeView), attributes_(new QTableView), help_(new QLabel), problems_(new QListWidget),
      treeModel_(new ConfigTreeModel(this)), attributeModel_(new AttributeModel(this)), client_(client), tabs_(new QTabWidget),
      apply_(new QPushButton(tr("&Apply"))), cancel_(new QPushButton(tr("Cancel"))), environment_(new QPushButton(tr("&Environment variables…"))),
      testPattern_(new QPushButton(tr("&Test pattern…"))), effective_(new EffectiveView), detailTabs_(new QTabWidget),
      delegate_(new AttributeDelegate(attributeModel_, this)), servers_(servers), session_(new EditSession(this))
{
    connect(session_, &EditSession::changedOnDisk, this, &MainWindow::fileChangedOnDisk);
    setWindowTitle(tr("Lido"));
    tree_->setModel(treeModel_);
    tree_->setUniformRowHeights(true);
    tree_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    tree_->header()->setStretchLastSection(false);
    tree_->setObjectName("configTree");
    attributes_->setModel(attributeModel_);
    attributes_->setObjectName("attributeGrid");
    attributes_->verticalHeader()->hide();
    attributes_->verticalHeader()->setDefaultSectionSize(attributes_->fontMetrics().height() + 8);
    attributes_->horizontalHeader()->setStretchLastSection(true);
    attributes_->setSelectionBehavior(QAbstractItemView::SelectRows);
    attributes_->setSelectionMode(QAbstractItemView::SingleSelection);
    help_->setWordWrap(true);
    help_->setMinimumHeight(100);
    help_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    help_->setTextFormat(Qt::RichText);

    attributes_->setItemDelegateForColumn(AttributeModel::Value, delegate_);
    attributes_->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed | QAbstractItemView::AnyKeyPressed);
    help_->setObjectName("helpLabel");
    apply_->setObjectName("applyButton");
    cancel_->setObjectName("cancelButton");
    apply_->setEnabled(false);
    cancel_->setEnabled(false);
    apply_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    apply_->setToolTip(tr("Validate the whole configuration, save it (history kept) and apply it (Ctrl+Enter)"));
    cancel_->setToolTip(tr("Drop the pending edits"));
    auto* buttons = new QDialogButtonBox;
    environment_->setObjectName("environmentButton");
    environment_->setVisible(false);
    buttons->addButton(environment_, QDialogButtonBox::ActionRole);
    testPattern_->setObjectName("testPatternButton");
    testPattern_->setVisible(false);
    testPattern_->setToolTip(tr("Run the selected rule's pattern and action on a URL you type"));
    buttons->addButton(testPattern_, QDialogButtonBox::ActionRole);
    connect(testPattern_, &QPushButton::clicked, this, [this] {
        if (TestPatternDialog* d = showTestPattern())
            d->open();
    });
    connect(environment_, &QPushButton::clicked, this, [this] {
        const ConfigElement* e = tree_->currentIndex().isValid() ? treeModel_->element(tree_->currentIndex()) : nullptr;
        if (!e)
            return;
        QString current;
        if (const ConfigElement* vars = e->child("environmentVariables"))
            for (const ConfigElement* v : vars->childrenNamed("environmentVariable"))
                current += QString::fromStdString(v->get("name") + "=" + v->get("value")) + "\n";
        QDialog dialog(this);
        dialog.setWindowTitle(tr("Environment variables of %1").arg(QString::fromStdString(e->get("fullPath"))));
        auto* text = new QPlainTextEdit(current);
        auto* message = new QLabel;
        message->setWordWrap(true);
        message->setStyleSheet("color: #b00020");
        auto* box = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
        auto* layout = new QVBoxLayout(&dialog);
        layout->addWidget(new QLabel(tr("One NAME=VALUE per line; the application's processes are replaced (overlapped) when applied.")));
        layout->addWidget(text);
        layout->addWidget(message);
        layout->addWidget(box);
        connect(box, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
        connect(box, &QDialogButtonBox::accepted, &dialog, [this, &dialog, text, message] {
            QString refusal = setEnvironment(text->toPlainText());
            message->setText(refusal);
            if (refusal.isEmpty())
                dialog.accept();
        });
        dialog.resize(560, 320);
        dialog.exec();
    });
    buttons->addButton(apply_, QDialogButtonBox::ApplyRole);
    buttons->addButton(cancel_, QDialogButtonBox::RejectRole);
    connect(apply_, &QPushButton::clicked, this, &MainWindow::applyEdits);
    connect(cancel_, &QPushButton::clicked, this, [this] {
        session_->clear();
        attributeModel_->discardEdits();
        updateEditButtons();
        statusBar()->showMessage(tr("Edits dropped."), 5000);
    });
    connect(attributeModel_, &AttributeModel::editsChanged, this, [this] {
        updateEditButtons();
        help_->setText(attributeModel_->help(attributes_->currentIndex().row()));
    });
    // As the user types: the schema's own message under the grid.
    connect(delegate_, &AttributeDelegate::problem, this, [this](const QString& attribute, const QString& message) {
        QString base = attributeModel_->help(attributes_->currentIndex().row());
        help_->setText(message.isEmpty() ? base
                                         : base + QStringLiteral("<br><font color='#b00020'><b>%1: %2</b></font>")
                                                      .arg(attribute.toHtmlEscaped(), message.toHtmlEscaped()));
    });

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    detailTabs_->setObjectName("detailTabs");
    detailTabs_->addTab(attributes_, tr("Attributes"));
    detailTabs_->addTab(effective_, tr("Effective settings"));
    banner_ = new QLabel;
    banner_->setObjectName("configurationBanner");
    banner_->setWordWrap(true);
    banner_->setStyleSheet("QLabel { background: #fff4ce; color: black; padding: 4px 8px; border: 1px solid #e0c060; }");
    banner_->setVisible(false);
    rightLayout->addWidget(banner_);
    rightLayout->addWidget(detailTabs_, 1);
    rightLayout->addWidget(help_);
    rightLayout->addWidget(buttons);
    auto* split = new QSplitter;
    split_ = split;
    split->setObjectName("mainSplitter");
    split->addWidget(tree_);
    split->addWidget(right);
    split->setStretchFactor(1, 1);
    split->setSizes({420, 700});
    if (client_) {
        poolsPage_ = new PoolsPage(client_);
        tabs_->addTab(poolsPage_, tr("Application Pools"));
        connect(poolsPage_, &PoolsPage::editRequested, this, [this](const QString& pool) {
            tabs_->setCurrentWidget(split_); // Configuration
            if (QModelIndex i = treeModel_->indexOfPath(QString("applicationPools/add[@name='%1']").arg(pool)); i.isValid())
                tree_->setCurrentIndex(i);
        });
        connect(poolsPage_, &PoolsPage::addRequested, this, [this] {
            if (AddDialog* d = showAddDialog()) {
                d->kindBox()->setCurrentIndex(d->kindBox()->findData("pool"));
                d->open();
            }
        });
        connect(poolsPage_, &PoolsPage::removeRequested, this, [this](const QString& pool) {
            if (QMessageBox::question(this, tr("Remove"), tr("Remove application pool %1 from %2?").arg(pool, file_)) != QMessageBox::Yes)
                return;
            if (QString refusal = editAndSave("remove", "pool", pool, {}); !refusal.isEmpty())
                statusBar()->showMessage(tr("Not removed: %1").arg(refusal), 15000);
        });
        sitesPage_ = new SitesPage(client_);
        tabs_->addTab(sitesPage_, tr("Sites"));
        requestsPage_ = new RequestsPage(client_);
        tabs_->addTab(requestsPage_, tr("Requests"));
        tabs_->setTabToolTip(tabs_->count() - 1, tr("Failed-request traces: the requests that failed or were slow, phase by phase"));
        connect(requestsPage_, &RequestsPage::poolRequested, this, &MainWindow::showPool);
        connect(requestsPage_, &RequestsPage::eventsRequested, this, [this](const QString& text) {
            if (eventsDock_)
                eventsDock_->showMatching(text);
        });
        connect(tabs_, &QTabWidget::currentChanged, this, [this](int) {
            if (tabs_->currentWidget() == requestsPage_)
                requestsPage_->refresh();
        });
        connect(client_, &EngineClient::commandFailed, this, [this](const QString& m) { statusBar()->showMessage(m, 10000); });
    }
    tabs_->addTab(split, tr("Configuration"));
    if (servers_) {
        serversPage_ = new ServersPage(servers_);
        tabs_->addTab(serversPage_, tr("Servers"));
        tabs_->setTabToolTip(tabs_->count() - 1, tr("Every connected server: health, figures, configuration version, last error"));
        connect(serversPage_, &ServersPage::openRequested, this, [this](int server) { emit serverRequested(server, {}); });
    }
    tabs_->setObjectName("mainTabs");
    setCentralWidget(tabs_);

    auto* dock = new QDockWidget(tr("Problems"), this);
    dock->setObjectName("problemsDock");
    problems_->setObjectName("problems");
    dock->setWidget(problems_);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    resizeDocks({dock}, {140}, Qt::Vertical);
    if (client_) {
        hostTree_ = new HostTree(client_);
        auto* hostDock = new QDockWidget(tr("Host"), this);
        hostDock->setObjectName("hostDock");
        hostDock->setWidget(hostTree_);
        addDockWidget(Qt::LeftDockWidgetArea, hostDock);
        resizeDocks({hostDock}, {240}, Qt::Horizontal);
        connect(hostTree_, &HostTree::poolActivated, this, &MainWindow::showPool);
        connect(hostTree_, &HostTree::siteActivated, this, &MainWindow::showSite);
        eventsDock_ = new EventsDock(client_, this);
        addDockWidget(Qt::BottomDockWidgetArea, eventsDock_);
        tabifyDockWidget(dock, eventsDock_);
        eventsDock_->raise();
    }
    if (servers_) {
        connectionsDock_ = new ConnectionsDock(servers_, servers_->indexOf(client_), this);
        addDockWidget(Qt::LeftDockWidgetArea, connectionsDock_);
        if (QDockWidget* host = findChild<QDockWidget*>("hostDock"))
            splitDockWidget(connectionsDock_, host, Qt::Vertical);
        resizeDocks({connectionsDock_}, {300}, Qt::Horizontal);
        connect(connectionsDock_, &ConnectionsDock::openRequested, this, [this](int server) { emit serverRequested(server, {}); });
        connect(connectionsDock_, &ConnectionsDock::connectRequested, this, &MainWindow::connectToServer);
    }

    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open…"), this, [this] {
        if (!confirmLeave())
            return;
        QString f = QFileDialog::getOpenFileName(this, tr("Open configuration"), file_, tr("Configuration (*.config *.xml);;All files (*)"));
        if (!f.isEmpty())
            openFile(f);
    });
    open->setShortcut(QKeySequence::Open);
    // File → Connect…: another console window on a running lidod (its own process: each window
    // talks to one engine, and the pages do not change engines under the user's eyes).
    QAction* connectAction = file->addAction(tr("&Connect to a running lidod…"), this, [this] {
        bool ok = false;
        QString socket = QInputDialog::getText(this, tr("Connect"), tr("Admin socket of the lidod:"), QLineEdit::Normal,
                                               QString::fromStdString(lido::admin::defaultSocketPath()), &ok);
        if (!ok || socket.isEmpty())
            return;
        QStringList args{"--connect", socket};
        if (!file_.isEmpty())
            args << "--config" << file_;
        if (!QProcess::startDetached(QCoreApplication::applicationFilePath(), args))
            statusBar()->showMessage(tr("Could not start another console."), 10000);
    });
    if (servers_) {
        // File → Connect to server…: over SSH, listed in the Connections dock and the tray.
        QAction* server = file->addAction(tr("Connect to &server…"), this, &MainWindow::connectToServer);
        server->setObjectName("connectToServer");
        server->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    } else {
        connectAction->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    }
    QAction* reloadAction = file->addAction(tr("&Reload"), this, &MainWindow::reload);
    reloadAction->setShortcut(QKeySequence::Refresh);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, [this] {
        if (confirmLeave())
            qApp->quit();
    });
    quit->setShortcut(QKeySequence::Quit);
    if (client_) {
        QMenu* engineMenu = menuBar()->addMenu(tr("&Engine"));
        testLoad_ = new TestLoad(this);
        testLoadAction_ = engineMenu->addAction(tr("Send &test load (30 s)"), this, [this] {
            QList<QNetworkRequest> requests;
            for (const auto& site : client_->snapshot().sites) {
                const ConfigElement* s = site.started && config_ ? config_->site(site.name) : nullptr;
                const ConfigElement* bindings = s ? s->child("bindings") : nullptr;
                if (!bindings)
                    continue;
                for (const ConfigElement* b : bindings->childrenNamed("binding")) {
                    auto info = parseBindingInfo(b->get("bindingInformation"));
                    if (b->get("protocol") != "http" || !info)
                        continue;
                    QString ip = info->ip == "*" ? "127.0.0.1" : QString::fromStdString(info->ip);
                    for (const ConfigElement* app : s->childrenNamed("application")) {
                        QString path = QString::fromStdString(app->get("path"));
                        QNetworkRequest r(QUrl(QString("http://%1:%2%3").arg(ip).arg(info->port).arg(path.endsWith('/') ? path : path + "/")));
                        if (!info->host.empty())
                            r.setRawHeader("Host", QByteArray::fromStdString(info->host));
                        requests << r;
                    }
                    break; // one binding per site is enough
                }
            }
            if (requests.isEmpty()) {
                statusBar()->showMessage(tr("No started site with an http binding to send test load to."), 10000);
                return;
            }
            testLoad_->start(requests);
            statusBar()->showMessage(tr("Sending test load for 30 s to %n URL(s)…", nullptr, static_cast<int>(requests.size())), 30000);
        });
        testLoadAction_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
        // Engine → Drain: load balancers see /health answer 503 and move traffic away before a
        // restart; the engine serves on. Checked while it drains, whoever started the drain.
        drainAction_ = engineMenu->addAction(tr("&Drain for load balancers"));
        drainAction_->setCheckable(true);
        drainAction_->setToolTip(tr("/health answers 503 while checked; requests are served on"));
        connect(drainAction_, &QAction::triggered, this, [this](bool on) {
            client_->drain(on);
            statusBar()->showMessage(on ? tr("Draining: /health answers 503; requests are served on.") : tr("Serving: /health answers 200."), 10000);
        });
        // While it drains, a permanent mark in the status bar says so (whoever started it).
        auto* drainingMark = new QLabel(tr("Draining: /health answers 503"), this);
        drainingMark->setObjectName("drainingMark");
        drainingMark->setStyleSheet("QLabel { background: #f0c040; color: black; padding: 1px 6px; border-radius: 3px; }");
        drainingMark->setVisible(false);
        statusBar()->addPermanentWidget(drainingMark);
        connect(client_, &EngineClient::snapshotReady, this, [this, drainingMark] {
            bool draining = client_->snapshot().draining;
            if (drainAction_->isChecked() != draining)
                drainAction_->setChecked(draining);
            drainingMark->setVisible(draining);
        });
        connect(testLoad_, &TestLoad::finished, this, [this](int answered, int failed) {
            statusBar()->showMessage(tr("Test load done: %1 answered, %2 failed.").arg(answered).arg(failed), 15000);
        });
    }
    QMenu* configuration = menuBar()->addMenu(tr("&Configuration"));
    QAction* history = configuration->addAction(tr("&History…"), this, &MainWindow::showHistory);
    history->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_H));
    QAction* changes = configuration->addAction(tr("&Export changes…"), this, [this] { showChanges(); });
    changes->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    configuration->addSeparator();
    QAction* add = configuration->addAction(tr("&Add pool, site, FastCGI application or handler…"), this, [this] {
        if (AddDialog* d = showAddDialog())
            d->open();
    });
    add->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_N));
    QAction* remove = configuration->addAction(tr("&Remove the selected element"), this, [this] { removeSelected(true); });
    remove->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Delete));

    // View: each page by Ctrl+1…, and every dock shown or hidden (a closed dock comes back here).
    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->setObjectName("viewMenu");
    for (int i = 0; i < tabs_->count() && i < 9; ++i) {
        QAction* page = view->addAction(tabs_->tabText(i), this, [this, i] { tabs_->setCurrentIndex(i); });
        page->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + i)));
        page->setObjectName(QString("viewPage%1").arg(i + 1));
    }
    view->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>()) {
        QAction* toggle = d->toggleViewAction();
        toggle->setText(tr("%1 panel").arg(d->windowTitle()));
        view->addAction(toggle);
    }

    connect(tree_->selectionModel(), &QItemSelectionModel::currentChanged, this, &MainWindow::showElement);
    connect(attributes_->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& i) { help_->setText(attributeModel_->help(i.row())); });
    connect(problems_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        QModelIndex i = treeModel_->indexOfPath(item->data(Qt::UserRole).toString());
        if (i.isValid())
            tree_->setCurrentIndex(i);
    });

    // State restored between runs: geometry, docks, the configuration splitter, the page shown
    // (the chart range is the pools page's own setting, the last file main()'s).
    QSettings settings;
    if (servers_ && servers_->indexOf(client_) > 0)
        settingsGroup_ = "serverWindow"; // another server's window keeps its own size and docks
    restoreGeometry(settings.value(settingsGroup_ + "/geometry").toByteArray());
    restoreState(settings.value(settingsGroup_ + "/state").toByteArray());
    split_->restoreState(settings.value(settingsGroup_ + "/mainSplitter").toByteArray());
    tabs_->setCurrentIndex(settings.value(settingsGroup_ + "/tab", 0).toInt());
    if (!settings.contains(settingsGroup_ + "/geometry"))
        resize(1200, 760);
}

bool MainWindow::openFile(const QString& path)
{
    auto config = loadConfig(path.toStdString());
    if (!config) {
        statusBar()->showMessage(QString::fromStdString(config.error()));
        problems_->clear();
        problems_->addItem(new QListWidgetItem(style()->standardIcon(QStyle::SP_MessageBoxCritical), QString::fromStdString(config.error())));
        return false;
    }
    if (path != file_) { // another file: edits of the last one have nowhere to go (confirmLeave asked)
        session_->clear();
        attributeModel_->discardEdits();
    }
    file_ = path;
    config_ = *config;
    loadedText_ = (*config)->text();
    if (readOnly_.isEmpty())
        session_->follow(path, loadedText_);
    setWindowTitle(tr("Lido — %1").arg(path));
    treeModel_->setConfig(*config);
    tree_->expandToDepth(1);
    problems_->clear();
    int errors = 0, warnings = 0;
    for (const Diagnostic& d : (*config)->diagnostics()) {
        QStyle::StandardPixmap icon = d.severity == Diagnostic::Severity::Error     ? QStyle::SP_MessageBoxCritical
                                      : d.severity == Diagnostic::Severity::Warning ? QStyle::SP_MessageBoxWarning
                                                                                    : QStyle::SP_MessageBoxInformation;
        errors += d.severity == Diagnostic::Severity::Error;
        warnings += d.severity == Diagnostic::Severity::Warning;
        auto* item = new QListWidgetItem(style()->standardIcon(icon), QString::fromStdString(d.str()));
        item->setData(Qt::UserRole, QString::fromStdString(d.path.substr(0, d.path.find("/@"))));
        problems_->addItem(item);
    }
    statusBar()->showMessage(tr("%1: %2 pools, %3 sites — %4 errors, %5 warnings")
                                 .arg(path)
                                 .arg((*config)->pools().size())
                                 .arg((*config)->sites().size())
                                 .arg(errors)
                                 .arg(warnings));
    if (readOnly_.isEmpty()) // not another server's copy
        QSettings().setValue("config/lastFile", path);
    if (poolsPage_) {
        QStringList pools;
        for (const ConfigElement* p : (*config)->pools())
            pools << QString::fromStdString(p->get("name"));
        poolsPage_->setPools(pools);
        std::map<QString, PoolsModel::Details> details;
        for (const ConfigElement* p : (*config)->pools()) {
            // What the file asks for, until the engine's snapshot says what is in effect.
            const ConfigElement* pm = p->child("processModel");
            std::string type = lido::config::identityType(pm);
            details[QString::fromStdString(p->get("name"))].identity =
                type == "SpecificUser" ? QString::fromStdString(pm->get("userName")) : QString::fromStdString(type);
        }
        auto urls = poolUrls(**config);
        for (auto& [pool, list] : urls)
            details[pool].urls = list;
        if (tray_ && readOnly_.isEmpty())
            tray_->setBrowseUrls(0, urls);
        for (const ConfigElement* site : (*config)->sites())
            for (const ConfigElement* app : site->childrenNamed("application")) {
                QString& apps = details[QString::fromStdString(app->get("applicationPool"))].applications;
                apps += (apps.isEmpty() ? "" : ", ") + QString::fromStdString(site->get("name") + app->get("path"));
            }
        poolsPage_->setDetails(details);
    }
    if (hostTree_)
        hostTree_->setConfig(*config);
    if (sitesPage_) {
        std::vector<SitesModel::SiteInfo> sites;
        for (const ConfigElement* site : (*config)->sites()) {
            QStringList bindings;
            if (const ConfigElement* b = site->child("bindings"))
                for (const ConfigElement* one : b->childrenNamed("binding"))
                    bindings << QString::fromStdString(one->get("protocol") + " " + one->get("bindingInformation"));
            QStringList apps;
            for (const ConfigElement* app : site->childrenNamed("application"))
                apps << QString::fromStdString(app->get("path") + " (" + app->get("applicationPool") + ")");
            sites.push_back({QString::fromStdString(site->get("name")), bindings.join(", "), apps.join(", "), siteUrls(site)});
        }
        sitesPage_->setSites(sites);
    }
    return true;
}

void MainWindow::setTray(Tray* tray)
{
    tray_ = tray;
    if (tray_ && readOnly_.isEmpty() && config_)
        tray_->setBrowseUrls(0, poolUrls(*config_));
}

void MainWindow::connectToServer()
{
    int i = askAndConnect(servers_, this);
    if (i <= 0)
        return;
    // The status bar follows the link until it settles: reachable, or why not.
    QString name = servers_->at(i).name;
    statusBar()->showMessage(tr("Connecting to %1…").arg(name));
    auto* watch = new QObject(this);
    connect(servers_, &ServerList::changed, watch, [this, watch, name](int j) {
        if (j >= servers_->count() || servers_->at(j).name != name || servers_->link(j) == ServerList::Link::Connecting)
            return;
        statusBar()->showMessage(tr("%1: %2").arg(name, servers_->linkText(j)), 10000);
        watch->deleteLater();
    });
    connect(servers_, &ServerList::removed, watch, &QObject::deleteLater);
}

void MainWindow::showRunningConfigurationOf(const QString& server)
{
    readOnly_ = tr("this is the running configuration of %1; its file is edited on that server").arg(server);
    attributes_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    banner_->setText(tr("The running configuration of <b>%1</b>, read-only: its file lives on that server "
                        "(edit it there, with the console or lidoctl). It follows every change the engine applies.")
                         .arg(server.toHtmlEscaped()));
    banner_->setVisible(true);
    auto load = [this, server] {
        QString text = client_ ? client_->runningConfigText() : QString();
        if (text.isEmpty())
            return;
        // A copy in the cache, so that the tree, the validator and Export changes read it as a file.
        QString dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + "/servers/" +
                      QString(server).replace(QRegularExpression("[^A-Za-z0-9@._-]"), "_");
        QDir().mkpath(dir);
        QFile f(dir + "/applicationHost.config");
        if (f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(text.toUtf8()) == text.toUtf8().size()) {
            f.close();
            const ConfigElement* current = tree_->currentIndex().isValid() ? treeModel_->element(tree_->currentIndex()) : nullptr;
            QString selected = current ? QString::fromStdString(current->path) : QString();
            openFile(f.fileName());
            setWindowTitle(tr("Lido — %1 (running configuration, read-only)").arg(server));
            if (QModelIndex i = treeModel_->indexOfPath(selected); i.isValid())
                tree_->setCurrentIndex(i);
        }
    };
    if (auto* remote = qobject_cast<RemoteEngineClient*>(client_))
        connect(remote, &RemoteEngineClient::runningConfigTextChanged, this, load);
    load();
}

void MainWindow::showElement()
{
    const ConfigElement* e = tree_->currentIndex().isValid() ? treeModel_->element(tree_->currentIndex()) : nullptr;
    environment_->setVisible(e && e->spec && e->spec->path == "system.webServer/fastCgi/application");
    // The edits of the element left stay pending; those of the element shown come back.
    session_->stash(attributeModel_->elementPath(), attributeModel_->pendingEdits());
    attributeModel_->setElement(treeModel_->config(), e);
    for (const auto& [attribute, value] : session_->take(attributeModel_->elementPath()))
        for (int row = 0; row < attributeModel_->rowCount(); ++row)
            if (attributeModel_->index(row, AttributeModel::Name).data().toString() == attribute)
                attributeModel_->setData(attributeModel_->index(row, AttributeModel::Value), value, Qt::EditRole);
    updateEditButtons();
    // The rule and the site this element is in, if any (for pattern checks and the effective view).
    const ConfigElement* rule = nullptr;
    const ConfigElement* site = nullptr;
    for (QModelIndex i = tree_->currentIndex(); i.isValid(); i = i.parent())
        if (const ConfigElement* up = treeModel_->element(i)) {
            if (!rule && up->name == "rule")
                rule = up;
            if (!site && up->name == "site" && up->spec)
                site = up;
        }
    attributeModel_->setRule(rule);
    testPattern_->setVisible(rule != nullptr);
    effective_->showFor(treeModel_->config(), e, site);
    attributes_->resizeColumnsToContents();
    help_->setText(e ? QStringLiteral("<b>%1</b><br>%2").arg(QString::fromStdString(e->path).toHtmlEscaped(),
                                                                 e->spec ? QString::fromStdString(e->spec->help).toHtmlEscaped()
                                                                         : tr("Not known to Lido; kept unchanged."))
                     : QString());
}

TestPatternDialog* MainWindow::showTestPattern()
{
    const ConfigElement* rule = nullptr;
    for (QModelIndex i = tree_->currentIndex(); i.isValid() && !rule; i = i.parent())
        if (const ConfigElement* up = treeModel_->element(i); up && up->name == "rule")
            rule = up;
    if (!rule)
        return nullptr;
    // IsFile and IsDirectory look in the folder of the site the rule's location names.
    QString root;
    std::shared_ptr<const lido::config::Config> config = treeModel_->config();
    std::string path = rule->path.rfind("location[@path='", 0) == 0 ? rule->path.substr(16, rule->path.find("']") - 16) : std::string();
    if (const ConfigElement* s = config ? config->site(path.substr(0, path.find('/'))) : nullptr)
        for (const ConfigElement* app : s->childrenNamed("application"))
            if (app->get("path") == "/")
                for (const ConfigElement* vd : app->childrenNamed("virtualDirectory"))
                    if (vd->get("path") == "/")
                        root = QString::fromStdString(lido::config::expandEnvironment(vd->get("physicalPath")) +
                                                      (path.find('/') == std::string::npos ? std::string() : path.substr(path.find('/'))));
    auto* dialog = new TestPatternDialog(config, rule, root, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    return dialog;
}

QString MainWindow::editAndSave(const QString& verb, const QString& kind, const QString& key, const QStringList& args)
{
    if (file_.isEmpty())
        return tr("no configuration file is open");
    if (!readOnly_.isEmpty())
        return readOnly_;
    auto doc = ConfigDocument::parse(loadedText_, file_.toStdString());
    if (!doc)
        return QString::fromStdString(doc.error());
    std::vector<std::string> words;
    for (const QString& a : args)
        words.push_back(a.toStdString());
    if (auto r = applyEdit(*doc, verb.toStdString(), kind.toStdString(), key.toStdString(), words); !r)
        return QString::fromStdString(r.error());
    SaveOptions options;
    options.expectedOnDisk = loadedText_;
    if (auto r = saveConfig(file_.toStdString(), *doc, options); !r)
        return QString::fromStdString(r.error());
    openFile(file_);
    if (client_)
        client_->reload();
    statusBar()->showMessage(tr("Saved (%1 %2 %3); the engine applies it.").arg(verb, kind, key), 10000);
    return {};
}

AddDialog* MainWindow::showAddDialog()
{
    if (file_.isEmpty() || !readOnly_.isEmpty())
        return nullptr;
    auto* dialog = new AddDialog([this](const QString& kind, const QString& key, const QStringList& attributes) {
        return editAndSave("add", kind, key, attributes);
    }, config_, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    return dialog;
}

QString MainWindow::setEnvironment(const QString& lines)
{
    if (!readOnly_.isEmpty())
        return readOnly_;
    const ConfigElement* e = tree_->currentIndex().isValid() ? treeModel_->element(tree_->currentIndex()) : nullptr;
    if (!e || e->name != "application" || !e->find("fullPath"))
        return tr("select a FastCGI application in the configuration tree first");
    std::map<std::string, std::string> wanted, present;
    for (const QString& line : lines.split('\n')) {
        QString t = line.trimmed();
        if (t.isEmpty())
            continue;
        qsizetype eq = t.indexOf('=');
        if (eq <= 0)
            return tr("'%1' is not NAME=VALUE").arg(t);
        wanted[t.left(eq).trimmed().toStdString()] = t.mid(eq + 1).toStdString();
    }
    if (const ConfigElement* vars = e->child("environmentVariables"))
        for (const ConfigElement* v : vars->childrenNamed("environmentVariable"))
            present[v->get("name")] = v->get("value");
    auto doc = ConfigDocument::parse(loadedText_, file_.toStdString());
    if (!doc)
        return QString::fromStdString(doc.error());
    auto item = [&](const std::string& name) {
        return e->path + "/environmentVariables/environmentVariable[@name=" + (name.find('\'') == std::string::npos ? "'" + name + "'" : "\"" + name + "\"") + "]";
    };
    for (const auto& [name, value] : present)
        if (!wanted.count(name))
            if (auto r = applyEdit(*doc, "remove", "element", item(name), {}); !r)
                return QString::fromStdString(r.error());
    for (const auto& [name, value] : wanted) {
        auto it = present.find(name);
        if (it != present.end() && it->second == value)
            continue;
        if (auto r = applyEdit(*doc, it == present.end() ? "add" : "set", "element", item(name), {"value=" + value}); !r)
            return QString::fromStdString(r.error());
    }
    SaveOptions options;
    options.expectedOnDisk = loadedText_;
    if (auto r = saveConfig(file_.toStdString(), *doc, options); !r)
        return QString::fromStdString(r.error());
    QString path = QString::fromStdString(e->path);
    openFile(file_);
    if (QModelIndex i = treeModel_->indexOfPath(path); i.isValid())
        tree_->setCurrentIndex(i);
    if (client_)
        client_->reload();
    statusBar()->showMessage(tr("Environment saved; the engine replaces the application's processes."), 10000);
    return {};
}

QString MainWindow::removeSelected(bool confirm)
{
    if (!readOnly_.isEmpty())
        return readOnly_;
    const ConfigElement* e = tree_->currentIndex().isValid() ? treeModel_->element(tree_->currentIndex()) : nullptr;
    if (!e)
        return tr("select an element in the configuration tree first");
    QString path = QString::fromStdString(e->path);
    if (confirm && QMessageBox::question(this, tr("Remove"), tr("Remove %1 from %2?").arg(path, file_)) != QMessageBox::Yes)
        return tr("not removed");
    QString refusal = editAndSave("remove", "element", path, {});
    if (!refusal.isEmpty())
        statusBar()->showMessage(tr("Not removed: %1").arg(refusal), 15000);
    return refusal;
}

ChangesDialog* MainWindow::showChanges()
{
    if (file_.isEmpty())
        return nullptr;
    EngineClient* client = client_;
    auto* dialog = new ChangesDialog(file_, [client] { return client ? client->runningConfigText() : QString(); }, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->show();
    return dialog;
}

void MainWindow::showHistory()
{
    if (file_.isEmpty())
        return;
    auto config = loadConfig(file_.toStdString(), ValidateOptions{false});
    auto history = historyFor(file_.toStdString(), config ? config->get() : nullptr);
    auto entries = history.list();
    QDialog dialog(this);
    dialog.setWindowTitle(tr("History of %1").arg(file_));
    auto* table = new QTableWidget(static_cast<int>(entries.size()), 3);
    table->setObjectName("historyTable");
    table->setHorizontalHeaderLabels({tr("Version"), tr("Replaced"), tr("Size")});
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    for (size_t i = 0; i < entries.size(); ++i) {
        int row = static_cast<int>(i);
        table->setItem(row, 0, new QTableWidgetItem(QString::number(entries[i].id)));
        table->setItem(row, 1, new QTableWidgetItem(QDateTime::fromSecsSinceEpoch(entries[i].time).toString("yyyy-MM-dd HH:mm:ss")));
        table->setItem(row, 2, new QTableWidgetItem(QString::number(entries[i].size)));
    }
    table->horizontalHeader()->setStretchLastSection(true);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    QPushButton* show = buttons->addButton(tr("Show changes"), QDialogButtonBox::ActionRole);
    QPushButton* restore = buttons->addButton(tr("Restore"), QDialogButtonBox::ActionRole);
    auto selectedId = [table]() { return table->currentRow() >= 0 ? table->item(table->currentRow(), 0)->text().toInt() : 0; };
    connect(show, &QPushButton::clicked, &dialog, [this, selectedId] {
        if (ChangesDialog* d = showChanges(); d && selectedId())
            d->compare(QString("history:%1").arg(selectedId()), "saved");
    });
    connect(restore, &QPushButton::clicked, &dialog, [this, &dialog, selectedId] {
        int id = selectedId();
        if (!id)
            return;
        if (auto r = restoreConfig(file_.toStdString(), id); !r) {
            statusBar()->showMessage(tr("Not restored: %1").arg(QString::fromStdString(r.error())), 15000);
            return;
        }
        openFile(file_);
        if (client_)
            client_->reload();
        statusBar()->showMessage(tr("Version %1 restored; the engine applies it.").arg(id), 10000);
        dialog.accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    auto* layout = new QVBoxLayout(&dialog);
    layout->addWidget(entries.empty() ? static_cast<QWidget*>(new QLabel(tr("No saved versions yet (kept in %1).").arg(QString::fromStdString(history.folder()))))
                                      : table);
    layout->addWidget(buttons);
    dialog.resize(560, 360);
    dialog.exec();
}

void MainWindow::showPool(const QString& pool)
{
    show();
    raise();
    activateWindow();
    if (!poolsPage_ || pool.isEmpty())
        return;
    tabs_->setCurrentWidget(poolsPage_);
    QAbstractItemModel* m = poolsPage_->table()->model();
    for (int r = 0; r < m->rowCount(); ++r)
        if (m->index(r, 0).data().toString() == pool)
            poolsPage_->table()->selectRow(r);
}

void MainWindow::showSite(const QString& site)
{
    show();
    raise();
    if (!sitesPage_ || site.isEmpty())
        return;
    tabs_->setCurrentWidget(sitesPage_);
    QAbstractItemModel* m = sitesPage_->table()->model();
    for (int r = 0; r < m->rowCount(); ++r)
        if (m->index(r, 0).data().toString() == site)
            sitesPage_->table()->selectRow(r);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue(settingsGroup_ + "/geometry", saveGeometry());
    settings.setValue(settingsGroup_ + "/state", saveState());
    settings.setValue(settingsGroup_ + "/mainSplitter", split_->saveState());
    settings.setValue(settingsGroup_ + "/tab", tabs_->currentIndex());
    if (tray_ && tray_->available() && settings.value("tray/closeToTray", true).toBool() && settingsGroup_ == "window") {
        // The engine keeps serving; the tray's Quit stops it.
        hide();
        if (!settings.value("tray/hintShown", false).toBool()) {
            tray_->icon()->showMessage(tr("Lido keeps running"),
                                       tr("The sites and pools keep serving. Open the console or quit Lido from the tray icon's menu."),
                                       QSystemTrayIcon::Information, 10000);
            settings.setValue("tray/hintShown", true);
        }
        event->ignore();
        return;
    }
    if (!confirmLeave()) {
        event->ignore();
        return;
    }
    event->accept();
}
