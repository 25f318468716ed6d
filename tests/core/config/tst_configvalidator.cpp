// Every validation rule, each with a fixture that breaks it and the exact message with its line.
#include "TestSupport.h"
#include "config/Config.h"
#include "config/ConfigDocument.h"
#include "config/Schema.h"

using namespace lido::config;
using testsupport::Scratch;

class tst_ConfigValidator : public QObject {
    Q_OBJECT

    static QStringList diagnose(const Scratch& s, const QString& text, bool local = true)
    {
        auto doc = ConfigDocument::parse(s.fill(text).toStdString(), "applicationHost.config");
        if (!doc)
            return {QString::fromStdString(doc.error())};
        auto config = Config::fromDocument(*doc, ValidateOptions{local});
        QStringList out;
        for (const Diagnostic& d : config->diagnostics())
            out << QString::fromStdString(d.str());
        return out;
    }

private slots:
    void baseIsValid()
    {
        Scratch s;
        QCOMPARE(diagnose(s, testsupport::baseConfig()), QStringList());
    }

    void rules_data()
    {
        QTest::addColumn<QStringList>("edits"); // from, to, from, to ... (first occurrence each)
        QTest::addColumn<QStringList>("expected");
        auto row = [](const char* name, QStringList edits, QStringList expected) {
            QTest::newRow(name) << edits << expected;
        };
        const QString f = "applicationHost.config:";
        row("range: below minimum", {"queueLength=\"1000\"", "queueLength=\"0\""},
            {f + "5: applicationPools/add[@name='php']/@queueLength: 0 is below the minimum 10"});
        row("range: above maximum", {"queueLength=\"1000\"", "queueLength=\"70000\""},
            {f + "5: applicationPools/add[@name='php']/@queueLength: 70000 is above the maximum 65535"});
        row("type: whole number", {"queueLength=\"1000\"", "queueLength=\"many\""},
            {f + "5: applicationPools/add[@name='php']/@queueLength: 'many' is not a whole number"});
        row("type: bool", {"rapidFailProtection=\"true\"", "rapidFailProtection=\"yes\""},
            {f + "7: applicationPools/add[@name='php']/failure/@rapidFailProtection: 'yes' is not true or false"});
        row("type: time span", {"idleTimeout=\"00:20:00\"", "idleTimeout=\"20 minutes\""},
            {f + "6: applicationPools/add[@name='php']/processModel/@idleTimeout: '20 minutes' is not a time span ([d.]hh:mm:ss)"});
        row("range: time span", {"rapidFailProtectionMaxCrashes", "rapidFailProtectionInterval=\"00:00:10\" rapidFailProtectionMaxCrashes"},
            {f + "7: applicationPools/add[@name='php']/failure/@rapidFailProtectionInterval: 00:00:10 is below the minimum 00:01:00"});
        row("enum", {"stderrMode=\"ReturnStdErrIn500\"", "stderrMode=\"Quiet\""},
            {f + "35: fastCgi/application[@fullPath='@DIR@/app' and @arguments='']/@stderrMode: 'Quiet' is not one of "
                 "ReturnStdErrIn500, ReturnGeneric500, IgnoreAndReturn200, TerminateProcess"});
        row("flags", {"<add name=\"static\" />", "<add name=\"static\"><recycling logEventOnRecycle=\"Time, Sometimes\" /></add>"},
            {f + "9: applicationPools/add[@name='static']/recycling/@logEventOnRecycle: 'Sometimes' is not one of Time, Requests, "
                 "Schedule, Memory, IsapiUnhealthy, OnDemand, ConfigChange, PrivateMemory"});
        row("required attribute", {"<site name=\"Other\" id=\"2\">", "<site name=\"Other\">"},
            {f + "23: sites/site[@name='Other']/@id: required attribute is missing"});
        row("required key", {"<add name=\"static\" />", "<add name=\"static\" /><add queueLength=\"10\" />"},
            {f + "9: applicationPools/add[3]/@name: required attribute is missing"});
        row("duplicate pool name", {"<add name=\"static\" />", "<add name=\"static\" /><add name=\"php\" />"},
            {f + "9: applicationPools/add[@name='php']: duplicate name 'php' (first defined on line 5)"});
        row("duplicate site id", {"id=\"2\"", "id=\"1\""},
            {f + "23: sites/site[@name='Other']/@id: duplicate id 1 (first defined on line 12)"});
        row("duplicate site name", {"name=\"Other\"", "name=\"Main\""},
            {f + "23: sites/site[@name='Main']: duplicate name 'Main' (first defined on line 12)"});
        row("colliding bindings", {"127.0.0.1:8081:", "127.0.0.1:8080:"},
            {f + "28: sites/site[@name='Other']/bindings/binding[@protocol='http' and @bindingInformation='127.0.0.1:8080:']"
                 "/@bindingInformation: http 127.0.0.1:8080: is already bound by site 'Main' (line 20)"});
        row("binding syntax", {"127.0.0.1:8081:", "127.0.0.1:99999:"},
            {f + "28: sites/site[@name='Other']/bindings/binding[@protocol='http' and @bindingInformation='127.0.0.1:99999:']"
                 "/@bindingInformation: '127.0.0.1:99999:' is not a binding (ip:port:host): port must be a number from 1 to 65535"});
        row("duplicate fastCgi application", {"stderrMode=\"ReturnStdErrIn500\" />", "stderrMode=\"ReturnStdErrIn500\" /><application fullPath=\"@DIR@/app\" />"},
            {f + "35: fastCgi/application[@fullPath='@DIR@/app']: duplicate fullPath '@DIR@/app' arguments '' (first defined on line 35)"});
        row("same fastCgi program, other arguments", {"stderrMode=\"ReturnStdErrIn500\" />", "stderrMode=\"ReturnStdErrIn500\" /><application fullPath=\"@DIR@/app\" arguments=\"-x\" />"},
            {});
        row("duplicate handler name", {"name=\"Static\"", "name=\"PHP\""},
            {f + "39: handlers/add[@name='PHP']: duplicate name 'PHP' (first defined on line 38)"});
        row("reference: pool", {"applicationPool=\"php\"", "applicationPool=\"perl\""},
            {f + "16: sites/site[@name='Main']/application[@path='/php']/@applicationPool: application pool 'perl' does not exist"});
        row("reference: fastCgi application", {"scriptProcessor=\"@DIR@/app\"", "scriptProcessor=\"/usr/bin/php-cgi\""},
            {f + "38: handlers/add[@name='PHP']/@scriptProcessor: no fastCgi application has fullPath '/usr/bin/php-cgi'"});
        row("reference: fastCgi arguments", {"scriptProcessor=\"@DIR@/app\"", "scriptProcessor=\"@DIR@/app|-c php.ini\""},
            {f + "38: handlers/add[@name='PHP']/@scriptProcessor: no fastCgi application has fullPath '@DIR@/app' and arguments '-c php.ini'"});
        row("FastCGI handler without scriptProcessor", {" scriptProcessor=\"@DIR@/app\"", ""},
            {f + "38: handlers/add[@name='PHP']/@scriptProcessor: a FastCgiModule handler needs a scriptProcessor naming a fastCgi application"});
        row("folder missing", {"@DIR@/www", "@DIR@/nothere"},
            {f + "14: sites/site[@name='Main']/application[@path='/']/virtualDirectory[@path='/']/@physicalPath: folder '@DIR@/nothere' does not exist"});
        row("folder is a file", {"@DIR@/www", "@DIR@/data.txt"},
            {f + "14: sites/site[@name='Main']/application[@path='/']/virtualDirectory[@path='/']/@physicalPath: '@DIR@/data.txt' is not a folder"});
        row("relative path", {"@DIR@/www", "www"},
            {f + "14: sites/site[@name='Main']/application[@path='/']/virtualDirectory[@path='/']/@physicalPath: 'www' is not an absolute path"});
        row("program not executable", {"fullPath=\"@DIR@/app\"", "fullPath=\"@DIR@/data.txt\"", "scriptProcessor=\"@DIR@/app\"", "scriptProcessor=\"@DIR@/data.txt\""},
            {f + "35: fastCgi/application[@fullPath='@DIR@/data.txt' and @arguments='']/@fullPath: '@DIR@/data.txt' is not an executable file"});
        row("program missing", {"fullPath=\"@DIR@/app\"", "fullPath=\"@DIR@/gone\"", "scriptProcessor=\"@DIR@/app\"", "scriptProcessor=\"@DIR@/gone\""},
            {f + "35: fastCgi/application[@fullPath='@DIR@/gone' and @arguments='']/@fullPath: program '@DIR@/gone' does not exist"});
        row("application path", {"path=\"/php\"", "path=\"php\""},
            {f + "16: sites/site[@name='Main']/application[@path='php']/@path: 'php' must start with '/'"});
        row("application without root folder", {"\"php\">\n                    <virtualDirectory path=\"/\"", "\"php\">\n                    <virtualDirectory path=\"/x\""},
            {f + "16: sites/site[@name='Main']/application[@path='/php']: the application has no virtualDirectory with path '/'"});
        row("site without root application", {"<application path=\"/\" applicationPool=\"static\">\n                    <virtualDirectory path=\"/\" physicalPath=\"@DIR@/www\" />\n                </application>\n                <bindings>\n                    <binding protocol=\"http\" bindingInformation=\"127.0.0.1:8081:\" />",
                                              "<application path=\"/a\" applicationPool=\"static\">\n                    <virtualDirectory path=\"/\" physicalPath=\"@DIR@/www\" />\n                </application>\n                <bindings>\n                    <binding protocol=\"http\" bindingInformation=\"127.0.0.1:8081:\" />"},
            {f + "23: sites/site[@name='Other']: the site has no root application (path '/')"});
        row("root element", {"<configuration>", "<settings>", "</configuration>", "</settings>"},
            {f + "2: settings: the root element is <settings>, expected <configuration>"});
        row("unknown attribute", {"queueLength=\"1000\"", "queueLenght=\"1000\""},
            {f + "5: applicationPools/add[@name='php']/@queueLenght: warning: unknown attribute 'queueLenght' (did you mean queueLength?); kept, ignored"});
        row("unknown section", {"<cgi timeout=\"00:15:00\" />", "<asp enableParentPaths=\"false\" />"},
            {f + "41: system.webServer/asp: ignored: not known to Lido; kept unchanged"});
        row("Windows-only attribute", {"<add name=\"static\" />", "<add name=\"static\" managedPipelineMode=\"Classic\" />"},
            {f + "9: applicationPools/add[@name='static']/@managedPipelineMode: warning: Windows-only setting; kept, no effect on Lido"});
        row("Windows path", {"@DIR@/www", "%SystemDrive%\\inetpub\\wwwroot"},
            {f + "14: sites/site[@name='Main']/application[@path='/']/virtualDirectory[@path='/']/@physicalPath: warning: Windows path "
                 "'%SystemDrive%\\inetpub\\wwwroot' cannot be used on Linux"});
        row("not well-formed XML", {"</handlers>", "</handler>"},
            {f + "40:11: not well-formed XML: Start-end tags mismatch"});
        row("several problems at once", {"queueLength=\"1000\"", "queueLength=\"0\"", "id=\"2\"", "id=\"1\"", "stderrMode=\"ReturnStdErrIn500\"", "stderrMode=\"Quiet\""},
            {f + "5: applicationPools/add[@name='php']/@queueLength: 0 is below the minimum 10",
             f + "23: sites/site[@name='Other']/@id: duplicate id 1 (first defined on line 12)",
             f + "35: fastCgi/application[@fullPath='@DIR@/app' and @arguments='']/@stderrMode: 'Quiet' is not one of "
                 "ReturnStdErrIn500, ReturnGeneric500, IgnoreAndReturn200, TerminateProcess"});
    }

