// URL Rewrite in a real engine with real php-cgi: WordPress's standard IIS rule sends pretty
// permalinks to index.php, which sees the client's URL in REQUEST_URI and HTTP_X_ORIGINAL_URL
// and the rewritten one in SCRIPT_NAME and QUERY_STRING; files and folders are served as they
// are; redirects, custom responses and aborts; rules of a <location path="Main/blog"> apply
// to that path only; the access log records the client's URL unless logRewrittenUrl.
#include "EngineSupport.h"

class tst_Rewrite : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void init();
    void cleanup() { f.reset(); }
    void permalinksReachTheFrontController();
    void filesAndFoldersAreServedAsTheyAre();
    void aClientCannotClaimAnOriginalUrl();
    void redirectsCustomResponsesAndAborts();
    void aRewriteCannotLeaveTheSite();
    void locationRulesApplyToTheirPath();
    void accessLogRecordsTheClientsUrlUnlessAsked();

private:
    QString readLog()
    {
        QDir d(f->s.path("logs/W3SVC1"));
        QString all;
        for (const QString& name : d.entryList(QDir::Files)) {
            QFile file(d.filePath(name));
            if (file.open(QIODevice::ReadOnly))
                all += QString::fromUtf8(file.readAll());
        }
        return all;
    }

    std::unique_ptr<EngineFixture> f;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Rewrite::initTestCase()
{
    if (!QFile::exists("/usr/bin/php-cgi"))
        QSKIP("php-cgi is not installed");
}

void tst_Rewrite::init()
{
    f = std::make_unique<EngineFixture>();
    QDir(f->s.path("www")).mkpath("wp-content");
    QDir(f->s.path("www")).mkpath("blog");
    f->s.write("www/index.php", "<?php echo 'front ', $_SERVER['REQUEST_URI'], ' | ', $_SERVER['HTTP_X_ORIGINAL_URL'] ?? '-', ' | ', "
                                "$_SERVER['SCRIPT_NAME'], ' | ', $_SERVER['QUERY_STRING'], \"\\n\";");
    f->s.write("www/blog/app.php", "<?php echo 'blog ', $_SERVER['REQUEST_URI'], ' | ', $_SERVER['QUERY_STRING'], \"\\n\";");
    f->s.write("www/wp-content/style.css", "body{}\n");
    f->values["@FASTCGI@"] = R"~(<fastCgi><application fullPath="/usr/bin/php-cgi" /></fastCgi>
        <rewrite>
          <rules>
            <rule name="Old page" stopProcessing="true">
              <match url="^old-page$" />
              <action type="Redirect" url="/new-page" redirectType="Permanent" />
            </rule>
            <rule name="No bots" stopProcessing="true">
              <match url=".*" />
              <conditions><add input="{HTTP_USER_AGENT}" pattern="BadBot" /></conditions>
              <action type="CustomResponse" statusCode="403" statusReason="Forbidden" statusDescription="No bots here" />
            </rule>
            <rule name="Drop" stopProcessing="true"><match url="^drop-me$" /><action type="AbortRequest" /></rule>
            <rule name="Escape" stopProcessing="true"><match url="^escape$" /><action type="Rewrite" url="a/%2e%2e/%2e%2e/etc/passwd" /></rule>
            <rule name="WordPress: Main Rule" stopProcessing="true">
              <match url=".*" />
              <conditions logicalGrouping="MatchAll">
                <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />
                <add input="{REQUEST_FILENAME}" matchType="IsDirectory" negate="true" />
                <add input="{URL}" pattern="^/blog/" negate="true" />
              </conditions>
              <action type="Rewrite" url="index.php" />
            </rule>
          </rules>
        </rewrite>)~";
    f->values["@HANDLERS@"] = R"~(<add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="/usr/bin/php-cgi" resourceType="File" />)~";
    f->values["@LIDO@"] = R"~(<location path="Main/blog"><system.webServer><rewrite><rules>
          <rule name="Blog front controller" stopProcessing="true">
            <match url="^posts/(\d+)$" />
            <action type="Rewrite" url="app.php?id={R:1}" logRewrittenUrl="true" />
          </rule>
        </rules></rewrite></system.webServer></location>)~";
    QVERIFY(f->start());
}

void tst_Rewrite::permalinksReachTheFrontController()
{
    Response r = fetch(f->port, "/2026/12/hello-world/?utm=x");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.body, QByteArray("front /2026/12/hello-world/?utm=x | /2026/12/hello-world/?utm=x | /index.php | utm=x\n"));
}

void tst_Rewrite::filesAndFoldersAreServedAsTheyAre()
{
    Response css = fetch(f->port, "/wp-content/style.css");
    QCOMPARE(css.status, 200);
    QCOMPARE(css.body, QByteArray("body{}\n"));
    Response direct = fetch(f->port, "/index.php?p=1");
    QCOMPARE(direct.body, QByteArray("front /index.php?p=1 | - | /index.php | p=1\n")); // no rewrite: no X-Original-URL
}

void tst_Rewrite::aClientCannotClaimAnOriginalUrl()
{
    Response r = fetch(f->port, "/index.php", "X-Original-URL: /admin\r\n");
    QCOMPARE(r.body, QByteArray("front /index.php | - | /index.php | \n"));
}

void tst_Rewrite::redirectsCustomResponsesAndAborts()
{
    Response moved = fetch(f->port, "/old-page?a=1");
    QCOMPARE(moved.status, 301);
    QCOMPARE(moved.header("location"), std::string("/new-page?a=1"));
    Response bot = fetch(f->port, "/anything", "User-Agent: BadBot/2\r\n");
    QCOMPARE(bot.status, 403);
    QCOMPARE(bot.body, QByteArray("No bots here\n"));
    Response dropped = fetch(f->port, "/drop-me");
    QCOMPARE(dropped.status, 0); // the connection was closed without an answer
    QCOMPARE(fetch(f->port, "/wp-content/style.css").status, 200); // and the engine goes on
}

void tst_Rewrite::aRewriteCannotLeaveTheSite()
{
    Response r = fetch(f->port, "/escape");
    QCOMPARE(r.status, 500);
    QVERIFY2(r.body.contains("not a valid path"), r.body.constData());
}

void tst_Rewrite::locationRulesApplyToTheirPath()
{
    Response r = fetch(f->port, "/blog/posts/42?ref=home");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.body, QByteArray("blog /blog/posts/42?ref=home | id=42&ref=home\n"));
    // Inherited rules run first, as in IIS (the site's front-controller rule leaves /blog/ alone);
    // /posts/42 outside /blog is a permalink.
    QCOMPARE(fetch(f->port, "/posts/42").body, QByteArray("front /posts/42 | /posts/42 | /index.php | \n"));
}

void tst_Rewrite::accessLogRecordsTheClientsUrlUnlessAsked()
{
    fetch(f->port, "/2026/12/hello-world/");
    fetch(f->port, "/blog/posts/7");
    QString log;
    QTRY_VERIFY_WITH_TIMEOUT((log = readLog()).contains("/blog/app.php id=7"), 5000); // logRewrittenUrl="true"
    QVERIFY2(log.contains("GET /2026/12/hello-world/ -"), qPrintable(log));
}
#endif

QTEST_GUILESS_MAIN(tst_Rewrite)
#include "tst_rewrite.moc"
