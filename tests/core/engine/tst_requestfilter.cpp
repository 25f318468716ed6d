// Request filtering as IIS has it, with Lido's defaults for Linux: secrets are not served even
// when a MIME type is mapped for them, refusals are 404 with IIS's substatus on the detailed page
// and in the W3C log, and a configuration can add its own rules or clear the defaults.
#include "EngineSupport.h"

#include "engine/RequestFilter.h"

class tst_RequestFilter : public QObject {
    Q_OBJECT
private slots:
    void init()
    {
        f = std::make_unique<EngineFixture>();
        QDir www(f->s.path("www"));
        for (const char* dir : {".git", "sub/.svn", "hidden-by-config", "vendor"})
            www.mkpath(dir);
        f->s.write("www/.git/HEAD.txt", "ref: refs/heads/main\n");
        f->s.write("www/.git/config", "[core]\n");
        f->s.write("www/sub/.svn/entries.txt", "svn\n");
        f->s.write("www/.env", "DB_PASSWORD=secret\n");
        f->s.write("www/.htaccess", "Deny from all\n");
        f->s.write("www/app.config", "<configuration />\n");
        f->s.write("www/notes.txt.bak", "old notes\n");
        f->s.write("www/index.html~", "editor leftover\n");
        f->s.write("www/page.txt", "a page\n");
        f->s.write("www/hidden-by-config/a.txt", "a\n");
        // A MIME type for .config, .bak and ~ files does not make them servable.
        f->values["@FASTCGI@"] = R"(<staticContent><mimeMap fileExtension=".config" mimeType="text/xml" />)"
                                 R"(<mimeMap fileExtension=".bak" mimeType="text/plain" /></staticContent>)";
    }
    void cleanup() { f.reset(); }

