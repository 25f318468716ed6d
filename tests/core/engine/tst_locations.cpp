// Settings scoped by <location path="Main/sub"> in a real engine: each system.webServer section
// applies under its path and nowhere else, with the server's settings inherited below it.
// Handlers (PHP through php-cgi only under /shop), response headers, directory browsing and
// default documents, MIME types, request filtering with an error page, and the CGI timeout.
#include "EngineSupport.h"

class tst_Locations : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase() { f.reset(); }
    void handlersApplyUnderTheirPathOnly();
    void headersApplyUnderTheirPathOnly();
    void directoryBrowsingAndDefaultDocuments();
    void mimeTypes();
    void requestFilteringAndErrorPages();
    void cgiTimeout();

private:
    std::unique_ptr<EngineFixture> f;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Locations::initTestCase()
{
    f = std::make_unique<EngineFixture>();
    QDir www(f->s.path("www"));
    for (const char* d : {"shop", "docs/sub", "dl", "private", "cgi-bin/slow"})
        www.mkpath(d);
    const char* php = "<?php echo 'php ', $_SERVER['SCRIPT_NAME'], \"\\n\";";
    f->s.write("www/hello.php", php);
    f->s.write("www/shop/hello.php", php);
    f->s.write("www/shop/notfound.php", "<?php http_response_code(404); echo 'notfound ', $_SERVER['REQUEST_URI'], \"\\n\";");
    f->s.write("www/docs/a.txt", "a\n");
    f->s.write("www/docs/b&c.txt", "b\n");
    f->s.write("www/docs/index.html", "<p>docs index</p>\n");
    f->s.write("www/dl/app.log", "log line\n");
    f->s.write("www/app.log", "log line\n");
    f->s.write("www/private/note.txt", "private\n");
    f->s.write("www/note.txt", "public\n");
    f->s.write("www/cgi-bin/slow/wait.cgi", "#!/bin/sh\nsleep 5\necho 'Content-Type: text/plain'\necho\necho late\n");
    QFile::setPermissions(f->s.path("www/cgi-bin/slow/wait.cgi"), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadGroup |
                                                                       QFile::ExeGroup | QFile::ReadOther | QFile::ExeOther);
    f->values["@FASTCGI@"] = R"~(<fastCgi><application fullPath="/usr/bin/php-cgi" /></fastCgi>)~";
    f->values["@LIDO@"] = R"~(
    <location path="Main/shop"><system.webServer>
        <handlers><add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" /></handlers>
        <httpProtocol><customHeaders><add name="X-Shop" value="open" /></customHeaders></httpProtocol>
    </system.webServer></location>
    <location path="Main/docs"><system.webServer>
        <directoryBrowse enabled="true" showFlags="Size, Extension" />
        <defaultDocument enabled="false" />
    </system.webServer></location>
    <location path="Main/dl"><system.webServer>
        <staticContent><mimeMap fileExtension=".log" mimeType="text/plain" /></staticContent>
    </system.webServer></location>
    <location path="Main/private"><system.webServer>
        <security><requestFiltering><fileExtensions><add fileExtension=".txt" allowed="false" /></fileExtensions></requestFiltering></security>
        <httpErrors errorMode="Custom"><error statusCode="404" path="/shop/notfound.php" responseMode="ExecuteURL" /></httpErrors>
    </system.webServer></location>
    <location path="Main/cgi-bin/slow"><system.webServer><cgi timeout="00:00:01" /></system.webServer></location>)~";
    QVERIFY(f->start());
}

void tst_Locations::handlersApplyUnderTheirPathOnly()
{
    Response in = fetch(f->port, "/shop/hello.php");
    QCOMPARE(in.status, 200);
    QCOMPARE(in.body, QByteArray("php /shop/hello.php\n"));
    Response out = fetch(f->port, "/hello.php"); // the server's handlers: no PHP here
    QVERIFY2(!out.body.startsWith("php "), out.body.constData());
}

void tst_Locations::headersApplyUnderTheirPathOnly()
{
    QCOMPARE(fetch(f->port, "/shop/hello.php").header("x-shop"), std::string("open"));
    QCOMPARE(fetch(f->port, "/shop").header("x-shop"), std::string("open")); // the folder's redirect too
    QCOMPARE(fetch(f->port, "/hello.txt").header("x-shop"), std::string());
}

void tst_Locations::directoryBrowsingAndDefaultDocuments()
{
    Response listing = fetch(f->port, "/docs/"); // index.html is there, but default documents are off
    QCOMPARE(listing.status, 200);
    QVERIFY2(listing.body.contains("<a href=\"sub/\">sub</a>"), listing.body.constData());
    QVERIFY2(listing.body.contains("<a href=\"b%26c.txt\">b&amp;c.txt</a>"), listing.body.constData());
    QVERIFY2(listing.body.indexOf("sub/") < listing.body.indexOf("a.txt"), "folders come first");
    QCOMPARE(fetch(f->port, "/docs/sub/").status, 200); // below the location: inherited
    QCOMPARE(fetch(f->port, "/shop/").status, 403);     // elsewhere: the server's (no browsing)
    QCOMPARE(fetch(f->port, "/sub/").body, QByteArray("<p>sub index</p>\n"));
}

void tst_Locations::mimeTypes()
{
    Response in = fetch(f->port, "/dl/app.log");
    QCOMPARE(in.status, 200);
    QCOMPARE(in.header("content-type"), std::string("text/plain"));
    QCOMPARE(fetch(f->port, "/app.log").status, 404); // 404.3: no MIME type outside /dl
}

void tst_Locations::requestFilteringAndErrorPages()
{
    Response denied = fetch(f->port, "/private/note.txt");
    QCOMPARE(denied.status, 404);
    QCOMPARE(denied.body, QByteArray("notfound /private/note.txt\n")); // the location's error page, run by PHP at /shop
    QCOMPARE(fetch(f->port, "/note.txt").body, QByteArray("public\n"));
    Response missing = fetch(f->port, "/nothing-here.txt"); // the server's errorMode: a local client sees Lido's page
    QCOMPARE(missing.status, 404);
    QVERIFY(!missing.body.startsWith("notfound"));
}

void tst_Locations::cgiTimeout()
{
    Response r = fetch(f->port, "/cgi-bin/slow/wait.cgi");
    QVERIFY2(r.status >= 500, (std::to_string(r.status) + " " + r.body.toStdString()).c_str());
    QVERIFY2(!r.body.contains("late"), r.body.constData());
    QTRY_VERIFY(!f->events("cgi.timeout").empty());
    QVERIFY2(f->events("cgi.timeout").front().message.find("(1 s)") != std::string::npos, f->events("cgi.timeout").front().message.c_str());
}
#endif

QTEST_GUILESS_MAIN(tst_Locations)
#include "tst_locations.moc"
