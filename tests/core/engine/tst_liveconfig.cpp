// Live configuration: Engine::apply() against a running engine with real FastCGI processes and
// real sockets. Only what changed is touched: the pids of untouched pools stay, a changed pool is
// replaced overlapped, bindings open and close alone, an invalid configuration changes nothing.
#include "EngineSupport.h"

#include "engine/ConfigReloader.h"

#include <QRegularExpression>
#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

// Two application pools, each serving one application with the FastCGI helper.
static void twoPools(EngineFixture& f, int bMaxCrashes = 5)
{
    f.values["@POOLS@"] = QString("<add name=\"a\" /><add name=\"b\"><failure rapidFailProtectionMaxCrashes=\"%1\" /></add>").arg(bMaxCrashes);
    f.values["@APPS@"] = R"(<application path="/a" applicationPool="a"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)"
                         R"(<application path="/b" applicationPool="b"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" /></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"App\" path=\"*.app\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi\" />";
}

static QByteArray pidOf(const Response& r) { return r.body.split(' ').first(); }

static lido::engine::PoolMetrics poolMetrics(EngineFixture& f, const std::string& pool)
{
    for (const auto& p : f.engine->snapshot().fastcgi)
        if (p.pool == pool)
            return p;
    return {};
}

// The unsafe writer of the IIS failure: truncate, then write in small chunks with pauses.
static void writeInPlace(const QString& path, const QByteArray& bytes, int pauseAfterHalfMs = 0)
{
    int fd = ::open(path.toUtf8().constData(), O_WRONLY | O_TRUNC);
    QVERIFY(fd >= 0);
    qsizetype chunk = 64 * 1024;
    for (qsizetype at = 0; at < bytes.size(); at += chunk) {
        QVERIFY(::write(fd, bytes.constData() + at, size_t(std::min(chunk, bytes.size() - at))) > 0);
        if (pauseAfterHalfMs && at < bytes.size() / 2 && at + chunk >= bytes.size() / 2)
            std::this_thread::sleep_for(std::chrono::milliseconds(pauseAfterHalfMs)); // torn for longer than the debounce
        else if (at / chunk % 16 == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::close(fd);
}

static void writeByRename(const QString& path, const QByteArray& bytes)
{
    QString temp = path + ".writing";
    QFile f(temp);
    QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    f.write(bytes);
    f.close();
    QVERIFY(::rename(temp.toUtf8().constData(), path.toUtf8().constData()) == 0);
}

class tst_LiveConfig : public QObject {
    Q_OBJECT
private slots:
    void onlyTheChangedPoolIsReplaced()
    {
        EngineFixture f;
        twoPools(f);
        QVERIFY(f.start());
        Response a1 = fetch(f.port, "/a/x.app?count");
        Response b1 = fetch(f.port, "/b/x.app?count");
        QCOMPARE(a1.status, 200);
        QCOMPARE(b1.status, 200);
        // A request to b is in flight while b changes: it finishes on the old instance.
        Client slow(f.port);
        slow.send(getRequest("/b/x.app?sleep=2500")); // metrics are published once a second
        QTRY_COMPARE(poolMetrics(f, "b").busy, 1);

        twoPools(f, 9);
        auto applied = f.apply();
        QVERIFY2(applied.ok(), applied.error().c_str());
        QCOMPARE(QString::fromStdString(*applied), QString("applicationPools/add[@name='b']/failure/@rapidFailProtectionMaxCrashes: 5 -> 9"));

        Response inFlight = slow.read();
        QCOMPARE(inFlight.status, 200);
        QCOMPARE(inFlight.body, QByteArray("hello from the FastCGI helper\n"));

        Response a2 = fetch(f.port, "/a/x.app?count");
        QCOMPARE(pidOf(a2), pidOf(a1)); // the same process...
        QVERIFY(a2.body.endsWith("served=2\n")); // ...on its kept connection
        QCOMPARE(poolMetrics(f, "a").completed, uint64_t(2)); // and the pool's counters kept counting

        Response b2 = fetch(f.port, "/b/x.app?count");
        QCOMPARE(b2.status, 200);
        QVERIFY(pidOf(b2) != pidOf(b1));
        QVERIFY(b2.body.endsWith("served=1\n"));
        pid_t old = pidOf(b1).mid(4).toInt();
        QTRY_VERIFY(::kill(old, 0) != 0); // the replaced instance stopped once its request was done

        QCOMPARE(f.events("config.applied").size(), size_t(1));
        QCOMPARE(QString::fromStdString(f.events("config.applied").front().message),
                 QString("configuration applied: applicationPools/add[@name='b']/failure/@rapidFailProtectionMaxCrashes: 5 -> 9"));
        QTRY_VERIFY(!f.events("pool.retired").empty());
    }

    void unchangedConfigurationIsANoOp()
    {
        EngineFixture f;
        twoPools(f);
        QVERIFY(f.start());
        Response a1 = fetch(f.port, "/a/x.app?count");
        auto applied = f.apply();
        QVERIFY(applied.ok());
        QCOMPARE(QString::fromStdString(*applied), QString("no changes"));
        QCOMPARE(pidOf(fetch(f.port, "/a/x.app?count")), pidOf(a1));
        QVERIFY(f.events("config.applied").empty());
    }

    // Handlers are tried in order: a change of order alone is a change, applied live.
    void handlerOrderIsApplied()
    {
        EngineFixture f;
        QString staticFirst = R"(<add name="TxtStatic" path="*.txt" verb="*" modules="StaticFileModule" resourceType="File" />)";
        QString cgiFirst = R"(<add name="TxtCgi" path="*.txt" verb="*" modules="CgiModule" />)";
        f.values["@HANDLERS@"] = staticFirst + cgiFirst;
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/hello.txt").body, QByteArray("Hello, Lido!\n"));
        f.values["@HANDLERS@"] = cgiFirst + staticFirst;
        auto applied = f.apply();
        QVERIFY2(applied.ok(), applied.ok() ? "" : applied.error().c_str());
        QCOMPARE(QString::fromStdString(*applied), QString("reordered: handlers: TxtStatic, TxtCgi, CGI, StaticFile -> TxtCgi, TxtStatic, CGI, StaticFile"));
        Response r = fetch(f.port, "/hello.txt");
        QCOMPARE(r.status, 403); // the CGI handler now: hello.txt is not executable
        QVERIFY2(r.body.contains("is not executable"), r.body.constData());
    }

    void invalidConfigurationKeepsServing()
    {
        EngineFixture f;
        twoPools(f);
        QVERIFY(f.start());
        Response before = fetch(f.port, "/a/x.app?count");
        f.values["@POOLS@"] = "<add name=\"a\" queueLength=\"lots\" /><add name=\"b\" />";
        auto applied = f.apply();
        QVERIFY(!applied.ok());
        QCOMPARE(QString::fromStdString(applied.error()), QString("the configuration has errors; the running configuration stays"));
        Response after = fetch(f.port, "/a/x.app?count");
        QCOMPARE(after.status, 200);
        QCOMPARE(pidOf(after), pidOf(before));
        QCOMPARE(fetch(f.port, "/hello.txt").body, QByteArray("Hello, Lido!\n"));
    }

    void bindingsOpenAndCloseAlone()
    {
        EngineFixture f;
        QVERIFY(f.start());
        Client kept(f.port); // a keep-alive connection on the binding that stays
        kept.send(getRequest("/hello.txt"));
        QCOMPARE(kept.read().status, 200);

        uint16_t second = freePort();
        f.values["@SITES@"] = QString(R"(<site name="Second" id="2"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www/sub" /></application>)"
                                      R"(<bindings><binding protocol="http" bindingInformation="127.0.0.1:%1:" /></bindings></site>)").arg(second);
        auto added = f.apply();
        QVERIFY2(added.ok(), added.error().c_str());
        QCOMPARE(QString::fromStdString(*added), QString("added: sites/site[@name='Second']"));
        Response sub = fetch(second, "/");
        QCOMPARE(sub.status, 200);
        QCOMPARE(sub.body, QByteArray("<p>sub index</p>\n"));
        kept.send(getRequest("/hello.txt"));
        QCOMPARE(kept.read().status, 200); // the first listener and its connection were not touched

        f.values["@SITES@"] = "";
        auto removed = f.apply();
        QVERIFY2(removed.ok(), removed.error().c_str());
        QCOMPARE(QString::fromStdString(*removed), QString("removed: sites/site[@name='Second']"));
        QTRY_COMPARE(fetch(second, "/").status, 0); // nobody listens there any more
        kept.send(getRequest("/hello.txt"));
        QCOMPARE(kept.read().status, 200);
        QCOMPARE(f.engine->snapshot().sites.size(), size_t(1));
        // The site's counters survived both applies (a request is counted once its response is out).
        QTRY_VERIFY(f.engine->snapshot().sites.front().requests >= 3);
    }

    // The seed's failure as a stress test: a 5 MB configuration rewritten 100 times, mostly the
    // unsafe way, sometimes left torn or invalid for longer than the debounce, while a client
    // keeps requesting every site. Nothing may fail and no torn or invalid version may be applied.
    void tornWritesAreNeverApplied()
    {
        EngineFixture f;
        const int siteCount = 40;
        QString sites, pads;
        for (int i = 0; i < siteCount; ++i)
            sites += QString(R"(<site name="s%1" id="%2"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" />)"
                             R"(</application><bindings><binding protocol="http" bindingInformation="127.0.0.1:@PORT@:s%1.test" /></bindings></site>)"
                             "\n")
                         .arg(i)
                         .arg(i + 10);
        QString comment(420, 'x');
        for (int i = 0; i < 11000; ++i)
            pads += QString("<add name=\"pad%1\" autoStart=\"true\"><!-- %2 --></add>\n").arg(i).arg(comment);
        f.values["@SITES@"] = sites;
        auto versionText = [&](const QString& queueLength) {
            f.values["@POOLS@"] = "<add name=\"version\" queueLength=\"" + queueLength + "\" />\n" + pads;
            return f.text().toUtf8();
        };
        f.values["@POOLS@"] = "<add name=\"version\" queueLength=\"10\" />\n" + pads; // queueLength: 10 at least
        QVERIFY(f.start());
        QString path = f.s.path("applicationHost.config");
        QVERIFY2(QFileInfo(path).size() > 5 * 1000 * 1000, qPrintable(QString::number(QFileInfo(path).size())));
        lido::engine::ConfigReloader reloader(*f.engine, path.toStdString(), std::chrono::milliseconds(50));
        QVERIFY(reloader.watch().ok());

        std::atomic<bool> done{false};
        std::atomic<int> served{0}, failed{0};
        std::thread load([&] {
            std::vector<std::unique_ptr<Client>> clients;
            for (int c = 0; c < 4; ++c)
                clients.push_back(std::make_unique<Client>(f.port));
            for (int i = 0; !done; ++i) {
                auto& c = clients[size_t(i % 4)];
                int site = i % (siteCount + 1); // the 40 host-named sites and Main (any other host)
                QByteArray host = site == siteCount ? QByteArray("127.0.0.1") : "s" + QByteArray::number(site) + ".test";
                QByteArray request = "GET /hello.txt HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
                Response r;
                if (c->send(request))
                    r = c->read(5000);
                if (r.status == 200 && r.body == "Hello, Lido!\n") {
                    ++served;
                } else {
                    ++failed;
                    c = std::make_unique<Client>(f.port);
                }
            }
        });

        QSet<int> validVersions;
        int version = 10;
        for (int round = 0; round < 100; ++round) {
            ++version;
            if (round % 10 == 3) {
                // Well-formed but invalid, left for a while; then a valid version.
                writeInPlace(path, versionText("oops"));
                std::this_thread::sleep_for(std::chrono::milliseconds(400));
                ++version;
            }
            QByteArray text = versionText(QString::number(version));
            validVersions.insert(version);
            if (round % 2)
                writeByRename(path, text);
            else
                writeInPlace(path, text, round % 7 == 0 ? 400 : 0);
            if (round % 3 == 0)
                std::this_thread::sleep_for(std::chrono::milliseconds(120)); // quiet long enough to be taken
        }
        const QByteArray finalText = versionText(QString::number(version));
        QTRY_VERIFY_WITH_TIMEOUT(f.engine->config()->text() == finalText.toStdString(), 20000);
        done = true;
        load.join();

        QCOMPARE(failed.load(), 0);
        QVERIFY(served > 100);
        // Every applied version is one the writer meant, whole and valid, in the order written.
        QRegularExpression applied("^configuration applied: applicationPools/add\\[@name='version'\\]/@queueLength: (\\d+) -> (\\d+)$");
        int last = 10;
        auto events = f.events("config.applied");
        QVERIFY(!events.empty());
        for (const auto& e : events) {
            auto m = applied.match(QString::fromStdString(e.message));
            QVERIFY2(m.hasMatch(), e.message.c_str());
            QCOMPARE(m.captured(1).toInt(), last);
            last = m.captured(2).toInt();
            QVERIFY2(validVersions.contains(last), e.message.c_str());
        }
        QCOMPARE(last, version);
        QVERIFY(reloader.rejectedCount() > 0); // torn and invalid versions were seen and refused
        qInfo("%d requests served, %zu versions applied, %llu refused", served.load(), events.size(),
              static_cast<unsigned long long>(reloader.rejectedCount()));
    }
};

QTEST_GUILESS_MAIN(tst_LiveConfig)
#include "tst_liveconfig.moc"
