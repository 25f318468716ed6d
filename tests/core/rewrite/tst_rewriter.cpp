// IIS URL Rewrite rules parsed from a real configuration file and run on URLs with chosen server
// variables and files, without an engine: matches and captures, conditions (MatchAll, MatchAny,
// IsFile, IsDirectory, {C:n}), actions, functions, maps, stopProcessing and chaining, the three
// pattern syntaxes, and what validation says of broken rules.
#include "TestSupport.h"
#include "config/Config.h"
#include "config/RewriteRules.h"
#include "rewrite/Rewriter.h"

#include <set>

using namespace lido;
using Kind = rewrite::Outcome::Kind;

namespace {

#ifndef Q_MOC_RUN // moc loses track of the class after a raw string with quotes in it
QString wrap(const QString& rewrite)
{
    return QString(R"~(<?xml version="1.0"?>
<configuration>
  <system.applicationHost>
    <applicationPools><add name="web" /></applicationPools>
    <sites><site name="Main" id="1">
      <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@" /></application>
      <bindings><binding protocol="http" bindingInformation="127.0.0.1:8080:" /></bindings>
    </site></sites>
  </system.applicationHost>
  <system.webServer>
    <rewrite>
%1
    </rewrite>
  </system.webServer>
</configuration>
)~").arg(rewrite);
}

const char* kWordPress = R"~(
      <rules>
        <rule name="WordPress: Main Rule" stopProcessing="true">
          <match url=".*" />
          <conditions logicalGrouping="MatchAll">
            <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />
            <add input="{REQUEST_FILENAME}" matchType="IsDirectory" negate="true" />
          </conditions>
          <action type="Rewrite" url="index.php" />
        </rule>
      </rules>)~";
#endif

} // namespace

class tst_Rewriter : public QObject {
    Q_OBJECT
private slots:
    void wordPressMainRule();
    void capturesAndQueryStrings();
    void redirectWithConditionCaptures();
    void rulesChainUnlessStopProcessing();
    void rulesThatWouldLoopRunOnceEach();
    void functionsAndMaps();
    void matchAnyAndNegation();
    void wildcardAndExactMatch();
    void disabledAndClearedRulesDoNotRun();
    void validationNamesLineAttributeAndPcre2sWords();

private:
    config::RewriteRules load(const QString& rewrite, std::vector<config::Diagnostic>* problems = nullptr)
    {
        QString file = s.config(wrap(rewrite));
        auto config = config::loadConfig(file.toStdString());
        if (!config)
            qFatal("the configuration does not load");
        keep.push_back(*config);
        const config::ConfigElement* rw = (*config)->section("system.webServer/rewrite");
        return config::parseRewriteRules(rw ? rw->child("rules") : nullptr, rw ? rw->child("rewriteMaps") : nullptr, file.toStdString(), problems);
    }

    rewrite::Outcome run(const config::RewriteRules& rules, const std::string& path, const std::string& query = {},
                         std::map<std::string, std::string> variables = {})
    {
        // The site's files: /srv/www/wp-content/style.css and the folder /srv/www/wp-admin.
        static const std::set<std::string> files{"/srv/www/wp-content/style.css"}, folders{"/srv/www", "/srv/www/wp-admin"};
        rewrite::Context c;
        c.variable = [variables](const std::string& name, const std::string& url) -> std::optional<std::string> {
            if (name == "REQUEST_FILENAME") {
                std::string p = "/srv/www" + url;
                while (p.size() > 1 && p.back() == '/')
                    p.pop_back();
                return p;
            }
            auto it = variables.find(name);
            return it == variables.end() ? std::nullopt : std::optional(it->second);
        };
        c.exists = [](const std::string& p, bool directory) { return directory ? folders.count(p) > 0 : files.count(p) > 0; };
        return rewrite::run(rules, path, query, c);
    }

