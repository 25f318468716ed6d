#pragma once
// What the live pages (pools, sites) share: a sortable table behind a filter box, and the page
// layout (toolbar and table above, chart below, in a splitter).
#include <QAbstractItemModel>
#include <QHeaderView>
#include <QLineEdit>
#include <QScrollBar>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

namespace pages {

// filterColumn -1: every column.
inline void setUpFilteredTable(QTableView* table, QSortFilterProxyModel* proxy, QAbstractItemModel* model, QLineEdit* filter,
                               const QString& placeholder, int filterColumn)
{
    proxy->setSourceModel(model);
    proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    proxy->setFilterKeyColumn(filterColumn);
    filter->setPlaceholderText(placeholder);
    filter->setClearButtonEnabled(true);
    QObject::connect(filter, &QLineEdit::textChanged, proxy, &QSortFilterProxyModel::setFilterFixedString);
    table->setModel(proxy);
    table->setSortingEnabled(true);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::SingleSelection);
    table->verticalHeader()->hide();
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 8);
}

// under: shown between the table and the chart (may be null).
inline void layOutPage(QWidget* page, QToolBar* bar, QTableView* table, QWidget* under, QWidget* chart)
{
    // The table keeps room for a header and four rows however small the window (the splitter
    // takes the rest from the chart).
    table->setMinimumHeight(table->horizontalHeader()->sizeHint().height() + 4 * table->verticalHeader()->defaultSectionSize() +
                            2 * table->frameWidth() + table->horizontalScrollBar()->sizeHint().height());
    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addWidget(bar);
    topLayout->addWidget(table, 1);
    if (under)
        topLayout->addWidget(under);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(chart);
    split->setStretchFactor(0, 1);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(split);
}

} // namespace pages
