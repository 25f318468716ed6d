#pragma once
// Sites at a glance: one row per site of the configuration with its bindings and what the
// engine's snapshot says (state with the reason, requests/s, open connections, status classes).
#include "engine/Snapshot.h"

#include <QAbstractTableModel>
#include <QStringList>

class SitesModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Name, State, Bindings, RequestsPerSecond, Connections, Status2xx, Status4xx, Status5xx, Certificate, Applications, ColumnCount };
    struct SiteInfo {
        QString name, bindings, applications;
        QStringList urls; // where a browser reaches it: shown as links in the Bindings column
    };
    explicit SitesModel(QObject* parent = nullptr);

    void setSites(const std::vector<SiteInfo>& sites); // from the configuration
    void setSnapshot(const lido::engine::Snapshot& snapshot);
    QString siteName(int row) const;
    QStringList urls(int row) const;
    bool started(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    struct Row {
        SiteInfo info;
        lido::engine::SiteMetrics metrics;
        bool known = false; // the engine reported it
    };
    std::vector<Row> rows_;
    std::time_t snapshotTime_ = 0; // "expires in" is counted from the snapshot's time
};
