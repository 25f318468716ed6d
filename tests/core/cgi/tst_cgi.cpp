// CGI against a real engine and real programs: meta-variables, redirects, NPH, misbehaving
// programs explained, timeouts, client aborts, the load case from the IIS articles, identities.
#include "EngineSupport.h"

#include <csignal>
#include <grp.h>
#include <pwd.h>
#include <thread>


static std::map<QString, QString> envOf(const QByteArray& body)
{
    std::map<QString, QString> m;
    for (const QByteArray& line : body.split('\n')) {
        qsizetype eq = line.indexOf('=');
        if (eq > 0)
            m[QString::fromUtf8(line.left(eq))] = QString::fromUtf8(line.mid(eq + 1));
    }
    return m;
}


static bool processGone(pid_t pid, int waitMs)
{
    for (int i = 0; i < waitMs / 50; ++i) {
        if (::kill(pid, 0) != 0)
            return true;
        QThread::msleep(50);
    }
    return ::kill(pid, 0) != 0;
}

class tst_Cgi : public QObject {
    Q_OBJECT
    std::unique_ptr<EngineFixture> f;

private slots:
    void initTestCase()
    {
        f = std::make_unique<EngineFixture>();
        f->values["@CGITIMEOUT@"] = "00:00:01";
        // The interpreters' scripts are not about timeouts: perl's start took over a second once
        // on a loaded machine (a 502 in CI), so they get IIS's own per-path cgi timeout.
        f->values["@LIDO@"] = R"(<location path="Main/cgi-bin/hello.pl"><system.webServer><cgi timeout="00:00:30" /></system.webServer></location>
            <location path="Main/cgi-bin/hello.sh"><system.webServer><cgi timeout="00:00:30" /></system.webServer></location>)";
        QVERIFY(f->start());
    }
    void cleanupTestCase() { f.reset(); }

    void metaVariables()
    {
        Response r = fetch(f->port, "/cgi-bin/helper.cgi/extra/path?env&x=%3Bid",
                           "Proxy: http://evil.example:3128\r\nX_Real_Ip: 6.6.6.6\r\nX-Real-Ip: 10.1.1.1\r\nUser-Agent: tst\r\n");
        QCOMPARE(r.status, 200);
        auto env = envOf(r.body);
        QCOMPARE(env["GATEWAY_INTERFACE"], QString("CGI/1.1"));
        QCOMPARE(env["SCRIPT_NAME"], QString("/cgi-bin/helper.cgi"));
        QCOMPARE(env["PATH_INFO"], QString("/extra/path"));
        QCOMPARE(env["PATH_TRANSLATED"], f->s.path("www/extra/path"));
        QCOMPARE(env["SCRIPT_FILENAME"], f->s.path("www/cgi-bin/helper.cgi"));
        QCOMPARE(env["QUERY_STRING"], QString("env&x=%3Bid")); // passed as it is: never through a shell
        QCOMPARE(env["REQUEST_URI"], QString("/cgi-bin/helper.cgi/extra/path?env&x=%3Bid"));
        QCOMPARE(env["SERVER_PORT"], QString::number(f->port));
        QCOMPARE(env["REMOTE_ADDR"], QString("127.0.0.1"));
        QCOMPARE(env["HTTP_USER_AGENT"], QString("tst"));
        QCOMPARE(env["HTTP_X_REAL_IP"], QString("10.1.1.1"));
        QVERIFY(!env.count("HTTP_PROXY"));
        // A clean environment: nothing of the engine's own leaks in.
        QVERIFY(!env.count("HOME"));
        QVERIFY(!env.count("QT_QPA_PLATFORM"));
    }

    void shellAndPerlScripts()
    {
        auto executable = QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadOther | QFile::ExeOther;
        f->s.write("www/cgi-bin/hello.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nprintf 'sh says %s\\n' \"$QUERY_STRING\"\n");
        QFile::setPermissions(f->s.path("www/cgi-bin/hello.sh"), executable);
        f->s.write("www/cgi-bin/hello.pl", "#!/usr/bin/perl\nprint \"Content-Type: text/plain\\r\\n\\r\\n\";\n"
                                           "print \"perl says $ENV{REQUEST_METHOD} $ENV{PATH_INFO}\\n\";\n");
        QFile::setPermissions(f->s.path("www/cgi-bin/hello.pl"), executable);
        Response sh = fetch(f->port, "/cgi-bin/hello.sh?$(touch%20/tmp/lido-pwned);`id`");
        QCOMPARE(sh.status, 200);
        QCOMPARE(sh.body, QByteArray("sh says $(touch%20/tmp/lido-pwned);`id`\n"));
        QVERIFY(!QFile::exists("/tmp/lido-pwned"));
        Response pl = fetch(f->port, "/cgi-bin/hello.pl/x/y");
        QVERIFY2(pl.status == 200, pl.body.constData()); // the page says why (once seen: 502 under a loaded suite)
        QCOMPARE(pl.body, QByteArray("perl says GET /x/y\n"));
    }

    void statusLocationAndNph()
    {
        Response r = fetch(f->port, "/cgi-bin/helper.cgi?status=418");
        QCOMPARE(r.status, 418);
        QCOMPARE(r.body, QByteArray("status 418\n"));
        r = fetch(f->port, "/cgi-bin/helper.cgi?redirect=http://example.org/x");
        QCOMPARE(r.status, 302);
        QCOMPARE(r.header("location"), std::string("http://example.org/x"));
        r = fetch(f->port, "/cgi-bin/helper.cgi?redirect=/hello.txt");
        QCOMPARE(r.status, 200); // RFC 3875 §6.2.2: a local redirect is served by the server
        QCOMPARE(r.body, QByteArray("Hello, Lido!\n"));
        Client c(f->port);
        c.send(getRequest("/cgi-bin/nph-helper.cgi?status=201"));
        QByteArray raw = c.readAll();
        QVERIFY(raw.startsWith("Status: 201 Custom Reason\r\n")); // NPH: the program's bytes, untouched
    }

    void bigBodyStreams()
    {
        Response r = fetch(f->port, "/cgi-bin/helper.cgi?big=1000000");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body.size(), 1000000);
        QCOMPARE(r.header("transfer-encoding"), std::string("chunked"));
        QVERIFY(r.complete);
    }

    void postBodyReachesStdin()
    {
        QByteArray body(50000, 'p');
        Response r = fetch(f->port, "/cgi-bin/helper.cgi?echo", "Content-Length: 50000\r\nContent-Type: text/plain\r\n" + QByteArray("\r\n") + body);
        // fetch appends the blank line itself; build the request by hand instead
        Client c(f->port);
        c.send("POST /cgi-bin/helper.cgi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n" + body);
        r = c.read();
        QCOMPARE(r.status, 200);
        QVERIFY(r.body.endsWith("[50000 bytes]\n"));
    }

    void misbehavingProgramsAreExplained_data()
    {
        QTest::addColumn<QString>("query");
        QTest::addColumn<QString>("expected"); // the event's sentence after the program's path
        QTest::newRow("exit before headers") << "exit=3"
                                             << " misbehaved: it closed its output before sending a complete set of headers; it exited with exit status 3 after";
        QTest::newRow("no blank line") << "nohdrend"
                                       << " misbehaved: it closed its output before sending a complete set of headers; it exited with exit status 0 after";
        QTest::newRow("partial header") << "partial"
                                        << " misbehaved: it closed its output before sending a complete set of headers; it exited with exit status 0 after";
        QTest::newRow("malformed") << "malformed" << " misbehaved: it sent malformed headers: line 1 has no ':' \"This is not a header\"; it";
    }
    void misbehavingProgramsAreExplained()
    {
        QFETCH(QString, query);
        QFETCH(QString, expected);
        size_t before = f->events("cgi.misbehaved").size();
        Response r = fetch(f->port, "/cgi-bin/helper.cgi?" + query);
        QCOMPARE(r.status, 502);
        auto events = f->events("cgi.misbehaved");
        QCOMPARE(events.size(), before + 1);
        QString sentence = QString::fromStdString(events.back().message);
        QString program = f->s.path("www/cgi-bin/helper.cgi");
        QVERIFY2(sentence.startsWith("CGI program " + program + expected), qPrintable(sentence));
        QVERIFY(r.body.contains(QByteArray("CGI program ") + program.toUtf8())); // detailed page: local client
        if (query == "exit=3")
            QVERIFY2(sentence.endsWith("stderr: \"helper: failing on purpose with status 3\""), qPrintable(sentence));
        QCOMPARE(fetch(f->port, "/cgi-bin/helper.cgi").status, 200); // and the next request works
    }

    void crashMidBodyTruncates()
    {
        Client c(f->port);
        c.send(getRequest("/cgi-bin/helper.cgi?crashbody"));
        Response r = c.read(5000);
        QCOMPARE(r.status, 200);
        QVERIFY(!r.complete); // no final chunk: the client can tell the body is cut short
        QVERIFY(c.closedByPeer());
        QTRY_VERIFY(!f->events("cgi.crashed").empty());
        QVERIFY(QString::fromStdString(f->events("cgi.crashed").back().message).contains("signal 6 (SIGABRT)"));
    }

    void timeoutKillsTheProgram()
    {
        QString pidFile = f->s.path("shared/hang.pid");
        Response r = fetch(f->port, "/cgi-bin/helper.cgi?pidfile=" + pidFile + "&hang");
        QCOMPARE(r.status, 502);
        QVERIFY(r.body.contains("did not finish within the cgi timeout (1 s)"));
        pid_t pid = pid_t(f->s.read("shared/hang.pid").trimmed().toInt());
        QVERIFY(pid > 0);
        QVERIFY(processGone(pid, 5000));
        QVERIFY(!f->events("cgi.timeout").empty());
    }

    void clientDisconnectKillsTheProgram()
    {
        QString pidFile = f->s.path("shared/gone.pid");
        {
            Client c(f->port);
            c.send(getRequest("/cgi-bin/helper.cgi?pidfile=" + pidFile + "&sleep=100000"));
            QTRY_VERIFY(f->s.read("shared/gone.pid").trimmed().toInt() > 0);
        } // the client goes away
        pid_t pid = pid_t(f->s.read("shared/gone.pid").trimmed().toInt());
        QVERIFY(processGone(pid, 5000));
    }

    void stderrIsLoggedRateLimited()
    {
        size_t before = f->events("cgi.stderr").size();
        Response r = fetch(f->port, "/cgi-bin/helper.cgi?flood=200");
        QCOMPARE(r.status, 200);
        QTRY_VERIFY(f->events("cgi.stderr").size() > before);
        size_t logged = f->events("cgi.stderr").size() - before;
        QVERIFY2(logged <= 10, qPrintable(QString::number(logged))); // 10 per 10 s per program
        QCOMPARE(QString::fromStdString(f->events("cgi.stderr")[before].message), QString("flood line 0"));
    }

    void spawnFailureIsExplained()
    {
        f->s.write("www/cgi-bin/broken.cgi", "#!/nonexistent/interpreter\n");
        QFile::setPermissions(f->s.path("www/cgi-bin/broken.cgi"), QFile::ReadOwner | QFile::ExeOwner | QFile::ReadOther | QFile::ExeOther);
        Response r = fetch(f->port, "/cgi-bin/broken.cgi");
        QCOMPARE(r.status, 502);
        auto events = f->events("cgi.spawn-failed");
        QVERIFY(!events.empty());
        QCOMPARE(QString::fromStdString(events.back().message),
                 "CGI program " + f->s.path("www/cgi-bin/broken.cgi") + " could not be started: exec " + f->s.path("www/cgi-bin/broken.cgi") +
                     ": No such file or directory");
    }
};

