// Semantic, unified and script diffs; the script, run for real, turns A into B.
#include "TestSupport.h"
#include "config/ConfigDiff.h"
#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"

using namespace lido::config;
using testsupport::Scratch;

namespace {

std::shared_ptr<const Config> configOf(const QString& text)
{
    auto doc = ConfigDocument::parse(text.toStdString(), "x.config");
    return doc ? Config::fromDocument(*doc, ValidateOptions{false}) : nullptr;
}

QString edited(const QString& text, const std::vector<std::vector<std::string>>& edits)
{
    auto doc = ConfigDocument::parse(text.toStdString(), "x.config");
    for (const auto& words : edits) {
        auto r = applyEditWords(*doc, words);
        if (!r)
            qFatal("%s", r.error().c_str());
    }
    return QString::fromStdString(doc->text());
}

QStringList lines(const std::string& s) { return QString::fromStdString(s).split('\n', Qt::SkipEmptyParts); }

} // namespace

class tst_ConfigDiff : public QObject {
    Q_OBJECT
private slots:
    void semantic()
    {
        Scratch s;
        QString a = s.fill(testsupport::baseConfig());
        QString b = edited(a, {{"set", "pool", "php", "queueLength=500", "processModel.userName=www-data"},
                               {"remove", "site", "Other"},
                               {"add", "pool", "perl", "startMode=AlwaysRunning"},
                               {"set", "handler", "Static", "resourceType=File"}});
        auto changes = semanticDiff(*configOf(a), *configOf(b));
        QCOMPARE(lines(formatSemanticDiff(changes)),
                 QStringList({"applicationPools/add[@name='php']/@queueLength: 1000 -> 500",
                              "applicationPools/add[@name='php']/processModel/@userName: \"\" -> www-data",
                              "added: applicationPools/add[@name='perl']",
                              "removed: sites/site[@name='Other']",
                              "handlers/add[@name='Static']/@resourceType: Unspecified -> File"}));
    }

    void formattingAndSpellingOfEqualValuesAreNotChanges()
    {
        Scratch s;
        QString a = s.fill(testsupport::baseConfig());
        QString b = a;
        b.replace("<add name=\"php\" queueLength=\"1000\">", "<add   queueLength=\"01000\"\n       name=\"php\" autoStart=\"True\">");
        b.replace("idleTimeout=\"00:20:00\"", "idleTimeout=\"0:20:00\"");
        b.replace("<!-- nothing -->", "");
        QVERIFY(a != b);
        QVERIFY(semanticDiff(*configOf(a), *configOf(b)).empty());
    }

    void unified()
    {
        Scratch s;
        QString a = s.fill(testsupport::baseConfig());
        QString b = edited(a, {{"set", "pool", "php", "queueLength=500"}});
        std::string u = unifiedDiff(a.toStdString(), b.toStdString(), "a/applicationHost.config", "b/applicationHost.config");
        QCOMPARE(lines(u), QStringList({"--- a/applicationHost.config", "+++ b/applicationHost.config", "@@ -2,7 +2,7 @@",
                                        " <configuration>", "     <system.applicationHost>", "         <applicationPools>",
                                        "-            <add name=\"php\" queueLength=\"1000\">",
                                        "+            <add name=\"php\" queueLength=\"500\">",
                                        "                 <processModel idleTimeout=\"00:20:00\" />",
                                        "                 <failure rapidFailProtection=\"true\" rapidFailProtectionMaxCrashes=\"5\" />",
                                        "             </add>"}));
        QVERIFY(unifiedDiff(a.toStdString(), a.toStdString(), "a", "b").empty());
    }

