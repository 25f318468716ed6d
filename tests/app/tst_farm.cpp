// A web farm as admins run one: three lidod on loopback behind a real HAProxy that checks their
// /health and speaks the PROXY protocol to them, a real Prometheus scraping them, and lidod as a
// container's PID 1. While a client sends requests through HAProxy, a configuration change rolls
// across the nodes one at a time (drain, change the file, undrain), then each node restarts in
// turn (SIGTERM drains first): no request fails, and every node logs the client's own address.
#include "EngineSupport.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <csignal>
#include <sys/un.h>
#include <sys/wait.h>

namespace {

constexpr const char* kClientAddress = "127.0.0.2"; // the client HAProxy's PROXY header names

bool have(const char* program) { return !QStandardPaths::findExecutable(program, {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}).isEmpty(); }
QString tool(const char* program) { return QStandardPaths::findExecutable(program, {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}); }

// One lidod of the farm: its own scratch folder, site port (PROXY protocol), status port, files.
struct Node {
    explicit Node(int n) : name(QString("n%1").arg(n)), status(freePort())
    {
        f.useFastCgiHelper();
        f.values["@BINDATTRS@"] = R"( proxyProtocol="true")";
        f.values["@LIDO@"] =
            QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /><shutdown drainDelay="00:00:02" /></lido>)").arg(status);
        setRelease(1);
        f.s.write("www/node.txt", name.toUtf8() + "\n");
    }
    ~Node() { stop(); }

    void setRelease(int release)
    {
        QString fastcgi = f.values["@FASTCGI@"];
        fastcgi = fastcgi.left(fastcgi.indexOf("<httpProtocol>") < 0 ? fastcgi.size() : fastcgi.indexOf("<httpProtocol>"));
        f.values["@FASTCGI@"] = fastcgi + QString(R"(<httpProtocol><customHeaders><add name="X-Node" value="%1" /><add name="X-Release" value="%2" />)"
                                                  R"(</customHeaders></httpProtocol>)")
                                              .arg(name)
                                              .arg(release);
    }
    // As a deployment tool writes it: a new file renamed over the old one.
    void writeConfig()
    {
        f.s.config(f.text(), "next.config");
        QFile::remove(f.s.path("applicationHost.config"));
        ::rename(f.s.path("next.config").toUtf8().constData(), f.s.path("applicationHost.config").toUtf8().constData());
    }
    bool start()
    {
        writeConfig();
        process = std::make_unique<QProcess>();
        process->setProcessChannelMode(QProcess::MergedChannels);
        process->setStandardOutputFile(f.s.path(QString("lidod-%1.out").arg(++starts)));
        process->start(LIDO_BIN_DIR "/lidod", {"--config", f.s.path("applicationHost.config"), "--admin-socket", f.s.path("admin.sock"),
                                               "--threads", "2"});
        if (!process->waitForStarted(10000))
            return false;
        for (int i = 0; i < 200; ++i) {
            if (fetch(status, "/health").status == 200)
                return true;
            QThread::msleep(25);
        }
        return false;
    }
    void stop() // SIGINT: at once, without the drain delay SIGTERM has
    {
        if (process && process->state() != QProcess::NotRunning) {
            ::kill(pid_t(process->processId()), SIGINT);
            if (!process->waitForFinished(20000))
                process->kill();
        }
    }
    testsupport::Run ctl(const QStringList& args) { return testsupport::lidoctl(QStringList{"--connect", f.s.path("admin.sock")} + args); }
    // The c-ip of every request the access log holds.
    QStringList clientAddresses() const
    {
        QStringList out;
        for (const QString& file : QDir(f.s.path("logs/W3SVC1")).entryList({"u_ex*.log"})) {
            qsizetype column = -1, fields = 0;
            for (const QByteArray& line : f.s.read("logs/W3SVC1/" + file).split('\n')) {
                if (line.startsWith("#Fields: ")) {
                    column = line.mid(9).split(' ').indexOf("c-ip");
                    fields = line.mid(9).split(' ').size();
                } else if (!line.startsWith('#') && column >= 0 && line.split(' ').size() == fields) { // not a line being written
                    out << QString::fromUtf8(line.split(' ').value(column));
                }
            }
        }
        return out;
    }

