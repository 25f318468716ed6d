// The requests behind a failure, against the real engine on loopback: the requests running now
// (a slow FastCGI request and a slow CGI program listed with their pid and phase while they run,
// in Engine::requests and /status?full), and failed-request tracing with IIS's names: a slow
// request and a 500 keep a trace with the routing decision, the phases in order, stderr and the
// events; cookies and Authorization are masked; maxLogFiles bounds the folder; a site without
// traceFailedRequestsLogging keeps none; a malformed statusCodes names its line.
#include "EngineSupport.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <csignal>
#include <thread>

namespace {

QString tracing(const QString& path, const QString& codes, const QString& timeTaken, const QString& verbosity = "Ignore")
{
    return QString(R"(<tracing><traceFailedRequests><add path="%1"><traceAreas><add provider="WWW Server" areas="Rewrite,FastCGI" verbosity="Verbose" /></traceAreas>)"
                   R"(<failureDefinitions statusCodes="%2" timeTaken="%3" verbosity="%4" /></add></traceFailedRequests></tracing>)")
        .arg(path, codes, timeTaken, verbosity);
}

QJsonObject traceOf(const lido::engine::Engine& engine, const std::string& id)
{
    auto text = engine.trace(id);
    if (!text)
        return {};
    return QJsonDocument::fromJson(QByteArray::fromStdString(*text)).object();
}

QStringList phaseKeys(const QJsonObject& trace)
{
    QStringList out;
    for (const QJsonValue& p : trace["phases"].toArray())
        out << p["phase"].toString();
    return out;
}

double phaseMs(const QJsonObject& trace, const QString& key)
{
    for (const QJsonValue& p : trace["phases"].toArray())
        if (p["phase"].toString() == key)
            return p["ms"].toDouble();
    return -1;
}

} // namespace

class tst_Tracing : public QObject {
    Q_OBJECT

    // A site that keeps traces (maxFiles of them) with the rule given, FastCGI under /app/.
    void traced(EngineFixture& f, const QString& rule, int maxFiles = 50)
    {
        f.useFastCgiHelper("maxInstances=\"2\"");
        f.values["@FASTCGI@"] += rule;
        f.values["@APPS@"] = QString(R"(<traceFailedRequestsLogging enabled="true" maxLogFiles="%1" />)").arg(maxFiles);
    }

private slots:
    void runningRequestsAreListed()
    {
        EngineFixture f;
        f.useFastCgiHelper();
        uint16_t status = freePort();
        f.values["@LIDO@"] = QString(R"(<lido><statusListener bindingInformation="127.0.0.1:%1:" /></lido>)").arg(status);
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/app/warm").status, 200); // an instance is up: the slow one waits for the application, not a spawn
        QTRY_VERIFY(f.engine->requests().empty()); // (the warm-up leaves the board once its response is complete)
        Response slowFcgi, slowCgi;
        std::thread a([&] { slowFcgi = fetch(f.port, "/app/slow?sleep=2500"); });
        std::thread b([&] { slowCgi = fetch(f.port, "/cgi-bin/helper.cgi?sleep=2500"); });
        auto find = [&](const char* url) {
            for (const auto& r : f.engine->requests("web"))
                if (r.url == url)
                    return r;
            return lido::log::RunningRequest{};
        };
        QTRY_VERIFY(find("/app/slow?sleep=2500").phase == lido::log::Phase::Waiting);
        QTRY_VERIFY(find("/cgi-bin/helper.cgi?sleep=2500").phase == lido::log::Phase::Waiting);
        auto fcgi = find("/app/slow?sleep=2500"), cgi = find("/cgi-bin/helper.cgi?sleep=2500");
        QCOMPARE(fcgi.method, std::string("GET"));
        QCOMPARE(fcgi.client, std::string("127.0.0.1"));
        QCOMPARE(fcgi.site, std::string("Main"));
        QCOMPARE(fcgi.handler, std::string("App"));
        QVERIFY(fcgi.pid > 0);
        QVERIFY(cgi.pid > 0 && cgi.pid != fcgi.pid);
        QCOMPARE(cgi.handler, std::string("CGI"));
        QVERIFY(::kill(cgi.pid, 0) == 0); // the pid of the program that runs it
        QVERIFY(f.engine->requests("nosuchpool").empty());

        // /status?full lists them too; /status alone does not.
        Response full = fetch(status, "/status?full");
        QCOMPARE(full.status, 200);
        QJsonArray running = QJsonDocument::fromJson(full.body).object()["requests"].toArray();
        QStringList urls;
        for (const QJsonValue& r : running) {
            urls << r["url"].toString();
            if (r["url"].toString() == "/app/slow?sleep=2500") {
                QCOMPARE(r["phase"].toString(), QString("waiting for the application"));
                QCOMPARE(r["pid"].toInt(), fcgi.pid);
                QCOMPARE(r["application pool"].toString(), QString("web"));
                QVERIFY(r["elapsed ms"].toDouble() > 0);
            }
        }
        QVERIFY2(urls.contains("/app/slow?sleep=2500") && urls.contains("/cgi-bin/helper.cgi?sleep=2500"), qPrintable(urls.join(", ")));
        QVERIFY(!QJsonDocument::fromJson(fetch(status, "/status").body).object().contains("requests"));
        a.join();
        b.join();
        QCOMPARE(slowFcgi.status, 200);
        QCOMPARE(slowCgi.status, 200);
        QTRY_VERIFY(f.engine->requests().empty()); // off the board once answered
    }

