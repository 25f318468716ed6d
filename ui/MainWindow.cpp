#include "MainWindow.h"

#include "AttributeModel.h"
#include "ConfigTreeModel.h"
#include "EngineClient.h"
#include "EventsDock.h"
#include "PoolsPage.h"

#include "config/Schema.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileDialog>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QMessageBox>
#include <QTabWidget>
#include <QTableView>
#include <QTreeView>
#include <QVBoxLayout>

using namespace lido::config;

MainWindow::MainWindow(EngineClient* client, QWidget* parent)
    : QMainWindow(parent), tree_(new QTreeView), attributes_(new QTableView), help_(new QLabel), problems_(new QListWidget),
      treeModel_(new ConfigTreeModel(this)), attributeModel_(new AttributeModel(this)), client_(client), tabs_(new QTabWidget)
{
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
    help_->setMinimumHeight(64);
    help_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    help_->setTextFormat(Qt::RichText);

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    rightLayout->addWidget(attributes_, 1);
    rightLayout->addWidget(help_);
    auto* split = new QSplitter;
    split->setObjectName("mainSplitter");
    split->addWidget(tree_);
    split->addWidget(right);
    split->setStretchFactor(1, 1);
    split->setSizes({420, 700});
    if (client_) {
        poolsPage_ = new PoolsPage(client_);
        tabs_->addTab(poolsPage_, tr("Application Pools"));
        connect(client_, &EngineClient::commandFailed, this, [this](const QString& m) { statusBar()->showMessage(m, 10000); });
    }
    tabs_->addTab(split, tr("Configuration"));
    tabs_->setObjectName("mainTabs");
    setCentralWidget(tabs_);

    auto* dock = new QDockWidget(tr("Problems"), this);
    dock->setObjectName("problemsDock");
    problems_->setObjectName("problems");
    dock->setWidget(problems_);
    addDockWidget(Qt::BottomDockWidgetArea, dock);
    resizeDocks({dock}, {140}, Qt::Vertical);
    if (client_) {
        eventsDock_ = new EventsDock(client_, this);
        addDockWidget(Qt::BottomDockWidgetArea, eventsDock_);
        tabifyDockWidget(dock, eventsDock_);
        eventsDock_->raise();
    }

    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open…"), this, [this] {
        QString f = QFileDialog::getOpenFileName(this, tr("Open configuration"), file_, tr("Configuration (*.config *.xml);;All files (*)"));
        if (!f.isEmpty())
            openFile(f);
    });
    open->setShortcut(QKeySequence::Open);
    QAction* reloadAction = file->addAction(tr("&Reload"), this, &MainWindow::reload);
    reloadAction->setShortcut(QKeySequence::Refresh);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), qApp, &QApplication::quit);
    quit->setShortcut(QKeySequence::Quit);

    connect(tree_->selectionModel(), &QItemSelectionModel::currentChanged, this, &MainWindow::showElement);
    connect(attributes_->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& i) { help_->setText(attributeModel_->help(i.row())); });
    connect(problems_, &QListWidget::itemActivated, this, [this](QListWidgetItem* item) {
        QModelIndex i = treeModel_->indexOfPath(item->data(Qt::UserRole).toString());
        if (i.isValid())
            tree_->setCurrentIndex(i);
    });

    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    if (!settings.contains("window/geometry"))
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
    file_ = path;
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
    QSettings().setValue("config/lastFile", path);
    if (poolsPage_) {
        QStringList pools;
        for (const ConfigElement* p : (*config)->pools())
            pools << QString::fromStdString(p->get("name"));
        poolsPage_->setPools(pools);
    }
    return true;
}

void MainWindow::reload()
{
    if (!file_.isEmpty())
        openFile(file_);
}

void MainWindow::showElement()
{
    const ConfigElement* e = tree_->currentIndex().isValid() ? treeModel_->element(tree_->currentIndex()) : nullptr;
    attributeModel_->setElement(treeModel_->config(), e);
    attributes_->resizeColumnsToContents();
    help_->setText(e ? QStringLiteral("<b>%1</b><br>%2").arg(QString::fromStdString(e->path).toHtmlEscaped(),
                                                                 e->spec ? QString::fromStdString(e->spec->help).toHtmlEscaped()
                                                                         : tr("Not known to Lido; kept unchanged."))
                     : QString());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    event->accept();
}