    EngineFixture f;
    QString name;
    uint16_t status;
    int starts = 0;
    std::unique_ptr<QProcess> process;
};

// What HAProxy thinks of each server: its runtime API's "show stat" (name -> UP, DOWN, ...).
std::map<QString, QString> haproxyStates(const QString& socket)
{
    std::map<QString, QString> out;
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket.toUtf8().constData(), sizeof a.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return out;
    }
    static const char command[] = "show stat\n";
    (void)::write(fd, command, sizeof command - 1);
    QByteArray text;
    char buf[8192];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) // HAProxy closes after its answer
        text.append(buf, n);
    ::close(fd);
    QList<QByteArray> lines = text.split('\n');
    if (lines.isEmpty())
        return out;
    QList<QByteArray> header = lines.front().mid(2).split(',');
    qsizetype sv = header.indexOf("svname"), st = header.indexOf("status"), px = header.indexOf("pxname");
    for (const QByteArray& l : lines.mid(1)) {
        QList<QByteArray> c = l.split(',');
        if (c.size() > st && c.value(px) == "lido" && c.value(sv) != "BACKEND")
            out[QString::fromUtf8(c[sv])] = QString::fromUtf8(c[st]);
    }
    return out;
}

// Requests through the load balancer, from 127.0.0.2 on keep-alive connections, until stopped:
// every one that does not come back 200 is a failure.
struct Load {
    explicit Load(uint16_t port, int clients = 4)
    {
        for (int i = 0; i < clients; ++i)
            threads.emplace_back([this, port] {
                std::unique_ptr<Client> c;
                while (!done) {
                    if (!c || !c->connected())
                        c = std::make_unique<Client>(port, kClientAddress);
                    bool sent = c->send(getRequest(requests++ % 3 == 0 ? "/app/hello" : "/node.txt"));
                    Response r = sent ? c->read(20000) : Response{};
                    std::lock_guard lock(mutex);
                    ++total;
                    if (r.status != 200 || !r.complete) {
                        ++failed;
                        failures << QString("status %1 after %2 requests").arg(r.status).arg(total);
                        c.reset();
                        continue;
                    }
                    ++byNode[QString::fromStdString(r.header("x-node"))];
                    ++byRelease[QString::fromStdString(r.header("x-release"))];
                    if (r.header("connection") == "close")
                        c.reset();
                }
            });
    }
    void stop()
    {
        done = true;
        for (auto& t : threads)
            t.join();
        threads.clear();
    }
    ~Load() { stop(); }
    std::map<QString, int> nodes()
    {
        std::lock_guard lock(mutex);
        return byNode;
    }
    std::map<QString, int> releases()
    {
        std::lock_guard lock(mutex);
        return byRelease;
    }

    std::atomic<bool> done{false};
    std::atomic<uint64_t> requests{0};
    std::mutex mutex;
    uint64_t total = 0, failed = 0;
    QStringList failures;
    std::map<QString, int> byNode, byRelease;
    std::vector<std::thread> threads;
};

// A helper process that goes with the test, however it ends.
struct Reaped {
    QProcess& p;
    ~Reaped()
    {
        if (p.state() != QProcess::NotRunning) {
            p.kill();
            p.waitForFinished(5000);
        }
    }
};

QJsonArray prometheusQuery(uint16_t port, const QString& query)
{
    Response r = fetch(port, "/api/v1/query?query=" + QString::fromUtf8(QUrl::toPercentEncoding(query)));
    return QJsonDocument::fromJson(r.body).object()["data"].toObject()["result"].toArray();
}

} // namespace

