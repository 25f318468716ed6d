#pragma once
// Application pools at a glance: one row per pool of the configuration, with what the engine's
// snapshot says about it (FastCGI instances, queue, requests/s, failures, why it stopped) and
// CGI slots in use.
#include "engine/Snapshot.h"

#include <QAbstractTableModel>
#include <QStringList>
#include <map>

class PoolsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, State, Instances, Queue, RequestsPerSecond, P99, Failures, Cgi, ColumnCount };
    explicit PoolsModel(QObject* parent = nullptr);

    void setPools(const QStringList& names); // from the configuration
    void setSnapshot(const lido::engine::Snapshot& snapshot);
    QString poolName(int row) const;
    QString stoppedReason(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    struct Row {
        QString name;
        bool running = true;
        bool hasFastCgi = false;
        QString reason;
        int busy = 0, idle = 0, total = 0, queued = 0;
        double perSecond = 0, p99 = 0;
        uint64_t failures = 0;
        int cgiRunning = 0, cgiQueued = 0;
    };
    static Row named(const QString& name);
    std::vector<Row> rows_;
};