    testsupport::Scratch s;
    std::vector<std::shared_ptr<const config::Config>> keep;
};

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Rewriter::wordPressMainRule()
{
    auto rules = load(kWordPress);
    rewrite::Outcome o = run(rules, "/2026/12/hello-world/", "utm=x");
    QCOMPARE(o.kind, Kind::Rewrite);
    QCOMPARE(o.path, std::string("/index.php"));
    QCOMPARE(o.query, std::string("utm=x")); // appendQueryString defaults to true
    QCOMPARE(o.matched, std::vector<std::string>{"WordPress: Main Rule"});
    QCOMPARE(run(rules, "/wp-content/style.css").kind, Kind::None); // a file: served as it is
    QCOMPARE(run(rules, "/wp-admin/").kind, Kind::None);             // a folder
}

void tst_Rewriter::capturesAndQueryStrings()
{
    auto rules = load(R"~(<rules>
      <rule name="Short URLs"><match url="^wiki/(.*)$" /><action type="Rewrite" url="index.php?title={R:1}" /></rule>
    </rules>)~");
    rewrite::Outcome o = run(rules, "/wiki/Main_Page", "action=edit");
    QCOMPARE(o.path, std::string("/index.php"));
    QCOMPARE(o.query, std::string("title=Main_Page&action=edit"));
    auto noAppend = load(R"~(<rules>
      <rule name="A"><match url="^wiki/(.*)$" /><action type="Rewrite" url="index.php?title={R:1}" appendQueryString="false" /></rule>
    </rules>)~");
    QCOMPARE(run(noAppend, "/wiki/Main_Page", "action=edit").query, std::string("title=Main_Page"));
    QCOMPARE(run(rules, "/WIKI/Help").path, std::string("/index.php")); // ignoreCase by default
}

void tst_Rewriter::redirectWithConditionCaptures()
{
    auto rules = load(R"~(<rules>
      <rule name="Canonical host">
        <match url="(.*)" />
        <conditions><add input="{HTTP_HOST}" pattern="^www\.(.+)$" /></conditions>
        <action type="Redirect" url="https://{C:1}/{R:1}" redirectType="Found" />
      </rule>
    </rules>)~");
    rewrite::Outcome o = run(rules, "/shop/cart", "id=3", {{"HTTP_HOST", "www.example.org"}});
    QCOMPARE(o.kind, Kind::Redirect);
    QCOMPARE(o.status, 302);
    QCOMPARE(o.location, std::string("https://example.org/shop/cart?id=3"));
    QCOMPARE(run(rules, "/shop/cart", "", {{"HTTP_HOST", "example.org"}}).kind, Kind::None);
    auto temporary = load(R"~(<rules><rule name="T"><match url="old" /><action type="Redirect" url="/new" redirectType="Temporary" /></rule></rules>)~");
    QCOMPARE(run(temporary, "/old").status, 307);
    auto permanent = load(R"~(<rules><rule name="P"><match url="old" /><action type="Redirect" url="new" /></rule></rules>)~");
    QCOMPARE(run(permanent, "/old").status, 301);
    QCOMPARE(run(permanent, "/old").location, std::string("/new"));
}

void tst_Rewriter::rulesChainUnlessStopProcessing()
{
    const char* chain = R"~(<rules>
      <rule name="First" stopProcessing="%1"><match url="^a/(.*)" /><action type="Rewrite" url="b/{R:1}" /></rule>
      <rule name="Second"><match url="^b/(.*)" /><action type="Rewrite" url="c/{R:1}" /></rule>
    </rules>)~";
    rewrite::Outcome chained = run(load(QString(chain).arg("false")), "/a/x");
    QCOMPARE(chained.path, std::string("/c/x")); // the second rule saw the first's output
    QCOMPARE(chained.matched, (std::vector<std::string>{"First", "Second"}));
    QCOMPARE(run(load(QString(chain).arg("true")), "/a/x").path, std::string("/b/x"));
}

