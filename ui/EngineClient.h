#pragma once
// What the console's pages talk to: the engine, in this process or a lidod over its admin
// socket. The pages do not know which. Calls return at once; snapshots arrive once a second
// through snapshotReady() on the GUI thread; a refusal comes back as commandFailed().
#include "engine/Engine.h"

#include <QLocalSocket>
#include <QObject>
#include <QString>
#include <QTimer>
#include <deque>
#include <memory>

namespace lido::engine {
class ConfigReloader;
}

class EngineClient : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    // The last snapshot, by reference: it changes only on the GUI thread, just before snapshotReady().
    virtual const lido::engine::Snapshot& snapshot() const = 0;
    virtual std::vector<lido::log::Event> eventsSince(uint64_t seq) const = 0;
    virtual void controlPool(const QString& name, lido::engine::PoolAction action) = 0;
    virtual void controlSite(const QString& name, lido::engine::SiteAction action) = 0;
    virtual void recycleInstance(const QString& pool, int pid) = 0;
    // Re-read the configuration file and apply what changed (the result arrives as an event).
    virtual void reload() = 0;
    // Drain for load balancers (/health answers 503, requests are served on), or end it.
    virtual void drain(bool on) = 0;
    // Where the engine runs: "in this process" or the socket of a lidod.
    virtual QString where() const = 0;
    // The text of the configuration the engine runs (empty: none).
    virtual QString runningConfigText() const = 0;
    // The failed-request traces the sites keep: asked, then tracesReady() with traces() filled
    // (newest first); one trace's JSON: asked, then traceReady(id, json).
    virtual void requestTraces() = 0;
    virtual void requestTrace(const QString& id) = 0;
    const std::vector<lido::engine::TraceSummary>& traces() const { return traces_; }
    // What the engine kept of a pool for its charts (the last five minutes, or the hour a point
    // every ten seconds): asked, then poolHistoryReady(). An engine that keeps none never answers.
    virtual void requestPoolHistory(const QString& pool, bool hour) { Q_UNUSED(pool) Q_UNUSED(hour) }

signals:
    void snapshotReady();
    void commandFailed(const QString& message);
    void tracesReady();
    void traceReady(const QString& id, const QByteArray& json);
    void poolHistoryReady(const QString& pool, bool hour, const std::vector<lido::engine::PoolPoint>& points);

protected:
    std::vector<lido::engine::TraceSummary> traces_;
};

// The engine embedded in the console, on its own threads.
class InProcessEngineClient : public EngineClient {
    Q_OBJECT
public:
    explicit InProcessEngineClient(QObject* parent = nullptr);
    ~InProcessEngineClient() override;
    // Starts serving; false (and the reason) when the configuration cannot be served. With a
    // file, reload() re-reads it (and changes to it are applied as lidod applies them).
    bool start(std::shared_ptr<const lido::config::Config> config, QString* error = nullptr, const QString& file = {});
    void stop();
    const lido::engine::Snapshot& snapshot() const override;
    std::vector<lido::log::Event> eventsSince(uint64_t seq) const override;
    void controlPool(const QString& name, lido::engine::PoolAction action) override;
    void controlSite(const QString& name, lido::engine::SiteAction action) override;
    void recycleInstance(const QString& pool, int pid) override;
    void reload() override;
    void drain(bool on) override;
    QString where() const override { return tr("in this process"); }
    QString runningConfigText() const override;
    void requestTraces() override;
    void requestTrace(const QString& id) override;
    void requestPoolHistory(const QString& pool, bool hour) override;
    lido::engine::Engine* engine() { return engine_.get(); }

private:
    void takeSnapshot();
    std::unique_ptr<lido::engine::Engine> engine_;
    std::unique_ptr<lido::engine::ConfigReloader> reloader_;
    lido::engine::Snapshot snapshot_; // taken once per tick: every page reads the same one
    QTimer timer_;
};

