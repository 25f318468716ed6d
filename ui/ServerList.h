#pragma once
// The servers the console watches (IIS Manager's Connections; virt-manager's connections): this
// machine first, then every server added by File → Connect to server…, each reached over
// `ssh -T DESTINATION lidoctl bridge`. The list of destinations is kept in QSettings. Each entry
// carries its health (the tray's colour rule), reachability with the channel's own error, its 5xx
// rate, the running configuration's version and its last error event.
#include "Health.h"

#include <QObject>
#include <QString>
#include <QStringList>
#include <chrono>
#include <memory>
#include <vector>

class EngineClient;
class RemoteEngineClient;

class ServerList : public QObject {
    Q_OBJECT
public:
    enum class Link { Connecting, Reachable, Unreachable };
    struct Server {
        QString name;        // "this computer (host)", or the destination
        QString destination; // empty for this machine
        EngineClient* client = nullptr;
        RemoteEngineClient* remote = nullptr; // the ssh channel's client (owned), or the local one when attached
        ServerHealth health;
        double errorsPerSecond = 0; // 5xx responses
        QString lastError;          // the last error event: "12:04:31 pool.rapid-fail: …"
        uint64_t lastSeq = 0;
        uint64_t last5xx = 0;
        std::chrono::system_clock::time_point lastTime;
    };

    // local: the engine of this machine (in this process, or the lidod the console attached to);
    // null when the console only views a file.
    explicit ServerList(EngineClient* local, QObject* parent = nullptr);
    ~ServerList() override;

    int count() const { return int(servers_.size()); }
    const Server& at(int i) const { return *servers_.at(size_t(i)); }
    int indexOf(const EngineClient* client) const;
    Link link(int i) const;
    QString linkText(int i) const; // "reachable", "connecting…", "unreachable: ssh: connect to host …"
    // The running configuration's version (16 hex digits), and whether it differs from the one most
    // servers run (on a tie, from this machine's).
    QString configVersion(int i) const;
    bool configDiffers(int i) const;

    // Adds DESTINATION ([user@]host[:port]) and connects; kept in QSettings unless restoring. The
    // index (an existing one for a destination already listed).
    int add(const QString& destination, bool remember = true);
    // A server whose client is made elsewhere (not kept in QSettings, not owned): the console
    // benchmark's fixture engines.
    int addClient(const QString& name, EngineClient* client);
    void remove(int i); // never this machine
    void restore();     // the destinations kept in QSettings
    // First retry after a lost channel, for servers added after this (tests: short).
    void setRetryInterval(int ms) { retryMs_ = ms; }

signals:
    void added(int index);
    void removed(int index);
    void changed(int index); // health, link or figures

private:
    void refresh(Server* s);
    void save() const;

    std::vector<std::unique_ptr<Server>> servers_;
    int retryMs_ = 1000;
};
