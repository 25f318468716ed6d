#include "EventsDock.h"
#include "Health.h"

#include "EngineClient.h"

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QDialog>
#include <QDialogButtonBox>
#include <QTextBrowser>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLineEdit>
#include <QStyle>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>
#include <algorithm>

using lido::log::Severity;

EventsDock::EventsDock(EngineClient* client, QWidget* parent)
    : QDockWidget(tr("Events"), parent), client_(client), list_(new QTreeWidget), severity_(new QComboBox), text_(new QLineEdit)
{
    setObjectName("eventsDock");
    list_->setObjectName("eventsList");
    list_->setColumnCount(4);
    list_->setHeaderLabels({tr("Time"), tr("Source"), tr("Code"), tr("Event")});
    list_->setRootIsDecorated(false);
    list_->setUniformRowHeights(true);
    list_->setSelectionMode(QAbstractItemView::ExtendedSelection);
    list_->header()->setStretchLastSection(true);
    severity_->addItems({tr("Info and above"), tr("Warnings and errors"), tr("Errors"), tr("Everything (debug)")});
    text_->setPlaceholderText(tr("Filter events"));
    text_->setClearButtonEnabled(true);
    auto* copy = new QAction(tr("Copy"), list_);
    copy->setShortcut(QKeySequence::Copy);
    copy->setShortcutContext(Qt::WidgetShortcut);
    list_->addAction(copy);
    connect(copy, &QAction::triggered, this, [this] {
        QStringList lines;
        for (QTreeWidgetItem* i : list_->selectedItems())
            lines << i->text(0) + " " + i->text(1) + " [" + i->text(2) + "] " + i->text(3);
        QApplication::clipboard()->setText(lines.join('\n'));
    });
    auto* bar = new QHBoxLayout;
    bar->addWidget(severity_);
    bar->addWidget(text_, 1);
    auto* box = new QWidget;
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(bar);
    layout->addWidget(list_);
    setWidget(box);
    connect(severity_, &QComboBox::currentIndexChanged, this, &EventsDock::applyFilter);
    connect(text_, &QLineEdit::textChanged, this, &EventsDock::applyFilter);
    connect(client_, &EngineClient::snapshotReady, this, &EventsDock::poll);
    connect(list_, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) { showDetails(item); });
}

QDialog* EventsDock::showDetails(QTreeWidgetItem* item)
{
    if (!item)
        return nullptr;
    static const char* severities[] = {"Debug", "Info", "Warning", "Error"};
    int severity = std::clamp(item->data(0, Qt::UserRole).toInt(), 0, 3);
    auto* dialog = new QDialog(this);
    dialog->setObjectName("eventDetails");
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(tr("Event %1").arg(item->data(1, Qt::UserRole).toULongLong()));
    auto* text = new QTextBrowser;
    text->setObjectName("eventText");
    text->setHtml("<p><b>" + item->data(2, Qt::UserRole).toString().toHtmlEscaped() + "</b> — " + tr(severities[severity]) + "</p><p>" +
                  tr("Source") + ": " + item->text(1).toHtmlEscaped() + "<br>" + tr("Code") + ": " + item->text(2).toHtmlEscaped() +
                  "</p><pre style='white-space: pre-wrap'>" + item->text(3).toHtmlEscaped() + "</pre>");
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::close);
    QPushButton* copy = buttons->addButton(tr("Copy"), QDialogButtonBox::ActionRole);
    connect(copy, &QPushButton::clicked, dialog, [item = QString(item->text(0) + " " + item->text(1) + " [" + item->text(2) + "] " + item->text(3))] {
        QApplication::clipboard()->setText(item);
    });
    auto* layout = new QVBoxLayout(dialog);
    layout->addWidget(text);
    layout->addWidget(buttons);
    dialog->resize(640, 360);
    dialog->show();
    return dialog;
}

void EventsDock::poll()
{
    auto events = client_->eventsSince(lastSeq_);
    if (events.empty())
        return;
    for (const auto& e : events) {
        lastSeq_ = std::max(lastSeq_, e.seq);
        auto* item = new QTreeWidgetItem;
        auto t = std::chrono::duration_cast<std::chrono::milliseconds>(e.time.time_since_epoch()).count();
        item->setText(0, QDateTime::fromMSecsSinceEpoch(t).toString("HH:mm:ss"));
        item->setText(1, QString::fromStdString(e.source));
        item->setText(2, QString::fromStdString(e.code));
        item->setText(3, QString::fromStdString(e.message));
        item->setToolTip(3, QString::fromStdString(e.message));
        item->setData(0, Qt::UserRole, static_cast<int>(e.severity));
        item->setData(1, Qt::UserRole, static_cast<qulonglong>(e.seq));
        item->setData(2, Qt::UserRole, QDateTime::fromMSecsSinceEpoch(t).toString("yyyy-MM-dd HH:mm:ss.zzz"));
        item->setIcon(0, styleIcon(e.severity == Severity::Error     ? QStyle::SP_MessageBoxCritical
                                             : e.severity == Severity::Warning ? QStyle::SP_MessageBoxWarning
                                                                               : QStyle::SP_MessageBoxInformation));
        list_->insertTopLevelItem(0, item); // newest first
    }
    while (list_->topLevelItemCount() > 5000)
        delete list_->takeTopLevelItem(list_->topLevelItemCount() - 1);
    applyFilter();
}

void EventsDock::showMatching(const QString& text)
{
    severity_->setCurrentIndex(0);
    text_->setText(text);
    show();
    raise();
}

void EventsDock::applyFilter()
{
    int minimum = severity_->currentIndex() == 0   ? static_cast<int>(Severity::Info)
                  : severity_->currentIndex() == 1 ? static_cast<int>(Severity::Warning)
                  : severity_->currentIndex() == 2 ? static_cast<int>(Severity::Error)
                                                   : static_cast<int>(Severity::Debug);
    QString text = text_->text();
    for (int i = 0; i < list_->topLevelItemCount(); ++i) {
        QTreeWidgetItem* item = list_->topLevelItem(i);
        bool show = item->data(0, Qt::UserRole).toInt() >= minimum &&
                    (text.isEmpty() || item->text(1).contains(text, Qt::CaseInsensitive) || item->text(3).contains(text, Qt::CaseInsensitive));
        item->setHidden(!show);
    }
}
