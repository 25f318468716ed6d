#pragma once
// What the console's pages talk to: the engine, in this process or (later) a lidod over its
// admin socket. The pages do not know which. Calls return at once; snapshots arrive once a
// second through snapshotReady() on the GUI thread.
#include "engine/Engine.h"

#include <QObject>
#include <QString>
#include <QTimer>
#include <memory>

class EngineClient : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    virtual lido::engine::Snapshot snapshot() const = 0;
    virtual std::vector<lido::log::Event> eventsSince(uint64_t seq) const = 0;
    virtual void controlPool(const QString& name, lido::engine::PoolAction action) = 0;

signals:
    void snapshotReady();
    void commandFailed(const QString& message);
};

// The engine embedded in the console, on its own threads.
class InProcessEngineClient : public EngineClient {
    Q_OBJECT
public:
    explicit InProcessEngineClient(QObject* parent = nullptr);
    ~InProcessEngineClient() override;
    // Starts serving; false (and the reason) when the configuration cannot be served.
    bool start(std::shared_ptr<const lido::config::Config> config, QString* error = nullptr);
    void stop();
    lido::engine::Snapshot snapshot() const override;
    std::vector<lido::log::Event> eventsSince(uint64_t seq) const override;
    void controlPool(const QString& name, lido::engine::PoolAction action) override;

private:
    std::unique_ptr<lido::engine::Engine> engine_;
    QTimer timer_;
};
