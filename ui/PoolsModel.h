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
    enum Column { Name, State, Instances, Queue, RequestsPerSecond, P99, Failures, Cgi, Failures5m, Identity, Applications, LastEvent, ColumnCount };
    struct Details {
        QString identity;     // what the file asks for (the snapshot's identity in effect wins)
        QString applications; // the applications that use the pool: "Main/, Shop/app"
        QStringList urls;     // where a browser reaches them (Browse)
    };
    explicit PoolsModel(QObject* parent = nullptr);

    void setPools(const QStringList& names); // from the configuration
    void setSnapshot(const lido::engine::Snapshot& snapshot);
    void setDetails(const std::map<QString, Details>& details); // from the configuration
    // Failures in the last five minutes and the newest event, kept by the page.
    void setRecent(const QString& pool, uint64_t failures5m, const QString& lastEvent);
    uint64_t failures(int row) const;
    QStringList urls(int row) const;
    // What the pool's chart shows: requests/s, busy FastCGI instances and running CGI programs,
    // waiting requests of both.
    struct Load {
        double requestsPerSecond = 0, busy = 0, queued = 0;
        double total = 0; // FastCGI instances and running CGI programs
        double p99 = 0;   // 0 without a request in the last minute
    };
    Load load(int row) const;
    QString poolName(int row) const;
    QString stoppedReason(int row) const;
    bool running(int row) const; // as the newest snapshot has it
    QString advice(int row) const; // a warning with what to change, empty when none

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
        QString advice;
        double retryIn = 0; // failing to start: the next start in this many seconds
        int failedStarts = 0;
        QString identity; // in effect, from the engine: "www-data (uid 33)"
        int busy = 0, idle = 0, total = 0, queued = 0;
        double perSecond = 0, p99 = 0;
        uint64_t latencyRequests = 0; // p99 is over these: the last minute's requests
        uint64_t failures = 0;
        int cgiRunning = 0, cgiQueued = 0;
        uint64_t failures5m = 0;
        QString lastEvent;
        Details details;
    };
    static Row named(const QString& name);
    std::vector<Row> rows_;
};
