// https bindings in a real engine, driven by the clients admins use: openssl s_client (which
// certificate a handshake gets, with and without SNI, which versions and ALPN), curl (requests over
// TLS), and php-cgi (the HTTPS variables). Certificates are made by the openssl command for each
// test: two hosts on one port chosen by SNI, a Central Certificate Store with a wildcard and a file
// added while running, a renewal under load and over an open connection, files that do not load
// (the old certificate keeps serving), and the expiry warning.
#include "EngineSupport.h"
#include "engine/StatusPage.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

class tst_Tls : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup() { f.reset(); }
    void sniChoosesTheCertificate();
    void versionsAndAlpn();
    void centralStoreWithWildcardsAndNewFiles();
    void httpsVariablesReachPhp();
    void httpRedirectsToHttps();
    void badFilesKeepTheOldCertificate();
    void renewalUnderLoadAndOverAnOpenConnection();
    void expiryIsToldAndMeasured();
    void validation();
    void closeNotifyBeforeClose();
    void sessionsResume();

private:
    // A self-signed P-256 certificate for cn (its own CA) in NAME.pem and NAME.key.
    void makeCertificate(const QString& name, const QString& cn, int days = 30);
    // What openssl s_client prints for a handshake with this SNI name (empty: none sent).
    QString handshake(const QString& sni, const QStringList& extra = {});
    static QString subjectIn(const QString& sClientOutput);
    QString curl(const QString& host, const QString& path, const QString& caFile);
    void start(const QString& sslExtra = {}, const QString& lidoExtra = {});

    std::unique_ptr<EngineFixture> f;
    uint16_t tlsPort = 0;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Tls::init()
{
    f = std::make_unique<EngineFixture>();
    do // (a port just given back can come again: never the fixture's own)
        tlsPort = freePort();
    while (tlsPort == f->port);
    QDir(f->s.path(".")).mkpath("certs");
    QDir(f->s.path(".")).mkpath("ccs");
    makeCertificate("certs/a", "a.test");
    makeCertificate("certs/b", "b.test");
}

void tst_Tls::makeCertificate(const QString& name, const QString& cn, int days)
{
    QVERIFY(::makeCertificate(f->s, name, cn, days));
}

void tst_Tls::start(const QString& sslExtra, const QString& lidoExtra)
{
    f->s.write("www/vars.php", "<?php echo $_SERVER['HTTPS'], ' ', $_SERVER['SERVER_PORT_SECURE'], ' ', $_SERVER['REQUEST_SCHEME'];");
    f->values["@FASTCGI@"] = R"~(<fastCgi><application fullPath="/usr/bin/php-cgi" /></fastCgi>)~";
    f->values["@HANDLERS@"] = R"~(<add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" />)~";
    f->values["@SITES@"] = QString(R"~(<site name="Secure" id="2">
                <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
                <bindings>
                    <binding protocol="https" bindingInformation="127.0.0.1:%1:a.test" sslFlags="1" certificateFile="@DIR@/certs/a.pem" certificateKeyFile="@DIR@/certs/a.key" />
                    <binding protocol="https" bindingInformation="127.0.0.1:%1:b.test" sslFlags="1" certificateFile="@DIR@/certs/b.pem" certificateKeyFile="@DIR@/certs/b.key" />
                    %2
                </bindings>
                <logFile directory="@DIR@/logs" />
            </site>)~").arg(tlsPort).arg(sslExtra);
    f->values["@LIDO@"] = lidoExtra;
    QVERIFY(f->start());
}

QString tst_Tls::handshake(const QString& sni, const QStringList& extra)
{
    QProcess p;
    QStringList args{"s_client", "-connect", QString("127.0.0.1:%1").arg(tlsPort)};
    args << (sni.isEmpty() ? QStringList{"-noservername"} : QStringList{"-servername", sni}) << extra;
    p.start("openssl", args);
    p.closeWriteChannel();
    p.waitForFinished(15000);
    return QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
}

