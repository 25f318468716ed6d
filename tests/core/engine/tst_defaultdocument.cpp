// Default documents are routed again to their own handler, as IIS's default document module
// does: a folder URL runs index.php through FastCGI, index.cgi through CGI, and serves
// index.html as a static file; the application sees the client's URL in REQUEST_URI and the
// document in SCRIPT_NAME.
#include "EngineSupport.h"

class tst_DefaultDocument : public QObject {
    Q_OBJECT
private slots:
    void init()
    {
        f = std::make_unique<EngineFixture>();
        QDir(f->s.path("www")).mkpath("php");
        QDir(f->s.path("www")).mkpath("cgi");
        QDir(f->s.path("www")).mkpath("plain");
        QDir(f->s.path("www")).mkpath("empty");
        f->s.write("www/php/index.php", "<?php echo 'php ', $_SERVER['REQUEST_URI'], ' ', $_SERVER['SCRIPT_NAME'], ' ', $_SERVER['PHP_SELF'], \"\\n\";");
        f->s.write("www/php/index.html", "<p>not this one: index.php comes first</p>\n");
        f->s.write("www/cgi/index.cgi", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\ncgi %s %s\\n' \"$REQUEST_URI\" \"$SCRIPT_NAME\"\n");
        ::chmod(f->s.path("www/cgi/index.cgi").toUtf8().constData(), 0755);
        f->s.write("www/plain/index.html", "<p>plain index</p>\n");
        f->values["@FASTCGI@"] = "<fastCgi><application fullPath=\"/usr/bin/php-cgi\" /></fastCgi>"
                                 "<defaultDocument><files><clear /><add value=\"index.php\" /><add value=\"index.cgi\" />"
                                 "<add value=\"index.html\" /></files></defaultDocument>";
        f->values["@HANDLERS@"] = "<add name=\"PHP\" path=\"*.php\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"/usr/bin/php-cgi\" resourceType=\"File\" />"
                                  "<add name=\"CgiFiles\" path=\"*.cgi\" verb=\"*\" modules=\"CgiModule\" resourceType=\"File\" />";
        QVERIFY(f->start());
    }
    void cleanup() { f.reset(); }

    void phpIndexRunsThroughFastCgi()
    {
        if (!QFile::exists("/usr/bin/php-cgi"))
            QSKIP("php-cgi is not installed");
        Response r = fetch(f->port, "/php/?page=2");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("php /php/?page=2 /php/index.php /php/index.php\n"));
        QCOMPARE(fetch(f->port, "/php/index.php").body, QByteArray("php /php/index.php /php/index.php /php/index.php\n"));
    }

    void cgiIndexRunsThroughCgi()
    {
        Response r = fetch(f->port, "/cgi/");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("cgi /cgi/ /cgi/index.cgi\n"));
    }

    void htmlIndexStaysStatic()
    {
        Response r = fetch(f->port, "/plain/");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.header("content-type"), std::string("text/html"));
        QCOMPARE(r.body, QByteArray("<p>plain index</p>\n"));
    }

    void folderWithoutSlashIsRedirected()
    {
        Response r = fetch(f->port, "/php?x=1");
        QCOMPARE(r.status, 301);
        QCOMPARE(r.header("location"), std::string("/php/?x=1"));
    }

    void folderWithoutDefaultDocumentIsForbidden()
    {
        Response r = fetch(f->port, "/empty/");
        QCOMPARE(r.status, 403);
        QVERIFY(r.body.contains("the folder has no default document"));
    }

private:
    std::unique_ptr<EngineFixture> f;
};

QTEST_GUILESS_MAIN(tst_DefaultDocument)
#include "tst_defaultdocument.moc"
