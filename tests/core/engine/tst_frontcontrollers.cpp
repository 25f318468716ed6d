// Real front-controller applications behind URL Rewrite, run by php-cgi as a FastCGI pool:
//  - MediaWiki from Debian's mediawiki package, installed on SQLite into the test's folder, with
//    its short URLs (/wiki/Page -> /w/index.php?title=Page, the rule MediaWiki documents for
//    IIS): a page viewed, edited and saved through the rewritten URL;
//  - a Laravel application (Debian's php-laravel-framework: Illuminate's router and request)
//    in the application /shop with Laravel's IIS rule in <location path="Main/shop">: routes
//    chosen by REQUEST_URI below the application's base URL, files served as they are.
#include "EngineSupport.h"

#include <pwd.h>
#include <sys/stat.h>

class tst_FrontControllers : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase() { f.reset(); }
    void mediaWikiShowsTheMainPage();
    void mediaWikiEditAndSave();
    void laravelRoutesByRequestUri();
    void laravelPostsAndFilesStayFiles();

private:
    static Response request(uint16_t port, const QByteArray& raw);
    std::unique_ptr<EngineFixture> f;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
namespace {

const char* kMediaWiki = "/usr/share/mediawiki";

// The pool's user must write the wiki's SQLite files (it is www-data when the tests run as root).
void openUp(const QString& dir)
{
    ::chmod(dir.toLocal8Bit().constData(), 0777);
    QDirIterator it(dir, QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        QString p = it.next();
        ::chmod(p.toLocal8Bit().constData(), QFileInfo(p).isDir() ? 0777 : 0666);
    }
}

} // namespace

Response tst_FrontControllers::request(uint16_t port, const QByteArray& raw)
{
    Client c(port);
    if (!c.send(raw))
        return {};
    return c.read(30000, false);
}

void tst_FrontControllers::initTestCase()
{
    if (!QFile::exists(QString(kMediaWiki) + "/maintenance/install.php") || !QFile::exists("/usr/share/php/Illuminate/autoload.php"))
        QFAIL("Debian's mediawiki and php-laravel-framework packages are needed (scripts/deps.sh installs them)");
    f = std::make_unique<EngineFixture>();
    QString wiki = f->s.path("wiki");
    // Laravel: a front controller with Illuminate's router, and a file beside it.
    QDir(f->s.path("shop")).mkpath(".");
    f->s.write("shop/index.php", R"~(<?php
require '/usr/share/php/Illuminate/autoload.php';
use Illuminate\Container\Container;
use Illuminate\Events\Dispatcher;
use Illuminate\Http\Request;
use Illuminate\Routing\Router;
$container = new Container;
$router = new Router(new Dispatcher($container), $container);
$router->get('/', fn(Request $r) => 'home of ' . $r->getBaseUrl());
$router->get('/posts/{id}', fn($id, Request $r) => "post $id at " . $r->path() . ' ' . json_encode($r->query()));
$router->post('/posts', fn(Request $r) => 'created ' . $r->input('title'));
$request = Request::capture();
$container->instance(Request::class, $request); // what Laravel's kernel does: routes get this request
try {
    $router->dispatch($request)->send();
} catch (Symfony\Component\HttpKernel\Exception\NotFoundHttpException $e) { // what Laravel's handler renders
    http_response_code(404);
    echo 'no route';
}
)~");
    f->s.write("shop/style.css", "body { color: teal }\n");

    f->values["@FASTCGI@"] = QString(R"~(<fastCgi><application fullPath="/usr/bin/php-cgi">
          <environmentVariables><environmentVariable name="MW_CONFIG_FILE" value="%1/LocalSettings.php" /></environmentVariables>
        </application></fastCgi>)~").arg(wiki);
    f->values["@APPS@"] = QString(R"~(<application path="/w" applicationPool="web"><virtualDirectory path="/" physicalPath="%1" /></application>
                <application path="/shop" applicationPool="web"><virtualDirectory path="/" physicalPath="%2" /></application>)~")
                              .arg(kMediaWiki, f->s.path("shop"));
    f->values["@LIDO@"] = R"~(
    <location path="Main"><system.webServer>
        <rewrite><rules>
            <rule name="MediaWiki short URLs" stopProcessing="true">
                <match url="^wiki/(.*)$" />
                <action type="Rewrite" url="/w/index.php?title={UrlEncode:{R:1}}" appendQueryString="true" />
            </rule>
        </rules></rewrite>
    </system.webServer></location>
    <location path="Main/w"><system.webServer>
        <handlers><add name="PHP" path="*.php" verb="GET,HEAD,POST" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" /></handlers>
    </system.webServer></location>
    <location path="Main/shop"><system.webServer>
        <defaultDocument><files><add value="index.php" /></files></defaultDocument>
        <handlers><add name="PHP" path="*.php" verb="GET,HEAD,POST" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" /></handlers>
        <rewrite><rules>
            <rule name="Laravel: front controller" stopProcessing="true">
                <match url="^" ignoreCase="false" />
                <conditions logicalGrouping="MatchAll">
                    <add input="{REQUEST_FILENAME}" matchType="IsDirectory" ignoreCase="false" negate="true" />
                    <add input="{REQUEST_FILENAME}" matchType="IsFile" ignoreCase="false" negate="true" />
                </conditions>
                <action type="Rewrite" url="index.php" />
            </rule>
        </rules></rewrite>
    </system.webServer></location>)~";
    QVERIFY(f->start());
    // MediaWiki reads LocalSettings.php at each request: installed once the engine runs (so that
    // the installer's processes are not forked from a process without threads yet, which
    // ThreadSanitizer cannot follow), the way its installer does it, into this test's folder.
    QDir().mkpath(wiki + "/data");
    QProcess install;
    install.setWorkingDirectory(kMediaWiki);
    install.start("php", {"maintenance/install.php", "--dbtype=sqlite", "--dbpath=" + wiki + "/data", "--dbname=wiki",
                          QString("--server=http://127.0.0.1:%1").arg(f->port), "--scriptpath=/w", "--confpath=" + wiki,
                          "--pass=LidoTestPassword1", "--lang=en", "LidoWiki", "Admin"});
    QVERIFY(install.waitForFinished(120000));
    QVERIFY2(install.exitCode() == 0, install.readAllStandardOutput().right(2000).constData());
    QFile settings(wiki + "/LocalSettings.php");
    QVERIFY(settings.open(QIODevice::Append));
    settings.write("\n$wgArticlePath = \"/wiki/$1\";\n$wgUsePathInfo = false;\n$wgCacheDirectory = \"" + wiki.toUtf8() + "/data/cache\";\n");
    settings.close();
    QDir().mkpath(wiki + "/data/cache");
    openUp(wiki);
}