    void slowFastCgiRequestKeepsATrace()
    {
        EngineFixture f;
        traced(f, tracing("*", "500-599", "00:00:01"));
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/app/quick").status, 200); // fast and 200: no trace
        QCOMPARE(fetch(f.port, "/app/slow?sleep=1400").status, 200);
        std::vector<lido::engine::TraceSummary> list;
        QTRY_VERIFY((list = f.engine->traces()).size() == 1);
        QCOMPARE(list[0].url, std::string("/app/slow?sleep=1400"));
        QCOMPARE(list[0].status, 200);
        QCOMPARE(list[0].pool, std::string("web"));
        QVERIFY2(list[0].failure.find("more than timeTaken") != std::string::npos, list[0].failure.c_str());
        QVERIFY(list[0].totalMs >= 1400);
        QCOMPARE(list[0].id.substr(0, 7), std::string("W3SVC1/"));
        QString file = f.s.path("log/FailedReqLogFiles/" + QString::fromStdString(list[0].id) + ".json");
        QVERIFY(QFile::exists(file));
        struct stat st {};
        QVERIFY(::stat(file.toUtf8().constData(), &st) == 0);
        QCOMPARE(st.st_mode & 0777, 0640u); // URLs with their queries and stderr: not for everybody
        QVERIFY(::stat(f.s.path("log/FailedReqLogFiles/W3SVC1").toUtf8().constData(), &st) == 0);
        QCOMPARE(st.st_mode & 0777, 0750u);

        QJsonObject t = traceOf(*f.engine, list[0].id);
        QCOMPARE(t["site"].toString(), QString("Main"));
        QJsonObject routing = t["routing"].toObject();
        QCOMPARE(routing["pool"].toString(), QString("web"));
        QCOMPARE(routing["module"].toString(), QString("FastCgiModule"));
        QCOMPARE(routing["handler"].toString(), QString("App"));
        QCOMPARE(routing["application"].toString(), QString("/"));
        QVERIFY(routing["pid"].toInt() > 0);
        QVERIFY(t["rule"].toObject()["areas"].toString().contains("Rewrite,FastCGI"));
        // An instance was up: queued, then waiting for the application (the sleep), then sending.
        QStringList phases = phaseKeys(t);
        QVERIFY2(phases.indexOf("queued") >= 0 && phases.indexOf("queued") < phases.indexOf("waiting") &&
                     phases.indexOf("waiting") < phases.indexOf("sending"),
                 qPrintable(phases.join(" ")));
        QVERIFY2(phaseMs(t, "waiting") >= 1350, qPrintable(QString::number(phaseMs(t, "waiting"))));
        QJsonObject timings = t["timings"].toObject();
        QVERIFY(timings["firstByteMs"].toDouble() >= 1350);
        QVERIFY(timings["totalMs"].toDouble() >= timings["firstByteMs"].toDouble());
        QCOMPARE(t["response"].toObject()["status"].toInt(), 200);
    }