class tst_CgiLoad : public QObject {
    Q_OBJECT
private slots:
    void heavyLoadQueuesInsteadOfFailing()
    {
        // KB921484: 200 concurrent requests to a program that takes 50 ms, 8 may run at once.
        EngineFixture f;
        f.values["@CGIMAX@"] = "8";
        QVERIFY(f.start());
        auto responses = concurrently(f.port, "/cgi-bin/helper.cgi?sleep=50", 200);
        int ok = 0;
        for (const Response& r : responses)
            ok += r.status == 200 && r.complete && r.body == "hello from the CGI helper\n";
        QCOMPARE(ok, 200);
        // The last response may reach the client a moment before the program's exit is counted.
        QTRY_COMPARE(f.engine->snapshot().cgi.front().completed, uint64_t(200));
        auto m = f.engine->snapshot().cgi.front();
        QCOMPARE(m.pool, std::string("web"));
        QVERIFY(m.maxQueued > 100); // they waited instead of failing
        QCOMPARE(m.rejected, uint64_t(0));
        QCOMPARE(m.misbehaving, uint64_t(0));
    }

    void pastTheQueueComes503NotA502()
    {
        EngineFixture f;
        f.values["@CGIMAX@"] = "4";
        f.values["@CGIQUEUE@"] = "10";
        QVERIFY(f.start());
        auto responses = concurrently(f.port, "/cgi-bin/helper.cgi?sleep=200", 60);
        int ok = 0, busy = 0, other = 0;
        for (const Response& r : responses) {
            if (r.status == 200)
                ++ok;
            else if (r.status == 503 && r.header("retry-after") == "5")
                ++busy;
            else
                ++other;
        }
        QCOMPARE(other, 0);
        QVERIFY(ok >= 14);
        QVERIFY(busy >= 1);
        QCOMPARE(f.engine->snapshot().cgi.front().rejected, uint64_t(busy));
    }

