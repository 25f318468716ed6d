// The admin channel end to end: a real lidod, driven by the real lidoctl and by raw NDJSON on its
// Unix socket; systemd's notify protocol; SIGHUP; no application process outlives a SIGKILLed lidod.
#include "EngineSupport.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <thread>
#include <QThread>
#include <csignal>
#include <poll.h>
#include <pwd.h>
#include <sys/un.h>
#include <sys/wait.h>

using testsupport::lidoctl;
using testsupport::Run;

// One raw connection to the admin socket: lines in, lines out.
class Raw {
public:
    explicit Raw(const QString& path)
    {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.toUtf8().constData(), sizeof a.sun_path - 1);
        ok = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Raw() { ::close(fd_); }
    QJsonObject ask(const QByteArray& line)
    {
        QByteArray out = line + "\n";
        if (::write(fd_, out.constData(), size_t(out.size())) != out.size())
            return {};
        return QJsonDocument::fromJson(readLine()).object();
    }
    QByteArray readLine()
    {
        for (;;) {
            qsizetype nl = buffer_.indexOf('\n');
            if (nl >= 0) {
                QByteArray line = buffer_.left(nl);
                buffer_.remove(0, nl + 1);
                return line;
            }
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0)
                return {};
            char chunk[65536];
            ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n <= 0)
                return {};
            buffer_.append(chunk, n);
        }
    }
    bool ok = false;

private:
    int fd_ = -1;
    QByteArray buffer_;
};

static void helperPool(EngineFixture& f, const QString& poolAttributes = {})
{
    f.values["@POOLS@"] = "<add name=\"app\"" + poolAttributes + " />";
    f.values["@APPS@"] = R"(<application path="/app" applicationPool="app"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" maxInstances=\"2\" /></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"App\" path=\"*.app\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi\" />";
}

