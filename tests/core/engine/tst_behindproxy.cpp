// Lido behind a load balancer, against the real engine on loopback: /health and a site's
// healthPath (draining, a stopped site, FastCGI pools that are down), the PROXY protocol v1 and
// v2 on a binding that asks for it, X-Forwarded-For from trusted proxies only, ipSecurity on the
// client's address, and a stop that closes idle keep-alive connections at once.
#include "EngineSupport.h"

#include <QDir>
#include <thread>

namespace {

std::string rawV2(const unsigned char source[4], uint16_t sourcePort, uint16_t destinationPort)
{
    std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
    h += char(0x21); // version 2, PROXY
    h += char(0x11); // TCP over IPv4
    h += char(0);
    h += char(12);
    h.append(reinterpret_cast<const char*>(source), 4);
    h += std::string("\x7f\0\0\x01", 4);
    h += char(sourcePort >> 8), h += char(sourcePort & 0xff);
    h += char(destinationPort >> 8), h += char(destinationPort & 0xff);
    return h;
}

QByteArray envLine(const Response& r, const char* name)
{
    for (const QByteArray& l : r.body.split('\n'))
        if (l.startsWith(QByteArray(name) + "="))
            return l.mid(qsizetype(std::strlen(name)) + 1);
    return {};
}

Response send(uint16_t port, const QByteArray& bytes)
{
    Client c(port);
    if (!c.send(bytes))
        return {};
    return c.read(20000);
}

QByteArray accessLog(const EngineFixture& f)
{
    QString name = QDir(f.s.path("logs/W3SVC1")).entryList({"u_ex*.log"}).value(0);
    return name.isEmpty() ? QByteArray() : f.s.read("logs/W3SVC1/" + name);
}

} // namespace

class tst_BehindProxy : public QObject {
    Q_OBJECT
private slots:
    void healthAnswers503WhileDrainingAndRequestsGoOn()
    {
        EngineFixture f;
        uint16_t status = freePort();
        f.values["@LIDO@"] = QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /></lido>)").arg(status);
        QVERIFY(f.start());
        Response h = fetch(status, "/health");
        QCOMPARE(h.status, 200);
        QCOMPARE(h.body, QByteArray("serving\n"));
        QCOMPARE(h.header("cache-control"), std::string("no-store"));
        QCOMPARE(fetch(status, "/health/Main").status, 200);
        QCOMPARE(fetch(status, "/health/Nope").status, 404);