    void failedRequestsKeepStderrAndEventsWithSecretsMasked()
    {
        EngineFixture f;
        traced(f, tracing("*", "500-599", "00:00:00"));
        QVERIFY(f.start());
        Response r = fetch(f.port, "/app/broken?stderr=database-unreachable",
                           "Cookie: PHPSESSID=s3cr3t-session; wp_logged_in=also-secret\r\nAuthorization: Basic dXNlcjpwYXNz\r\n");
        QCOMPARE(r.status, 500);
        // A CGI program's 503: its spawn is a phase of its own.
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi?status=503").status, 503);
        QCOMPARE(fetch(f.port, "/missing.txt").status, 404); // 404 is not in 500-599
        std::vector<lido::engine::TraceSummary> list;
        QTRY_VERIFY((list = f.engine->traces()).size() == 2);
        QCOMPARE(list[1].url, std::string("/app/broken?stderr=database-unreachable")); // newest first
        QCOMPARE(list[0].url, std::string("/cgi-bin/helper.cgi?status=503"));

        QJsonObject t = traceOf(*f.engine, list[1].id);
        QCOMPARE(t["response"].toObject()["status"].toInt(), 500);
        QVERIFY2(t["failure"].toString().contains("status 500"), qPrintable(t["failure"].toString()));
        QVERIFY(t["stderr"].toString().contains("database-unreachable"));
        QString headers = QJsonDocument(t["request"].toObject()["headers"].toArray()).toJson();
        QVERIFY2(headers.contains("PHPSESSID=***") && headers.contains("wp_logged_in=***") && headers.contains("Authorization: Basic ***"),
                 qPrintable(headers));
        QVERIFY2(!headers.contains("s3cr3t") && !headers.contains("also-secret") && !headers.contains("dXNlcjpwYXNz"), qPrintable(headers));
        bool stderrEvent = false;
        for (const QJsonValue& e : t["events"].toArray())
            stderrEvent = stderrEvent || (e["code"].toString() == "fastcgi.stderr" && e["message"].toString().contains("database-unreachable"));
        QVERIFY2(stderrEvent, qPrintable(QJsonDocument(t["events"].toArray()).toJson()));

        QJsonObject cgi = traceOf(*f.engine, list[0].id);
        QCOMPARE(cgi["routing"].toObject()["module"].toString(), QString("CgiModule"));
        QVERIFY(cgi["routing"].toObject()["pid"].toInt() > 0);
        QCOMPARE(phaseKeys(cgi), QStringList({"routing", "queued", "spawning", "waiting", "sending"}));
        QVERIFY(cgi["timings"].toObject()["spawnMs"].toDouble() >= 0);
        QVERIFY(!f.engine->trace("W3SVC1/fr999999"));
        QVERIFY(!f.engine->trace("../../etc/passwd"));
    }

    void maxLogFilesBoundsTheFolder()
    {
        EngineFixture f;
        traced(f, tracing("/cgi-bin/*", "400-599", "00:00:00"), 3);
        QVERIFY(f.start());
        for (int i = 0; i < 5; ++i)
            QCOMPARE(fetch(f.port, QString("/cgi-bin/helper.cgi?status=50%1").arg(i)).status, 500 + i);
        QCOMPARE(fetch(f.port, "/missing.txt").status, 404); // outside the rule's path
        // (A trace is written when the response is complete, which may be after the client read it.)
        auto files = [&] { return QDir(f.s.path("log/FailedReqLogFiles/W3SVC1")).entryList({"fr*.json"}, QDir::Files, QDir::Name); };
        QTRY_COMPARE(files(), QStringList({"fr000003.json", "fr000004.json", "fr000005.json"}));
        QCOMPARE(int(f.engine->traces().size()), 3);
        QCOMPARE(f.engine->traces().front().url, std::string("/cgi-bin/helper.cgi?status=504"));
        // Another engine on the same folder lists what the first kept, newest first, and its
        // own next trace is the newest.
        f.engine->stop(std::chrono::milliseconds(500));
        QVERIFY(f.start());
        auto listed = f.engine->traces();
        QCOMPARE(int(listed.size()), 3);
        QCOMPARE(listed.front().url, std::string("/cgi-bin/helper.cgi?status=504"));
        QCOMPARE(listed.front().status, 504);
        QCOMPARE(listed.back().url, std::string("/cgi-bin/helper.cgi?status=502"));
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi?status=503").status, 503);
        QTRY_COMPARE(files(), QStringList({"fr000004.json", "fr000005.json", "fr000006.json"}));
        listed = f.engine->traces();
        QCOMPARE(int(listed.size()), 3);
        QCOMPARE(listed.front().id, std::string("W3SVC1/fr000006"));
        QCOMPARE(listed.front().status, 503);
    }

    void noTracesWithoutTheSiteSaying()
    {
        EngineFixture f;
        f.useFastCgiHelper();
        f.values["@FASTCGI@"] += tracing("*", "500-599", "00:00:00");
        QVERIFY(f.start());
        QCOMPARE(fetch(f.port, "/cgi-bin/helper.cgi?status=500").status, 500);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);
        QVERIFY(f.engine->traces().empty());
        QVERIFY(!QDir(f.s.path("log/FailedReqLogFiles")).exists());
    }

    void malformedStatusCodesNameTheirLine()
    {
        EngineFixture f;
        f.values["@FASTCGI@"] = tracing("*", "500-599,5xx", "00:00:05");
        auto config = lido::config::loadConfig(f.s.config(f.text()).toStdString());
        QVERIFY(config.ok());
        QVERIFY(!(*config)->valid());
        bool named = false;
        for (const auto& d : (*config)->diagnostics())
            named = named || (d.str().find("failureDefinitions/@statusCodes") != std::string::npos && d.str().find("'5xx'") != std::string::npos &&
                              d.line > 0);
        QVERIFY(named);
    }
};

QTEST_GUILESS_MAIN(tst_Tracing)
#include "tst_tracing.moc"
