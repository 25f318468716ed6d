// Live configuration: Engine::apply() against a running engine with real FastCGI processes and
// real sockets. Only what changed is touched: the pids of untouched pools stay, a changed pool is
// replaced overlapped, bindings open and close alone, an invalid configuration changes nothing.
#include "EngineSupport.h"

#include <csignal>

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
        auto sites = f.engine->snapshot().sites;
        QCOMPARE(sites.size(), size_t(1));
        QVERIFY(sites.front().requests >= 3); // the site's counters survived both applies
    }
};

QTEST_GUILESS_MAIN(tst_LiveConfig)
#include "tst_liveconfig.moc"