        f.engine->drain(true, "a test");
        h = fetch(status, "/health");
        QCOMPARE(h.status, 503);
        QCOMPARE(h.body, QByteArray("draining (a test)\n"));
        QCOMPARE(fetch(status, "/health/Main").status, 503);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200); // the load balancer moves away; nothing is refused
        QString metrics = QString::fromUtf8(fetch(status, "/metrics").body);
        QVERIFY(metrics.contains("lido_draining 1\n"));
        QVERIFY2(QRegularExpression("lido_config_version_info\\{hash=\"[0-9a-f]{16}\"\\} 1\n").match(metrics).hasMatch(), qPrintable(metrics));
        QVERIFY(metrics.contains("lido_build_info{version=\"0.1.0\"} 1\n"));
        QVERIFY(!f.events("engine.draining").empty());

        f.engine->drain(false, "a test");
        QCOMPARE(fetch(status, "/health").status, 200);
        QVERIFY(QString::fromUtf8(fetch(status, "/metrics").body).contains("lido_draining 0\n"));
    }

    void aSitesHealthPathFollowsItsPoolsAndState()
    {
        EngineFixture f;
        uint16_t status = freePort();
        f.values["@LIDO@"] = QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /></lido>)").arg(status);
        f.values["@SITEATTRS@"] = R"( healthPath="/.lido/health")";
        f.useFastCgiHelper();
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/app/hello").status, 200);
        Response h = fetch(f.port, "/.lido/health");
        QCOMPARE(h.status, 200);
        QCOMPARE(h.body, QByteArray("serving\n"));

        // Its application pool stopped: the site cannot serve its application, and says so.
        QVERIFY(f.engine->controlPool("web", lido::engine::PoolAction::Stop));
        QTRY_COMPARE_WITH_TIMEOUT(fetch(f.port, "/.lido/health").status, 503, 5000);
        h = fetch(f.port, "/.lido/health");
        QVERIFY2(h.body.contains("the application pool of every application is stopped (web: stopped by the administrator)"), h.body.constData());
        QCOMPARE(fetch(status, "/health/Main").status, 503);
        QCOMPARE(fetch(status, "/health").status, 200); // the engine itself serves
        QVERIFY(f.engine->controlPool("web", lido::engine::PoolAction::Start));
        QTRY_COMPARE_WITH_TIMEOUT(fetch(f.port, "/.lido/health").status, 200, 5000);

        f.engine->drain(true, "maintenance");
        QCOMPARE(fetch(f.port, "/.lido/health").status, 503);
        f.engine->drain(false, "maintenance");
        QCOMPARE(fetch(f.port, "/.lido/health").status, 200);
        QVERIFY2(!accessLog(f).contains("/.lido/health"), accessLog(f).constData()); // checks every second would drown the log
    }

    void aSiteThatCannotBindIsUnhealthy()
    {
        EngineFixture f;
        uint16_t status = freePort();
        // The port is taken by someone else: Main fails, the engine serves on.
        int busy = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(f.port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        QVERIFY(::bind(busy, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(busy, 1) == 0);
        f.values["@LIDO@"] = QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /></lido>)").arg(status);
        f.start();
        Response h = fetch(status, "/health/Main");
        QCOMPARE(h.status, 503);
        QVERIFY2(h.body.contains("site Main failed: cannot bind 127.0.0.1:" + QByteArray::number(f.port)), h.body.constData());
        ::close(busy);
    }

    void proxyProtocolNamesTheClient()
    {
        EngineFixture f;
        f.values["@BINDATTRS@"] = R"( proxyProtocol="true")";
        QVERIFY(f.start());
        QByteArray request = getRequest("/cgi-bin/helper.cgi?env");
        Response one = send(f.port, "PROXY TCP4 203.0.113.7 127.0.0.1 51234 " + QByteArray::number(f.port) + "\r\n" + request);
        QCOMPARE(one.status, 200);
        QCOMPARE(envLine(one, "REMOTE_ADDR"), QByteArray("203.0.113.7"));
        QCOMPARE(envLine(one, "REMOTE_PORT"), QByteArray("51234"));

        const unsigned char client[4] = {198, 51, 100, 9};
        Response two = send(f.port, QByteArray::fromStdString(rawV2(client, 4242, f.port)) + request);
        QCOMPARE(two.status, 200);
        QCOMPARE(envLine(two, "REMOTE_ADDR"), QByteArray("198.51.100.9"));

        // Keep-alive: the header names the client for every request of the connection.
        Client c(f.port);
        QVERIFY(c.send("PROXY TCP6 2001:db8::5 ::1 60000 80\r\n" + request));
        QCOMPARE(envLine(c.read(), "REMOTE_ADDR"), QByteArray("2001:db8::5"));
        QVERIFY(c.send(request));
        QCOMPARE(envLine(c.read(), "REMOTE_ADDR"), QByteArray("2001:db8::5"));

        // HAProxy's health check (v2 LOCAL): the socket's own peer.
        std::string local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
        Response check = send(f.port, QByteArray::fromStdString(local) + request);
        QCOMPARE(envLine(check, "REMOTE_ADDR"), QByteArray("127.0.0.1"));

        QTRY_VERIFY_WITH_TIMEOUT(accessLog(f).contains(" 203.0.113.7 ") && accessLog(f).contains(" 198.51.100.9 "), 5000);

        // No header on a binding that asks for one: dropped unanswered, and told (once in 10 s).
        Client plain(f.port);
        QVERIFY(plain.send(request));
        QVERIFY(plain.closedByPeer(5000));
        QVERIFY(plain.readAll(100).isEmpty());
        Client garbage(f.port);
        QVERIFY(garbage.send("PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n" + request));
        QVERIFY(garbage.closedByPeer(5000));
        auto told = f.events("proxy.header-invalid");
        QCOMPARE(told.size(), size_t(1));
        QVERIFY2(told[0].message.find("does not start with a PROXY protocol header") != std::string::npos &&
                     told[0].message.find("send-proxy") != std::string::npos,
                 told[0].message.c_str());
        QCOMPARE(fetch(f.port, "/hello.txt").status, 0); // plain clients are not served there
        QCOMPARE(send(f.port, "PROXY UNKNOWN\r\n" + getRequest("/hello.txt")).status, 200);
    }

    void forwardedForIsBelievedFromTrustedProxiesOnly()
    {
        QByteArray request = getRequest("/cgi-bin/helper.cgi?env", "X-Forwarded-For: 198.51.100.20, 203.0.113.9\r\n");
        {
            EngineFixture f;
            f.values["@LIDO@"] = R"(<lido><forwardedFor trustedProxies="127.0.0.1, 10.0.0.0/8" /></lido>)";
            QVERIFY(f.start());
            Response r = send(f.port, request);
            QCOMPARE(envLine(r, "REMOTE_ADDR"), QByteArray("203.0.113.9"));
            QCOMPARE(envLine(r, "HTTP_X_FORWARDED_FOR"), QByteArray("198.51.100.20, 203.0.113.9")); // passed on as it came
            QTRY_VERIFY_WITH_TIMEOUT(accessLog(f).contains(" 203.0.113.9 "), 5000);
        }
        {
            EngineFixture f;
            f.values["@LIDO@"] = R"(<lido><forwardedFor trustedProxies="10.0.0.0/8" /></lido>)";
            QVERIFY(f.start());
            QCOMPARE(envLine(send(f.port, request), "REMOTE_ADDR"), QByteArray("127.0.0.1")); // the peer is not trusted
        }
        {
            EngineFixture f; // nothing configured: nobody's header is believed
            QVERIFY(f.start());
            QCOMPARE(envLine(send(f.port, request), "REMOTE_ADDR"), QByteArray("127.0.0.1"));
        }
    }

    void ipSecurityJudgesTheClientsAddress()
    {
        EngineFixture f;
        f.values["@LIDO@"] = R"(<lido><forwardedFor trustedProxies="127.0.0.1" /></lido>)";
        f.values["@SECURITY@"] = R"(<ipSecurity allowUnlisted="true"><add ipAddress="203.0.113.0" subnetMask="255.255.255.0" allowed="false" /></ipSecurity>)";
        f.values["@ERRORMODE@"] = "Detailed"; // the client is not local now: DetailedLocalOnly would hide why
        QVERIFY(f.start());
        auto from = [&](const char* address) { return send(f.port, getRequest("/hello.txt", QByteArray("X-Forwarded-For: ") + address + "\r\n")); };
        Response denied = from("203.0.113.9");
        QCOMPARE(denied.status, 403);
        QVERIFY2(denied.body.contains("203.0.113.9 is denied by ipSecurity's rule 203.0.113.0/24"), denied.body.constData());
        QCOMPARE(from("198.51.100.1").status, 200);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QTRY_VERIFY_WITH_TIMEOUT(accessLog(f).contains("203.0.113.9 ") && accessLog(f).contains(" 403 503 "), 5000);

        // IIS's proxy mode: every address X-Forwarded-For names is judged, trusted or not.
        f.values["@LIDO@"] = "";
        f.values["@SECURITY@"] = R"(<ipSecurity enableProxyMode="true" denyAction="NotFound"><add ipAddress="203.0.113.9" allowed="false" /></ipSecurity>)";
        QVERIFY(f.apply());
        QCOMPARE(from("203.0.113.9").status, 404);
        QCOMPARE(from("198.51.100.1").status, 200);

        f.values["@SECURITY@"] = R"(<ipSecurity allowUnlisted="false" denyAction="AbortRequest"><add ipAddress="10.0.0.0" subnetMask="8" allowed="true" /></ipSecurity>)";
        QVERIFY(f.apply());
        Client c(f.port);
        QVERIFY(c.send(getRequest("/hello.txt")));
        QVERIFY(c.closedByPeer(5000)); // dropped without an answer
        QVERIFY(c.readAll(100).isEmpty());
    }

    void malformedSettingsNameTheLineAndAttribute()
    {
        EngineFixture f;
        f.values["@BINDATTRS@"] = R"( proxyProtocol="true")";
        f.values["@SITES@"] = QString(R"(<site name="Other" id="2"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
                <bindings><binding protocol="http" bindingInformation="127.0.0.1:%1:other" /></bindings></site>)").arg(f.port);
        f.values["@LIDO@"] = R"(<lido><forwardedFor trustedProxies="10.0.0.0/8, proxy.example" /></lido>)";
        f.values["@SECURITY@"] = R"(<ipSecurity><add ipAddress="203.0.113.0/24" /><add ipAddress="203.0.113.0" subnetMask="255.0.255.0" /></ipSecurity>)";
        auto config = lido::config::loadConfig(f.s.config(f.text()).toStdString());
        QVERIFY(config);
        QVERIFY(!(*config)->valid());
        QStringList errors;
        for (const auto& d : (*config)->diagnostics())
            if (d.severity == lido::config::Diagnostic::Severity::Error)
                errors << QString::fromStdString(d.str());
        QString all = errors.join('\n');
        QVERIFY2(all.contains("/@proxyProtocol") && all.contains("every binding of one address and port agrees"), qPrintable(all));
        QVERIFY2(all.contains("lido/forwardedFor/@trustedProxies") && all.contains("'proxy.example' is not an IP address"), qPrintable(all));
        QVERIFY2(all.contains("ipSecurity/add[@ipAddress='203.0.113.0/24']/@ipAddress") && all.contains("a subnet goes in subnetMask"), qPrintable(all));
        QVERIFY2(all.contains("/@subnetMask") && all.contains("'255.0.255.0' is not a subnet mask"), qPrintable(all));
        QRegularExpression line(":[0-9]+: ");
        for (const QString& e : errors)
            QVERIFY2(line.match(e).hasMatch(), qPrintable(e)); // each names its line
    }

    void aStopClosesIdleConnectionsAtOnceAndLetsBusyOnesFinish()
    {
        EngineFixture f;
        QVERIFY(f.start());
        Client idle(f.port);
        QVERIFY(idle.send(getRequest("/hello.txt")));
        QCOMPARE(idle.read().status, 200); // kept alive, and now idle
        Client busy(f.port);
        QVERIFY(busy.send(getRequest("/cgi-bin/helper.cgi?sleep=3000"))); // milliseconds
        QTRY_COMPARE_WITH_TIMEOUT(f.engine->snapshot().cgi.front().running, 1, 5000);

        std::thread stopper([&] { f.engine->stop(std::chrono::seconds(60)); });
        QVERIFY(idle.closedByPeer(1500)); // not after the grace period: now
        Response r = busy.read(20000);
        QCOMPARE(r.status, 200);
        QVERIFY(r.body.contains("hello from the CGI helper"));
        QCOMPARE(r.header("connection"), std::string("close"));
        stopper.join();
        QVERIFY(!f.engine->running());
    }
};

QTEST_GUILESS_MAIN(tst_BehindProxy)
#include "tst_behindproxy.moc"
