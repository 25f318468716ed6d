// HTTP/2 in a real engine: curl --http2 over TLS (ALPN) through every handler (static files small
// and large, CGI, php-cgi over FastCGI, an upload that needs flow control), h2load's concurrent
// streams, h2c with prior knowledge (off unless configured), IIS's sslFlags 4 (no HTTP/2 on a
// binding), and the attacks: rapid reset, floods of SETTINGS, PING and empty DATA frames, an
// HPACK bomb and malformed frames, sent as raw frames by the test. Each must end its connection
// with a GOAWAY and an event while the engine goes on serving.
#include "EngineSupport.h"

class tst_Http2 : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup() { f.reset(); }
    void everyHandlerOverTls();
    void concurrentStreamsWithH2load();
    void cleartextOnlyWhenConfigured();
    void sslFlags4TurnsItOff();
    void rapidReset();
    void floods_data();
    void floods();
    void hpackBomb();
    void malformedFrames();

private:
    void start(const QString& bindingExtra = {}, const QString& lido = {});
    QString curl(const QStringList& args);
    // A raw h2c client: the preface and an empty SETTINGS, then `frames`; what the server sends
    // back until it closes (or 5 s pass).
    QByteArray rawExchange(const QByteArray& frames, bool* closed);
    static QByteArray frame(uint8_t type, uint8_t flags, uint32_t stream, const QByteArray& payload = {});
    static QByteArray getHeaders(const QByteArray& path, const char* method = "\x82");
    // The GOAWAY error code in a server's bytes (-1: none).
    static int goawayCode(const QByteArray& bytes);

    std::unique_ptr<EngineFixture> f;
    uint16_t tlsPort = 0;
};

void tst_Http2::init()
{
    f = std::make_unique<EngineFixture>();
    do
        tlsPort = freePort();
    while (tlsPort == f->port);
    QDir(f->s.path(".")).mkpath("certs");
    QVERIFY(makeCertificate(f->s, "certs/a", "a.test"));
    QByteArray large(3 * 1024 * 1024, 0);
    for (int i = 0; i < large.size(); ++i)
        large[i] = char((uint32_t(i) * 7919u) >> 3);
    f->s.write("www/large.bin", large);
}

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Http2::start(const QString& bindingExtra, const QString& lido)
{
    f->s.write("www/vars.php", "<?php echo $_SERVER['SERVER_PROTOCOL'], ' ', $_SERVER['HTTPS'], ' ', $_SERVER['HTTP_HOST'], ' ', "
                               "$_SERVER['HTTP_COOKIE'] ?? '-', ' ', md5(file_get_contents('php://input'));");
    f->values["@FASTCGI@"] = R"~(<fastCgi><application fullPath="/usr/bin/php-cgi" maxInstances="4" /></fastCgi>)~";
    f->values["@HANDLERS@"] = R"~(<add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" />)~";
    f->values["maxAllowedContentLength=\"100000\""] = "maxAllowedContentLength=\"20000000\"";
    f->values["@SITES@"] = QString(R"~(<site name="Secure" id="2">
                <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
                <bindings>
                    <binding protocol="https" bindingInformation="127.0.0.1:%1:" certificateFile="@DIR@/certs/a.pem" certificateKeyFile="@DIR@/certs/a.key" %2 />
                </bindings>
                <logFile directory="@DIR@/logs" />
            </site>)~").arg(tlsPort).arg(bindingExtra);
    f->values["@LIDO@"] = lido;
    QVERIFY(f->start());
}

QString tst_Http2::curl(const QStringList& args)
{
    QProcess p;
    p.start("curl", QStringList{"-sS", "--cacert", f->s.path("certs/a.pem"), "--resolve", QString("a.test:%1:127.0.0.1").arg(tlsPort)} + args);
    p.waitForFinished(60000);
    return QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
}

