// The status listener's pages as pure functions of a snapshot: /status is JSON that parses, with
// php-fpm's names and the values given (strings with quotes and newlines included), and /metrics
// is Prometheus text with escaped labels.
#include "engine/StatusPage.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

using namespace lido::engine;

namespace {

Snapshot sample()
{
    Snapshot s;
    s.version = "0.1.0";
    s.configHash = "0123456789abcdef";
    s.draining = true;
    PoolMetrics p;
    p.pool = "php \"main\"";
    p.identity = "www-data (uid 33)";
    p.application = "/usr/bin/php-cgi";
    p.running = false;
    p.stoppedReason = "stopped by rapid-fail protection: 5 crashes in 300 s; last: stderr: \"line 1\nline 2\"";
    p.idle = 1;
    p.busy = 2;
    p.queued = 3;
    p.accepted = 100;
    p.completed = 97;
    p.crashes = 5;
    p.selfRecycles = 4;
    p.advice = "set instanceMaxRequests to 500 or less";
    p.p99Ms = 12.5;
    p.latencyRequests = 40;
    p.instances.push_back(InstanceMetrics{4242, InstanceState::Busy, 7, 1.5, "/index.php?a=1", 1048576, 0.25});
    s.fastcgi.push_back(p);
    PoolMetrics quiet; // no request in the last minute: no percentiles
    quiet.pool = "quiet";
    quiet.p99Ms = 23.5;
    s.fastcgi.push_back(quiet);
    SiteMetrics site;
    site.name = "Main";
    site.state = "Started";
    site.status2xx = 90;
    site.status5xx = 7;
    site.openConnections = 4;
    s.sites.push_back(site);
    CgiMetrics c;
    c.pool = "web";
    c.identity = "nobody (uid 65534)";
    c.running = 2;
    s.cgi.push_back(c);
    return s;
}

} // namespace

class tst_StatusPage : public QObject {
    Q_OBJECT
private slots:
    void statusIsJsonWithPhpFpmNames()
    {
        std::string text = statusJson(sample(), 12.25);
        QJsonParseError error;
        QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(text), &error);
        QCOMPARE(error.error, QJsonParseError::NoError);
        QJsonObject root = doc.object();
        QCOMPARE(root["start since"].toDouble(), 12.25);
        QJsonObject pool = root["pools"].toArray().first().toObject();
        QCOMPARE(pool["pool"].toString(), QString("php \"main\""));
        QCOMPARE(pool["identity"].toString(), QString("www-data (uid 33)"));
        QCOMPARE(pool["state"].toString(), QString("Stopped"));
        QVERIFY(pool["stopped reason"].toString().endsWith("\"line 1\nline 2\""));
        QCOMPARE(pool["listen queue"].toInt(), 3);
        QCOMPARE(pool["active processes"].toInt(), 2);
        QCOMPARE(pool["total processes"].toInt(), 3);
        QCOMPARE(pool["self recycles"].toInt(), 4);
        QCOMPARE(pool["advice"].toString(), QString("set instanceMaxRequests to 500 or less"));
        QCOMPARE(pool["failures"].toObject()["crash"].toInt(), 5);
        QCOMPARE(pool["latency ms"].toObject()["p99"].toDouble(), 12.5);
        QCOMPARE(pool["latency ms"].toObject()["requests"].toInt(), 40);
        QVERIFY(root["pools"].toArray().at(1).toObject()["latency ms"].isNull());
        QJsonObject process = pool["processes"].toArray().first().toObject();
        QCOMPARE(process["pid"].toInt(), 4242);
        QCOMPARE(process["state"].toString(), QString("Running")); // php-fpm's word for busy
        QCOMPARE(process["request uri"].toString(), QString("/index.php?a=1"));
        QJsonObject site = root["sites"].toArray().first().toObject();
        QCOMPARE(site["status"].toObject()["5xx"].toInt(), 7);
        QCOMPARE(site["open connections"].toInt(), 4);
        QCOMPARE(root["cgi"].toArray().first().toObject()["identity"].toString(), QString("nobody (uid 65534)"));
    }

    void metricsAreEscapedPrometheusText()
    {
        QString text = QString::fromStdString(prometheusMetrics(sample()));
        QVERIFY(text.contains("# TYPE lido_pool_up gauge\n"));
        QVERIFY2(text.contains("lido_pool_up{pool=\"php \\\"main\\\"\",application=\"/usr/bin/php-cgi\"} 0\n"), qPrintable(text));
        QVERIFY(text.contains("lido_pool_instances{pool=\"php \\\"main\\\"\",application=\"/usr/bin/php-cgi\",state=\"busy\"} 2\n"));
        QVERIFY(text.contains("lido_pool_failures_total{pool=\"php \\\"main\\\"\",cause=\"crash\"} 5\n"));
        QVERIFY(text.contains("lido_pool_latency_milliseconds{pool=\"php \\\"main\\\"\",quantile=\"0.99\"} 12.5\n"));
        QVERIFY2(text.contains("lido_pool_latency_milliseconds{pool=\"quiet\",quantile=\"0.99\"} NaN\n"), qPrintable(text));
        QVERIFY(text.contains("lido_site_requests_total{site=\"Main\",status_class=\"5xx\"} 7\n"));
        QVERIFY(text.contains("lido_cgi_running{pool=\"web\"} 2\n"));
        // Which build and which configuration a node runs, and whether it drains.
        QVERIFY(text.contains("lido_build_info{version=\"0.1.0\"} 1\n"));
        QVERIFY(text.contains("lido_config_version_info{hash=\"0123456789abcdef\"} 1\n"));
        QVERIFY(text.contains("lido_draining 1\n"));
        QVERIFY(text.contains("lido_site_up{site=\"Main\"} 0\n"));
        // Every sample line is NAME{LABELS} VALUE or NAME VALUE; no label names the server.
        for (const QString& line : text.split('\n', Qt::SkipEmptyParts)) {
            QVERIFY2(line.startsWith('#') || QRegularExpression("^lido_[a-z_]+(\\{.*\\})? (-?[0-9.]+|NaN)$").match(line).hasMatch(), qPrintable(line));
            QVERIFY2(!line.contains("instance=") && !line.contains("server="), qPrintable(line));
        }
    }
};

QTEST_GUILESS_MAIN(tst_StatusPage)
#include "tst_statuspage.moc"
