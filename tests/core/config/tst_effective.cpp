// <location> inheritance: the settings in effect for a URL, compared with golden texts, and the
// validation of location blocks (paths that name the location, IIS-only attributes).
#include "TestSupport.h"
#include "config/Config.h"
#include "config/ConfigDocument.h"
#include "config/Effective.h"

using namespace lido::config;
using testsupport::Scratch;

namespace {

// A server with handlers, default documents and headers; a site Shop with an application /admin;
// locations for the whole server, the site, the application and a path below it.
const char* kConfig = R"~(<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.applicationHost>
        <applicationPools>
            <add name="shop" />
        </applicationPools>
        <sites>
            <site name="Shop" id="1">
                <application path="/" applicationPool="shop">
                    <virtualDirectory path="/" physicalPath="@DIR@" />
                </application>
                <application path="/admin" applicationPool="shop">
                    <virtualDirectory path="/" physicalPath="@DIR@" />
                </application>
                <bindings>
                    <binding protocol="http" bindingInformation="127.0.0.1:8080:" />
                </bindings>
            </site>
        </sites>
    </system.applicationHost>
    <system.webServer>
        <handlers>
            <add name="CGI" path="*.cgi" verb="*" modules="CgiModule" resourceType="File" />
            <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule" resourceType="Either" />
        </handlers>
        <defaultDocument enabled="true">
            <files>
                <add value="index.html" />
                <add value="index.cgi" />
            </files>
        </defaultDocument>
        <httpProtocol>
            <customHeaders>
                <add name="X-Served-By" value="lido" />
            </customHeaders>
        </httpProtocol>
    </system.webServer>
    <location path="" overrideMode="Allow">
        <system.webServer>
            <directoryBrowse enabled="false" showFlags="Date, Size" />
        </system.webServer>
    </location>
    <location path="Shop">
        <system.webServer>
            <defaultDocument>
                <files>
                    <remove value="index.cgi" />
                    <add value="index.php" />
                </files>
            </defaultDocument>
            <httpProtocol>
                <customHeaders>
                    <add name="X-Frame-Options" value="DENY" />
                </customHeaders>
            </httpProtocol>
        </system.webServer>
    </location>
    <location path="Shop/admin" inheritInChildApplications="true">
        <system.webServer>
            <directoryBrowse enabled="true" />
            <httpProtocol>
                <customHeaders>
                    <clear />
                    <add name="Cache-Control" value="no-store" />
                </customHeaders>
            </httpProtocol>
        </system.webServer>
    </location>
    <location path="Shop/admin/reports">
        <system.webServer>
            <handlers>
                <remove name="CGI" />
            </handlers>
            <defaultDocument enabled="false" />
        </system.webServer>
    </location>
</configuration>
)~";

} // namespace

class tst_Effective : public QObject {
    Q_OBJECT

    static std::shared_ptr<const Config> load(const Scratch& s, const QString& text)
    {
        auto doc = ConfigDocument::parse(s.fill(text).toStdString(), "applicationHost.config");
        if (!doc)
            qFatal("%s", doc.error().c_str());
        return Config::fromDocument(*doc);
    }

