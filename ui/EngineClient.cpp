#include "EngineClient.h"

#include "admin/AdminJson.h"
#include "engine/ConfigReloader.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

InProcessEngineClient::InProcessEngineClient(QObject* parent) : EngineClient(parent)
{
    connect(&timer_, &QTimer::timeout, this, &InProcessEngineClient::takeSnapshot);
}

void InProcessEngineClient::takeSnapshot()
{
    snapshot_ = engine_ ? engine_->snapshot(true) : lido::engine::Snapshot{}; // with the running requests
    emit snapshotReady();
}

InProcessEngineClient::~InProcessEngineClient() { stop(); }

bool InProcessEngineClient::start(std::shared_ptr<const lido::config::Config> config, QString* error, const QString& file)
{
    stop();
    engine_ = std::make_unique<lido::engine::Engine>(lido::engine::EngineOptions{0, {}, false, {}});
    auto r = engine_->start(std::move(config));
    if (!r && error)
        *error = QString::fromStdString(r.error());
    if (!file.isEmpty()) {
        reloader_ = std::make_unique<lido::engine::ConfigReloader>(*engine_, file.toStdString());
        if (auto w = reloader_->watch(); !w)
            engine_->events()->add(lido::log::Severity::Warning, "console", "config.watch", w.error());
    }
    timer_.start(1000);
    takeSnapshot();
    return r.ok();
}

void InProcessEngineClient::stop()
{
    timer_.stop();
    snapshot_ = {};
    reloader_.reset();
    if (engine_)
        engine_->stop(std::chrono::seconds(2));
    engine_.reset();
}

lido::engine::Snapshot InProcessEngineClient::snapshot() const { return snapshot_; }

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
    takeSnapshot();
}

QString InProcessEngineClient::runningConfigText() const
{
    auto config = engine_ ? engine_->config() : nullptr;
    return config ? QString::fromStdString(config->text()) : QString();
}

void InProcessEngineClient::controlSite(const QString& name, lido::engine::SiteAction action)
{
    if (!engine_) {
        emit commandFailed(tr("The engine is not running."));
        return;
    }
    if (auto r = engine_->controlSite(name.toStdString(), action); !r)
        emit commandFailed(QString::fromStdString(r.error()));
    takeSnapshot();
}

void InProcessEngineClient::recycleInstance(const QString& pool, int pid)
{
    if (!engine_) {
        emit commandFailed(tr("The engine is not running."));
        return;
    }
    if (auto r = engine_->recycleInstance(pool.toStdString(), pid); !r)
        emit commandFailed(QString::fromStdString(r.error()));
    takeSnapshot();
}

void InProcessEngineClient::reload()
{
    if (!reloader_) {
        emit commandFailed(tr("The engine was not started from a file."));
        return;
    }
    if (auto r = reloader_->reload("console"); !r)
        emit commandFailed(QString::fromStdString(r.error()));
    takeSnapshot();
}

void InProcessEngineClient::drain(bool on)
{
    engine_->drain(on, "the console");
    takeSnapshot();
}

// Answered from the next turn of the event loop, as a remote engine's would be.
void InProcessEngineClient::requestTraces()
{
    QTimer::singleShot(0, this, [this] {
        traces_ = engine_ ? engine_->traces() : std::vector<lido::engine::TraceSummary>{};
        emit tracesReady();
    });
}

void InProcessEngineClient::requestTrace(const QString& id)
{
    QTimer::singleShot(0, this, [this, id] {
        auto text = engine_ ? engine_->trace(id.toStdString()) : lido::Result<std::string>(lido::fail("the engine is not running"));
        if (!text)
            emit commandFailed(QString::fromStdString(text.error()));
        else
            emit traceReady(id, QByteArray::fromStdString(*text));
    });
}

EngineProbe probeEngine(const QString& socketPath, QString* error)
{
    if (!QFileInfo::exists(socketPath))
        return EngineProbe::Absent;
    QLocalSocket s;
    s.connectToServer(socketPath);
    if (s.waitForConnected(2000)) {
        // One question; an engine that refuses this user says so in its first line and closes.
        s.write("{\"id\":1,\"op\":\"sites\"}\n");
        while (!s.canReadLine() && s.waitForReadyRead(2000)) {
        }
        QJsonObject answer = QJsonDocument::fromJson(s.readLine()).object();
        if (answer["ok"].toBool())
            return EngineProbe::Answering;
        if (error)
            *error = answer.contains("error") ? answer["error"].toString() : QObject::tr("no answer from the engine");
        return answer["error"].toString().startsWith("permission denied") ? EngineProbe::Denied : EngineProbe::Absent;
    }
    if (error)
        *error = s.errorString();
    return s.error() == QLocalSocket::SocketAccessError ? EngineProbe::Denied : EngineProbe::Absent;
}

