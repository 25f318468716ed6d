// The engine's HTTP side against a real engine on 127.0.0.1: keep-alive, pipelining, chunked
// bodies, 100-continue, static files, limits, smuggling, traversal, timeouts, many connections.
#include "EngineSupport.h"

#include <csignal>
#include <sys/resource.h>


class tst_Http : public QObject {
    Q_OBJECT
    std::unique_ptr<EngineFixture> f;

private slots:
    void initTestCase()
    {
        rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl); // the idle-connection test holds 1,000 sockets (x2 ends)
        f = std::make_unique<EngineFixture>();
        f->values["@TIMEOUT@"] = "00:00:02";
        f->values["@APPS@"] = R"(<application path="/never" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" symlinks="Never" /></application>)";
        QVERIFY(f->start());
    }
    void cleanupTestCase() { f.reset(); }

    void staticFile()
    {
        Response r = fetch(f->port, "/hello.txt");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("Hello, Lido!\n"));
        QCOMPARE(r.header("content-type"), std::string("text/plain"));
        QCOMPARE(r.header("content-length"), std::string("13"));
        QCOMPARE(r.header("server"), std::string("Lido/0.1"));
        QVERIFY(!r.header("date").empty());
        QVERIFY(!r.header("etag").empty());
        QVERIFY(!r.header("last-modified").empty());
    }

    void headHasNoBody()
    {
        Client c(f->port);
        c.send(getRequest("/hello.txt", {}, "HEAD") + getRequest("/hello.txt"));
        Response head = c.read(5000, true);
        QCOMPARE(head.status, 200);
        QCOMPARE(head.header("content-length"), std::string("13"));
        Response get = c.read(); // the next response starts right after the head: no body bytes between
        QCOMPARE(get.status, 200);
        QCOMPARE(get.body, QByteArray("Hello, Lido!\n"));
    }

    void conditionalAndRanges()
    {
        Response r = fetch(f->port, "/big.txt");
        QCOMPARE(r.body.size(), 100000);
        QByteArray etag = QByteArray::fromStdString(r.header("etag"));
        QByteArray modified = QByteArray::fromStdString(r.header("last-modified"));
        QCOMPARE(fetch(f->port, "/big.txt", "If-None-Match: " + etag + "\r\n").status, 304);
        QCOMPARE(fetch(f->port, "/big.txt", "If-None-Match: \"other\"\r\n").status, 200);
        QCOMPARE(fetch(f->port, "/big.txt", "If-Modified-Since: " + modified + "\r\n").status, 304);
        Response part = fetch(f->port, "/big.txt", "Range: bytes=26-51\r\n");
        QCOMPARE(part.status, 206);
        QCOMPARE(part.body, QByteArray("abcdefghijklmnopqrstuvwxyz"));
        QCOMPARE(part.header("content-range"), std::string("bytes 26-51/100000"));
        Response tail = fetch(f->port, "/big.txt", "Range: bytes=-4\r\n");
        QCOMPARE(tail.status, 206);
        QCOMPARE(tail.body.size(), 4);
        Response bad = fetch(f->port, "/big.txt", "Range: bytes=200000-\r\n");
        QCOMPARE(bad.status, 416);
        QCOMPARE(bad.header("content-range"), std::string("bytes */100000"));
        QCOMPARE(fetch(f->port, "/big.txt", "Range: bytes=0-1\r\nIf-Range: \"stale\"\r\n").status, 200);
    }

    void directoriesAndDefaultDocuments()
    {
        Response r = fetch(f->port, "/sub?x=1");
        QCOMPARE(r.status, 301);
        QCOMPARE(r.header("location"), std::string("/sub/?x=1"));
        r = fetch(f->port, "/sub/");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("<p>sub index</p>\n"));
        QCOMPARE(fetch(f->port, "/missing.txt").status, 404);
        QCOMPARE(fetch(f->port, "/hello.txt", {}, "POST").status, 404); // the static mapping takes GET and HEAD only
    }

    void keepAliveAndPipelining()
    {
        Client c(f->port);
        QByteArray three = getRequest("/hello.txt") + getRequest("/sub/") + getRequest("/big.txt", "Range: bytes=0-2\r\n");
        QVERIFY(c.send(three)); // one write: three pipelined requests
        QCOMPARE(c.read().body, QByteArray("Hello, Lido!\n"));
        QCOMPARE(c.read().body, QByteArray("<p>sub index</p>\n"));
        QCOMPARE(c.read().body, QByteArray("abc"));
        QVERIFY(c.send(getRequest("/hello.txt"))); // the connection stays open
        QCOMPARE(c.read().status, 200);
        QVERIFY(c.send("GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        Response last = c.read();
        QCOMPARE(last.header("connection"), std::string("close"));
        QVERIFY(c.closedByPeer());
    }

    void http10()
    {
        Client c(f->port);
        c.send("GET /hello.txt HTTP/1.0\r\n\r\n");
        QByteArray all = c.readAll();
        QVERIFY(all.startsWith("HTTP/1.0 200 OK\r\n"));
        QVERIFY(all.endsWith("Hello, Lido!\n"));
    }

    void chunkedBodyAndContinue()
    {
        Client c(f->port);
        c.send("POST /cgi-bin/helper.cgi?echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        Response r = c.read();
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("hello world\n[11 bytes]\n"));

        Client e(f->port);
        e.send("POST /cgi-bin/helper.cgi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        Response cont = e.read();
        QCOMPARE(cont.status, 100);
        e.send("ping");
        Response done = e.read();
        QCOMPARE(done.status, 200);
        QCOMPARE(done.body, QByteArray("ping\n[4 bytes]\n"));
    }

    void traversalIsRefused_data()
    {
        QTest::addColumn<QString>("path");
        QTest::addColumn<int>("status");
        QTest::newRow("dot-dot") << "/../secret.txt" << 400;
        QTest::newRow("encoded dot-dot") << "/%2e%2e/secret.txt" << 400;
        QTest::newRow("mixed") << "/sub/..%2f..%2fsecret.txt" << 400;
        QTest::newRow("encoded slash") << "/sub%2findex.html" << 400;
        QTest::newRow("backslash") << "/sub%5c..%5csecret.txt" << 400;
        QTest::newRow("NUL") << "/hello.txt%00.html" << 400;
        QTest::newRow("bad escape") << "/hello%zz.txt" << 400;
        QTest::newRow("symlink out of the root (symlinks=Never)") << "/never/link.txt" << 403;
        QTest::newRow("dot segments inside stay inside") << "/sub/./index.html" << 200;
    }
    void traversalIsRefused()
    {
        QFETCH(QString, path);
        QFETCH(int, status);
        Client c(f->port);
        c.send(getRequest(path));
        Response r = c.read();
        QCOMPARE(r.status, status);
        QVERIFY(!r.body.contains("outside the root"));
    }

    void smugglingIsRefused_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::newRow("CL and TE") << QByteArray("POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        QTest::newRow("two CL") << QByteArray("POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde");
        QTest::newRow("bad CL") << QByteArray("POST /hello.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 4x\r\n\r\nabcd");
        QTest::newRow("obs-fold") << QByteArray("GET /hello.txt HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\n\r\n");
        QTest::newRow("no Host in 1.1") << QByteArray("GET /hello.txt HTTP/1.1\r\n\r\n");
        QTest::newRow("two Hosts") << QByteArray("GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        QTest::newRow("garbage") << QByteArray("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
        QTest::newRow("space in header name") << QByteArray("GET /hello.txt HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n");
    }
    void smugglingIsRefused()
    {
        QFETCH(QByteArray, request);
        Client c(f->port);
        c.send(request + getRequest("/hello.txt"));
        Response r = c.read();
        QCOMPARE(r.status, 400);
        QCOMPARE(r.header("connection"), std::string("close"));
        QVERIFY(c.closedByPeer()); // the smuggled second request is never answered
        QCOMPARE(fetch(f->port, "/hello.txt").status, 200); // and the engine goes on
    }

    void limits()
    {
        QCOMPARE(fetch(f->port, "/" + QString(1100, 'a')).status, 414);
        QCOMPARE(fetch(f->port, "/hello.txt?" + QString(600, 'q')).status, 414);
        QCOMPARE(fetch(f->port, "/hello.txt", "X-Big: " + QByteArray(20000, 'h') + "\r\n").status, 431);
        Client c(f->port);
        c.send("POST /cgi-bin/helper.cgi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n");
        Response r = c.read();
        QCOMPARE(r.status, 413);
        QVERIFY(c.closedByPeer());
        Client chunked(f->port);
        chunked.send("POST /cgi-bin/helper.cgi?echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        QByteArray chunk = "10000\r\n" + QByteArray(0x10000, 'z') + "\r\n";
        chunked.send(chunk);
        chunked.send(chunk);
        QCOMPARE(chunked.read().status, 413);
    }

    void slowHeadersGet408AndOthersAreServed()
    {
        // Slowloris: a byte every 300 ms never completes the header block within 2 s.
        Client slow(f->port);
        QByteArray req = getRequest("/hello.txt");
        auto started = std::chrono::steady_clock::now();
        bool answered = false;
        for (int i = 0; i < req.size() - 2 && !answered; ++i) {
            slow.send(req.mid(i, 1));
            QCOMPARE(fetch(f->port, "/hello.txt").status, 200); // everyone else is served meanwhile
            QThread::msleep(300);
            pollfd p{slow.fd(), POLLIN, 0};
            answered = ::poll(&p, 1, 0) > 0;
        }
        Response r = slow.read(5000);
        QCOMPARE(r.status, 408);
        QVERIFY(std::chrono::steady_clock::now() - started < std::chrono::seconds(6));
        QVERIFY(slow.closedByPeer());
    }

    void idleConnectionIsClosedQuietly()
    {
        Client c(f->port);
        QVERIFY(c.closedByPeer(5000)); // connectionTimeout 2 s
    }

    void thousandIdleConnections()
    {
        std::vector<std::unique_ptr<Client>> idle;
        for (int i = 0; i < 1000; ++i) {
            idle.push_back(std::make_unique<Client>(f->port));
            QVERIFY(idle.back()->connected());
        }
        Response r = fetch(f->port, "/hello.txt");
        QCOMPARE(r.status, 200);
        // The kernel completes connections before the engine accepts them: wait for the count.
        QTRY_VERIFY(f->engine->snapshot().sites.front().openConnections >= 1000);
        idle.clear();
    }

    void unknownHostAndErrorPages()
    {
        Response r = fetch(f->port, "/missing.txt");
        QCOMPARE(r.status, 404);
        QVERIFY(r.body.contains("no file /missing.txt")); // detailed: the client is local
        QCOMPARE(r.header("content-type"), std::string("text/html; charset=utf-8"));
    }

    void accessLogAndMetrics()
    {
        QCOMPARE(fetch(f->port, "/hello.txt?from=log", "User-Agent: tst http\r\n").status, 200);
        QTest::qWait(1200); // the access log is flushed once a second
        QDir logs(f->s.path("logs/W3SVC1"));
        QStringList files = logs.entryList({"u_ex*.log"});
        QCOMPARE(files.size(), 1);
        QByteArray log = f->s.read("logs/W3SVC1/" + files.first());
        QVERIFY(log.startsWith("#Software: Lido 0.1\n#Version: 1.0\n#Date: "));
        // IIS 10's default fields, and the bytes sent.
        QVERIFY(log.contains("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
                             "sc-status sc-substatus sc-win32-status sc-bytes time-taken\n"));
        QVERIFY2(log.contains(" 127.0.0.1 GET /hello.txt from=log " + QByteArray::number(f->port) + " - 127.0.0.1 tst+http - 200 0 0 "), log.constData());
        auto site = f->engine->snapshot().sites.front();
        QVERIFY(site.requests > 20);
        QVERIFY(site.status2xx > 10);
        QVERIFY(site.status4xx > 5);
        QCOMPARE(site.state, std::string("Started"));
        QVERIFY(!f->engine->history().empty());
    }
};

class tst_HttpConfigured : public QObject {
    Q_OBJECT
private slots:
    void hostHeadersPickTheSite()
    {
        EngineFixture f;
        QDir(f.s.path()).mkpath("other");
        f.s.write("other/hello.txt", "other site\n");
        f.values["@SITES@"] = QString(R"(<site name="Other" id="2"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/other" /></application>
            <bindings><binding protocol="http" bindingInformation="127.0.0.1:@PORT@:other.example" /></bindings></site>)");
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/hello.txt").body, QByteArray("Hello, Lido!\n"));
        Client c(f.port);
        c.send("GET /hello.txt HTTP/1.1\r\nHost: Other.Example:80\r\n\r\n");
        QCOMPARE(c.read().body, QByteArray("other site\n"));
    }

    void errorDetailsOnlyWhenConfigured()
    {
        EngineFixture f;
        f.values["@ERRORMODE@"] = "Custom";
        QVERIFY(f.start());
        Response r = fetch(f.port, "/missing.txt");
        QCOMPARE(r.status, 404);
        QVERIFY(!r.body.contains("no file"));
        QVERIFY(r.body.contains("HTTP Error 404 - Not Found"));
    }

    void symlinksOutsideWhenConfigured()
    {
        EngineFixture f;
        f.values["@APPS@"] = R"(<application path="/open" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" followSymlinksOutside="true" /></application>)"
                             R"(<application path="/never" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" symlinks="Never" /></application>)";
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/never/link.txt").status, 403); // symlinks="Never": refused
        Response r = fetch(f.port, "/open/link.txt");           // the same folder, configured to follow
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("outside the root\n"));
        QCOMPARE(fetch(f.port, "/link.txt").status, 200); // IfOwnerMatch (the default): link and file have one owner
        QCOMPARE(fetch(f.port, "/open/../secret.txt").status, 400); // ".." stays refused
    }

    void maxConnections()
    {
        EngineFixture f;
        f.values["@MAXCONN@"] = "2";
        QVERIFY(f.start());
        Client a(f.port), b(f.port);
        for (Client* c : {&a, &b}) { // served once, so surely accepted and counted
            c->send(getRequest("/hello.txt"));
            QCOMPARE(c->read().status, 200);
        }
        Response third = fetch(f.port, "/hello.txt");
        QCOMPARE(third.status, 503);
        QCOMPARE(third.header("retry-after"), std::string("5"));
        a.send(getRequest("/hello.txt")); // the two admitted keep being served
        QCOMPARE(a.read().status, 200);
    }

    void bindFailureIsReported()
    {
        EngineFixture first;
        QVERIFY(first.start());
        EngineFixture second;
        second.values["@PORT@"] = QString::number(first.port);
        // SO_REUSEPORT would let a second engine of the same user share the port: bind a plain
        // socket instead to make the address really busy.
        EngineFixture third;
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(third.port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        QCOMPARE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        QCOMPARE(::listen(fd, 1), 0);
        QVERIFY(!third.start());
        ::close(fd);
        auto events = third.events("site.bind-failed");
        QCOMPARE(events.size(), size_t(1));
        QCOMPARE(QString::fromStdString(events[0].message),
                 QString("site Main cannot serve: cannot bind 127.0.0.1:%1: Address already in use").arg(third.port));
        QVERIFY(third.engine->snapshot().sites.front().state.rfind("Failed: cannot bind", 0) == 0);
    }

    void lidodStopsGracefullyOnSigterm()
    {
        EngineFixture f;
        QString file = f.s.config(f.text());
        QProcess lidod;
        lidod.start(LIDO_BIN_DIR "/lidod", {"--config", file});
        QVERIFY(lidod.waitForStarted());
        Response r;
        for (int i = 0; i < 50 && r.status != 200; ++i) {
            QThread::msleep(50);
            r = fetch(f.port, "/hello.txt");
        }
        QCOMPARE(r.status, 200);
        // A slow CGI request is in flight when SIGTERM comes: it still completes.
        Client c(f.port);
        c.send(getRequest("/cgi-bin/helper.cgi?sleep=500"));
        QThread::msleep(100);
        ::kill(pid_t(lidod.processId()), SIGTERM);
        Response slow = c.read();
        QCOMPARE(slow.status, 200);
        QVERIFY(lidod.waitForFinished(10000));
        QCOMPARE(lidod.exitStatus(), QProcess::NormalExit);
        QCOMPARE(lidod.exitCode(), 0);
        QVERIFY(lidod.readAllStandardError().contains("stopping on SIGTERM"));
    }
};

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    int status = 0;
    {
        tst_Http t;
        status |= QTest::qExec(&t, argc, argv);
    }
    {
        tst_HttpConfigured t;
        status |= QTest::qExec(&t, argc, argv);
    }
    return status;
}
#include "tst_http.moc"