    void scriptTurnsOldIntoNew_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QStringList>("edits"); // lines of edit words, shell-quoted
        QTest::newRow("pool settings") << "pool" << QStringList{"set pool php queueLength=500 failure.rapidFailProtectionMaxCrashes=3 processModel.idleTimeout=00:05:00"};
        QTest::newRow("new pool and site") << "site" << QStringList{"add pool perl startMode=AlwaysRunning recycling.periodicRestart.requests=500",
                                                                   "add site Perl bindings=http/127.0.0.1:9090:,http/127.0.0.1:9091:www.example.org physicalPath=@DIR@/www2 applicationPool=perl",
                                                                   "set site Perl limits.maxConnections=100"};
        QTest::newRow("removals") << "removals" << QStringList{"remove site Other", "remove handler Static", "unset pool php queueLength"};
        QTest::newRow("fastcgi and handlers") << "fastcgi" << QStringList{"add fastcgi '@DIR@/app|-c /etc/php.ini' maxInstances=0 environmentVariables.environmentVariable.name=ignored",
                                                                          "set fastcgi @DIR@/app stderrMode=TerminateProcess signalBeforeTerminateSeconds=5",
                                                                          "add handler Perl path=*.pl verb=GET,POST modules=FastCgiModule 'scriptProcessor=@DIR@/app|-c /etc/php.ini'",
                                                                          "add element \"fastCgi/application[@fullPath='@DIR@/app' and @arguments='']/environmentVariables/environmentVariable[@name='PHP_FCGI_MAX_REQUESTS']\" value=1000"};
        QTest::newRow("keys that change") << "rename" << QStringList{"remove pool static", "add pool static2",
                                                                     "set element \"sites/site[@name='Main']/application[@path='/']\" applicationPool=static2",
                                                                     "set element \"sites/site[@name='Other']/application[@path='/']\" applicationPool=static2",
                                                                     "set element \"sites/site[@name='Other']/bindings/binding[@protocol='http' and @bindingInformation='127.0.0.1:8081:']\" bindingInformation=127.0.0.1:8082:"};
        // Handlers are tried in order: PHP after the catch-all would never be reached.
        QTest::newRow("handler order") << "order" << QStringList{"remove handler PHP", "set handler Static verb=GET,HEAD",
                                                                 "add handler PHP path=*.php verb=* modules=FastCgiModule scriptProcessor=@DIR@/app",
                                                                 "add handler Perl path=*.pl verb=* modules=CgiModule"};
        QTest::newRow("unknown parts") << "unknown" << QStringList{"add element system.webServer/asp/cache diskTemplateCacheDirectory=/tmp",
                                                                   "set pool php someFutureAttribute=1"};
    }
    void scriptTurnsOldIntoNew()
    {
        QFETCH(QString, name);
        QFETCH(QStringList, edits);
        Scratch s;
        QString a = s.config(testsupport::baseConfig(), "a.config");
        QFile::copy(a, s.path("b.config"));
        auto batch = testsupport::lidoctl({"batch", s.path("b.config")}, s.fill(edits.join('\n')).toUtf8());
        QVERIFY2(batch.exitCode == 0, qPrintable(batch.err));
        QVERIFY(s.read("a.config") != s.read("b.config"));

        auto script = testsupport::lidoctl({"diff", a, s.path("b.config"), "--format", "script"});
        QCOMPARE(script.exitCode, 1);
        s.write("change.sh", script.out.toUtf8());
        QFile::copy(a, s.path("copy.config"));
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("LIDOCTL", testsupport::lidoctlPath());
        auto ran = testsupport::run("sh", {s.path("change.sh"), s.path("copy.config")}, {}, env);
        QVERIFY2(ran.exitCode == 0, qPrintable(ran.err + "\n" + script.out));
        auto same = testsupport::lidoctl({"diff", s.path("copy.config"), s.path("b.config")});
        QVERIFY2(same.exitCode == 0, qPrintable(same.out + "\n" + script.out));
        QCOMPARE(same.out, QString());
    }

    void reorderIsAChange()
    {
        Scratch s;
        QString a = s.fill(testsupport::baseConfig());
        QString b = edited(a, {{"remove", "handler", "PHP"}, {"add", "handler", "PHP", "path=*.php", "verb=*", "modules=FastCgiModule", s.fill("scriptProcessor=@DIR@/app").toStdString()}});
        auto changes = semanticDiff(*configOf(a), *configOf(b));
        QCOMPARE(lines(formatSemanticDiff(changes)), QStringList{"reordered: handlers: PHP, Static -> Static, PHP"});
    }

    void scriptNeedsItsArgument()
    {
        Scratch s;
        QString a = s.config(testsupport::baseConfig(), "a.config");
        QString b = s.config(testsupport::baseConfig().replace("queueLength=\"1000\"", "queueLength=\"900\""), "b.config");
        auto script = testsupport::lidoctl({"diff", a, b, "--format", "script"});
        s.write("change.sh", script.out.toUtf8());
        auto ran = testsupport::run("sh", {s.path("change.sh")});
        QCOMPARE(ran.exitCode, 2);
        QVERIFY(ran.err.contains("usage: sh"));
    }
};

QTEST_APPLESS_MAIN(tst_ConfigDiff)
#include "tst_configdiff.moc"