RemoteEngineClient::RemoteEngineClient(QObject* parent) : EngineClient(parent)
{
    connect(&socket_, &QLocalSocket::readyRead, this, &RemoteEngineClient::readLines);
    connect(&socket_, &QLocalSocket::connected, this, [this] {
        send(R"({"id":0,"op":"events","since":0})");
        send(R"({"id":-2,"op":"config"})");
        send(R"({"op":"subscribe"})");
        emit connected();
    });
    connect(&socket_, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError) {
        emit commandFailed(tr("Engine at %1: %2").arg(path_, socket_.errorString()));
    });
}

void RemoteEngineClient::connectTo(const QString& socketPath)
{
    path_ = socketPath;
    socket_.abort();
    buffer_.clear();
    events_.clear();
    socket_.connectToServer(socketPath);
}

bool RemoteEngineClient::isConnected() const { return socket_.state() == QLocalSocket::ConnectedState; }

std::vector<lido::log::Event> RemoteEngineClient::eventsSince(uint64_t seq) const
{
    std::vector<lido::log::Event> out;
    for (const auto& e : events_)
        if (e.seq > seq)
            out.push_back(e);
    return out;
}

void RemoteEngineClient::send(const QByteArray& json)
{
    socket_.write(json + "\n");
}

void RemoteEngineClient::controlPool(const QString& name, lido::engine::PoolAction action)
{
    const char* op = action == lido::engine::PoolAction::Start ? "start" : action == lido::engine::PoolAction::Stop ? "stop" : "recycle";
    send(QJsonDocument(QJsonObject{{"id", nextId_++}, {"op", op}, {"pool", name}}).toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::controlSite(const QString& name, lido::engine::SiteAction action)
{
    send(QJsonDocument(QJsonObject{{"id", nextId_++}, {"op", action == lido::engine::SiteAction::Start ? "start" : "stop"}, {"site", name}})
             .toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::recycleInstance(const QString& pool, int pid)
{
    send(QJsonDocument(QJsonObject{{"id", nextId_++}, {"op", "recycle"}, {"pool", pool}, {"pid", pid}}).toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::reload()
{
    send(QJsonDocument(QJsonObject{{"id", nextId_++}, {"op", "reload"}}).toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::drain(bool on)
{
    send(QJsonDocument(QJsonObject{{"id", nextId_++}, {"op", on ? "drain" : "undrain"}, {"reason", "the console"}}).toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::requestTraces()
{
    send(R"({"id":-3,"op":"traces"})");
}

void RemoteEngineClient::requestTrace(const QString& id)
{
    traceAsked_ = id;
    send(QJsonDocument(QJsonObject{{"id", -4}, {"op", "trace"}, {"trace", id}}).toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::readLines()
{
    buffer_ += socket_.readAll();
    qsizetype nl;
    bool fresh = false;
    while ((nl = buffer_.indexOf('\n')) >= 0) {
        QByteArray line = buffer_.left(nl);
        buffer_.remove(0, nl + 1);
        QJsonObject o = QJsonDocument::fromJson(line).object();
        auto addEvent = [this](const QJsonObject& e) {
            if (auto event = lido::admin::parseEvent(QJsonDocument(e).toJson(QJsonDocument::Compact).toStdString())) {
                if (!events_.empty() && event->seq <= events_.back().seq)
                    return;
                events_.push_back(std::move(*event));
                while (events_.size() > 10000)
                    events_.pop_front();
            }
        };
        const QString stream = o["stream"].toString();
        if (stream == "snapshot") {
            if (auto snap = lido::admin::parseSnapshot(QJsonDocument(o["snapshot"].toObject()).toJson(QJsonDocument::Compact).toStdString())) {
                snapshot_ = std::move(*snap);
                fresh = true;
            }
        } else if (stream == "event") {
            addEvent(o["event"].toObject());
            if (o["event"].toObject()["code"].toString() == "config.applied")
                send(R"({"id":-2,"op":"config"})"); // the running text changed
        } else if (o["id"].toInt() == -2 && o["ok"].toBool()) {
            runningText_ = o["result"].toObject()["text"].toString();
            if (QString path = o["result"].toObject()["path"].toString(); path != runningPath_) {
                runningPath_ = path;
                emit runningConfigPathKnown(path);
            }
        } else if (o["id"].toInt() == -3 && o["ok"].toBool()) {
            if (auto list = lido::admin::parseTraceSummaries(QJsonDocument(o["result"].toArray()).toJson(QJsonDocument::Compact).toStdString())) {
                traces_ = std::move(*list);
                emit tracesReady();
            }
        } else if (o["id"].toInt() == -4 && o["ok"].toBool()) {
            emit traceReady(traceAsked_, QJsonDocument(o["result"].toObject()).toJson(QJsonDocument::Compact));
        } else if (o.contains("ok") && !o["ok"].toBool()) {
            emit commandFailed(o["error"].toString());
        } else if (o["id"].toInt(-1) == 0) {
            for (const auto& e : o["result"].toArray())
                addEvent(e.toObject());
        }
    }
    if (fresh)
        emit snapshotReady();
}