void tst_Rewriter::rulesThatWouldLoopRunOnceEach()
{
    // a -> b -> a would loop if rules ran until nothing matched; IIS runs each once, in order, and
    // so does Lido: the URL ends as the last rule left it, and a later request starts afresh.
    auto rules = load(R"~(<rules>
      <rule name="There"><match url="^a/(.*)" /><action type="Rewrite" url="b/{R:1}" /></rule>
      <rule name="Back"><match url="^b/(.*)" /><action type="Rewrite" url="a/{R:1}" /></rule>
      <rule name="Self"><match url="^a/(.*)" /><action type="Rewrite" url="a/{R:1}" /></rule>
    </rules>)~");
    rewrite::Outcome o = run(rules, "/a/x");
    QCOMPARE(o.kind, rewrite::Outcome::Kind::Rewrite);
    QCOMPARE(o.path, std::string("/a/x"));
    QCOMPARE(o.matched, (std::vector<std::string>{"There", "Back", "Self"}));
}

void tst_Rewriter::functionsAndMaps()
{
    auto rules = load(R"~(<rules>
      <rule name="Moved" stopProcessing="true">
        <match url=".*" />
        <conditions><add input="{Moved:{REQUEST_URI}}" pattern="(.+)" /></conditions>
        <action type="Redirect" url="{C:1}" appendQueryString="false" />
      </rule>
      <rule name="Lower"><match url="^Docs/(.*)$" ignoreCase="false" /><action type="Rewrite" url="docs/{ToLower:{R:1}}?q={UrlEncode:{R:1}}" /></rule>
    </rules>
    <rewriteMaps>
      <rewriteMap name="Moved"><add key="/old-page" value="/new-page" /></rewriteMap>
    </rewriteMaps>)~");
    rewrite::Outcome moved = run(rules, "/Old-Page", "", {{"REQUEST_URI", "/Old-Page"}}); // keys without case
    QCOMPARE(moved.kind, Kind::Redirect);
    QCOMPARE(moved.location, std::string("/new-page"));
    rewrite::Outcome lower = run(rules, "/Docs/A B&C", "", {{"REQUEST_URI", "/Docs/A B&C"}});
    QCOMPARE(lower.path, std::string("/docs/a b&c"));
    QCOMPARE(lower.query, std::string("q=A%20B%26C"));
    QCOMPARE(rewrite::urlDecode("A%20B%26C"), std::string("A B&C"));
}

void tst_Rewriter::matchAnyAndNegation()
{
    auto rules = load(R"~(<rules>
      <rule name="Block bots">
        <match url=".*" />
        <conditions logicalGrouping="MatchAny">
          <add input="{HTTP_USER_AGENT}" pattern="BadBot" />
          <add input="{REMOTE_ADDR}" pattern="^10\.6\.6\." />
        </conditions>
        <action type="CustomResponse" statusCode="403" subStatusCode="5" statusReason="Forbidden" statusDescription="No bots" />
      </rule>
      <rule name="Everything but the API"><match url="^api/" negate="true" /><action type="Rewrite" url="app.php" /></rule>
    </rules>)~");
    rewrite::Outcome bot = run(rules, "/x", "", {{"HTTP_USER_AGENT", "BadBot/1.0"}, {"REMOTE_ADDR", "192.0.2.1"}});
    QCOMPARE(bot.kind, Kind::CustomResponse);
    QCOMPARE(bot.status, 403);
    QCOMPARE(bot.substatus, 5);
    QCOMPARE(bot.description, std::string("No bots"));
    QCOMPARE(run(rules, "/x", "", {{"HTTP_USER_AGENT", "curl"}, {"REMOTE_ADDR", "10.6.6.1"}}).kind, Kind::CustomResponse);
    QCOMPARE(run(rules, "/x", "", {{"HTTP_USER_AGENT", "curl"}, {"REMOTE_ADDR", "192.0.2.1"}}).path, std::string("/app.php"));
    QCOMPARE(run(rules, "/api/users", "", {{"HTTP_USER_AGENT", "curl"}}).kind, Kind::None);
}