    void queueWaitTimesOut()
    {
        EngineFixture f;
        f.values["@CGIMAX@"] = "1";
        f.values["@CGIWAIT@"] = "00:00:01";
        QVERIFY(f.start());
        auto responses = concurrently(f.port, "/cgi-bin/helper.cgi?sleep=1500", 2);
        // Either may get the slot first (two engine threads accept them): one runs, one times out.
        std::sort(responses.begin(), responses.end(), [](const Response& a, const Response& b) { return a.status < b.status; });
        QCOMPARE(responses[0].status, 200);
        QCOMPARE(responses[1].status, 503);
        QVERIFY(responses[1].body.contains("waited longer than the pool's queue timeout"));
    }
};

class tst_CgiIdentities : public QObject {
    Q_OBJECT
    static bool ensureUser(const char* name)
    {
        if (::getpwnam(name))
            return true;
        return QProcess::execute("useradd", {"--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name}) == 0;
    }

private slots:
    void programsRunAsTheirPoolsIdentity()
    {
        if (::geteuid() != 0)
            QSKIP("switching identities needs root (CI runs as root)");
        QVERIFY(ensureUser("lido-test-a"));
        QVERIFY(ensureUser("lido-test-b"));
        EngineFixture f;
        QDir(f.s.path()).mkpath("www/b/cgi-bin");
        QFile::copy(f.s.path("www/cgi-bin/helper.cgi"), f.s.path("www/b/cgi-bin/helper.cgi"));
        f.values["@USER@"] = "lido-test-a";
        f.values["@POOLS@"] = R"(<add name="b"><processModel userName="lido-test-b" /></add>)";
        f.values["@APPS@"] = R"(<application path="/b" applicationPool="b"><virtualDirectory path="/" physicalPath="@DIR@/www/b" /></application>)";
        QVERIFY(f.start());
        uid_t ua = ::getpwnam("lido-test-a")->pw_uid; // getpwnam's result is overwritten by the next call
        uid_t ub = ::getpwnam("lido-test-b")->pw_uid;
        // Many at once, under two identities: each runs as its own, none fails to start.
        std::vector<std::unique_ptr<Client>> clients;
        for (int i = 0; i < 40; ++i) {
            clients.push_back(std::make_unique<Client>(f.port));
            clients.back()->send(getRequest(i % 2 ? "/b/cgi-bin/helper.cgi?id" : "/cgi-bin/helper.cgi?id"));
        }
        for (int i = 0; i < 40; ++i) {
            Response r = clients[size_t(i)]->read(20000);
            QCOMPARE(r.status, 200);
            QVERIFY2(r.body.startsWith(QByteArray("uid=") + QByteArray::number(i % 2 ? ub : ua) + " "), r.body.constData());
        }
        // A program that fails during start-up under an identity is reported with its status and stderr.
        Response bad = fetch(f.port, "/b/cgi-bin/helper.cgi?exit=7");
        QCOMPARE(bad.status, 502);
        QString sentence = QString::fromStdString(f.events("cgi.misbehaved").back().message);
        QVERIFY2(sentence.contains("exited with exit status 7"), qPrintable(sentence));
        QVERIFY2(sentence.contains("stderr: \"helper: failing on purpose with status 7\""), qPrintable(sentence));
    }

    void processLimitIsRetriedNotFailed()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to switch to a user with a process limit");
        QVERIFY(ensureUser("lido-test-a"));
        // RLIMIT_NPROC=1 for the pool's user: while programs run, the next exec fails with EAGAIN;
        // the engine retries with back-off instead of answering 502.
        EngineFixture f;
        f.values["@USER@"] = "lido-test-a";
        QVERIFY(f.start());
        f.engine->stop(std::chrono::milliseconds(100));
        QString t = f.text().replace("<processModel userName=\"lido-test-a\" />",
                                      "<processModel userName=\"lido-test-a\" maxUserProcesses=\"1\" />");
        QString file = f.s.config(t);
        auto config = lido::config::loadConfig(file.toStdString());
        QVERIFY(config && (*config)->valid());
        f.engine = std::make_unique<lido::engine::Engine>(lido::engine::EngineOptions{2, {}, false, {}});
        QVERIFY(f.engine->start(*config));
        // The kernel refuses a user's exec once it runs more than RLIMIT_NPROC processes.
        // Three at once, 150 ms each: the third waits at most ~300 ms, well inside the 630 ms of
        // back-off the engine allows.
        auto responses = concurrently(f.port, "/cgi-bin/helper.cgi?sleep=150", 3);
        for (const Response& r : responses)
            QCOMPARE(r.status, 200);
        QVERIFY(f.engine->snapshot().cgi.front().spawnRetries >= 1);
    }
};

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    int status = 0;
    {
        tst_Cgi t;
        status |= QTest::qExec(&t, argc, argv);
    }
    {
        tst_CgiLoad t;
        status |= QTest::qExec(&t, argc, argv);
    }
    {
        tst_CgiIdentities t;
        status |= QTest::qExec(&t, argc, argv);
    }
    return status;
}
#include "tst_cgi.moc"