    void rules()
    {
        QFETCH(QStringList, edits);
        QFETCH(QStringList, expected);
        Scratch s;
        QString text = testsupport::baseConfig();
        for (int i = 0; i + 1 < edits.size(); i += 2) {
            int at = text.indexOf(edits[i]);
            QVERIFY2(at >= 0, qPrintable("fixture edit does not apply: " + edits[i]));
            text.replace(at, edits[i].size(), edits[i + 1]);
        }
        QStringList want;
        for (const QString& e : expected)
            want << s.fill(e);
        QCOMPARE(diagnose(s, text), want);
    }

    void missingPathsAreWarningsElsewhere()
    {
        Scratch s;
        QString text = testsupport::baseConfig().replace("@DIR@/app", "/opt/elsewhere/php-cgi");
        QCOMPARE(diagnose(s, text, false),
                 QStringList{"applicationHost.config:35: fastCgi/application[@fullPath='/opt/elsewhere/php-cgi' and @arguments='']"
                             "/@fullPath: warning: program '/opt/elsewhere/php-cgi' does not exist"});
    }

    void importsAnIisFile()
    {
        // An applicationHost.config as IIS writes it loads: no errors, Windows values are warnings,
        // the rest is listed as ignored.
        auto config = loadConfig(LIDO_SOURCE_DIR "/tests/fixtures/config/iis-default.applicationHost.config");
        QVERIFY2(config, config ? "" : config.error().c_str());
        QVERIFY((*config)->valid());
        QStringList all;
        for (const Diagnostic& d : (*config)->diagnostics())
            all << QString::fromStdString(d.str());
        auto has = [&](const QString& part) { return !all.filter(part).isEmpty(); };
        QVERIFY(has("applicationPools/add[@name='.NET v4.5 Classic']/@managedPipelineMode: warning: Windows-only setting"));
        QVERIFY(has("physicalPath: warning: Windows path '%SystemDrive%\\inetpub\\wwwroot' cannot be used on Linux"));
        QVERIFY(has("configSections: ignored: IIS section declarations are kept unchanged"));
        QVERIFY(has("globalModules: ignored: not known to Lido; kept unchanged"));
        QVERIFY(has("webLimits: ignored"));
        // Locations are read: what Lido does not know inside them is named by the location's path.
        QVERIFY(has("location[@path='']/system.webServer/modules: ignored: not known to Lido; kept unchanged"));
        QVERIFY(has("location[@path='Default Web Site']/system.webServer/security/authentication: ignored: not known to Lido"));
        QVERIFY(!has("location[1]"));
        QCOMPARE((*config)->pools().size(), size_t(3));
        QCOMPARE((*config)->site("Default Web Site")->get("id"), std::string("1"));
    }
};

QTEST_APPLESS_MAIN(tst_ConfigValidator)
#include "tst_configvalidator.moc"
