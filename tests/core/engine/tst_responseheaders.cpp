// Headers the configuration adds, in a real engine: httpProtocol/customHeaders on every response
// of every site, with a site's <location> removing or adding its own; redirectHeaders only on
// redirects; a response that sets a header itself keeps its own; staticContent/clientCache's
// Cache-Control on static files (200 and 304), not on CGI.
#include "EngineSupport.h"

class tst_ResponseHeaders : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup() { f.reset(); }
    void customHeadersOnEveryResponse();
    void aSiteLocationChangesItsOwn();
    void redirectHeadersOnlyOnRedirects();
    void aResponsesOwnHeaderWins();
    void clientCacheOnStaticFiles();

private:
    std::unique_ptr<EngineFixture> f;
    uint16_t other = 0;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_ResponseHeaders::init()
{
    f = std::make_unique<EngineFixture>();
    other = freePort();
    QDir(f->s.path("www")).mkpath("cgi-bin");
    QDir(f->s.path("www")).mkpath("folder");
    f->s.write("www/hello.txt", "hello\n");
    f->s.write("www/cgi-bin/own.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\nX-Frame-Options: DENY\\n\\nown\\n'\n");
    ::chmod(f->s.path("www/cgi-bin/own.sh").toUtf8().constData(), 0755);
    f->values["@FASTCGI@"] = R"~(<httpProtocol>
          <customHeaders>
            <add name="X-Frame-Options" value="SAMEORIGIN" />
            <add name="X-Content-Type-Options" value="nosniff" />
          </customHeaders>
          <redirectHeaders><add name="X-Redirected-By" value="Lido" /></redirectHeaders>
        </httpProtocol>
        <staticContent><clientCache cacheControlMode="UseMaxAge" cacheControlMaxAge="01:00:00" cacheControlCustom="public" /></staticContent>)~";
    f->values["@SITES@"] = QString(R"~(<site name="Other" id="2">
          <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
          <bindings><binding protocol="http" bindingInformation="127.0.0.1:%1:" /></bindings>
        </site>)~").arg(other);
    f->values["@LIDO@"] = R"~(<location path="Main"><system.webServer><httpProtocol><customHeaders>
          <remove name="X-Content-Type-Options" />
          <add name="Referrer-Policy" value="same-origin" />
        </customHeaders></httpProtocol></system.webServer></location>)~";
    QVERIFY(f->start());
}

void tst_ResponseHeaders::customHeadersOnEveryResponse()
{
    Response r = fetch(other, "/hello.txt");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("x-frame-options"), std::string("SAMEORIGIN"));
    QCOMPARE(r.header("x-content-type-options"), std::string("nosniff"));
    // Again, answered from the file cache, whose Content-Type, ETag and Last-Modified are shared
    // by its responses: the configured headers come with them.
    Response again = fetch(other, "/hello.txt");
    QCOMPARE(again.status, 200);
    QCOMPARE(again.header("content-type"), r.header("content-type"));
    QVERIFY(!again.header("etag").empty());
    QCOMPARE(again.header("etag"), r.header("etag"));
    QCOMPARE(again.header("last-modified"), r.header("last-modified"));
    QCOMPARE(again.header("x-frame-options"), std::string("SAMEORIGIN"));
    Response missing = fetch(other, "/nothing.txt"); // error pages too
    QCOMPARE(missing.status, 404);
    QCOMPARE(missing.header("x-frame-options"), std::string("SAMEORIGIN"));
}

void tst_ResponseHeaders::aSiteLocationChangesItsOwn()
{
    Response r = fetch(f->port, "/hello.txt");
    QCOMPARE(r.header("x-frame-options"), std::string("SAMEORIGIN")); // inherited
    QCOMPARE(r.header("x-content-type-options"), std::string());       // removed for this site
    QCOMPARE(r.header("referrer-policy"), std::string("same-origin")); // added for this site
    QCOMPARE(fetch(other, "/hello.txt").header("referrer-policy"), std::string());
}

void tst_ResponseHeaders::redirectHeadersOnlyOnRedirects()
{
    Response moved = fetch(other, "/folder");
    QCOMPARE(moved.status, 301);
    QCOMPARE(moved.header("x-redirected-by"), std::string("Lido"));
    QCOMPARE(fetch(other, "/hello.txt").header("x-redirected-by"), std::string());
}

void tst_ResponseHeaders::aResponsesOwnHeaderWins()
{
    Response r = fetch(other, "/cgi-bin/own.sh");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("x-frame-options"), std::string("DENY")); // one header, the program's
    QCOMPARE(r.header("x-content-type-options"), std::string("nosniff"));
    QCOMPARE(r.header("cache-control"), std::string()); // clientCache is for static files
}

void tst_ResponseHeaders::clientCacheOnStaticFiles()
{
    Response r = fetch(other, "/hello.txt");
    QCOMPARE(r.header("cache-control"), std::string("max-age=3600, public"));
    Response again = fetch(other, "/hello.txt", QByteArray("If-None-Match: ") + QByteArray::fromStdString(r.header("etag")) + "\r\n");
    QCOMPARE(again.status, 304);
    QCOMPARE(again.header("cache-control"), std::string("max-age=3600, public"));
}
#endif

QTEST_GUILESS_MAIN(tst_ResponseHeaders)
#include "tst_responseheaders.moc"
