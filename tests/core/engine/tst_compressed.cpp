// Compression in a real engine: static files in gzip and br, compressed once per file version
// and served from the cache; Vary; no compression for ranges, small files, unlisted types or a
// client that takes none; PHP pages (php-cgi) compressed as they stream when
// doDynamicCompression is on for their location, and never a body the program encoded itself.
#include "Decoders.h"
#include "EngineSupport.h"
#include "compress/Compression.h"

class tst_Compressed : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase() { f.reset(); }
    void staticFilesInEachScheme();
    void compressedOncePerFileVersion();
    void notModifiedByTheCompressedETag();
    void whatIsNeverCompressed();
    void phpStreamsCompressedWhereDynamicIsOn();
    void curlDecodesIt();

private:
    std::unique_ptr<EngineFixture> f;
    QByteArray page;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Compressed::initTestCase()
{
    f = std::make_unique<EngineFixture>();
    for (int i = 0; i < 400; ++i)
        page += "<p>Paragraph " + QByteArray::number(i) + " of a page that compresses well.</p>\n";
    QDir(f->s.path("www")).mkpath("app");
    f->s.write("www/page.html", page);
    f->s.write("www/small.html", "<p>small</p>\n");
    f->s.write("www/photo.png", page); // a type that is not listed
    f->s.write("www/app/page.php", "<?php header('Content-Type: text/html'); for ($i = 0; $i < 400; $i++) { echo \"<p>Paragraph $i of a page that compresses well.</p>\\n\"; flush(); }");
    f->s.write("www/app/encoded.php", "<?php header('Content-Type: text/plain'); header('Content-Encoding: gzip'); echo gzencode(str_repeat('abc', 1000));");
    f->s.write("www/app/image.php", "<?php header('Content-Type: image/png'); echo str_repeat('x', 5000);");
    f->values["@FASTCGI@"] = R"~(<fastCgi><application fullPath="/usr/bin/php-cgi" /></fastCgi>)~";
    f->values["@HANDLERS@"] = R"~(<add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" />)~";
    f->values["@LIDO@"] = R"~(<location path="Main/app"><system.webServer><urlCompression doDynamicCompression="true" /></system.webServer></location>)~";
    QVERIFY(f->start());
}

void tst_Compressed::staticFilesInEachScheme()
{
    Response gz = fetch(f->port, "/page.html", "Accept-Encoding: gzip\r\n");
    QCOMPARE(gz.status, 200);
    QCOMPARE(gz.header("content-encoding"), std::string("gzip"));
    QCOMPARE(gz.header("vary"), std::string("Accept-Encoding"));
    QVERIFY(gz.body.size() * 4 < page.size());
    QCOMPARE(QByteArray::fromStdString(testsupport::gunzip(gz.body.toStdString())), page);
    QCOMPARE(gz.header("content-length"), std::to_string(gz.body.size()));

    Response br = fetch(f->port, "/page.html", "Accept-Encoding: gzip, deflate, br\r\n");
    QCOMPARE(br.header("content-encoding"), std::string("br"));
    QCOMPARE(QByteArray::fromStdString(testsupport::unbrotli(br.body.toStdString())), page);
    QVERIFY(br.header("etag") != gz.header("etag")); // one ETag per representation

    Response plain = fetch(f->port, "/page.html");
    QCOMPARE(plain.header("content-encoding"), std::string());
    QCOMPARE(plain.header("vary"), std::string("Accept-Encoding")); // a cache must keep the variants apart
    QCOMPARE(plain.body, page);
}