QString tst_Tls::subjectIn(const QString& out)
{
    auto m = QRegularExpression("subject=CN ?= ?([^\\n/]+)").match(out);
    return m.hasMatch() ? m.captured(1).trimmed() : QString();
}

QString tst_Tls::curl(const QString& host, const QString& path, const QString& caFile)
{
    QProcess p;
    p.start("curl", {"-sS", "--cacert", caFile, "--resolve", QString("%1:%2:127.0.0.1").arg(host).arg(tlsPort),
                     QString("https://%1:%2%3").arg(host).arg(tlsPort).arg(path)});
    p.waitForFinished(15000);
    return QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
}

void tst_Tls::sniChoosesTheCertificate()
{
    start();
    QCOMPARE(subjectIn(handshake("a.test")), QString("a.test"));
    QCOMPARE(subjectIn(handshake("b.test")), QString("b.test"));
    QCOMPARE(subjectIn(handshake("")), QString("a.test")); // no SNI: the endpoint's first certificate
    QCOMPARE(curl("a.test", "/hello.txt", f->s.path("certs/a.pem")), QString("Hello, Lido!\n"));
    QCOMPARE(curl("b.test", "/hello.txt", f->s.path("certs/b.pem")), QString("Hello, Lido!\n"));
    // A large file goes through the TLS layer in pieces (no sendfile under TLS).
    QCOMPARE(curl("a.test", "/big.txt", f->s.path("certs/a.pem")).toUtf8(), f->s.read("www/big.txt"));
    // The wrong certificate for the name is refused by the client, as it must be.
    QVERIFY(curl("b.test", "/hello.txt", f->s.path("certs/a.pem")).contains("curl: (60)"));
}