    static QString golden(const Config& c, const std::string& site, const std::string& url, const QStringList& sections)
    {
        EffectiveSettings e = effectiveSettings(c, site, url);
        QString all = QString::fromStdString(e.describe());
        QStringList kept;
        bool in = false;
        for (const QString& line : all.split('\n', Qt::SkipEmptyParts)) {
            if (!line.startsWith("    ")) // a section's line: keep the ones asked for
                in = std::any_of(sections.begin(), sections.end(), [&](const QString& s) { return line.trimmed().startsWith(s + "  ["); });
            if (in)
                kept << line;
        }
        return kept.join('\n');
    }

private slots:
    void siteInheritsTheServer()
    {
        Scratch s;
        auto c = load(s, kConfig);
        QCOMPARE(c->errorCount(), 0);
        QCOMPARE(golden(*c, "Shop", "/index.html", {"defaultDocument", "httpProtocol", "directoryBrowse"}), QString(R"~(  defaultDocument  [server]
    @enabled = true  [server]
    defaultDocument/files  [server]
      defaultDocument/files/add[@value='index.php']  [site Shop]
        @value = index.php  [site Shop]
      defaultDocument/files/add[@value='index.html']  [server]
        @value = index.html  [server]
      defaultDocument/files/remove[@value='index.cgi']  [site Shop]
        @value = index.cgi  [site Shop]
  httpProtocol  [server]
    httpProtocol/customHeaders  [server]
      httpProtocol/customHeaders/add[@name='X-Served-By']  [server]
        @name = X-Served-By  [server]
        @value = lido  [server]
      httpProtocol/customHeaders/add[@name='X-Frame-Options']  [site Shop]
        @name = X-Frame-Options  [site Shop]
        @value = DENY  [site Shop]
  directoryBrowse  [location path='']
    @enabled = false  [location path='']
    @showFlags = Date, Size  [location path=''])~"));
    }

    void applicationAndPathOverrideTheSite()
    {
        Scratch s;
        auto c = load(s, kConfig);
        QCOMPARE(golden(*c, "Shop", "/admin/reports/q1.cgi", {"handlers", "defaultDocument", "directoryBrowse", "httpProtocol"}),
                 QString(R"~(  handlers  [server]
    handlers/add[@name='StaticFile']  [server]
      @name = StaticFile  [server]
      @path = *  [server]
      @verb = GET,HEAD  [server]
      @modules = StaticFileModule  [server]
      @resourceType = Either  [server]
    handlers/remove[@name='CGI']  [path /admin/reports]
      @name = CGI  [path /admin/reports]
  defaultDocument  [server]
    @enabled = false  [path /admin/reports]
    defaultDocument/files  [server]
      defaultDocument/files/add[@value='index.php']  [site Shop]
        @value = index.php  [site Shop]
      defaultDocument/files/add[@value='index.html']  [server]
        @value = index.html  [server]
      defaultDocument/files/remove[@value='index.cgi']  [site Shop]
        @value = index.cgi  [site Shop]
  httpProtocol  [server]
    httpProtocol/customHeaders  [server]
      httpProtocol/customHeaders/clear  [application /admin]
      httpProtocol/customHeaders/add[@name='Cache-Control']  [application /admin]
        @name = Cache-Control  [application /admin]
        @value = no-store  [application /admin]
  directoryBrowse  [location path='']
    @enabled = true  [application /admin]
    @showFlags = Date, Size  [location path=''])~"));
        // A URL beside the path is not under it; one that only starts with its letters neither.
        EffectiveSettings beside = effectiveSettings(*c, "Shop", "/admin/reportsX");
        QCOMPARE(beside.layers.back().label, std::string("application /admin"));
        QCOMPARE(scopePrefixes(*c, "Shop"), (std::vector<std::string>{"/admin/reports/", "/admin/", "/"}));
    }

    void inheritInChildApplicationsFalseStopsAtTheApplication()
    {
        Scratch s;
        QString text = QString(kConfig).replace("<location path=\"Shop\">", "<location path=\"Shop\" inheritInChildApplications=\"false\">");
        auto c = load(s, text);
        auto labels = [&](const std::string& url) {
            std::vector<std::string> out;
            for (const auto& l : effectiveSettings(*c, "Shop", url).layers)
                out.push_back(l.label);
            return out;
        };
        QCOMPARE(labels("/shop.html"), (std::vector<std::string>{"server", "location path=''", "site Shop"}));
        QCOMPARE(labels("/admin/x"), (std::vector<std::string>{"server", "location path=''", "application /admin"}));
        EffectiveSettings reports = effectiveSettings(*c, "Shop", "/admin/reports/");
        const ConfigElement* headers = reports.section("httpProtocol/customHeaders");
        QVERIFY(headers);
        QCOMPARE(headers->childrenNamed("add").size(), size_t(1)); // cleared at /admin; no X-Frame-Options from the site
    }

    void validationNamesTheLocation()
    {
        Scratch s;
        QString text = QString(kConfig)
                           .replace("<location path=\"Shop/admin\" inheritInChildApplications=\"true\">",
                                    "<location path=\"Shop/admin\" inheritInChildApplications=\"maybe\" overrideMode=\"Deny\">")
                           .replace("<remove name=\"CGI\" />", "<add name=\"PHP\" path=\"*.php\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"/usr/bin/php-cgi\" />")
                           .replace("<location path=\"\" overrideMode=\"Allow\">", "<location path=\"\" overrideMode=\"Sometimes\">")
                           + "";
        text.replace("</configuration>", "    <location path=\"Shopp\">\n        <system.webServer>\n            <fastCgi />\n"
                                          "        </system.webServer>\n    </location>\n</configuration>");
        auto c = load(s, text);
        QStringList all;
        for (const Diagnostic& d : c->diagnostics())
            all << QString::fromStdString(d.str());
        QCOMPARE(all, QStringList({
            "applicationHost.config:38: location[@path='']/@overrideMode: 'Sometimes' is not one of Allow, Deny, Inherit",
            "applicationHost.config:58: location[@path='Shop/admin']/@inheritInChildApplications: 'maybe' is not true or false",
            "applicationHost.config:58: location[@path='Shop/admin']/@overrideMode: ignored: Lido has no feature delegation: nothing is locked, the settings apply as written",
            "applicationHost.config:72: location[@path='Shop/admin/reports']/system.webServer/handlers/add[@name='PHP']/@scriptProcessor: no fastCgi application has fullPath '/usr/bin/php-cgi'",
            "applicationHost.config:77: location[@path='Shopp']/@path: warning: no site is named 'Shopp': these settings apply to no request",
            "applicationHost.config:79: location[@path='Shopp']/system.webServer/fastCgi: can be set for the whole server only, at the top level of the file (IIS: allowDefinition=\"AppHostOnly\")",
        }));
    }

    void importedIisLocationsAreApplied()
    {
        auto config = loadConfig(LIDO_SOURCE_DIR "/tests/fixtures/config/iis-default.applicationHost.config");
        QVERIFY2(config, config ? "" : config.error().c_str());
        QVERIFY((*config)->valid());
        for (const Diagnostic& d : (*config)->diagnostics()) {
            QString line = QString::fromStdString(d.str());
            QVERIFY2(!line.contains("location[@path='Default Web Site']/system.webServer/rewrite") &&
                         !line.contains("location[@path='']/system.webServer/handlers:"),
                     qPrintable(line)); // handlers and rules are read, not ignored
        }
        EffectiveSettings e = effectiveSettings(**config, "Default Web Site", "/");
        const ConfigElement* handlers = e.section("handlers");
        QVERIFY(handlers);
        QCOMPARE(e.layers.at(static_cast<size_t>(e.layerOf(*handlers))).label, std::string("location path=''"));
        QVERIFY(handlers->childrenNamed("add").size() > 10);
        const ConfigElement* rules = e.section("rewrite/rules");
        QVERIFY(rules);
        QCOMPARE(rules->childrenNamed("rule").size(), size_t(1));
        QCOMPARE(e.layers.at(static_cast<size_t>(e.layerOf(*rules->childrenNamed("rule")[0]))).label, std::string("site Default Web Site"));
    }
};

QTEST_APPLESS_MAIN(tst_Effective)
#include "tst_effective.moc"
