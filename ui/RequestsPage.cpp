#include "RequestsPage.h"

#include "EngineClient.h"
#include "PageSupport.h"

#include <QAction>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTextBrowser>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>
#include <cmath>

PhaseTimeline::PhaseTimeline(QWidget* parent) : QWidget(parent)
{
    setObjectName("phaseTimeline");
    setMinimumHeight(sizeHint().height());
}

QSize PhaseTimeline::sizeHint() const { return {400, fontMetrics().height() * 4 + 16}; }

QColor PhaseTimeline::colorOf(const QString& key)
{
    if (key == "queued")
        return QColor(0xe0, 0xa0, 0x30);
    if (key == "spawning")
        return QColor(0xc0, 0x60, 0xc0);
    if (key == "connecting")
        return QColor(0x70, 0x90, 0xd0);
    if (key == "waiting")
        return QColor(0x30, 0x70, 0xc0);
    if (key == "sending")
        return QColor(0x30, 0xa0, 0x60);
    return QColor(0xa0, 0xa0, 0xa0); // routing
}

void PhaseTimeline::setPhases(std::vector<Phase> phases, double totalMs)
{
    phases_ = std::move(phases);
    total_ = totalMs;
    update();
}

void PhaseTimeline::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const int line = fontMetrics().height();
    const QRect bar(8, 4, width() - 16, line + 8);
    p.setPen(palette().color(QPalette::Mid));
    p.setBrush(palette().color(QPalette::Base));
    p.drawRect(bar);
    if (total_ <= 0 || phases_.empty()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(bar, Qt::AlignCenter, tr("No trace selected"));
        return;
    }
    // Each phase at least a few pixels wide, so that a 0.1 ms routing step still shows.
    auto x = [&](double ms) { return bar.left() + static_cast<int>(std::lround(ms / total_ * bar.width())); };
    int labelX = bar.left(), y = bar.bottom() + 6;
    for (const Phase& ph : phases_) {
        int left = x(ph.startMs), right = std::max(x(ph.startMs + ph.ms), left + 3);
        QRect r(left, bar.top() + 1, right - left, bar.height() - 1);
        p.setPen(Qt::NoPen);
        p.setBrush(colorOf(ph.key));
        p.drawRect(r);
        QString label = ph.ms >= 1000 ? tr("%1 s").arg(ph.ms / 1000.0, 0, 'f', 2) : tr("%1 ms").arg(ph.ms, 0, 'f', ph.ms < 10 ? 1 : 0);
        if (fontMetrics().horizontalAdvance(label) + 6 < r.width()) {
            p.setPen(Qt::white);
            p.drawText(r, Qt::AlignCenter, label);
        }
        // The legend below the bar: colour, name and length, left to right, wrapping.
        QString legend = ph.name + " " + label;
        int w = fontMetrics().horizontalAdvance(legend) + line + 16;
        if (labelX + w > bar.right() && labelX != bar.left()) {
            labelX = bar.left();
            y += line + 4;
        }
        p.setPen(Qt::NoPen);
        p.setBrush(colorOf(ph.key));
        p.drawRect(QRect(labelX, y + 2, line - 4, line - 4));
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(QPoint(labelX + line, y + fontMetrics().ascent()), legend);
        labelX += w;
    }
}

namespace {
enum Column { Time, Status, Taken, Url, Pool, Site, Failure, Columns };
}