void tst_Tls::versionsAndAlpn()
{
    start();
    QVERIFY(handshake("a.test", {"-tls1_3"}).contains("TLSv1.3"));
    QVERIFY(handshake("a.test", {"-tls1_2"}).contains("TLSv1.2"));
    // A client that offers TLS 1.1 (its own security level lowered so that it may) is refused.
    QString old = handshake("a.test", {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
    QVERIFY2(!old.contains("Cipher is ECDHE") && (old.contains("alert") || old.contains("no protocols")), qPrintable(old));
    QVERIFY(handshake("a.test", {"-alpn", "h2,http/1.1"}).contains("ALPN protocol: h2"));
    QVERIFY(handshake("a.test", {"-alpn", "http/1.1"}).contains("ALPN protocol: http/1.1"));
    QVERIFY(handshake("a.test", {"-alpn", "spdy/3"}).contains("No ALPN negotiated")); // no protocol in common: still served
}

void tst_Tls::centralStoreWithWildcardsAndNewFiles()
{
    makeCertificate("ccs/wild", "*.wild.test");
    QByteArray both = f->s.read("ccs/wild.pem") + f->s.read("ccs/wild.key"); // IIS's store: one file per name
    f->s.write("ccs/_.wild.test.pem", both);
    // A binding with SNI and the store (sslFlags 3): names without a binding certificate come from the store.
    start(QString(R"~(<binding protocol="https" bindingInformation="127.0.0.1:%1:" sslFlags="3" />)~").arg(tlsPort),
          "<lido><centralCertificateStore physicalPath=\"" + f->s.path("ccs") + "\" /></lido>");
    QCOMPARE(subjectIn(handshake("x.wild.test")), QString("*.wild.test"));
    QCOMPARE(subjectIn(handshake("a.test")), QString("a.test")); // a binding's own certificate first
    makeCertificate("ccs/new", "new.test");
    f->s.write("ccs/new.test.pem", f->s.read("ccs/new.pem") + f->s.read("ccs/new.key"));
    QTRY_COMPARE(subjectIn(handshake("new.test")), QString("new.test")); // no configuration change
}

void tst_Tls::httpsVariablesReachPhp()
{
    start();
    QCOMPARE(curl("a.test", "/vars.php", f->s.path("certs/a.pem")), QString("on 1 https"));
    QCOMPARE(fetch(f->port, "/vars.php").body, QByteArray("off 0 http"));
}

void tst_Tls::httpRedirectsToHttps()
{
    // The README's rule, for the whole server (<location path="">): plain requests are sent to
    // https, TLS ones are served.
    start({}, R"~(<location path=""><system.webServer><rewrite><rules>
        <rule name="HTTP to HTTPS" stopProcessing="true">
          <match url="(.*)" />
          <conditions><add input="{HTTPS}" pattern="^OFF$" /></conditions>
          <action type="Redirect" url="https://{HTTP_HOST}/{R:1}" redirectType="Permanent" />
        </rule>
      </rules></rewrite></system.webServer></location>)~");
    Response plain = fetch(f->port, "/hello.txt?x=1");
    QCOMPARE(plain.status, 301);
    QCOMPARE(plain.header("location"), std::string("https://127.0.0.1/hello.txt?x=1"));
    QCOMPARE(curl("a.test", "/hello.txt", f->s.path("certs/a.pem")), QString("Hello, Lido!\n"));
}

void tst_Tls::badFilesKeepTheOldCertificate()
{
    start();
    f->s.write("certs/a.pem", "not a certificate\n");
    QTRY_VERIFY(!f->events("tls.certificate-invalid").empty());
    std::string message = f->events("tls.certificate-invalid").back().message;
    QVERIFY2(message.find(f->s.path("certs/a.pem").toStdString() + " is not a PEM certificate chain") != std::string::npos, message.c_str());
    QVERIFY2(message.find("keeps serving") != std::string::npos, message.c_str());
    QCOMPARE(subjectIn(handshake("a.test")), QString("a.test"));
    QCOMPARE(curl("a.test", "/hello.txt", f->s.path("certs/b.pem")).contains("curl: (60)"), true); // still a's certificate
    // A certificate with another's key.
    makeCertificate("certs/c", "a.test");
    f->s.write("certs/a.pem", f->s.read("certs/c.pem"));
    QTRY_VERIFY(f->events("tls.certificate-invalid").size() >= 2);
    message = f->events("tls.certificate-invalid").back().message;
    QVERIFY2(message.find("does not match the certificate") != std::string::npos, message.c_str());
    QCOMPARE(subjectIn(handshake("a.test")), QString("a.test"));
}

void tst_Tls::renewalUnderLoadAndOverAnOpenConnection()
{
    start();
    makeCertificate("certs/next", "a.test");
    f->s.write("certs/trust.pem", f->s.read("certs/a.pem") + f->s.read("certs/next.pem")); // the clients trust both
    QString trust = f->s.path("certs/trust.pem"), resolve = QString("a.test:%1:127.0.0.1").arg(tlsPort);
    QString url = QString("https://a.test:%1/hello.txt").arg(tlsPort);
    // One connection kept open across the renewal: twelve requests, four a second, on it.
    QStringList keepArgs{"-s", "-w", "%{http_code} %{num_connects}\n", "--rate", "4/s", "--cacert", trust, "--resolve", resolve};
    for (int i = 0; i < 12; ++i)
        keepArgs << "-o" << "/dev/null" << url;
    QProcess kept;
    kept.start("curl", keepArgs);
    // And load: new connections one after another, every one a new handshake.
    QProcess load;
    load.start("bash", {"-c", QString("for i in $(seq 1 150); do curl -s -o /dev/null -w '%{http_code}\n' --cacert %1 --resolve %2 %3; done")
                                  .arg(trust, resolve, url)});
    QVERIFY(load.waitForStarted() && kept.waitForStarted());
    QTRY_VERIFY(load.bytesAvailable() > 20); // under way
    // Key first, then the chain: in between the pair does not match, and the old one serves.
    f->s.write("certs/a.key", f->s.read("certs/next.key"));
    f->s.write("certs/a.pem", f->s.read("certs/next.pem"));
    QTRY_VERIFY(!f->events("tls.certificate-renewed").empty());
    QVERIFY(load.waitForFinished(120000) && kept.waitForFinished(60000));
    QStringList codes = QString::fromUtf8(load.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(codes.size(), 150);
    QCOMPARE(codes.count("200"), 150);
    QStringList keptCodes = QString::fromUtf8(kept.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
    QVERIFY2(keptCodes.size() == 12, qPrintable(keptCodes.join("|")));
    QCOMPARE(keptCodes.first(), QString("200 1"));
    QCOMPARE(keptCodes.count("200 0"), 11); // the same connection throughout, renewal or not
    // New handshakes get the new certificate: only it verifies now.
    QCOMPARE(curl("a.test", "/hello.txt", f->s.path("certs/next.pem")), QString("Hello, Lido!\n"));
    QVERIFY(curl("a.test", "/hello.txt", f->s.path("certs/b.pem")).contains("curl: (60)"));
}

void tst_Tls::expiryIsToldAndMeasured()
{
    makeCertificate("certs/soon", "soon.test", 5);
    start(QString(R"~(<binding protocol="https" bindingInformation="127.0.0.1:%1:soon.test" sslFlags="1" certificateFile="@DIR@/certs/soon.pem" certificateKeyFile="@DIR@/certs/soon.key" />)~").arg(tlsPort));
    QTRY_VERIFY(!f->events("tls.certificate-expiring").empty());
    std::string m = f->events("tls.certificate-expiring").front().message;
    QVERIFY2(m.find("soon.test") != std::string::npos && m.find("expires in 5 days") != std::string::npos, m.c_str());
    QVERIFY(f->events("tls.certificate-expiring").size() == 1); // told once, not every minute
    QString metrics = QString::fromStdString(lido::engine::prometheusMetrics(f->engine->snapshot()));
    auto line = QRegularExpression("lido_certificate_expiry_seconds\\{site=\"Secure\",host=\"soon.test\"\\} (\\d+)").match(metrics);
    QVERIFY2(line.hasMatch(), qPrintable(metrics));
    QVERIFY(line.captured(1).toLongLong() > 4 * 86400 && line.captured(1).toLongLong() <= 5 * 86400);
    QVERIFY(metrics.contains("lido_certificate_expiry_seconds{site=\"Secure\",host=\"a.test\"}"));
}

void tst_Tls::closeNotifyBeforeClose()
{
    start();
    // Connection: close over TLS: the response, then TLS's close_notify before the TCP close, so
    // that OpenSSL's client sees a clean end, not "unexpected eof while reading" (a truncation).
    QProcess p;
    p.start("openssl", {"s_client", "-connect", QString("127.0.0.1:%1").arg(tlsPort), "-servername", "a.test", "-ign_eof"});
    QVERIFY(p.waitForStarted());
    p.write("GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    p.closeWriteChannel();
    QVERIFY(p.waitForFinished(15000));
    QString out = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
    QVERIFY2(out.contains("Hello, Lido!"), qPrintable(out));
    QVERIFY2(!out.contains("unexpected eof"), qPrintable(out));
}

namespace {
// A client that keeps one SSL object and clears it between connections, as wrk does: how many of
// `rounds` connections resumed the session of the one before. Each reads its response up to the
// body and leaves, as a client that has what it asked for does.
int resumedWithOneSslObject(uint16_t port, int rounds)
{
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT);
    SSL* ssl = SSL_new(ctx);
    int resumed = 0;
    for (int i = 0; i < rounds; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            break;
        }
        SSL_set_fd(ssl, fd);
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>("a.test")); // (SSL_set_tlsext_host_name, without its C cast)
        if (SSL_connect(ssl) != 1) {
            ::close(fd);
            break;
        }
        resumed += SSL_session_reused(ssl);
        static const char request[] = "GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
        SSL_write(ssl, request, sizeof request - 1);
        std::string got;
        char buf[4096];
        int n = 0;
        while (got.find("Hello, Lido!") == std::string::npos && (n = SSL_read(ssl, buf, sizeof buf)) > 0)
            got.append(buf, static_cast<size_t>(n));
        SSL_shutdown(ssl);
        SSL_clear(ssl);
        ::close(fd);
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return resumed;
}
} // namespace

void tst_Tls::sessionsResume()
{
    start();
    // openssl s_client with the session of the connection before (read to the end, so that TLS
    // 1.3's tickets, which come after the handshake, are in it), TLS 1.3 and 1.2.
    auto fetch = [&](const QString& version, const QString& sessionArg, const QString& file) {
        QProcess p;
        p.start("openssl", {"s_client", "-connect", QString("127.0.0.1:%1").arg(tlsPort), "-servername", "a.test", "-ign_eof", version,
                            sessionArg, file});
        p.waitForStarted();
        p.write("GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
        p.closeWriteChannel();
        p.waitForFinished(15000);
        return QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
    };
    for (const QString& version : {QString("-tls1_3"), QString("-tls1_2")}) {
        QString saved = f->s.path("session" + version + ".pem");
        QString first = fetch(version, "-sess_out", saved);
        QVERIFY2(first.contains("New, TLSv1.") && first.contains("Hello, Lido!"), qPrintable(first));
        QString second = fetch(version, "-sess_in", saved);
        QVERIFY2(second.contains("Reused, TLSv1.") && second.contains("Hello, Lido!"), qPrintable(second));
    }
    // A client that keeps its SSL object: every connection after the first resumes.
    QCOMPARE(resumedWithOneSslObject(tlsPort, 6), 5);
}

void tst_Tls::validation()
{
    auto diagnose = [&](const QString& sites, const QString& lido = {}) {
        f->values["@SITES@"] = sites;
        f->values["@LIDO@"] = lido;
        QString file = f->s.config(f->text());
        auto config = lido::config::loadConfig(file.toStdString());
        QStringList out;
        for (const auto& d : (*config)->diagnostics())
            out << QString::fromStdString(d.str());
        return out.join('\n');
    };
    QString site = R"~(<site name="S" id="5"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
        <bindings><binding protocol="https" bindingInformation="127.0.0.1:9443:" %1 /></bindings></site>)~";
    QString out = diagnose(site.arg(""));
    QVERIFY2(out.contains("/@certificateFile: an https binding needs certificateFile"), qPrintable(out));
    out = diagnose(site.arg("certificateFile=\"@DIR@/certs/missing.pem\""));
    QVERIFY2(out.contains("/@certificateFile: file '" + f->s.path("certs/missing.pem") + "' does not exist"), qPrintable(out));
    out = diagnose(site.arg("sslFlags=\"2\""));
    QVERIFY2(out.contains("/@sslFlags: sslFlags 2 takes the certificate from the Central Certificate Store"), qPrintable(out));
    out = diagnose(site.arg("certificateHash=\"ab12\" certificateFile=\"@DIR@/certs/a.pem\""));
    QVERIFY2(out.contains("/@certificateHash: warning: Windows-only setting"), qPrintable(out));
    out = diagnose(site.arg("certificateFile=\"@DIR@/certs/a.pem\""), "<lido><tls minVersion=\"TLSv1.1\" ciphers=\"NOT-A-CIPHER\" /></lido>");
    QVERIFY2(out.contains("lido/tls/@minVersion: 'TLSv1.1' is not one of TLSv1.2, TLSv1.3"), qPrintable(out));
    QVERIFY2(out.contains("lido/tls/@ciphers: OpenSSL refuses the cipher list 'NOT-A-CIPHER'"), qPrintable(out));
    QString mixed = site.arg("certificateFile=\"@DIR@/certs/a.pem\"") +
                    R"~(<site name="P" id="6"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:9443:plain.test" /></bindings></site>)~";
    out = diagnose(mixed);
    QVERIFY2(out.contains("127.0.0.1:9443 serves https (line"), qPrintable(out));
}
#endif

QTEST_GUILESS_MAIN(tst_Tls)
#include "tst_tls.moc"