void tst_Http2::everyHandlerOverTls()
{
    start();
    QString base = QString("https://a.test:%1").arg(tlsPort);
    // Static, small (from the cache) and large (read in pieces as the client's window allows).
    QCOMPARE(curl({"--http2", "-w", " %{http_version}", base + "/hello.txt"}), QString("Hello, Lido!\n 2"));
    QProcess p;
    p.start("bash", {"-c", QString("curl -sS --http2 --cacert %1 --resolve a.test:%2:127.0.0.1 %3/large.bin | md5sum; md5sum < %4")
                               .arg(f->s.path("certs/a.pem")).arg(tlsPort).arg(base, f->s.path("www/large.bin"))});
    QVERIFY(p.waitForFinished(60000));
    QStringList sums = QString::fromUtf8(p.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(sums.size(), 2);
    QCOMPARE(sums[0], sums[1]);
    // HEAD: the length, no body; a missing file: the engine's 404 page.
    QString head = curl({"--http2", "-I", base + "/big.txt"});
    QVERIFY2(head.startsWith("HTTP/2 200") && head.contains("content-length: 100000"), qPrintable(head));
    QVERIFY(curl({"--http2", "-w", "%{http_code}", "-o", "/dev/null", base + "/missing.txt"}) == "404");
    // Compression and the headers around it are the same as over HTTP/1.1; names in lower case.
    QString gz = curl({"--http2", "-H", "Accept-Encoding: gzip", "-D", "-", "-o", "/dev/null", base + "/big.txt"});
    QVERIFY2(gz.contains("content-encoding: gzip") && gz.contains("vary: Accept-Encoding") && !gz.contains("Content-"), qPrintable(gz));
    // CGI: its environment, and a request body echoed back.
    QString env = curl({"--http2", base + "/cgi-bin/helper.cgi?env"});
    QVERIFY2(env.contains("SERVER_PROTOCOL=HTTP/2.0") && env.contains("HTTPS=on") && env.contains("HTTP_HOST=a.test:"), qPrintable(env));
    QCOMPARE(curl({"--http2", "--data-binary", "@" + f->s.path("www/large.bin"), "-o", f->s.path("echoed.bin"), base + "/cgi-bin/helper.cgi?echo"}), QString());
    QByteArray echoed = f->s.read("echoed.bin"), sent = f->s.read("www/large.bin");
    QCOMPARE(echoed.size(), sent.size() + QByteArray("\n[3145728 bytes]\n").size()); // 3 MiB up through a 256 KiB window
    QVERIFY(echoed.startsWith(sent) && echoed.endsWith("\n[3145728 bytes]\n"));
    // FastCGI (php-cgi): the protocol, HTTPS, the host from :authority, cookie crumbs joined, the body.
    QString vars = curl({"--http2", "-H", "Cookie: a=1", "-H", "Cookie: b=2", "--data-binary", "hello", base + "/vars.php"});
    QCOMPARE(vars, QString("HTTP/2.0 on a.test:%1 a=1; b=2 %2").arg(tlsPort).arg(QString(QCryptographicHash::hash("hello", QCryptographicHash::Md5).toHex())));
    // The access log has the requests.
    QTRY_VERIFY(!QDir(f->s.path("logs/W3SVC2")).entryList({"*.log"}).isEmpty());
}

void tst_Http2::concurrentStreamsWithH2load()
{
    start();
    // Twenty streams at once on each of two connections, over static, CGI and PHP.
    QProcess p;
    p.start("h2load", {"-n", "600", "-c", "2", "-m", "20", QString("https://127.0.0.1:%1/hello.txt").arg(tlsPort),
                       QString("https://127.0.0.1:%1/vars.php").arg(tlsPort), QString("https://127.0.0.1:%1/cgi-bin/helper.cgi").arg(tlsPort)});
    QVERIFY(p.waitForFinished(120000));
    QString out = QString::fromUtf8(p.readAllStandardOutput());
    QVERIFY2(out.contains("600 total, 600 started, 600 done, 600 succeeded, 0 failed, 0 errored"), qPrintable(out));
    QVERIFY2(out.contains("Application protocol: h2"), qPrintable(out));
    QVERIFY2(out.contains("status codes: 600 2xx"), qPrintable(out));
}

void tst_Http2::cleartextOnlyWhenConfigured()
{
    start();
    // Off by default: the preface is no HTTP/1.1 request, so it gets 400 and the connection closes.
    QString off = curl({"--http2-prior-knowledge", "-w", "%{http_code}", "-o", "/dev/null", QString("http://127.0.0.1:%1/hello.txt").arg(f->port)});
    QVERIFY2(!off.startsWith("200"), qPrintable(off));
    f.reset();
    init();
    start({}, "<lido><http2 cleartext=\"true\" /></lido>");
    QCOMPARE(curl({"--http2-prior-knowledge", "-w", " %{http_version}", QString("http://127.0.0.1:%1/hello.txt").arg(f->port)}),
             QString("Hello, Lido!\n 2"));
    // HTTP/1.1 on the same port goes on as before.
    QCOMPARE(fetch(f->port, "/hello.txt").body, QByteArray("Hello, Lido!\n"));
}

void tst_Http2::sslFlags4TurnsItOff()
{
    start("sslFlags=\"4\"");
    QCOMPARE(curl({"--http2", "-w", " %{http_version}", QString("https://a.test:%1/hello.txt").arg(tlsPort)}), QString("Hello, Lido!\n 1.1"));
}

QByteArray tst_Http2::frame(uint8_t type, uint8_t flags, uint32_t stream, const QByteArray& payload)
{
    QByteArray out;
    auto length = static_cast<uint32_t>(payload.size());
    out.append(char(length >> 16)).append(char(length >> 8)).append(char(length));
    out.append(char(type)).append(char(flags));
    out.append(char((stream >> 24) & 0x7f)).append(char(stream >> 16)).append(char(stream >> 8)).append(char(stream));
    return out + payload;
}

// HPACK: the method (static index 2 = GET, 3 = POST), :scheme http, :path and :authority as
// literals without indexing.
QByteArray tst_Http2::getHeaders(const QByteArray& path, const char* method)
{
    QByteArray h(method);
    h += '\x86';
    h += '\x04' + QByteArray(1, char(path.size())) + path;
    h += QByteArray("\x01\x09") + "127.0.0.1";
    return h;
}

QByteArray tst_Http2::rawExchange(const QByteArray& frames, bool* closed)
{
    Client c(f->port);
    if (!c.connected())
        return {};
    c.send(QByteArray("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(4, 0, 0) + frames);
    QByteArray got = c.readAll(5000);
    *closed = c.closedByPeer(100);
    return got;
}

int tst_Http2::goawayCode(const QByteArray& bytes)
{
    for (qsizetype at = 0; at + 9 <= bytes.size();) {
        auto u = [&](qsizetype i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])); };
        uint32_t length = u(at) << 16 | u(at + 1) << 8 | u(at + 2);
        if (u(at + 3) == 7 && length >= 8 && at + 9 + 8 <= bytes.size())
            return static_cast<int>(u(at + 13) << 24 | u(at + 14) << 16 | u(at + 15) << 8 | u(at + 16));
        at += 9 + length;
    }
    return -1;
}

