#include "EngineClient.h"

#include "admin/AdminJson.h"
#include "engine/ConfigReloader.h"

#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>

#include <algorithm>

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

const lido::engine::Snapshot& InProcessEngineClient::snapshot() const { return snapshot_; }

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

void InProcessEngineClient::requestPoolHistory(const QString& pool, bool hour)
{
    QTimer::singleShot(0, this, [this, pool, hour] {
        if (engine_)
            emit poolHistoryReady(pool, hour, engine_->poolHistory(pool.toStdString(), hour));
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
    retry_.setSingleShot(true);
    connect(&retry_, &QTimer::timeout, this, &RemoteEngineClient::open);
}

RemoteEngineClient::~RemoteEngineClient() { disconnect(); }

void RemoteEngineClient::connectTo(const QString& socketPath) { start(socketPath, QString()); }

void RemoteEngineClient::connectOverSsh(const QString& destination) { start(QString(), destination); }

void RemoteEngineClient::start(const QString& socketPath, const QString& destination)
{
    disconnect();
    path_ = socketPath;
    destination_ = destination;
    events_.clear();
    engineSeq_ = seqOffset_ = 0;
    retryMs_ = retryBaseMs_;
    open();
}

QStringList RemoteEngineClient::sshArguments(const QString& destination)
{
    // -T: no terminal (the channel is bytes); BatchMode: never a prompt the console cannot answer;
    // ServerAlive: a server that went away without a word ends the channel within 30 s.
    QStringList args{"-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3"};
    QString target = destination.trimmed();
    if (!target.startsWith("ssh://")) {
        int at = target.lastIndexOf('@');
        QString host = target.mid(at + 1), user = at >= 0 ? target.left(at + 1) : QString();
        QString port;
        if (host.startsWith('[')) { // [::1]:2222
            int close = host.indexOf(']');
            if (close > 0 && host.mid(close + 1).startsWith(':'))
                port = host.mid(close + 2);
            host = host.mid(1, close > 0 ? close - 1 : -1);
        } else if (host.count(':') == 1) {
            port = host.section(':', 1);
            host = host.section(':', 0, 0);
        }
        if (!port.isEmpty())
            args << "-p" << port;
        target = user + host;
    }
    args << "--" << target << "lidoctl" << "bridge";
    return args;
}

void RemoteEngineClient::closeChannel()
{
    if (socket_) {
        socket_->disconnect(this);
        socket_->abort();
        socket_->deleteLater();
        socket_ = nullptr;
    }
    if (ssh_) {
        ssh_->disconnect(this);
        ssh_->kill();
        ssh_->waitForFinished(2000);
        delete ssh_;
        ssh_ = nullptr;
    }
}

void RemoteEngineClient::disconnect()
{
    retry_.stop();
    closeChannel();
    io_ = nullptr;
    buffer_.clear();
    if (link_ != Link::Idle) {
        link_ = Link::Idle;
        emit linkChanged();
    }
}

void RemoteEngineClient::open()
{
    // A fresh channel each time: the old one's buffers and state go with it.
    closeChannel();
    buffer_.clear();
    sshErrors_.clear();
    historyAsked_.clear(); // questions of the channel before go unanswered
    if (link_ != Link::Connecting && link_ != Link::Unreachable) {
        link_ = Link::Connecting;
        emit linkChanged();
    }
    if (destination_.isEmpty()) {
        socket_ = new QLocalSocket(this);
        io_ = socket_;
        connect(socket_, &QLocalSocket::readyRead, this, &RemoteEngineClient::readLines);
        connect(socket_, &QLocalSocket::connected, this, &RemoteEngineClient::opened);
        connect(socket_, &QLocalSocket::disconnected, this, [this] { lost(tr("the engine closed the connection")); });
        connect(socket_, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError) { lost(socket_->errorString()); });
        socket_->connectToServer(path_);
        return;
    }
    QString target = destination_.trimmed();
    if (target.isEmpty() || target.startsWith('-') || target.contains(QRegularExpression("\\s"))) {
        lost(tr("not a destination: %1 (user@host or user@host:port)").arg(destination_));
        return;
    }
    ssh_ = new QProcess(this);
    io_ = ssh_;
    QStringList command = QProcess::splitCommand(qEnvironmentVariable("LIDO_SSH_COMMAND", "ssh"));
    if (command.isEmpty())
        command << "ssh";
    QString program = command.takeFirst();
    connect(ssh_, &QProcess::readyReadStandardOutput, this, &RemoteEngineClient::readLines);
    connect(ssh_, &QProcess::readyReadStandardError, this, [this] {
        sshErrors_ += ssh_->readAllStandardError();
        if (sshErrors_.size() > 4096)
            sshErrors_ = sshErrors_.right(4096);
    });
    connect(ssh_, &QProcess::started, this, &RemoteEngineClient::opened);
    connect(ssh_, &QProcess::errorOccurred, this, [this, program](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart)
            lost(tr("cannot run %1: %2").arg(program, ssh_->errorString()));
    });
    connect(ssh_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
        sshErrors_ += ssh_->readAllStandardError();
        QString last;
        for (const QByteArray& line : sshErrors_.split('\n'))
            if (!line.trimmed().isEmpty())
                last = QString::fromUtf8(line.trimmed());
        if (last.isEmpty())
            last = status == QProcess::CrashExit ? tr("ssh was killed") : tr("ssh exited with status %1").arg(code);
        lost(last);
    });
    ssh_->start(program, command + sshArguments(target));
}

