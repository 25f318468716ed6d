#include "EngineClient.h"

InProcessEngineClient::InProcessEngineClient(QObject* parent) : EngineClient(parent)
{
    connect(&timer_, &QTimer::timeout, this, &EngineClient::snapshotReady);
}

InProcessEngineClient::~InProcessEngineClient() { stop(); }

bool InProcessEngineClient::start(std::shared_ptr<const lido::config::Config> config, QString* error)
{
    stop();
    engine_ = std::make_unique<lido::engine::Engine>(lido::engine::EngineOptions{0, {}, false, {}});
    auto r = engine_->start(std::move(config));
    if (!r && error)
        *error = QString::fromStdString(r.error());
    timer_.start(1000);
    emit snapshotReady();
    return r.ok();
}

void InProcessEngineClient::stop()
{
    timer_.stop();
    if (engine_)
        engine_->stop(std::chrono::seconds(2));
    engine_.reset();
}

lido::engine::Snapshot InProcessEngineClient::snapshot() const
{
    return engine_ ? engine_->snapshot() : lido::engine::Snapshot{};
}

std::vector<lido::log::Event> InProcessEngineClient::eventsSince(uint64_t seq) const
{
    return engine_ ? engine_->events()->since(seq) : std::vector<lido::log::Event>{};
}

void InProcessEngineClient::controlPool(const QString& name, lido::engine::PoolAction action)
{
    if (!engine_) {
        emit commandFailed(tr("The engine is not running."));
        return;
    }
    auto r = engine_->controlPool(name.toStdString(), action);
    if (!r)
        emit commandFailed(QString::fromStdString(r.error()));
    emit snapshotReady();
}