    void secretsAreNotServed_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<int>("substatus");
        QTest::newRow(".git folder") << "/.git/HEAD.txt" << 8;
        QTest::newRow(".git/config") << "/.git/config" << 8;
        QTest::newRow(".svn deeper down") << "/sub/.svn/entries.txt" << 8;
        QTest::newRow(".env") << "/.env" << 8;
        QTest::newRow(".htaccess") << "/.htaccess" << 8;
        QTest::newRow("case does not matter") << "/.GIT/HEAD.txt" << 8;
        QTest::newRow(".config with a MIME type") << "/app.config" << 7;
        QTest::newRow(".bak with a MIME type") << "/notes.txt.bak" << 7;
        QTest::newRow("~ leftover") << "/index.html~" << 7;
        QTest::newRow("encoded") << "/%2Egit/HEAD.txt" << 8;
    }
    void secretsAreNotServed()
    {
        QFETCH(QString, url);
        QFETCH(int, substatus);
        QVERIFY(f->start());
        Response r = fetch(f->port, url);
        QCOMPARE(r.status, 404);
        QVERIFY2(r.body.contains(QString("HTTP Error 404.%1 - Not Found").arg(substatus).toUtf8()), r.body.constData());
        QVERIFY(r.body.contains("requestFiltering"));
        QCOMPARE(fetch(f->port, "/page.txt").status, 200);
    }

    void substatusIsLogged()
    {
        QVERIFY(f->start());
        QCOMPARE(fetch(f->port, "/.env").status, 404);
        QCOMPARE(fetch(f->port, "/nothing-here.txt").status, 404);
        QDir logs(f->s.path("logs/W3SVC1"));
        QByteArray log;
        QTRY_VERIFY_WITH_TIMEOUT((log = f->s.read("logs/W3SVC1/" + logs.entryList({"u_ex*.log"}).value(0))).contains("/nothing-here.txt"), 5000);
        QVERIFY(log.contains("sc-status sc-substatus sc-win32-status sc-bytes"));
        QVERIFY2(log.contains(" GET /.env - " + QByteArray::number(f->port) + " - 127.0.0.1 - - 404 8 0 "), log.constData());
        QVERIFY2(log.contains(" GET /nothing-here.txt - " + QByteArray::number(f->port) + " - 127.0.0.1 - - 404 0 0 "), log.constData());
    }

    // logExtFileFlags chooses the fields; they come in IIS's order whatever the order written,
    // and cs-bytes is the request as it came.
    void chosenLogFields()
    {
        uint16_t other = freePort();
        f->values["@SITES@"] = QString(R"(<site name="Logs" id="2"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
            <bindings><binding protocol="http" bindingInformation="127.0.0.1:%1:" /></bindings>
            <logFile directory="@DIR@/logs" logExtFileFlags="Host, Cookie, TimeTaken, Date, BytesRecv, UriStem, ProtocolVersion, HttpStatus, SiteName" />
            </site>)").arg(other);
        QVERIFY(f->start());
        QByteArray extra = "Cookie: a=1; b=2\r\n";
        QCOMPARE(fetch(other, "/hello.txt", extra).status, 200);
        int requestBytes = getRequest("/hello.txt", extra).size();
        QDir logs(f->s.path("logs/W3SVC2"));
        QByteArray log;
        QTRY_VERIFY_WITH_TIMEOUT((log = f->s.read("logs/W3SVC2/" + logs.entryList({"u_ex*.log"}).value(0))).contains("/hello.txt"), 5000);
        QVERIFY2(log.contains("\n#Fields: date s-sitename cs-uri-stem cs-version cs(Cookie) cs-host sc-status cs-bytes time-taken\n"), log.constData());
        QRegularExpression line(QString("\\n\\d{4}-\\d\\d-\\d\\d W3SVC2 /hello.txt HTTP/1.1 a=1;\\+b=2 127.0.0.1 200 %1 \\d+\\n").arg(requestBytes));
        QVERIFY2(line.match(QString::fromUtf8(log)).hasMatch(), log.constData());
    }

    // IIS's periods and their file names: monthly u_exYYMM, weekly u_exYYMMWW (the week of the
    // month, from Sunday), by size u_extendN going on from the highest N there.
    void logPeriods()
    {
        uint16_t monthly = freePort(), weekly = freePort(), bySize = freePort();
        auto site = [](int id, uint16_t port, const QString& logFile) {
            return QString(R"(<site name="S%1" id="%1"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
                <bindings><binding protocol="http" bindingInformation="127.0.0.1:%2:" /></bindings><logFile directory="@DIR@/logs" %3 /></site>)")
                .arg(id).arg(port).arg(logFile);
        };
        f->values["@SITES@"] = site(2, monthly, R"(period="Monthly")") + site(3, weekly, R"(period="Weekly")") +
                               site(4, bySize, R"(period="MaxSize" truncateSize="1048576")");
        QVERIFY(QDir().mkpath(f->s.path("logs/W3SVC4")));
        f->s.write("logs/W3SVC4/u_extend1.log", QByteArray(1048576, '#'));
        QVERIFY(f->start());
        QDate today = QDateTime::currentDateTimeUtc().date();
        for (uint16_t port : {monthly, weekly, bySize})
            QCOMPARE(fetch(port, "/hello.txt").status, 200);
        int firstWeekday = QDate(today.year(), today.month(), 1).dayOfWeek() % 7; // Sunday 0
        QStringList expected = {QString("logs/W3SVC2/u_ex%1.log").arg(today.toString("yyMM")),
                                QString("logs/W3SVC3/u_ex%1%2.log").arg(today.toString("yyMM")).arg((today.day() - 1 + firstWeekday) / 7 + 1, 2, 10, QChar('0')),
                                "logs/W3SVC4/u_extend2.log"};
        for (const QString& file : expected)
            QTRY_VERIFY2_WITH_TIMEOUT(f->s.read(file).contains("#Fields: ") && f->s.read(file).contains(" /hello.txt "), qPrintable(file), 5000);
        QCOMPARE(QDir(f->s.path("logs/W3SVC4")).entryList({"*.log"}), (QStringList{"u_extend1.log", "u_extend2.log"}));
        QCOMPARE(QFileInfo(f->s.path("logs/W3SVC4/u_extend1.log")).size(), qint64(1048576)); // left as it was
    }

    void configuredRules()
    {
        f->values["@FILTERING@"] = R"(<hiddenSegments><add segment="hidden-by-config" /></hiddenSegments>)"
                                   R"(<denyUrlSequences><add sequence="/admin" /></denyUrlSequences>)"
                                   R"(<verbs><add verb="OPTIONS" allowed="false" /></verbs>)"
                                   R"(<requestLimits><headerLimits><add header="X-Note" sizeLimit="8" /></headerLimits></requestLimits>)";
        // (a second requestLimits element is not allowed: the header limits go into the fixture's)
        QString text = f->text();
        text.replace(R"(<requestLimits><headerLimits><add header="X-Note" sizeLimit="8" /></headerLimits></requestLimits>)", "");
        text.replace(R"(maxQueryString="512" />)", R"(maxQueryString="512"><headerLimits><add header="X-Note" sizeLimit="8" /></headerLimits></requestLimits>)");
        QString file = f->s.config(text);
        auto config = lido::config::loadConfig(file.toStdString());
        QVERIFY(config && (*config)->valid());
        f->engine = std::make_unique<lido::engine::Engine>(lido::engine::EngineOptions{1, f->s.path("log").toStdString(), false, f->s.path("run").toStdString()});
        QVERIFY(f->engine->start(*config).ok());
        auto substatusOf = [](const Response& r) {
            qsizetype at = r.body.indexOf("HTTP Error 404.");
            return at < 0 ? 0 : r.body.mid(at + 15, 2).toInt();
        };
        QCOMPARE(substatusOf(fetch(f->port, "/hidden-by-config/a.txt")), 8);
        QCOMPARE(substatusOf(fetch(f->port, "/admin/page.txt")), 5);
        QCOMPARE(substatusOf(fetch(f->port, "/page.txt", {}, "OPTIONS")), 6);
        QCOMPARE(substatusOf(fetch(f->port, "/page.txt", "X-Note: far too long\r\n")), 10);
        QCOMPARE(fetch(f->port, "/page.txt", "X-Note: short\r\n").status, 200);
        QCOMPARE(substatusOf(fetch(f->port, "/.git/HEAD.txt")), 8); // the defaults stay
    }

    void defaultsCanBeCleared()
    {
        f->values["@FILTERING@"] = R"(<hiddenSegments><clear /></hiddenSegments><fileExtensions><remove fileExtension=".bak" /></fileExtensions>)";
        QVERIFY(f->start());
        Response r = fetch(f->port, "/.git/HEAD.txt");
        QCOMPARE(r.status, 200);
        QCOMPARE(r.body, QByteArray("ref: refs/heads/main\n"));
        QCOMPARE(fetch(f->port, "/notes.txt.bak").status, 200);
        QCOMPARE(fetch(f->port, "/app.config").status, 404); // .config is still denied
    }

    // IIS keeps per-site settings in <location path="Site"> blocks: one site clears the defaults,
    // the other keeps them.
    void siteCanClearTheDefaults()
    {
        uint16_t otherPort = freePort();
        f->values["@SITES@"] = QString(R"(<site name="Other" id="2"><application path="/" applicationPool="web">)"
                                       R"(<virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)"
                                       R"(<bindings><binding protocol="http" bindingInformation="127.0.0.1:%1:" /></bindings></site>)").arg(otherPort);
        f->values["@LIDO@"] = R"(<location path="Main"><system.webServer><security><requestFiltering>)"
                              R"(<hiddenSegments><clear /></hiddenSegments>)"
                              R"(</requestFiltering></security></system.webServer></location>)";
        QVERIFY(f->start());
        Response main = fetch(f->port, "/.git/HEAD.txt");
        QCOMPARE(main.status, 200);
        QCOMPARE(main.body, QByteArray("ref: refs/heads/main\n"));
        QCOMPARE(fetch(f->port, "/app.config").status, 404); // only the hidden segments were cleared
        Response other = fetch(otherPort, "/.git/HEAD.txt");
        QCOMPARE(other.status, 404);
        QVERIFY(other.body.contains("HTTP Error 404.8"));
        QCOMPARE(fetch(otherPort, "/page.txt").status, 200);
    }

    void allowUnlisted()
    {
        lido::engine::RequestFilter none;
        lido::http::Request req;
        req.method = "GET";
        req.target = req.path = "/x.php";
        QVERIFY(!none.check(req, "/x.php"));
        QCOMPARE(none.check(req, "/x.php~")->substatus, 7);
    }

private:
    std::unique_ptr<EngineFixture> f;
};

QTEST_GUILESS_MAIN(tst_RequestFilter)
#include "tst_requestfilter.moc"
