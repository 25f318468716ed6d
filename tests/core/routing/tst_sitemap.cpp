// IIS routing as pure lookups on a SiteMap built from a configuration, without an engine:
// binding -> site (host beats empty, address beats *), application and virtual directory by the
// longest path, handler mappings in order by pattern, verb and resource type, PATH_INFO.
#include "TestSupport.h"
#include "config/Config.h"
#include "config/ConfigDocument.h"
#include "routing/SiteMap.h"

#include <QDir>

#include <fnmatch.h>

using lido::routing::HandlerMatch;
using lido::routing::Module;
using lido::routing::Route;
using lido::routing::SiteMap;

#ifndef Q_MOC_RUN // moc loses track of the class after a raw string with quotes in it
static QString siteMapConfig()
{
    return R"(<?xml version="1.0"?>
<configuration>
  <system.applicationHost>
    <applicationPools><add name="web" /><add name="shop" /></applicationPools>
    <sites>
      <site name="Main" id="1">
        <application path="/" applicationPool="web">
          <virtualDirectory path="/" physicalPath="@DIR@/www" />
          <virtualDirectory path="/assets" physicalPath="@DIR@/assets" symlinks="Never" />
        </application>
        <application path="/shop" applicationPool="shop">
          <virtualDirectory path="/" physicalPath="@DIR@/shop" />
        </application>
        <bindings><binding protocol="http" bindingInformation="*:8080:" /></bindings>
      </site>
      <site name="Named" id="2">
        <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
        <bindings><binding protocol="http" bindingInformation="*:8080:www.example.org" /></bindings>
      </site>
      <site name="Loopback" id="3">
        <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:8080:" /></bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <fastCgi><application fullPath="%LIDO_TEST_PHP%" arguments="-d display_errors=0" /></fastCgi>
    <handlers>
      <add name="PHP" path="*.php" verb="GET,POST" modules="FastCgiModule" scriptProcessor="%LIDO_TEST_PHP%|-d display_errors=0" resourceType="File" />
      <add name="CGI" path="/cgi-bin/&#42;" verb="*" modules="CgiModule" resourceType="Unspecified" /><!-- (&#42;: moc reads a slash-star as a comment) -->
      <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule" resourceType="Either" />
    </handlers>
  </system.webServer>
</configuration>
)";
}
#endif

