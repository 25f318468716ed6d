#pragma once
// The Application Pools page: the pools table with a filter, Start/Stop/Recycle, and live charts
// of the selected pool (requests/s, busy instances, queue) for the last five minutes.
#include "PoolsModel.h"
#include "engine/PoolHistory.h"
#include "engine/Snapshot.h"

#include <QWidget>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

class EngineClient;
class PoolsModel;
class QAction;
class QComboBox;
class QTableWidget;
class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class TimeChart;

class PoolsPage : public QWidget {
    Q_OBJECT
public:
    PoolsPage(EngineClient* client, QWidget* parent = nullptr);
    void setPools(const QStringList& names);
    void setDetails(const std::map<QString, PoolsModel::Details>& details);
    QTableView* table() const { return table_; }
    PoolsModel* model() const { return model_; }
    QAction* startAction() const { return start_; }
    QAction* stopAction() const { return stop_; }
    QAction* recycleAction() const { return recycle_; }
    TimeChart* chart() const { return chart_; }
    // "Last 5 minutes" (a point a second) or "Last hour" (a point every 10 s); kept in QSettings.
    QComboBox* rangeBox() const { return range_; }
    // The selected pool's FastCGI instances (pid, state, requests, RSS, CPU, uptime, URL).
    QTableWidget* instances() const;
    // The selected pool's requests running now (elapsed, phase, client, pid, URL): IIS's current requests.
    QTableWidget* runningRequests() const { return running_; }
    QAction* recycleInstanceAction() const;
    QString selectedPool() const;
    QStringList selectedUrls() const; // its applications' URLs, where Browse goes
    QAction* browseAction() const { return browse_; }
    // The pool in detail: charts by cause, p99, its events (double-click, Enter, or the context menu).
    class PoolDialog* openPool(const QString& pool);

signals:
    void editRequested(const QString& pool); // context menu → Edit: its settings in the Configuration page
    void addRequested();
    void removeRequested(const QString& pool);

private:
    void updateActions();
    void refresh();
    void selectionChanged();
    void replayChart();
    void showInstances(const lido::engine::Snapshot& snapshot);
    void takeHistory(const QString& pool, bool hour, const std::vector<lido::engine::PoolPoint>& points);
    bool hourView() const;

    EngineClient* client_;
    PoolsModel* model_;
    QSortFilterProxyModel* proxy_;
    QLineEdit* filter_;
    QTableView* table_;
    QLabel* reason_;
    TimeChart* chart_;
    QAction *start_, *stop_, *recycle_, *browse_;
public:
    // What the page has seen of a pool, a point a second for the last five minutes: the pool's
    // own page starts from it instead of empty charts.
    struct Point {
        float rps = 0, failures = 0, busy = 0, queued = 0, total = 0, p99 = 0; // failures: per second, all causes
        std::array<uint16_t, 6> causes{}; // per second: crash, timeout, queue full, protocol, stderr, ping
    };
    const std::deque<Point>& historyOf(const QString& pool) const;

private:
    QComboBox* range_;
    class InstancesTable* instances_;
    QTableWidget* running_;
    std::map<QString, std::deque<Point>> history_;     // the last 300 s, a point a second
    std::map<QString, std::deque<Point>> hourHistory_; // the last hour, a point every 10 s
    int tick_ = 0;
    std::map<QString, std::deque<uint64_t>> failureHistory_; // cumulative failures, a value a second
    std::map<QString, std::array<uint64_t, 6>> lastCauses_;   // cumulative failures by cause, the second before
    uint64_t lastEventSeq_ = 0;
    bool sized_ = false; // columns fitted to their contents once per configuration
    int stoppedWhenSized_ = 0;
};
