// Content codings: Accept-Encoding negotiation with q-values, IIS's first-match type lists, and
// round trips of whole and streamed bodies through zlib's and brotli's own decoders.
#include "Decoders.h"
#include "compress/Compression.h"

#include <QtTest>
#include <random>

using namespace lido;
using namespace lido::compress;

namespace {

Settings both()
{
    Settings s;
    s.schemes = {Scheme{Coding::Brotli, 7, 4, true, true}, Scheme{Coding::Gzip, 7, 4, true, true}};
    s.staticTypes = {{"text/*", true}, {"application/json", true}, {"image/svg+xml", true}, {"*/*", false}};
    return s;
}

http::Request request(const char* acceptEncoding, int minor = 1)
{
    http::Request r;
    r.method = "GET";
    r.versionMinor = minor;
    if (acceptEncoding)
        r.headers.push_back({"Accept-Encoding", acceptEncoding});
    return r;
}

std::string text(size_t bytes)
{
    std::string out;
    std::mt19937 rng(7);
    const char* words[] = {"lido ", "serves ", "pages ", "quickly ", "<div class=\"post\">", "</div>\n", "FastCGI ", "pools "};
    while (out.size() < bytes)
        out += words[rng() % 8];
    out.resize(bytes);
    return out;
}

Coding negotiated(const Settings& s, const char* header, int minor = 1)
{
    const Scheme* scheme = s.negotiate(request(header, minor), true);
    return scheme ? scheme->coding : Coding::Identity;
}

} // namespace

class tst_Compression : public QObject {
    Q_OBJECT
private slots:
    void negotiation_data()
    {
        QTest::addColumn<QString>("header");
        QTest::addColumn<QString>("coding");
        QTest::newRow("browser") << "gzip, deflate, br, zstd" << "br";
        QTest::newRow("gzip only") << "gzip" << "gzip";
        QTest::newRow("x-gzip") << "x-gzip" << "gzip";
        QTest::newRow("q prefers gzip") << "br;q=0.5, gzip;q=0.9" << "gzip";
        QTest::newRow("q=0 refuses") << "br;q=0, gzip" << "gzip";
        QTest::newRow("both refused") << "br;q=0, gzip;q=0" << "identity";
        QTest::newRow("star") << "*" << "br";
        QTest::newRow("star but not br") << "br;q=0, *;q=0.3" << "gzip";
        QTest::newRow("identity only") << "identity" << "identity";
        QTest::newRow("unknown") << "deflate, compress" << "identity";
        QTest::newRow("spaces and case") << "  GZip ; Q=1 " << "gzip";
        QTest::newRow("empty") << "" << "identity";
    }
    void negotiation()
    {
        QFETCH(QString, header);
        QFETCH(QString, coding);
        QCOMPARE(QString::fromStdString(std::string(codingName(negotiated(both(), header.toLatin1().constData())))), coding);
    }

    void noCompressionForHttp10AndProxies()
    {
        Settings s = both();
        QCOMPARE(negotiated(s, "gzip", 0), Coding::Identity);
        http::Request viaProxy = request("gzip");
        viaProxy.headers.push_back({"Via", "1.1 squid"});
        QVERIFY(!s.negotiate(viaProxy, true));
        s.noHttp10 = s.noProxies = false;
        QCOMPARE(negotiated(s, "gzip", 0), Coding::Gzip);
        QVERIFY(s.negotiate(viaProxy, true));
        QCOMPARE(negotiated(s, nullptr), Coding::Identity);
    }

    void schemesOfferedPerKind()
    {
        Settings s = both();
        s.schemes[0].forStatic = false; // br for streamed responses only
        QCOMPARE(negotiated(s, "br, gzip"), Coding::Gzip);
        QCOMPARE(s.negotiate(request("br, gzip"), false)->coding, Coding::Brotli);
    }