class tst_Farm : public QObject {
    Q_OBJECT
private slots:
    void rollingChangeAndRestartsBehindHaproxyLoseNoRequest()
    {
        if (!have("haproxy") || !have("prometheus"))
            QSKIP("haproxy and prometheus are Debian packages scripts/deps.sh installs");
        std::vector<std::unique_ptr<Node>> nodes;
        for (int n = 1; n <= 3; ++n) {
            nodes.push_back(std::make_unique<Node>(n));
            QVERIFY2(nodes.back()->start(), qPrintable(nodes.back()->f.s.read("lidod-1.out")));
        }

        testsupport::Scratch s;
        uint16_t front = freePort();
        QString servers;
        for (auto& n : nodes)
            servers += QString("    server %1 127.0.0.1:%2 send-proxy-v2 check port %3\n").arg(n->name).arg(n->f.port).arg(n->status);
        // The README's "Running a farm" shows this file.
        s.write("haproxy.cfg", QString(R"(global
    stats socket %1 mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend web
    bind 127.0.0.1:%2
    default_backend lido
backend lido
    balance roundrobin
    option httpchk GET /health
    http-check expect status 200
    default-server inter 250ms fall 2 rise 2
%3)")
                                   .arg(s.path("haproxy.sock"))
                                   .arg(front)
                                   .arg(servers)
                                   .toUtf8());
        QProcess haproxy;
        haproxy.setProcessChannelMode(QProcess::MergedChannels);
        haproxy.start(tool("haproxy"), {"-db", "-f", s.path("haproxy.cfg")});
        QVERIFY(haproxy.waitForStarted());
        Reaped haproxyGoes{haproxy};
        auto allUp = [&] {
            auto st = haproxyStates(s.path("haproxy.sock"));
            return st.size() == 3 && std::all_of(st.begin(), st.end(), [](auto& p) { return p.second == "UP"; });
        };
        QTRY_VERIFY_WITH_TIMEOUT(allUp(), 15000);

        // Prometheus scrapes the three status listeners, each with its server label.
        uint16_t prom = freePort();
        QString targets;
        for (auto& n : nodes)
            targets += QString("      - targets: ['127.0.0.1:%1']\n        labels: {server: %2}\n").arg(n->status).arg(n->name);
        QFile::copy(LIDO_SOURCE_DIR "/resources/prometheus/lido-alerts.yml", s.path("lido-alerts.yml"));
        s.write("prometheus.yml", QString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - lido-alerts.yml\n"
                                          "scrape_configs:\n  - job_name: lido\n    static_configs:\n%1")
                                      .arg(targets)
                                      .toUtf8());
        QProcess prometheus;
        prometheus.setProcessChannelMode(QProcess::MergedChannels);
        prometheus.setStandardOutputFile(s.path("prometheus.out"));
        prometheus.start(tool("prometheus"), {"--config.file=" + s.path("prometheus.yml"), "--storage.tsdb.path=" + s.path("tsdb"),
                                              "--web.listen-address=127.0.0.1:" + QString::number(prom)});
        QVERIFY(prometheus.waitForStarted());
        Reaped prometheusGoes{prometheus};

        Load load(front);
        QTRY_VERIFY_WITH_TIMEOUT(load.nodes().size() == 3, 10000); // round robin reaches every node

        // 1. A configuration change, one node at a time: drain, change the file, undrain.
        QElapsedTimer roll;
        roll.start();
        for (auto& n : nodes) {
            QCOMPARE(n->ctl({"drain"}).exitCode, 0);
            QTRY_COMPARE_WITH_TIMEOUT(haproxyStates(s.path("haproxy.sock"))[n->name], QString("DOWN"), 10000);
            QString before = n->ctl({"status"}).out;
            n->setRelease(2);
            n->writeConfig();
            QTRY_VERIFY_WITH_TIMEOUT(n->ctl({"status"}).out.split('\n').value(0) != before.split('\n').value(0), 10000); // a new hash
            QCOMPARE(n->ctl({"undrain"}).exitCode, 0);
            QTRY_COMPARE_WITH_TIMEOUT(haproxyStates(s.path("haproxy.sock"))[n->name], QString("UP"), 10000);
        }
        qint64 rollMs = roll.elapsed();
        uint64_t afterRoll = load.requests;

        // 2. Each node restarts in turn: SIGTERM drains for drainDelay (HAProxy sees 503 and moves
        // away), then it stops accepting and its in-flight requests finish.
        QElapsedTimer restarts;
        restarts.start();
        for (auto& n : nodes) {
            n->process->terminate();
            QTRY_COMPARE_WITH_TIMEOUT(haproxyStates(s.path("haproxy.sock"))[n->name], QString("DOWN"), 10000);
            QVERIFY(n->process->waitForFinished(20000));
            QCOMPARE(n->process->exitStatus(), QProcess::NormalExit);
            QCOMPARE(n->process->exitCode(), 0);
            QVERIFY(n->start());
            QTRY_COMPARE_WITH_TIMEOUT(haproxyStates(s.path("haproxy.sock"))[n->name], QString("UP"), 10000);
        }
        qint64 restartMs = restarts.elapsed();
        std::map<QString, int> releasesBefore = load.releases();
        QTRY_VERIFY_WITH_TIMEOUT(load.nodes().size() == 3, 5000);
        load.stop();