void RemoteEngineClient::opened()
{
    send(R"({"id":0,"op":"events","since":0})");
    send(R"({"id":-2,"op":"config"})");
    send(R"({"op":"subscribe"})");
}

void RemoteEngineClient::lost(const QString& why)
{
    if (link_ == Link::Idle)
        return;
    bool fresh = link_ != Link::Unreachable || linkError_ != why;
    link_ = Link::Unreachable;
    linkError_ = why;
    io_ = nullptr;
    if (fresh) {
        emit commandFailed(tr("Engine at %1: %2").arg(where(), why));
        emit linkChanged();
    }
    if (!retry_.isActive()) {
        retry_.start(retryMs_);
        retryMs_ = std::min(retryMs_ * 2, std::min(30 * retryBaseMs_, 30000));
    }
}

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
    if (io_)
        io_->write(json + "\n");
    else if (!json.startsWith("{\"id\":-"))
        emit commandFailed(tr("Engine at %1 is unreachable: %2").arg(where(), linkError_));
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

void RemoteEngineClient::requestPoolHistory(const QString& pool, bool hour)
{
    historyAsked_.push_back(pool); // answered in the order asked, on the one channel
    send(QJsonDocument(QJsonObject{{"id", hour ? -5 : -6}, {"op", "poolHistory"}, {"pool", pool}, {"hour", hour}}).toJson(QJsonDocument::Compact));
}

void RemoteEngineClient::readLines()
{
    if (!io_)
        return;
    buffer_ += ssh_ ? ssh_->readAllStandardOutput() : io_->readAll();
    qsizetype nl;
    bool fresh = false;
    if (link_ != Link::Connected && buffer_.contains('\n')) {
        link_ = Link::Connected;
        linkError_.clear();
        retryMs_ = retryBaseMs_;
        emit linkChanged();
        emit connected();
    }
    while ((nl = buffer_.indexOf('\n')) >= 0) {
        QByteArray line = buffer_.left(nl);
        buffer_.remove(0, nl + 1);
        QJsonObject o = QJsonDocument::fromJson(line).object();
        // Events keep one numbering across reconnections: the engine's own after the last one
        // seen, or, from an engine that restarted (its numbers start again), after ours.
        auto keyOf = [](const lido::log::Event& e) { return e.code + '\n' + e.message + '\n' + std::to_string(e.time.time_since_epoch().count()); };
        auto addEvent = [this, &keyOf](lido::log::Event event) {
            if (event.seq <= engineSeq_)
                return;
            engineSeq_ = event.seq;
            engineLastKey_ = keyOf(event);
            event.seq += seqOffset_;
            events_.push_back(std::move(event));
            while (events_.size() > 10000)
                events_.pop_front();
        };
        auto parse = [](const QJsonValue& e) { return lido::admin::parseEvent(QJsonDocument(e.toObject()).toJson(QJsonDocument::Compact).toStdString()); };
        const QString stream = o["stream"].toString();
        if (stream == "snapshot") {
            if (auto snap = lido::admin::parseSnapshot(QJsonDocument(o["snapshot"].toObject()).toJson(QJsonDocument::Compact).toStdString())) {
                snapshot_ = std::move(*snap);
                fresh = true;
            }
        } else if (stream == "event") {
            if (auto event = parse(o["event"]))
                addEvent(std::move(*event));
            if (o["event"].toObject()["code"].toString() == "config.applied")
                send(R"({"id":-2,"op":"config"})"); // the running text changed
        } else if (o["id"].toInt() == -2 && o["ok"].toBool()) {
            if (QString text = o["result"].toObject()["text"].toString(); text != runningText_) {
                runningText_ = text;
                emit runningConfigTextChanged();
            }
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
        } else if (o["id"].toInt() == -5 || o["id"].toInt() == -6) {
            QString asked = historyAsked_.empty() ? QString() : historyAsked_.front();
            if (!historyAsked_.empty())
                historyAsked_.pop_front();
            if (!o["ok"].toBool())
                continue; // an engine without pool history: the charts keep what they have
            std::vector<lido::engine::PoolPoint> points;
            for (const QJsonValue& v : o["result"].toArray()) {
                QJsonArray row = v.toArray();
                if (row.size() < 12)
                    continue;
                lido::engine::PoolPoint p;
                p.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(row[0].toInteger()));
                p.requestsPerSecond = static_cast<float>(row[1].toDouble());
                p.busy = static_cast<float>(row[2].toDouble());
                p.total = static_cast<float>(row[3].toDouble());
                p.queued = static_cast<float>(row[4].toDouble());
                p.p99Ms = static_cast<float>(row[5].toDouble());
                for (int i = 0; i < 6; ++i)
                    p.failures[size_t(i)] = static_cast<uint16_t>(row[6 + i].toInt());
                points.push_back(p);
            }
            emit poolHistoryReady(asked, o["id"].toInt() == -5, points);
        } else if (o.contains("ok") && !o["ok"].toBool()) {
            emit commandFailed(o["error"].toString());
        } else if (o["id"].toInt(-1) == 0) {
            std::vector<lido::log::Event> list;
            for (const auto& e : o["result"].toArray())
                if (auto event = parse(e))
                    list.push_back(std::move(*event));
            bool same = std::any_of(list.begin(), list.end(), [&](const lido::log::Event& e) { return e.seq == engineSeq_ && keyOf(e) == engineLastKey_; });
            if (!same) {
                seqOffset_ = events_.empty() ? 0 : events_.back().seq;
                engineSeq_ = 0;
            }
            for (auto& e : list)
                addEvent(std::move(e));
        }
    }
    if (fresh)
        emit snapshotReady();
}