    void typeListsFirstMatchWins()
    {
        std::vector<std::pair<std::string, bool>> types = {{"text/csv", false}, {"text/*", true}, {"application/json", true}, {"*/*", false}};
        QVERIFY(Settings::typeListed(types, "text/html; charset=utf-8"));
        QVERIFY(Settings::typeListed(types, "Text/CSS"));
        QVERIFY(!Settings::typeListed(types, "text/csv"));
        QVERIFY(Settings::typeListed(types, "application/json"));
        QVERIFY(!Settings::typeListed(types, "application/jsonx"));
        QVERIFY(!Settings::typeListed(types, "image/png"));
        QVERIFY(!Settings::typeListed(types, ""));
    }

    void wholeBodiesRoundTrip_data()
    {
        QTest::addColumn<int>("coding");
        QTest::addColumn<int>("level");
        QTest::addColumn<int>("bytes");
        for (int bytes : {0, 1, 3000, 300000}) {
            QTest::addRow("gzip 1, %d bytes", bytes) << int(Coding::Gzip) << 1 << bytes;
            QTest::addRow("gzip 9, %d bytes", bytes) << int(Coding::Gzip) << 9 << bytes;
            QTest::addRow("br 4, %d bytes", bytes) << int(Coding::Brotli) << 4 << bytes;
            QTest::addRow("br 11, %d bytes", bytes) << int(Coding::Brotli) << 11 << bytes;
        }
    }
    void wholeBodiesRoundTrip()
    {
        QFETCH(int, coding);
        QFETCH(int, level);
        QFETCH(int, bytes);
        std::string in = text(static_cast<size_t>(bytes));
        std::string packed = compressWhole(Coding(coding), level, in);
        QVERIFY(!packed.empty());
        if (bytes >= 3000)
            QVERIFY2(packed.size() * 3 < in.size(), "text shrinks to under a third");
        bool ok = false;
        std::string back = Coding(coding) == Coding::Gzip ? testsupport::gunzip(packed, &ok) : testsupport::unbrotli(packed, &ok);
        QVERIFY(ok);
        QCOMPARE(back, in);
    }

    void streamedPiecesDecodeAsTheyArrive_data()
    {
        QTest::addColumn<int>("coding");
        QTest::newRow("gzip") << int(Coding::Gzip);
        QTest::newRow("br") << int(Coding::Brotli);
    }
    void streamedPiecesDecodeAsTheyArrive()
    {
        QFETCH(int, coding);
        auto encoder = streamingEncoder(Coding(coding), 4);
        QVERIFY(encoder);
        std::string in = text(200000), out;
        size_t pos = 0, piece = 1;
        while (pos < in.size()) {
            std::string part = in.substr(pos, piece);
            pos += part.size();
            piece = piece * 3 + 1; // 1, 4, 13, ... bytes: small writes as a PHP page flushes
            out += encoder->encode(part);
            // Each piece is flushed: what came so far decodes to everything sent so far.
            std::string sofar = Coding(coding) == Coding::Gzip ? testsupport::gunzip(out) : testsupport::unbrotli(out);
            QCOMPARE(sofar.size(), pos);
        }
        out += encoder->finish();
        bool ok = false;
        std::string back = Coding(coding) == Coding::Gzip ? testsupport::gunzip(out, &ok) : testsupport::unbrotli(out, &ok);
        QVERIFY(ok);
        QCOMPARE(back, in);
    }

    void cacheKeepsTheBudget()
    {
        setCacheBudget(10000);
        CacheFigures before = cacheFigures();
        for (int i = 0; i < 5; ++i)
            storeBody("file" + std::to_string(i), std::make_shared<const std::string>(4000, 'x'));
        QVERIFY(cacheFigures().bytes <= 10000);
        QVERIFY(!cachedBody("file0")); // the oldest went first
        QVERIFY(cachedBody("file4"));
        QVERIFY(cachedBody("file3"));
        QCOMPARE(cacheFigures().compressions, before.compressions + 5);
        setCacheBudget(100ull << 20);
    }
};

QTEST_APPLESS_MAIN(tst_Compression)
#include "tst_compression.moc"