class tst_SiteMap : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        qputenv("LIDO_TEST_PHP", "/usr/bin/php-cgi");
        QDir d(s.path());
        d.mkpath("www/blog");
        d.mkpath("shop/cgi-bin");
        d.mkpath("assets");
        s.write("www/blog/index.php", "<?php\n");
        s.write("www/page.php", "<?php\n");
        s.write("shop/cgi-bin/order.cgi", "#!/bin/sh\n");
        s.write("assets/a.css", "a{}\n");
        QString file = s.config(siteMapConfig());

        auto config = lido::config::loadConfig(file.toStdString());
        QVERIFY(config);
        for (const auto& problem : (*config)->diagnostics())
            qWarning("%s", problem.str().c_str());
        QVERIFY((*config)->valid());
        map = SiteMap::build(**config);
    }

    void bindings()
    {
        QCOMPARE(map->siteFor("10.0.0.5", 8080, "www.example.org")->name, std::string("Named")); // a host beats no host
        QCOMPARE(map->siteFor("10.0.0.5", 8080, "other")->name, std::string("Main"));
        QCOMPARE(map->siteFor("127.0.0.1", 8080, "other")->name, std::string("Loopback"));  // an address beats *
        QCOMPARE(map->siteFor("::ffff:127.0.0.1", 8080, "")->name, std::string("Loopback")); // mapped IPv4
        QVERIFY(!map->siteFor("10.0.0.5", 8081, ""));
    }

    void applicationsAndDirectories()
    {
        const auto* main = map->siteFor("10.0.0.5", 8080, "");
        Route r;
        QVERIFY(map->route(*main, "/shop/cgi-bin/order.cgi", r));
        QCOMPARE(r.application->path, std::string("/shop"));
        QCOMPARE(r.application->pool, std::string("shop"));
        QCOMPARE(r.physicalPath, (s.path("shop") + "/cgi-bin/order.cgi").toStdString());
        QVERIFY(map->route(*main, "/shopping", r)); // not under /shop: the root application
        QCOMPARE(r.application->path, std::string("/"));
        QVERIFY(map->route(*main, "/assets/a.css", r));
        QCOMPARE(r.directory->physicalPath, s.path("assets").toStdString());
        QCOMPARE(r.relativePath, std::string("a.css"));
        QCOMPARE(r.vdirUrl, std::string("/assets/"));
        QVERIFY(r.directory->symlinks == lido::fs::SymlinkPolicy::Never);
        QVERIFY(map->route(*main, "/blog/", r));
        QVERIFY(r.directory->symlinks == lido::fs::SymlinkPolicy::IfOwnerMatch); // the default
    }

    void handlers()
    {
        const auto* main = map->siteFor("10.0.0.5", 8080, "");
        Route r;
        QVERIFY(map->route(*main, "/page.php", r));
        HandlerMatch m = map->handlerFor(r, "POST");
        QCOMPARE(m.mapping->module, Module::FastCgi);
        QCOMPARE(m.scriptUrl, std::string("/page.php"));
        // scriptProcessor names its fastCgi application: fullPath (environment expanded) | arguments.
        QCOMPARE(m.mapping->fastCgiPath, std::string("/usr/bin/php-cgi"));
        QCOMPARE(m.mapping->fastCgiArguments, std::string("-d display_errors=0"));
        QVERIFY(map->handlerFor(r, "PUT").mapping == nullptr); // PHP takes GET,POST; StaticFile GET,HEAD
        QVERIFY(map->route(*main, "/blog/index.php/2026/12/title", r));
        m = map->handlerFor(r, "GET");
        QCOMPARE(m.mapping->module, Module::FastCgi);
        QCOMPARE(m.scriptUrl, std::string("/blog/index.php"));
        QCOMPARE(m.pathInfo, std::string("/2026/12/title"));
        QCOMPARE(m.scriptFile, (s.path("www") + "/blog/index.php").toStdString());
        QVERIFY(map->route(*main, "/missing.php", r));
        QVERIFY(map->handlerFor(r, "GET").mapping == nullptr); // no file: neither PHP (File) nor StaticFile (Either): 404
        // "/cgi-bin/*" matches the URL within its application too.
        QVERIFY(map->route(*main, "/shop/cgi-bin/order.cgi", r));
        QCOMPARE(map->handlerFor(r, "GET").mapping->module, Module::Cgi);
        QVERIFY(map->route(*main, "/blog/", r));
        QCOMPARE(map->handlerFor(r, "GET").mapping->name, std::string("StaticFile")); // a folder: Either
    }

    // Handler patterns mean what fnmatch(pattern, url, 0) says: '*' crosses '/', '?' and brackets
    // still work (those go to fnmatch itself).
    void handlerPatternsMatchAsFnmatch()
    {
        const char* patterns[] = {"*", "*.php", "/cgi-bin/*", "/fcgi/*", "*.tar.gz", "a*b*c", "**", "*x", "x*", "", "/",
                                  "index.php", "*.ph?", "[ab]*.cgi", "\\*.txt", "/a*/b*/c", "*/*"};
        const char* texts[] = {"", "/", "x", "index.php", "page.php", "page.php5", "a.php.txt", "/cgi-bin/", "/cgi-bin/run.cgi",
                               "/cgi-bin", "/fcgi/hello", "/fcgi", "f.tar.gz", "f.gz", "abc", "aXbYc", "acb", "xx", "*.txt",
                               "a.cgi", "c.cgi", "/a1/b2/c", "/a/b/c/d", "a/b", "ab"};
        for (const char* p : patterns)
            for (const char* t : texts)
                QVERIFY2(SiteMap::pathPatternMatches(p, t) == (::fnmatch(p, t, 0) == 0), (std::string(p) + " ~ " + t).c_str());
    }

private:
    testsupport::Scratch s;
    std::shared_ptr<const SiteMap> map;
};

QTEST_GUILESS_MAIN(tst_SiteMap)
#include "tst_sitemap.moc"