RequestsPage::RequestsPage(EngineClient* client, QWidget* parent)
    : QWidget(parent), client_(client), table_(new QTableWidget(0, Columns)), filter_(new QLineEdit), kind_(new QComboBox), count_(new QLabel),
      title_(new QLabel), timeline_(new PhaseTimeline), details_(new QTextBrowser), openPool_(new QPushButton(tr("Open &pool"))),
      showEvents_(new QPushButton(tr("Show &events")))
{
    setObjectName("requestsPage");
    table_->setObjectName("tracesTable");
    table_->setHorizontalHeaderLabels({tr("Time"), tr("Status"), tr("Time taken"), tr("URL"), tr("Pool"), tr("Site"), tr("Why it was traced")});
    table_->horizontalHeader()->setStretchLastSection(true);
    table_->verticalHeader()->hide();
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setSelectionMode(QAbstractItemView::SingleSelection);
    filter_->setPlaceholderText(tr("Filter traces (URL, pool, site, reason)"));
    filter_->setClearButtonEnabled(true);
    kind_->setObjectName("traceKind");
    kind_->addItems({tr("All traces"), tr("Server errors (5xx)"), tr("Client errors (4xx)"), tr("Slow (time taken)"), tr("Application stderr")});
    title_->setObjectName("traceTitle");
    title_->setWordWrap(true);
    title_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    details_->setObjectName("traceDetails");
    details_->setOpenLinks(false);
    openPool_->setEnabled(false);
    showEvents_->setEnabled(false);

    auto* bar = new QToolBar;
    QAction* refreshAction = bar->addAction(tr("Refresh"));
    refreshAction->setShortcut(QKeySequence::Refresh);
    refreshAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(refreshAction, &QAction::triggered, this, &RequestsPage::refresh);
    bar->addWidget(filter_);
    bar->addWidget(kind_);
    bar->addWidget(count_);

    auto* detail = new QWidget;
    auto* dl = new QVBoxLayout(detail);
    dl->setContentsMargins(0, 0, 0, 0);
    auto* head = new QHBoxLayout;
    head->addWidget(title_, 1);
    head->addWidget(openPool_);
    head->addWidget(showEvents_);
    dl->addLayout(head);
    dl->addWidget(timeline_);
    dl->addWidget(details_, 1);

    pages::layOutPage(this, bar, table_, nullptr, detail);
    if (auto* split = findChild<QSplitter*>()) { // the trace's details get the room, not the list
        split->setStretchFactor(0, 0);
        split->setStretchFactor(1, 1);
    }

    connect(filter_, &QLineEdit::textChanged, this, &RequestsPage::applyFilter);
    connect(kind_, &QComboBox::currentIndexChanged, this, &RequestsPage::applyFilter);
    connect(client_, &EngineClient::tracesReady, this, &RequestsPage::fill);
    connect(client_, &EngineClient::traceReady, this, &RequestsPage::showTrace);
    connect(table_, &QTableWidget::currentCellChanged, this, [this] {
        if (QString id = selectedId(); !id.isEmpty() && id != shownId_)
            client_->requestTrace(id);
    });
    connect(openPool_, &QPushButton::clicked, this, [this] { emit poolRequested(pool_); });
    connect(showEvents_, &QPushButton::clicked, this, [this] { emit eventsRequested(url_); });
    // New traces appear while the page is open: asked again every few seconds, not every tick.
    auto* timer = new QTimer(this);
    connect(timer, &QTimer::timeout, this, [this] {
        if (isVisible())
            refresh();
    });
    timer->start(5000);
    refresh();
}

void RequestsPage::refresh() { client_->requestTraces(); }

QString RequestsPage::selectedId() const
{
    int row = table_->currentRow();
    auto* item = row >= 0 ? table_->item(row, Time) : nullptr;
    return item ? item->data(Qt::UserRole).toString() : QString();
}

void RequestsPage::fill()
{
    QString selected = selectedId();
    const auto& traces = client_->traces();
    table_->setSortingEnabled(false);
    table_->setRowCount(static_cast<int>(traces.size()));
    for (int row = 0; row < table_->rowCount(); ++row) {
        const auto& t = traces[static_cast<size_t>(row)];
        QString time = QString::fromStdString(t.time).replace('T', ' ').left(19);
        QString taken = t.totalMs >= 1000 ? tr("%1 s").arg(t.totalMs / 1000.0, 0, 'f', 2) : tr("%1 ms").arg(t.totalMs, 0, 'f', 0);
        QStringList cells = {time, QString::number(t.status), taken, QString::fromStdString(t.method + " " + t.url), QString::fromStdString(t.pool),
                             QString::fromStdString(t.site), QString::fromStdString(t.failure)};
        for (int c = 0; c < Columns; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c == Time)
                item->setData(Qt::UserRole, QString::fromStdString(t.id));
            if (c == Status && t.status >= 500)
                item->setForeground(QColor(0xb0, 0x00, 0x20));
            item->setToolTip(cells[c]);
            table_->setItem(row, c, item);
        }
    }
    table_->resizeColumnsToContents();
    table_->setColumnWidth(Url, std::min(table_->columnWidth(Url), 380));
    applyFilter();
    for (int row = 0; row < table_->rowCount(); ++row)
        if (table_->item(row, Time)->data(Qt::UserRole).toString() == selected)
            table_->setCurrentCell(row, Time);
    if (table_->currentRow() < 0)
        for (int row = 0; row < table_->rowCount(); ++row)
            if (!table_->isRowHidden(row)) {
                table_->setCurrentCell(row, Time);
                break;
            }
}

void RequestsPage::applyFilter()
{
    QString text = filter_->text();
    int kind = kind_->currentIndex(), shown = 0;
    for (int row = 0; row < table_->rowCount(); ++row) {
        int status = table_->item(row, Status)->text().toInt();
        QString why = table_->item(row, Failure)->text();
        bool ok = kind == 0 || (kind == 1 && status >= 500) || (kind == 2 && status >= 400 && status < 500) ||
                  (kind == 3 && why.contains("timeTaken")) || (kind == 4 && why.contains("stderr"));
        if (ok && !text.isEmpty()) {
            ok = false;
            for (int c : {Url, Pool, Site, Failure})
                ok = ok || table_->item(row, c)->text().contains(text, Qt::CaseInsensitive);
        }
        table_->setRowHidden(row, !ok);
        shown += ok;
    }
    count_->setText(table_->rowCount() == 1 ? tr("%1 of 1 trace").arg(shown) : tr("%1 of %2 traces").arg(shown).arg(table_->rowCount()));
}

