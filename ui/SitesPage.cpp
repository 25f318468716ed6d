#include "SitesPage.h"

#include "EngineClient.h"
#include "PageSupport.h"
#include "SiteUrls.h"
#include "TimeChart.h"

#include <QAction>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenu>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>
#include <algorithm>

SitesPage::SitesPage(EngineClient* client, QWidget* parent)
    : QWidget(parent), client_(client), model_(new SitesModel(this)), proxy_(new QSortFilterProxyModel(this)), filter_(new QLineEdit),
      table_(new QTableView), chart_(new TimeChart(tr("Selected site: requests/s and responses/s by status class"),
                                                   {tr("requests/s"), tr("2xx/s"), tr("3xx/s"), tr("4xx/s"), tr("5xx/s")}, 300))
{
    pages::setUpFilteredTable(table_, proxy_, model_, filter_, tr("Filter sites"), -1); // name, state or binding
    chart_->setAxes(tr("per second"), false);
    table_->setObjectName("sitesTable");
    table_->horizontalHeader()->setStretchLastSection(false);

    auto* bar = new QToolBar;
    start_ = bar->addAction(tr("Start site"));
    stop_ = bar->addAction(tr("Stop site"));
    start_->setShortcut(QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_R));
    stop_->setShortcut(QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_T));
    connect(start_, &QAction::triggered, this, [this] {
        if (QString s = selectedSite(); !s.isEmpty())
            client_->controlSite(s, lido::engine::SiteAction::Start);
    });
    connect(stop_, &QAction::triggered, this, [this] {
        if (QString s = selectedSite(); !s.isEmpty())
            client_->controlSite(s, lido::engine::SiteAction::Stop);
    });
    // Browse (IIS Manager's): the selected site in the desktop's browser; a click on its link does
    // the same, and the context menu has one entry per binding.
    browse_ = bar->addAction(tr("Browse"));
    browse_->setObjectName("browseSite");
    browse_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_B));
    connect(browse_, &QAction::triggered, this, [this] {
        if (QStringList urls = selectedUrls(); !urls.isEmpty())
            browse(urls.first());
    });
    connect(table_, &QTableView::clicked, this, [this](const QModelIndex& i) {
        if (i.column() == SitesModel::Bindings && !selectedUrls().isEmpty())
            browse(selectedUrls().first());
    });
    table_->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(table_, &QTableView::customContextMenuRequested, this, [this](const QPoint& at) {
        if (!table_->indexAt(at).isValid())
            return;
        QMenu menu;
        menu.addAction(start_);
        menu.addAction(stop_);
        menu.addSeparator();
        addBrowseActions(&menu, selectedUrls());
        menu.exec(table_->viewport()->mapToGlobal(at));
    });
    bar->addWidget(filter_);

    pages::layOutPage(this, bar, table_, nullptr, chart_);

    connect(client_, &EngineClient::snapshotReady, this, &SitesPage::refresh);
    connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &SitesPage::selectionChanged);
}

void SitesPage::setSites(const std::vector<SitesModel::SiteInfo>& sites)
{
    // A reload keeps what the chart has of the sites that remain, and the selection.
    QString selected = selectedSite();
    model_->setSites(sites);
    auto remains = [&](const QString& name) {
        return std::any_of(sites.begin(), sites.end(), [&](const SitesModel::SiteInfo& s) { return s.name == name; });
    };
    std::erase_if(history_, [&](const auto& h) { return !remains(h.first); });
    std::erase_if(last_, [&](const auto& l) { return !remains(l.first); });
    int row = 0;
    for (int r = 0; r < model_->rowCount(); ++r)
        if (model_->siteName(r) == selected)
            row = r;
    if (model_->rowCount() > 0)
        table_->selectRow(proxy_->mapFromSource(model_->index(row, 0)).row());
    selectionChanged(); // the chart again, from what was kept
    sized_ = false;
    refresh();
}

QStringList SitesPage::selectedUrls() const
{
    QModelIndex i = table_->currentIndex();
    return i.isValid() ? model_->urls(proxy_->mapToSource(i).row()) : QStringList();
}

QString SitesPage::selectedSite() const
{
    QModelIndex i = table_->currentIndex();
    return i.isValid() ? model_->siteName(proxy_->mapToSource(i).row()) : QString();
}

void SitesPage::refresh()
{
    const auto& snapshot = client_->snapshot();
    model_->setSnapshot(snapshot);
    QString selected = selectedSite();
    for (const auto& s : snapshot.sites) {
        QString name = QString::fromStdString(s.name);
        bool seen = last_.count(name) > 0; // the first snapshot only sets the baseline
        Totals& last = last_[name];
        auto delta = [seen](uint64_t now, uint64_t& before) {
            double d = seen && now >= before ? static_cast<double>(now - before) : 0.0;
            before = now;
            return d;
        };
        Point p{s.requestsPerSecond, delta(s.status2xx, last.s2xx), delta(s.status3xx, last.s3xx), delta(s.status4xx, last.s4xx),
                delta(s.status5xx, last.s5xx)};
        auto& h = history_[name];
        h.push_back(p);
        if (h.size() > 300)
            h.pop_front();
        if (name == selected)
            chart_->append({p.rps, p.s2xx, p.s3xx, p.s4xx, p.s5xx});
    }
    if (!sized_ && model_->rowCount() > 0 && !snapshot.sites.empty()) {
        table_->resizeColumnsToContents(); // once per configuration: measuring every cell each second costs
        table_->horizontalHeader()->setSectionResizeMode(SitesModel::State, QHeaderView::Stretch); // room for the reason
        sized_ = true;
    }
    updateActions();
}

void SitesPage::updateActions()
{
    QModelIndex i = table_->currentIndex();
    bool up = i.isValid() && model_->started(proxy_->mapToSource(i).row());
    start_->setEnabled(i.isValid() && !up);
    stop_->setEnabled(up);
    browse_->setEnabled(!selectedUrls().isEmpty());
}

void SitesPage::selectionChanged()
{
    chart_->clear();
    for (const Point& p : history_[selectedSite()])
        chart_->append({p.rps, p.s2xx, p.s3xx, p.s4xx, p.s5xx});
    updateActions();
}