void tst_FrontControllers::mediaWikiShowsTheMainPage()
{
    Response r = fetch(f->port, "/wiki/Main_Page");
    QVERIFY2(r.status == 200, r.body.left(3000).constData());
    QVERIFY2(r.body.contains("MediaWiki has been installed"), r.body.left(3000).constData());
    QVERIFY2(r.body.contains("<title>LidoWiki</title>"), r.body.mid(r.body.indexOf("<title>"), 80).constData()); // the main page shows the site's name
    QVERIFY2(r.body.contains("href=\"/wiki/Special:RecentChanges\""), "the wiki links with its short URLs");
}

void tst_FrontControllers::mediaWikiEditAndSave()
{
    Response form = fetch(f->port, "/wiki/Lido_Test?action=edit");
    QVERIFY2(form.status == 200, form.body.left(3000).constData());
    QVERIFY(form.body.contains("name=\"wpTextbox1\""));
    QVERIFY2(form.body.contains("action=\"/w/index.php?title=Lido_Test&amp;action=submit\""), form.body.left(200).constData());

    QByteArray body = "wpTextbox1=" + QUrl::toPercentEncoding("Hello from '''Lido''', saved through /wiki/.") +
                      "&wpSummary=lido&wpEditToken=%2B%5C&wpSave=Save&wpUltimateParam=1" +
                      // The form's check that the browser kept Unicode intact (EditPage::UNICODE_CHECK).
                      "&wpUnicodeCheck=" + QUrl::toPercentEncoding(QString::fromUtf8("\u2133\U0001D4B2\u2665\U0001D4CA\U0001D4C3\U0001D4BE\U0001D4B8\u2134\U0001D4B9\u212F"));
    Response saved = request(f->port, "POST /wiki/Lido_Test?action=submit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                                          QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QVERIFY2(saved.status == 302 || saved.status == 303, saved.body.mid(saved.body.indexOf("mw-content-text"), 1500).constData());
    QVERIFY2(saved.header("location").find("/wiki/Lido_Test") != std::string::npos, saved.header("location").c_str());

    Response page = fetch(f->port, "/wiki/Lido_Test");
    QCOMPARE(page.status, 200);
    QVERIFY2(page.body.contains("Hello from <b>Lido</b>, saved through /wiki/."), page.body.left(3000).constData());
    Response history = fetch(f->port, "/wiki/Lido_Test?action=history");
    QVERIFY(history.body.contains("lido")); // the summary: the edit is in the page's history
}

void tst_FrontControllers::laravelRoutesByRequestUri()
{
    Response home = fetch(f->port, "/shop/");
    QCOMPARE(home.status, 200);
    QCOMPARE(home.body, QByteArray("home of /shop"));
    Response post = fetch(f->port, "/shop/posts/42?sort=new");
    QCOMPARE(post.status, 200);
    QCOMPARE(post.body, QByteArray("post 42 at posts/42 {\"sort\":\"new\"}"));
    QCOMPARE(fetch(f->port, "/shop/nothing/here").status, 404); // Laravel's own 404, through the same rule
}

void tst_FrontControllers::laravelPostsAndFilesStayFiles()
{
    QByteArray body = "title=Lido";
    Response created = request(f->port, "POST /shop/posts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                                        "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QCOMPARE(created.status, 200);
    QCOMPARE(created.body, QByteArray("created Lido"));
    Response css = fetch(f->port, "/shop/style.css");
    QCOMPARE(css.status, 200);
    QCOMPARE(css.body, QByteArray("body { color: teal }\n"));
}
#endif

QTEST_GUILESS_MAIN(tst_FrontControllers)
#include "tst_frontcontrollers.moc"