void tst_Http2::rapidReset()
{
    start({}, "<lido><http2 cleartext=\"true\" /></lido>");
    QByteArray frames;
    for (uint32_t i = 0; i < 300; ++i) {
        uint32_t id = 1 + 2 * i;
        frames += frame(1, 0x5, id, getHeaders("/hello.txt")); // HEADERS, END_STREAM|END_HEADERS
        frames += frame(3, 0, id, QByteArray("\0\0\0\x08", 4)); // RST_STREAM CANCEL
    }
    bool closed = false;
    QByteArray got = rawExchange(frames, &closed);
    QCOMPARE(goawayCode(got), 0xb); // ENHANCE_YOUR_CALM
    QVERIFY(closed);
    QTRY_VERIFY(!f->events("http2.rapid-reset").empty());
    std::string m = f->events("http2.rapid-reset").front().message;
    QVERIFY2(m.find("CVE-2023-44487") != std::string::npos && m.find("127.0.0.1") != std::string::npos, m.c_str());
    QCOMPARE(fetch(f->port, "/hello.txt").status, 200);
}

void tst_Http2::floods_data()
{
    QTest::addColumn<QByteArray>("frames");
    QByteArray settings, pings, empty = frame(1, 0x4, 1, getHeaders("/vars.php", "\x83")); // POST, END_HEADERS
    for (int i = 0; i < 1000; ++i) {
        settings += frame(4, 0, 0);
        pings += frame(6, 0, 0, QByteArray(8, char(i)));
        empty += frame(0, 0, 1); // DATA without END_STREAM, no bytes
    }
    QTest::newRow("SETTINGS") << settings;
    QTest::newRow("PING") << pings;
    QTest::newRow("empty DATA") << empty;
}