// A lidod over its admin channel: the local socket, or `ssh -T DESTINATION lidoctl bridge` for
// another server (OpenSSH with the user's keys, agent and ~/.ssh/config; it prompts for nothing).
// Subscribes to its snapshots and events; commands are sent and their refusals reported. The GUI
// thread never waits on it. A channel that fails or ends is tried again by itself (1 s, doubling
// to 30 s) until disconnect().
class RemoteEngineClient : public EngineClient {
    Q_OBJECT
public:
    enum class Link { Idle, Connecting, Connected, Unreachable };
    explicit RemoteEngineClient(QObject* parent = nullptr);
    ~RemoteEngineClient() override;
    // Starts connecting; connected() or commandFailed() follows.
    void connectTo(const QString& socketPath);
    // DESTINATION is [user@]host[:port]. The ssh program is LIDO_SSH_COMMAND when set (split as a
    // command line, no shell: "ssh -F /path/config"), else ssh.
    void connectOverSsh(const QString& destination);
    void disconnect();
    bool isConnected() const { return link_ == Link::Connected; }
    Link link() const { return link_; }
    // Why it is unreachable: the channel's own words (ssh's last line, the socket's error).
    QString linkError() const { return linkError_; }
    // The first retry after a failure (doubling up to 30 times that, at most 30 s).
    void setRetryInterval(int ms) { retryBaseMs_ = ms; }
    const lido::engine::Snapshot& snapshot() const override { return snapshot_; }
    std::vector<lido::log::Event> eventsSince(uint64_t seq) const override;
    void controlPool(const QString& name, lido::engine::PoolAction action) override;
    void controlSite(const QString& name, lido::engine::SiteAction action) override;
    void recycleInstance(const QString& pool, int pid) override;
    void reload() override;
    void drain(bool on) override;
    QString where() const override { return destination_.isEmpty() ? path_ : destination_; }
    QString runningConfigText() const override { return runningText_; }
    void requestTraces() override;
    void requestTrace(const QString& id) override;
    void requestPoolHistory(const QString& pool, bool hour) override;

    // The file the engine serves, as its admin channel reports it (empty until known).
    QString runningConfigPath() const { return runningPath_; }
    // ssh's argument list for a destination ("user@host:2222" → -p 2222 user@host), after the
    // options Lido adds; the remote command is `lidoctl bridge`.
    static QStringList sshArguments(const QString& destination);

signals:
    void connected();
    void linkChanged();
    void runningConfigPathKnown(const QString& path);
    void runningConfigTextChanged();

private:
    void start(const QString& socketPath, const QString& destination);
    void open();
    void closeChannel();
    void opened();
    void lost(const QString& why);
    void send(const QByteArray& json);
    void readLines();
    QLocalSocket* socket_ = nullptr;
    class QProcess* ssh_ = nullptr;
    class QIODevice* io_ = nullptr;
    QString path_, destination_;
    QByteArray buffer_, sshErrors_;
    Link link_ = Link::Idle;
    QString linkError_;
    QTimer retry_;
    int retryBaseMs_ = 1000, retryMs_ = 1000;
    lido::engine::Snapshot snapshot_;
    std::deque<lido::log::Event> events_;
    uint64_t engineSeq_ = 0, seqOffset_ = 0; // the engine's number of the last event; ours = its + offset
    std::string engineLastKey_;
    QString runningText_, runningPath_;
    QString traceAsked_; // the trace whose answer comes as id -4
    std::deque<QString> historyAsked_; // the pools whose history comes as id -5 (hour) or -6, in order

    int nextId_ = 1;
};

// Whether an engine answers on an admin socket: the console attaches to one that does rather
// than start a second engine on the same ports. Denied: a socket is there but this user may not
// use it (not root, not the engine's user, not in its admin group).
enum class EngineProbe { Answering, Denied, Absent };
EngineProbe probeEngine(const QString& socketPath, QString* error = nullptr);
