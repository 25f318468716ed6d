#pragma once
// The Requests page: the failed-request traces the sites keep (IIS's Failed Request Tracing),
// newest first, with a text filter and a filter by kind (5xx, 4xx, slow); the selected trace in
// detail: its phases as a timeline, the routing decision, headers (secrets masked), stderr and
// events, with links to its pool and to its events in the events dock.
#include <QByteArray>
#include <QString>
#include <QWidget>
#include <vector>

class EngineClient;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;
class QTextBrowser;

// The phases of one request as bars on a time axis (queued, spawning, connecting, waiting for
// the application, sending), each labelled with its length.
class PhaseTimeline : public QWidget {
    Q_OBJECT
public:
    struct Phase {
        QString key, name;
        double startMs = 0, ms = 0;
    };
    explicit PhaseTimeline(QWidget* parent = nullptr);
    void setPhases(std::vector<Phase> phases, double totalMs);
    const std::vector<Phase>& phases() const { return phases_; }
    QSize sizeHint() const override;
    static QColor colorOf(const QString& key);

protected:
    void paintEvent(QPaintEvent*) override;

private:
    std::vector<Phase> phases_;
    double total_ = 0;
};

class RequestsPage : public QWidget {
    Q_OBJECT
public:
    explicit RequestsPage(EngineClient* client, QWidget* parent = nullptr);
    QTableWidget* table() const { return table_; }
    QLineEdit* filter() const { return filter_; }
    QComboBox* kindFilter() const { return kind_; }
    PhaseTimeline* timeline() const { return timeline_; }
    QTextBrowser* details() const { return details_; }
    QPushButton* poolButton() const { return openPool_; }
    QPushButton* eventsButton() const { return showEvents_; }
    QString selectedId() const;
    void refresh(); // asks the engine for its traces again

signals:
    void poolRequested(const QString& pool);
    void eventsRequested(const QString& text); // the events dock, filtered to this text

private:
    void fill();
    void applyFilter();
    void showTrace(const QString& id, const QByteArray& json);

    EngineClient* client_;
    QTableWidget* table_;
    QLineEdit* filter_;
    QComboBox* kind_;
    QLabel* count_;
    QLabel* title_;
    PhaseTimeline* timeline_;
    QTextBrowser* details_;
    QPushButton* openPool_;
    QPushButton* showEvents_;
    QString pool_, url_;
    QString shownId_;
};