// Running (a zombie waiting for whoever inherited it is not).
static bool alive(pid_t pid)
{
    if (::kill(pid, 0) != 0)
        return false;
    QFile stat(QString("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    QByteArray line = stat.readAll();
    qsizetype close = line.lastIndexOf(')');
    return close < 0 || line.mid(close + 2, 1) != "Z";
}

class tst_Admin : public QObject {
    Q_OBJECT
private slots:
    void statusAndPoolControlThroughLidoctl()
    {
        EngineFixture f;
        helperPool(f);
        Lidod d(f);
        QCOMPARE(fetch(f.port, "/app/x.app").status, 200);

        Run status = d.ctl({"status"});
        QCOMPARE(status.exitCode, 0);
        QVERIFY2(QRegularExpression("\\napp +Started +0 busy/1 idle/1 +0 ").match(status.out).hasMatch(), qPrintable(status.out));
        QVERIFY2(QRegularExpression("\\nMain +Started ").match(status.out).hasMatch(), qPrintable(status.out));

        Run json = d.ctl({"status", "--json"});
        QCOMPARE(json.exitCode, 0);
        QJsonObject snap = QJsonDocument::fromJson(json.out.toUtf8()).object();
        QJsonObject pool = snap["fastcgi"].toArray().first().toObject();
        QCOMPARE(pool["pool"].toString(), QString("app"));
        QCOMPARE(pool["completed"].toInt(), 1);
        pid_t instance = pid_t(pool["instances"].toArray().first().toObject()["pid"].toInt());
        QVERIFY(alive(instance));

        Run stop = d.ctl({"stop", "pool", "app"});
        QCOMPARE(stop.exitCode, 0);
        QCOMPARE(stop.out, QString("pool app: stopped\n"));
        QCOMPARE(fetch(f.port, "/app/x.app").status, 503);
        QTRY_VERIFY(d.ctl({"status"}).out.contains("stopped by the administrator"));
        QTRY_VERIFY(!alive(instance));

        QCOMPARE(d.ctl({"start", "pool", "app"}).exitCode, 0);
        QTRY_COMPARE(fetch(f.port, "/app/x.app").status, 200);
        QCOMPARE(d.ctl({"recycle", "pool", "app"}).out, QString("pool app: recycled\n"));

        Run unknown = d.ctl({"stop", "pool", "nosuch"});
        QCOMPARE(unknown.exitCode, 1);
        QCOMPARE(unknown.err, QString("lidoctl: stop pool nosuch: no application pool 'nosuch'\n"));

        Run events = d.ctl({"events"});
        QCOMPARE(events.exitCode, 0);
        QVERIFY2(events.out.contains("lido-test-fcgi): pool app stopped: stopped by the administrator"), qPrintable(events.out));
    }

    // lidoctl requests while one runs; lidoctl traces and one trace in full, over the admin channel
    // of a real lidod (whose log folder is its default: here lido/log in the file).
    void requestsAndTracesThroughLidoctl()
    {
        EngineFixture f;
        helperPool(f);
        f.values["@APPS@"] += "<traceFailedRequestsLogging enabled=\"true\" />";
        f.values["@FASTCGI@"] += R"(<tracing><traceFailedRequests><add path="*.app"><failureDefinitions statusCodes="500-599" /></add>)"
                                 R"(</traceFailedRequests></tracing>)";
        f.values["@LIDO@"] = "<lido><log directory=\"" + f.s.path("lidolog") + "\" /></lido>";
        Lidod d(f);
        QTRY_COMPARE(d.ctl({"requests"}).out, QString("no request is running\n")); // (Lidod's own readiness check may still be on the board)
        Response slow;
        std::thread client([&] { slow = fetch(f.port, "/app/report.app?sleep=3000"); });
        Run running;
        QTRY_VERIFY((running = d.ctl({"requests", "app"})).out.contains("waiting for the application"));
        QVERIFY2(QRegularExpression("ms +waiting for the application +app +127\\.0\\.0\\.1 +[0-9]+ +GET /app/report\\.app\\?sleep=3000 +Main")
                     .match(running.out)
                     .hasMatch(),
                 qPrintable(running.out));
        QCOMPARE(d.ctl({"requests", "other"}).out, QString("no request of application pool other is running\n"));
        Run json = d.ctl({"requests", "--json"});
        QJsonArray list = QJsonDocument::fromJson(json.out.toUtf8()).array();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list[0].toObject()["phase"].toString(), QString("waiting"));
        QVERIFY(list[0].toObject()["pid"].toInt() > 0);
        client.join();
        QCOMPARE(slow.status, 200);

        QCOMPARE(d.ctl({"traces"}).out.contains("no traces kept"), true);
        QCOMPARE(fetch(f.port, "/app/broken.app?stderr=disk-full").status, 500);
        Run traces;
        QTRY_VERIFY((traces = d.ctl({"traces"})).out.contains("/app/broken.app"));
        QVERIFY2(traces.out.contains("W3SVC1/fr000001") && traces.out.contains("status 500 is in statusCodes"), qPrintable(traces.out));
        QVERIFY(QFile::exists(f.s.path("lidolog/FailedReqLogFiles/W3SVC1/fr000001.json")));
        Run one = d.ctl({"traces", "W3SVC1/fr000001"});
        QCOMPARE(one.exitCode, 0);
        QVERIFY2(one.out.contains("GET /app/broken.app?stderr=disk-full") && one.out.contains("pool app, handler App (FastCgiModule)") &&
                     one.out.contains("stderr:\ndisk-full") && one.out.contains("waiting for the application"),
                 qPrintable(one.out));
        Run missing = d.ctl({"traces", "W3SVC1/fr000099"});
        QCOMPARE(missing.exitCode, 1);
        QVERIFY2(missing.err.contains("no trace fr000099"), qPrintable(missing.err));
        QCOMPARE(d.ctl({"traces", "--site", "Other"}).out.contains("no traces kept"), true);
    }

    // IIS's way: a stopped application pool takes all of its applications offline, whatever
    // serves them (static files and CGI here, no FastCGI at all), and lidoctl lists every pool.
    void aStoppedApplicationPoolTakesItsApplicationsOffline()
    {
        EngineFixture f;
        Lidod d(f);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi").status, 200);
        Run status = d.ctl({"status"});
        QVERIFY2(QRegularExpression("\\nweb +Started +.* +0/8 ").match(status.out).hasMatch(), qPrintable(status.out));

        QCOMPARE(d.ctl({"stop", "pool", "web"}).out, QString("pool web: stopped\n"));
        for (const char* path : {"/hello.txt", "/cgi-bin/helper.cgi", "/sub/"}) {
            Response r = fetch(f.port, path);
            QCOMPARE(r.status, 503);
            QCOMPARE(r.header("retry-after"), std::string("60"));
            QVERIFY2(r.body.contains("application pool &#39;web&#39; is stopped: stopped by the administrator") ||
                         r.body.contains("application pool 'web' is stopped: stopped by the administrator"),
                     r.body.constData());
        }
        status = d.ctl({"status"});
        QVERIFY2(QRegularExpression("\\nweb +Stopped ").match(status.out).hasMatch(), qPrintable(status.out));
        QVERIFY2(status.out.contains("stopped by the administrator: its applications answer 503"), qPrintable(status.out));
        QJsonObject snap = QJsonDocument::fromJson(d.ctl({"status", "--json"}).out.toUtf8()).object();
        QCOMPARE(snap["cgi"].toArray().first().toObject()["stopped"].toBool(), true);

        // A configuration change keeps it stopped; starting it brings every application back.
        f.values["@CGIMAX@"] = "6";
        f.s.config(f.text());
        QCOMPARE(d.ctl({"reload"}).exitCode, 0);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 503);
        QCOMPARE(d.ctl({"start", "pool", "web"}).exitCode, 0);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi").status, 200);
        QVERIFY(d.ctl({"events"}).out.contains("application pool web stopped by the administrator: its applications answer 503"));
    }

    // lidoctl bridge: the admin channel over standard input and output, as ssh -T runs it.
    void bridgeRelaysTheChannel()
    {
        EngineFixture f;
        Lidod d(f);
        Run r = testsupport::lidoctl({"--connect", d.socket, "bridge"}, "{\"id\":1,\"op\":\"sites\"}\n{\"id\":2,\"op\":\"fly\"}\n");
        QCOMPARE(r.exitCode, 0);
        QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        QJsonObject first = QJsonDocument::fromJson(lines[0].toUtf8()).object();
        QCOMPARE(first["id"].toInt(), 1);
        QCOMPARE(first["result"].toArray().first().toObject()["name"].toString(), QString("Main"));
        QJsonObject second = QJsonDocument::fromJson(lines[1].toUtf8()).object();
        QCOMPARE(second["ok"].toBool(), false);
        QVERIFY(second["error"].toString().contains("unknown operation 'fly'"));
        // A last line without its newline (printf '...' | lidoctl bridge) is answered too.
        Run unterminated = testsupport::lidoctl({"--connect", d.socket, "bridge"}, "{\"id\":7,\"op\":\"sites\"}");
        QCOMPARE(unterminated.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(unterminated.out.trimmed().toUtf8()).object()["id"].toInt(), 7);
        Run none = testsupport::lidoctl({"--connect", f.s.path("nothing.sock"), "bridge"}, "{}\n");
        QCOMPARE(none.exitCode, 2);
        QVERIFY2(none.err.contains("no engine is running"), qPrintable(none.err));
    }

    void eventsFollow()
    {
        EngineFixture f;
        helperPool(f);
        Lidod d(f);
        QProcess follow;
        follow.start(testsupport::lidoctlPath(), {"--connect", d.socket, "events", "--follow"});
        QVERIFY(follow.waitForStarted());
        QByteArray out;
        QTRY_VERIFY((out += follow.readAllStandardOutput()).contains("admin channel on")); // the past first
        QCOMPARE(d.ctl({"stop", "pool", "app"}).exitCode, 0);
        // ...then what happens, as it happens (the stream sends once a second).
        QTRY_VERIFY_WITH_TIMEOUT((out += follow.readAllStandardOutput()).contains("pool app stopped: stopped by the administrator"), 5000);
        follow.kill();
        follow.waitForFinished();
    }

    void sitesStartAndStop()
    {
        EngineFixture f;
        Lidod d(f);
        QCOMPARE(d.ctl({"stop", "site", "Main"}).out, QString("site Main: stopped\n"));
        QTRY_COMPARE(fetch(f.port, "/hello.txt").status, 0); // its only binding closed
        QVERIFY(d.ctl({"status"}).out.contains("Stopped: stopped by the administrator"));
        QCOMPARE(d.ctl({"start", "site", "Main"}).exitCode, 0);
        QTRY_COMPARE(fetch(f.port, "/hello.txt").status, 200);
        Run bad = d.ctl({"recycle", "site", "Main"});
        QCOMPARE(bad.exitCode, 1);
        QCOMPARE(bad.err, QString("lidoctl: a site is started or stopped, not recycled\n"));
    }

    void reloadAppliesAndRefuses()
    {
        EngineFixture f;
        Lidod d(f, {"--no-watch"});
        uint16_t second = freePort();
        f.values["@SITES@"] = QString(R"(<site name="Second" id="2"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www/sub" /></application>)"
                                      R"(<bindings><binding protocol="http" bindingInformation="127.0.0.1:%1:" /></bindings></site>)").arg(second);
        f.s.config(f.text());
        Run reload = d.ctl({"reload"});
        QCOMPARE(reload.exitCode, 0);
        QCOMPARE(reload.out, QString("added: sites/site[@name='Second']\n"));
        QCOMPARE(fetch(second, "/").status, 200);

        f.values["@SITES@"] = "<site name=\"Broken\" id=\"x\" />";
        f.s.config(f.text());
        Run refused = d.ctl({"reload"});
        QCOMPARE(refused.exitCode, 1);
        QVERIFY2(refused.err.startsWith("lidoctl: reload: " + d.file + ":"), qPrintable(refused.err));
        QCOMPARE(fetch(second, "/").status, 200); // the last good configuration keeps serving
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QVERIFY(d.ctl({"events"}).out.contains("configuration not applied (admin request)"));
    }

    void sighupReloads()
    {
        EngineFixture f;
        Lidod d(f, {"--no-watch"});
        f.values["@ERRORMODE@"] = "Custom";
        f.s.config(f.text());
        ::kill(d.pid(), SIGHUP);
        QTRY_VERIFY(d.ctl({"events"}).out.contains("SIGHUP: httpErrors/@errorMode: DetailedLocalOnly -> Custom"));
    }

    void malformedJsonKeepsTheConnection()
    {
        EngineFixture f;
        Lidod d(f);
        Raw raw(d.socket);
        QVERIFY(raw.ok);
        QJsonObject bad = raw.ask("{\"op\": snapshot");
        QCOMPARE(bad["ok"].toBool(), false);
        QVERIFY2(bad["error"].toString().startsWith("malformed JSON: "), qPrintable(bad["error"].toString()));
        QJsonObject unknown = raw.ask(R"({"id":7,"op":"fly"})");
        QCOMPARE(unknown["id"].toInt(), 7);
        QVERIFY(unknown["error"].toString().startsWith("unknown operation 'fly'"));
        QJsonObject ok = raw.ask(R"({"id":8,"op":"sites"})"); // the same connection still answers
        QCOMPARE(ok["ok"].toBool(), true);
        QCOMPARE(ok["result"].toArray().first().toObject()["name"].toString(), QString("Main"));
        QJsonObject config = raw.ask(R"({"id":9,"op":"config"})");
        QCOMPARE(config["result"].toObject()["path"].toString(), d.file);
        QVERIFY(config["result"].toObject()["text"].toString().contains("<site name=\"Main\" id=\"1\">"));
        QJsonObject valid = raw.ask(R"({"id":10,"op":"validate"})");
        QCOMPARE(valid["result"].toObject()["valid"].toBool(), true);
        // A subscription streams snapshots (and events) once a second.
        QCOMPARE(raw.ask(R"({"id":11,"op":"subscribe"})")["result"].toString(), QString("subscribed"));
        bool sawSnapshot = false;
        for (int i = 0; i < 5 && !sawSnapshot; ++i)
            sawSnapshot = QJsonDocument::fromJson(raw.readLine()).object()["stream"].toString() == "snapshot";
        QVERIFY(sawSnapshot);
    }

    void noEngineAndPermissionDenied()
    {
        EngineFixture f;
        Run none = lidoctl({"--connect", f.s.path("nobody.sock"), "status"});
        QCOMPARE(none.exitCode, 2);
        QCOMPARE(none.err, "lidoctl: no engine is running at " + f.s.path("nobody.sock") + " (start lidod, or pass --connect SOCKET)\n");
        if (::geteuid() != 0)
            QSKIP("switching to another user needs root");
        Lidod d(f);
        QCOMPARE(QFileInfo(d.socket).permissions() & (QFile::ReadOther | QFile::WriteOther | QFile::ReadGroup | QFile::WriteGroup),
                 QFile::Permissions());
        passwd* nobody = ::getpwnam("nobody");
        QVERIFY(nobody);
        uid_t uid = nobody->pw_uid;
        gid_t gid = nobody->pw_gid;
        auto asNobody = [&](const QString& socket) {
            QProcess p;
            p.setChildProcessModifier([uid, gid] {
                (void)!::setgid(gid);
                (void)!::setuid(uid);
            });
            p.start(testsupport::lidoctlPath(), {"--connect", socket, "status"});
            p.waitForFinished(10000);
            return std::make_pair(p.exitCode(), QString::fromUtf8(p.readAllStandardError()));
        };
        ::chmod(f.s.path().toUtf8().constData(), 0755);
        auto denied = asNobody(d.socket);
        QCOMPARE(denied.first, 2);
        QCOMPARE(denied.second, "lidoctl: permission denied: " + d.socket + " may be used by root\n");
        // Even with the socket's mode loosened, the engine checks who is asking (SO_PEERCRED).
        ::chmod(d.socket.toUtf8().constData(), 0666);
        auto refused = asNobody(d.socket);
        QCOMPARE(refused.first, 1);
        QVERIFY2(refused.second.startsWith(QString("lidoctl: permission denied: uid %1 is not the engine's user").arg(uid)), qPrintable(refused.second));
    }

    void systemdNotify()
    {
        EngineFixture f;
        QString path = f.s.path("notify.sock");
        int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.toUtf8().constData(), sizeof a.sun_path - 1);
        QVERIFY(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        auto next = [fd] {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 10000) <= 0)
                return QString();
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            return QString::fromUtf8(buf, n > 0 ? n : 0);
        };
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("NOTIFY_SOCKET", path);
        {
            Lidod d(f, {"--no-watch"}, env);
            QCOMPARE(next(), QString("READY=1\nSTATUS=1 site serving, 0 FastCGI pools"));
            ::kill(d.pid(), SIGHUP);
            QVERIFY(next().startsWith("RELOADING=1\nMONOTONIC_USEC="));
            QCOMPARE(next(), QString("READY=1\nSTATUS=1 site serving, 0 FastCGI pools"));
            d.process.terminate();
            QCOMPARE(next(), QString("STOPPING=1"));
            QVERIFY(d.process.waitForFinished(10000));
        }
        ::close(fd);
    }

    void sigkillLeavesNoOrphans()
    {
        EngineFixture f;
        helperPool(f, " startMode=\"AlwaysRunning\"");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("RUNTIME_DIRECTORY", f.s.path("run")); // the instances' sockets, looked at below
        QVERIFY(QDir().mkpath(f.s.path("run")));
        Lidod d(f, {}, env);
        QJsonArray instances;
        QTRY_VERIFY((instances = QJsonDocument::fromJson(d.ctl({"status", "--json"}).out.toUtf8())
                                     .object()["fastcgi"].toArray().first().toObject()["instances"].toArray()).size() == 2);
        // A CGI program is running too.
        Client cgi(f.port);
        cgi.send(getRequest("/cgi-bin/helper.cgi?sleep=20000&pidfile=" + f.s.path("shared/cgi.pid")));
        QTRY_VERIFY(QFile::exists(f.s.path("shared/cgi.pid")) && QFileInfo(f.s.path("shared/cgi.pid")).size() > 0);
        QList<pid_t> pids;
        for (const auto& i : instances)
            pids << pid_t(i.toObject()["pid"].toInt());
        QFile pidFile(f.s.path("shared/cgi.pid"));
        QVERIFY(pidFile.open(QIODevice::ReadOnly));
        pids << pid_t(pidFile.readAll().trimmed().toInt());
        for (pid_t p : pids)
            QVERIFY(alive(p));
        const pid_t engine = d.pid();
        ::kill(engine, SIGKILL);
        QVERIFY(d.process.waitForFinished(5000));
        for (pid_t p : pids)
            QTRY_VERIFY2(!alive(p), qPrintable(QString("pid %1 outlived lidod").arg(p)));

        // The dead engine's sockets are still there; the next engine removes them as it starts,
        // and nothing else of the folder (a file that is not a socket, its own sockets).
        QString dead = QString("-%1-").arg(engine);
        QStringList left = QDir(f.s.path("run")).entryList({"*" + dead + "*.sock"}, QDir::System | QDir::Files);
        QCOMPARE(left.size(), 2);
        f.s.write("run/notes" + dead + "1-1.sock", "not a socket\n");
        Lidod again(f, {}, env);
        QTRY_VERIFY((instances = QJsonDocument::fromJson(again.ctl({"status", "--json"}).out.toUtf8())
                                     .object()["fastcgi"].toArray().first().toObject()["instances"].toArray()).size() == 2);
        QCOMPARE(QDir(f.s.path("run")).entryList({"*" + dead + "*.sock"}, QDir::System | QDir::Files), QStringList{"notes" + dead + "1-1.sock"});
        QCOMPARE(QDir(f.s.path("run")).entryList({QString("*-%1-*.sock").arg(again.pid())}, QDir::System | QDir::Files).size(), 2);
        QVERIFY2(again.ctl({"events"}).out.contains("2 FastCGI sockets left in " + f.s.path("run") + " by an engine that is no longer running removed"),
                 qPrintable(again.ctl({"events"}).out));
    }
};

QTEST_GUILESS_MAIN(tst_Admin)
#include "tst_admin.moc"