void tst_Rewriter::wildcardAndExactMatch()
{
    auto rules = load(R"~(<rules>
      <rule name="W" patternSyntax="Wildcard"><match url="blog/*/*" /><action type="Rewrite" url="blog.php?year={R:1}&amp;slug={R:2}" /></rule>
      <rule name="E" patternSyntax="ExactMatch"><match url="old.html" /><action type="AbortRequest" /></rule>
    </rules>)~");
    rewrite::Outcome w = run(rules, "/blog/2026/hello.world");
    QCOMPARE(w.path, std::string("/blog.php"));
    QCOMPARE(w.query, std::string("year=2026&slug=hello.world"));
    QCOMPARE(run(rules, "/blogX2026").kind, Kind::None); // '.' and the rest are literal in Wildcard
    QCOMPARE(run(rules, "/OLD.html").kind, Kind::Abort);
    QCOMPARE(run(rules, "/old.html.bak").kind, Kind::None);
}

void tst_Rewriter::disabledAndClearedRulesDoNotRun()
{
    auto rules = load(R"~(<rules>
      <rule name="Off" enabled="false"><match url=".*" /><action type="AbortRequest" /></rule>
      <rule name="Gone"><match url=".*" /><action type="AbortRequest" /></rule>
      <remove name="Gone" />
    </rules>)~");
    QVERIFY(rules.empty());
    QCOMPARE(run(rules, "/x").kind, Kind::None);
}

void tst_Rewriter::validationNamesLineAttributeAndPcre2sWords()
{
    std::vector<config::Diagnostic> problems;
    QString text = wrap(R"~(      <rules>
    <rule name="Bad pattern"><match url="^(wiki/.*$" /><action type="Rewrite" url="x" /></rule>
    <rule name="Past groups"><match url="^a/(.*)$" /><action type="Rewrite" url="b/{R:2}" /></rule>
    <rule name="Unknown"><match url=".*" /><conditions><add input="{NO_SUCH_VAR}" pattern="x" /></conditions><action type="Rewrite" url="{Nope:{R:0}}" /></rule>
    <rule name="No status"><match url=".*" /><action type="CustomResponse" /></rule>
    <rule name="Unclosed"><match url=".*" /><action type="Rewrite" url="{R:0" /></rule>
  </rules>)~");
    QString file = s.config(text);
    auto config = config::loadConfig(file.toStdString());
    QVERIFY(config);
    QStringList all;
    for (const auto& d : (*config)->diagnostics())
        all << QString::fromStdString(d.str());
    auto has = [&](const QString& part) {
        bool found = !all.filter(part).isEmpty();
        if (!found)
            qWarning("missing \"%s\" in:\n%s", qPrintable(part), qPrintable(all.join('\n')));
        return found;
    };
    QVERIFY(!(*config)->valid());
    QVERIFY(has(":13: rewrite/rules/rule[@name='Bad pattern']/match/@url: the pattern \"^(wiki/.*$\" does not compile: missing closing parenthesis at offset 10"));
    QVERIFY(has(":14: rewrite/rules/rule[@name='Past groups']/action/@url: {R:2} refers past the match pattern's 1 group"));
    QVERIFY(has("rule[@name='Unknown']/conditions/add/@input: unknown server variable {NO_SUCH_VAR}"));
    QVERIFY(has("rule[@name='Unknown']/action/@url: {Nope:...} is neither a function (ToLower, UrlEncode, UrlDecode) nor a rewriteMap"));
    QVERIFY(has("rule[@name='No status']/action/@statusCode: a CustomResponse action needs a statusCode"));
    QVERIFY(has("rule[@name='Unclosed']/action/@url: {R:n} at offset 0 needs a group number"));
    QVERIFY(load(kWordPress, &problems).rules.size() == 1);
    QVERIFY(problems.empty());
}
#endif

QTEST_APPLESS_MAIN(tst_Rewriter)
#include "tst_rewriter.moc"
