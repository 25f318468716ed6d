#pragma once
// A pool's FastCGI instances (pid, state, requests served, RSS, CPU, uptime, current URL) with
// "Recycle instance"; used under the pools table and on the pool page.
#include "engine/Snapshot.h"

#include <QWidget>

class EngineClient;
class QAction;
class QTableWidget;

class InstancesTable : public QWidget {
    Q_OBJECT
public:
    InstancesTable(EngineClient* client, QWidget* parent = nullptr);
    void show(const QString& pool, const lido::engine::Snapshot& snapshot); // keeps the selected pid selected
    QTableWidget* table() const { return table_; }
    QAction* recycleAction() const { return recycle_; }

private:
    EngineClient* client_;
    QString pool_;
    QTableWidget* table_;
    QAction* recycle_;
};