        qInfo("through HAProxy: %llu requests, %llu failed; rolling change over 3 nodes %lld ms (%llu requests), restarts %lld ms (%llu requests)",
              static_cast<unsigned long long>(load.total), static_cast<unsigned long long>(load.failed), static_cast<long long>(rollMs),
              static_cast<unsigned long long>(afterRoll), static_cast<long long>(restartMs),
              static_cast<unsigned long long>(load.requests - afterRoll));
        QVERIFY2(load.failed == 0, qPrintable(load.failures.mid(0, 10).join("; ")));
        QVERIFY(load.total > 100);
        QVERIFY(releasesBefore.count("1") && releasesBefore.count("2")); // both releases served, none refused

        // Every node logged the client's own address from the PROXY header, never HAProxy's.
        for (auto& n : nodes) {
            QTRY_VERIFY_WITH_TIMEOUT(n->clientAddresses().size() > 10, 5000);
            QStringList seen = n->clientAddresses();
            seen.removeDuplicates();
            QVERIFY2(seen == QStringList{kClientAddress}, qPrintable(seen.join(", ")));
        }

        // Prometheus found every node's pool, each with its own server label, and a configuration per node.
        QJsonArray up;
        QTRY_VERIFY_WITH_TIMEOUT((up = prometheusQuery(prom, "lido_pool_up")).size() == 3, 30000);
        QSet<QString> servers3;
        for (const QJsonValue& v : up) {
            servers3 << v.toObject()["metric"].toObject()["server"].toString();
            QCOMPARE(v.toObject()["value"].toArray().at(1).toString(), QString("1"));
        }
        QCOMPARE(servers3, (QSet<QString>{"n1", "n2", "n3"}));
        QJsonArray hashes = prometheusQuery(prom, "count by (hash) (lido_config_version_info)");
        QCOMPARE(hashes.size(), 3); // each node's file names its node: three configurations
        QJsonArray rules = QJsonDocument::fromJson(fetch(prom, "/api/v1/rules").body).object()["data"].toObject()["groups"].toArray();
        QCOMPARE(rules.size(), 1);
        for (const QJsonValue& r : rules[0].toObject()["rules"].toArray())
            QVERIFY2(r.toObject()["health"].toString() == "ok", qPrintable(r.toObject()["name"].toString()));
        prometheus.terminate();
        prometheus.waitForFinished(10000);
        haproxy.terminate();
        haproxy.waitForFinished(10000);
    }

    void shippedPrometheusFilesPassPromtool()
    {
        if (!have("promtool"))
            QSKIP("promtool comes with Debian's prometheus package");
        for (const QStringList& args : {QStringList{"check", "rules", LIDO_SOURCE_DIR "/resources/prometheus/lido-alerts.yml"},
                                        QStringList{"check", "config", LIDO_SOURCE_DIR "/resources/prometheus/prometheus.yml"},
                                        QStringList{"test", "rules", LIDO_SOURCE_DIR "/resources/prometheus/lido-alerts.test.yml"}}) {
            testsupport::Run r = testsupport::run(tool("promtool"), args);
            QVERIFY2(r.exitCode == 0, qPrintable(args.join(' ') + ": " + r.out + r.err));
        }
    }

    void sigtermDrainsBeforeItStops()
    {
        Node n(1);
        n.f.values["@LIDO@"] = QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /><shutdown drainDelay="00:00:30" /></lido>)").arg(n.status);
        n.f.values["@BINDATTRS@"] = "";
        QVERIFY(n.start());
        QVERIFY(::kill(pid_t(n.process->processId()), SIGTERM) == 0);
        QTRY_COMPARE_WITH_TIMEOUT(fetch(n.status, "/health").status, 503, 5000);
        Response h = fetch(n.status, "/health");
        QVERIFY2(h.body.startsWith("draining (SIGTERM: stopping in 00:00:30)"), h.body.constData());
        QCOMPARE(fetch(n.f.port, "/hello.txt").status, 200); // it serves on while the balancer moves away
        QCOMPARE(n.process->state(), QProcess::Running);
        // A second SIGTERM does not wait for the rest of the delay.
        QVERIFY(::kill(pid_t(n.process->processId()), SIGTERM) == 0);
        QVERIFY(n.process->waitForFinished(10000));
        QCOMPARE(n.process->exitCode(), 0);
        QByteArray out = n.f.s.read("lidod-1.out");
        QVERIFY2(out.contains("a second signal: stopping without the rest of the drain delay"), out.constData());
    }

    void asPid1ItReapsOrphansAndStopsOnSigterm()
    {
        if (::geteuid() != 0 || !have("unshare"))
            QSKIP("a PID namespace needs root (unshare --pid)");
        EngineFixture f;
        // A CGI script that leaves a background process behind: an orphan for PID 1 to reap.
        f.s.write("www/cgi-bin/orphan.cgi", "#!/bin/sh\n( sleep 0.3; echo done >> " + f.s.path("shared/orphans").toUtf8() +
                                                " ) > /dev/null 2>&1 &\nprintf 'Content-Type: text/plain\\r\\n\\r\\nleft one behind\\n'\n");
        QFile::setPermissions(f.s.path("www/cgi-bin/orphan.cgi"), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadOther |
                                                                        QFile::ExeOther | QFile::ReadGroup | QFile::ExeGroup);
        QString config = f.s.config(f.text());
        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        if (qEnvironmentVariableIsSet("LIDO_FARM_NO_INIT")) // to see this test fail without the reaper: zombies stay
            p.setProcessEnvironment([] { auto e = QProcessEnvironment::systemEnvironment(); e.insert("LIDO_NO_INIT", "1"); return e; }());
        p.start(tool("unshare"), {"--pid", "--fork", "--mount-proc", LIDO_BIN_DIR "/lidod", "--config", config, "--admin-socket", "none",
                                  "--threads", "2"});
        QVERIFY(p.waitForStarted());
        Reaped namespaceGoes{p};
        QTRY_COMPARE_WITH_TIMEOUT(fetch(f.port, "/hello.txt").status, 200, 10000);
        // The namespace's PID 1 (the child of unshare) is lidod's init; the engine is its child.
        auto children = [](qint64 pid) {
            QFile file(QString("/proc/%1/task/%1/children").arg(pid));
            return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()).split(' ', Qt::SkipEmptyParts) : QStringList();
        };
        pid_t init = 0;
        QTRY_VERIFY_WITH_TIMEOUT((init = children(p.processId()).value(0).toInt()) > 0, 5000);
        for (int i = 0; i < 5; ++i)
            QCOMPARE(fetch(f.port, "/cgi-bin/orphan.cgi").body, QByteArray("left one behind\n"));
        QTRY_COMPARE_WITH_TIMEOUT(f.s.read("shared/orphans").count("done"), 5, 10000);
        // No zombie is left among PID 1's children: the orphans were reaped.
        auto zombies = [&] {
            int z = 0;
            for (const QString& child : children(init)) {
                QFile stat("/proc/" + child + "/stat");
                if (stat.open(QIODevice::ReadOnly)) {
                    QByteArray st = stat.readAll();
                    z += st.mid(st.lastIndexOf(')') + 2, 1) == "Z";
                }
            }
            return z;
        };
        QTRY_COMPARE_WITH_TIMEOUT(zombies(), 0, 5000);
        QCOMPARE(children(init).size(), 1); // the engine alone

        QVERIFY(::kill(init, SIGTERM) == 0); // as a container runtime stops it
        QVERIFY(p.waitForFinished(20000));
        QCOMPARE(p.exitCode(), 0);
        QByteArray out = p.readAll();
        QVERIFY2(out.contains("PID 1: the engine runs as pid") && out.contains("stopping on SIGTERM"), out.constData());
    }
};

QTEST_GUILESS_MAIN(tst_Farm)
#include "tst_farm.moc"