void tst_Http2::floods()
{
    QFETCH(QByteArray, frames);
    start({}, "<lido><http2 cleartext=\"true\" /></lido>");
    bool closed = false;
    QByteArray got = rawExchange(frames, &closed);
    QCOMPARE(goawayCode(got), 0xb);
    QVERIFY(closed);
    QTRY_VERIFY(!f->events("http2.flood").empty());
    std::string m = f->events("http2.flood").front().message;
    QVERIFY2(m.find("within 10 s (limit 200)") != std::string::npos && m.find("GOAWAY") != std::string::npos, m.c_str());
    QCOMPARE(fetch(f->port, "/hello.txt").status, 200);
}

void tst_Http2::hpackBomb()
{
    start({}, "<lido><http2 cleartext=\"true\" /></lido>");
    // A 4,000-byte header put into HPACK's dynamic table once, then named by one byte (index 62)
    // a thousand times: 5 KB on the wire that would decode to 4 MB.
    QByteArray block = getHeaders("/hello.txt");
    block += '\x40';
    block += '\x06' + QByteArray("x-bomb");
    block += QByteArray("\x7f\xa1\x1e", 3); // 4000 = 127 + 3873, HPACK's integer encoding
    block += QByteArray(4000, 'b');
    block += QByteArray(1000, '\xbe');
    bool closed = false;
    QByteArray got = rawExchange(frame(1, 0x5, 1, block), &closed);
    QCOMPARE(goawayCode(got), 0xb);
    QVERIFY(closed);
    QTRY_VERIFY(!f->events("http2.header-list-too-large").empty());
    QCOMPARE(fetch(f->port, "/hello.txt").status, 200);
}

void tst_Http2::malformedFrames()
{
    start({}, "<lido><http2 cleartext=\"true\" /></lido>");
    // A SETTINGS frame whose length is no multiple of six: FRAME_SIZE_ERROR from nghttp2.
    bool closed = false;
    QByteArray got = rawExchange(frame(4, 0, 0, QByteArray(5, '\0')), &closed);
    QCOMPARE(goawayCode(got), 0x6);
    QVERIFY(closed);
    QTRY_VERIFY(!f->events("http2.protocol-error").empty());
    // HEADERS on stream 0, and DATA on a stream never opened: connection errors (PROTOCOL_ERROR).
    got = rawExchange(frame(1, 0x5, 0, getHeaders("/")), &closed);
    QCOMPARE(goawayCode(got), 0x1);
    QVERIFY(closed);
    got = rawExchange(frame(0, 0x1, 7, "x"), &closed);
    QVERIFY(goawayCode(got) == 0x1 || goawayCode(got) == 0x5);
    QVERIFY(closed);
    // A client that sends a wrong preface is closed without a word.
    Client c(f->port);
    c.send(QByteArray("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"));
    QVERIFY(c.closedByPeer(5000));
    QCOMPARE(fetch(f->port, "/hello.txt").status, 200);
    // A well-formed request on a fresh connection after all that.
    Client ok(f->port);
    ok.send(QByteArray("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + frame(4, 0, 0) + frame(1, 0x5, 1, getHeaders("/hello.txt")));
    QByteArray answer = ok.readAll(2000);
    QVERIFY2(answer.contains("Hello, Lido!"), answer.toHex().constData());
}
#endif

QTEST_GUILESS_MAIN(tst_Http2)
#include "tst_http2.moc"
