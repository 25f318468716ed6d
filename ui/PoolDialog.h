#pragma once
// One application pool in detail (double-click in the pools table, or its context menu): charts of
// instances (total and busy) and queue, requests/s and p99 latency, failures per second by cause,
// for the last 5 minutes or the last hour (starting from what the pools page had seen of it);
// its instances with "recycle this instance"; and the pool's recent events. Updated from the
// engine's snapshots at 1 Hz.
#include "PoolsPage.h"

#include <QDialog>
#include <deque>
#include <map>

class EngineClient;
class TimeChart;
class QListWidget;
class QLabel;
class QComboBox;
class InstancesTable;

class PoolDialog : public QDialog {
    Q_OBJECT
public:
    PoolDialog(EngineClient* client, const QString& pool, QWidget* parent = nullptr);
    TimeChart* instancesChart() const { return instances_; }
    TimeChart* latencyChart() const { return latency_; }
    TimeChart* failuresChart() const { return failures_; }
    QListWidget* events() const { return events_; }
    QLabel* summary() const { return summary_; }
    InstancesTable* instances() const { return instanceTable_; }
    QString summaryText() const; // the line above the charts: state, figures, warnings
    QComboBox* rangeBox() const { return range_; }
    // The charts start from what was seen before the page opened (oldest first).
    void seed(const std::deque<PoolsPage::Point>& seen);

private:
    void refresh();
    void replay();
    struct Sample {
        double total, busy, queued, rps, p99;
        std::vector<double> failures; // per second, by cause
    };
    std::vector<Sample> samples_; // since the page opened, at most an hour
    EngineClient* client_;
    QString pool_;
    TimeChart *instances_, *latency_, *failures_;
    QListWidget* events_;
    QLabel* summary_;
    InstancesTable* instanceTable_;
    QComboBox* range_;
    std::map<std::string, uint64_t> lastFailures_; // cumulative, by cause
    uint64_t lastSeq_ = 0;
    bool first_ = true;
};
