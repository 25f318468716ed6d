// Custom error pages (httpErrors/error) in a real engine, set in the site's <location>: a file
// sent with the error's status, a PHP page run in place of a hidden segment's 404.8 (ExecuteURL,
// seeing the client's URL), a redirect for 403, a missing page falling back to Lido's own with an
// event, and errorMode deciding who sees them.
#include "EngineSupport.h"

class tst_ErrorPages : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup() { f.reset(); }
    void fileModeKeepsTheStatus();
    void executeUrlRunsAScriptWithTheClientsUrl();
    void redirectMode();
    void aMissingPageFallsBackToLidosOwn();
    void detailedModeShowsNoCustomPage();
    void existingResponseReplaceTakesTheApplicationsErrors();

private:
    void start(const QString& errorMode, const QString& existingResponse = "Auto");
    std::unique_ptr<EngineFixture> f;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_ErrorPages::init() {}

void tst_ErrorPages::start(const QString& errorMode, const QString& existingResponse)
{
    f = std::make_unique<EngineFixture>();
    QDir(f->s.path("www")).mkpath("errors");
    QDir(f->s.path("www")).mkpath("empty");
    f->s.write("www/errors/404.html", "<h1>Nothing here</h1>\n");
    f->s.write("www/gone.php", "<?php http_response_code(404); echo 'the application says 404';");
    f->s.write("www/fine.php", "<?php echo 'the application says 200';");
    f->s.write("www/broken.php", "<?php http_response_code(409); echo 'the application says 409';");
    f->s.write("www/notfound.php", "<?php http_response_code(404); echo 'notfound ', $_SERVER['REQUEST_URI'], \"\\n\";");
    f->values["@FASTCGI@"] = R"~(<fastCgi><application fullPath="/usr/bin/php-cgi" /></fastCgi>)~";
    f->values["@HANDLERS@"] = R"~(<add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" />)~";
    f->values["@LIDO@"] = QString(R"~(<location path="Main"><system.webServer><httpErrors errorMode="%1" existingResponse="%2">
          <error statusCode="404" path="errors/404.html" responseMode="File" />
          <error statusCode="404" subStatusCode="8" path="/notfound.php" responseMode="ExecuteURL" />
          <error statusCode="403" path="/help/forbidden" responseMode="Redirect" />
          <error statusCode="400" path="errors/missing.html" />
        </httpErrors></system.webServer></location>)~").arg(errorMode, existingResponse);
    QVERIFY(f->start());
}

void tst_ErrorPages::fileModeKeepsTheStatus()
{
    start("Custom");
    Response r = fetch(f->port, "/nothing.txt");
    QCOMPARE(r.status, 404);
    QCOMPARE(r.body, QByteArray("<h1>Nothing here</h1>\n"));
    QCOMPARE(r.header("content-type"), std::string("text/html"));
}

void tst_ErrorPages::executeUrlRunsAScriptWithTheClientsUrl()
{
    start("Custom");
    if (!QFile::exists("/usr/bin/php-cgi"))
        QSKIP("php-cgi is not installed");
    Response r = fetch(f->port, "/.git/config"); // a hidden segment: 404.8
    QCOMPARE(r.status, 404);
    QCOMPARE(r.body, QByteArray("notfound /.git/config\n"));
}

void tst_ErrorPages::redirectMode()
{
    start("Custom");
    Response r = fetch(f->port, "/empty/"); // a folder without a default document: 403
    QCOMPARE(r.status, 302);
    QCOMPARE(r.header("location"), std::string("/help/forbidden"));
}

void tst_ErrorPages::aMissingPageFallsBackToLidosOwn()
{
    start("Custom");
    Response r = fetch(f->port, "/a/%2e%2e/b"); // 400, whose page does not exist
    QCOMPARE(r.status, 400);
    QVERIFY2(r.body.contains("HTTP Error 400"), r.body.constData());
    QTRY_VERIFY(!f->events("site.error-page-missing").empty());
}

void tst_ErrorPages::detailedModeShowsNoCustomPage()
{
    start("Detailed");
    Response r = fetch(f->port, "/nothing.txt");
    QCOMPARE(r.status, 404);
    QVERIFY2(r.body.contains("no file /nothing.txt"), r.body.constData()); // Lido's detailed page
    start("DetailedLocalOnly");
    QVERIFY(fetch(f->port, "/nothing.txt").body.contains("no file /nothing.txt")); // this client is local
}

void tst_ErrorPages::existingResponseReplaceTakesTheApplicationsErrors()
{
    start("Custom", "Replace");
    Response replaced = fetch(f->port, "/gone.php");
    QCOMPARE(replaced.status, 404);
    QCOMPARE(replaced.body, QByteArray("<h1>Nothing here</h1>\n")); // the 404 page, not the application's body
    QCOMPARE(fetch(f->port, "/fine.php").body, QByteArray("the application says 200"));
    QCOMPARE(fetch(f->port, "/broken.php").body, QByteArray("the application says 409")); // no page for 409: kept
    start("Custom", "PassThrough");
    QCOMPARE(fetch(f->port, "/gone.php").body, QByteArray("the application says 404"));
    start("Custom", "Auto");
    QCOMPARE(fetch(f->port, "/gone.php").body, QByteArray("the application says 404"));
    start("DetailedLocalOnly", "Replace"); // a local client sees no custom pages: the application's own
    QCOMPARE(fetch(f->port, "/gone.php").body, QByteArray("the application says 404"));
}
#endif

QTEST_GUILESS_MAIN(tst_ErrorPages)
#include "tst_errorpages.moc"