void RequestsPage::showTrace(const QString& id, const QByteArray& json)
{
    if (id != selectedId())
        return;
    shownId_ = id;
    QJsonObject t = QJsonDocument::fromJson(json).object();
    QJsonObject rq = t["request"].toObject(), rt = t["routing"].toObject(), resp = t["response"].toObject(), tm = t["timings"].toObject();
    pool_ = rt["pool"].toString();
    url_ = rq["url"].toString();
    title_->setText(tr("<b>%1 %2</b> → %3 in %4 ms — %5")
                        .arg(rq["method"].toString(), url_.toHtmlEscaped())
                        .arg(resp["status"].toInt())
                        .arg(tm["totalMs"].toDouble(), 0, 'f', 1)
                        .arg(t["failure"].toString().toHtmlEscaped()));
    openPool_->setText(tr("Open pool %1").arg(pool_));
    openPool_->setEnabled(!pool_.isEmpty());
    showEvents_->setEnabled(true);
    std::vector<PhaseTimeline::Phase> phases;
    for (const QJsonValue& p : t["phases"].toArray())
        phases.push_back({p["phase"].toString(), p["name"].toString(), p["startMs"].toDouble(), p["ms"].toDouble()});
    timeline_->setPhases(std::move(phases), tm["totalMs"].toDouble());

    auto row = [](const QString& k, const QString& v) { return "<tr><td><b>" + k + "</b></td><td>" + v.toHtmlEscaped() + "</td></tr>"; };
    QString html = "<h3>" + tr("Routing") + "</h3><table cellspacing=4>";
    html += row(tr("Site"), t["site"].toString()) + row(tr("Application"), rt["application"].toString()) +
            row(tr("Virtual directory"), rt["virtualDirectory"].toString()) + row(tr("File"), rt["physicalPath"].toString()) +
            row(tr("Handler"), rt["handler"].toString() + " (" + rt["module"].toString() + ")") + row(tr("Application pool"), pool_) +
            row(tr("Process"), rt["pid"].toInt() ? QString::number(rt["pid"].toInt()) : tr("none"));
    QStringList rules;
    for (const QJsonValue& r : rt["rulesFired"].toArray())
        rules << r.toString();
    html += row(tr("Rewrite rules"), rules.isEmpty() ? tr("none") : rules.join(", "));
    if (!rt["rewrittenUrl"].toString().isEmpty())
        html += row(tr("Rewritten to"), rt["rewrittenUrl"].toString());
    html += row(tr("Traced by"), t["rule"].toObject()["path"].toString() + " — " + t["failure"].toString()) + "</table>";
    html += "<h3>" + tr("Timings") + "</h3><table cellspacing=4>";
    const std::pair<const char*, QString> timings[] = {{"queueMs", tr("Queue wait")}, {"spawnMs", tr("Spawn")}, {"connectMs", tr("Connect")},
                                                       {"firstByteMs", tr("First byte")}, {"totalMs", tr("Total")}};
    for (const auto& [key, label] : timings)
        html += row(label, tm[key].isNull() ? tr("no byte of the application's answer was sent") : QString::number(tm[key].toDouble(), 'f', 1) + " ms");
    html += "</table><h3>" + tr("Request") + "</h3><pre>" +
            (rq["method"].toString() + " " + url_ + " " + rq["protocol"].toString() + " from " + rq["client"].toString()).toHtmlEscaped() + "\n";
    for (const QJsonValue& h : rq["headers"].toArray())
        html += h.toString().toHtmlEscaped() + "\n";
    html += "</pre>";
    html += "<h3>" + tr("Response") + "</h3>" + tr("Status %1, %2 bytes").arg(resp["status"].toInt()).arg(resp["bytes"].toInteger());
    if (QString err = t["stderr"].toString(); !err.isEmpty())
        html += "<h3>" + tr("The application's stderr") + "</h3><pre>" + err.toHtmlEscaped() + "</pre>";
    QJsonArray events = t["events"].toArray();
    html += "<h3>" + tr("Events (%1)").arg(events.size()) + "</h3>";
    for (const QJsonValue& e : events)
        html += "<p><b>" + e["severity"].toString() + "</b> " + e["code"].toString().toHtmlEscaped() + ": " + e["message"].toString().toHtmlEscaped() + "</p>";
    details_->setHtml(html);
}