void tst_Compressed::compressedOncePerFileVersion()
{
    f->s.write("www/version.css", page);
    uint64_t before = lido::compress::cacheFigures().compressions;
    for (int i = 0; i < 3; ++i)
        QCOMPARE(fetch(f->port, "/version.css", "Accept-Encoding: br\r\n").header("content-encoding"), std::string("br"));
    QCOMPARE(lido::compress::cacheFigures().compressions, before + 1);
    // A new version of the file (other size, so another ETag) is compressed again, and served new.
    f->s.write("www/version.css", page + "/* changed */\n");
    QTRY_COMPARE(QByteArray::fromStdString(testsupport::unbrotli(fetch(f->port, "/version.css", "Accept-Encoding: br\r\n").body.toStdString())),
                 page + "/* changed */\n");
    QCOMPARE(lido::compress::cacheFigures().compressions, before + 2);
}

void tst_Compressed::notModifiedByTheCompressedETag()
{
    Response first = fetch(f->port, "/page.html", "Accept-Encoding: gzip\r\n");
    Response again = fetch(f->port, "/page.html", "Accept-Encoding: gzip\r\nIf-None-Match: " + QByteArray::fromStdString(first.header("etag")) + "\r\n");
    QCOMPARE(again.status, 304);
    QCOMPARE(again.header("vary"), std::string("Accept-Encoding"));
}

void tst_Compressed::whatIsNeverCompressed()
{
    Response range = fetch(f->port, "/page.html", "Accept-Encoding: gzip, br\r\nRange: bytes=0-99\r\n");
    QCOMPARE(range.status, 206);
    QCOMPARE(range.header("content-encoding"), std::string());
    QCOMPARE(range.body, page.left(100));
    QCOMPARE(fetch(f->port, "/small.html", "Accept-Encoding: gzip\r\n").header("content-encoding"), std::string()); // below minFileSizeForComp
    QCOMPARE(fetch(f->port, "/photo.png", "Accept-Encoding: gzip\r\n").header("content-encoding"), std::string());
    QCOMPARE(fetch(f->port, "/page.html", "Accept-Encoding: gzip;q=0, br;q=0\r\n").body, page);
    // Dynamic compression is off outside /app (IIS's default).
    f->s.write("www/root.php", "<?php echo str_repeat('root ', 2000);");
    QCOMPARE(fetch(f->port, "/root.php", "Accept-Encoding: gzip\r\n").header("content-encoding"), std::string());
}

void tst_Compressed::phpStreamsCompressedWhereDynamicIsOn()
{
    Response r = fetch(f->port, "/app/page.php", "Accept-Encoding: br, gzip\r\n");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("content-encoding"), std::string("br"));
    QCOMPARE(r.header("transfer-encoding"), std::string("chunked"));
    QCOMPARE(r.header("vary"), std::string("Accept-Encoding"));
    QCOMPARE(QByteArray::fromStdString(testsupport::unbrotli(r.body.toStdString())), page);
    Response gz = fetch(f->port, "/app/page.php", "Accept-Encoding: gzip\r\n");
    QCOMPARE(QByteArray::fromStdString(testsupport::gunzip(gz.body.toStdString())), page);

    Response encoded = fetch(f->port, "/app/encoded.php", "Accept-Encoding: br, gzip\r\n");
    QCOMPARE(encoded.header("content-encoding"), std::string("gzip")); // the program's own, once
    QCOMPARE(QByteArray::fromStdString(testsupport::gunzip(encoded.body.toStdString())), QByteArray("abc").repeated(1000));
    QCOMPARE(fetch(f->port, "/app/image.php", "Accept-Encoding: gzip\r\n").header("content-encoding"), std::string());
}

void tst_Compressed::curlDecodesIt()
{
    QProcess curl;
    curl.start("curl", {"-s", "--compressed", "-D", "-", QString("http://127.0.0.1:%1/app/page.php").arg(f->port)});
    QVERIFY(curl.waitForFinished(20000));
    QByteArray out = curl.readAllStandardOutput();
    QVERIFY2(out.toLower().contains("content-encoding: "), out.left(400).constData());
    QVERIFY(out.endsWith(page));
}
#endif

QTEST_GUILESS_MAIN(tst_Compressed)
#include "tst_compressed.moc"
