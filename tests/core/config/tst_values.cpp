#include "config/Schema.h"
#include "config/Values.h"

#include <QtTest>

using namespace lido::config;

class tst_Values : public QObject {
    Q_OBJECT
private slots:
    void timeSpans_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qlonglong>("ms");
        QTest::newRow("hh:mm:ss") << "00:20:00" << 1200000LL;
        QTest::newRow("days") << "1.05:00:00" << 104400000LL;
        QTest::newRow("fraction") << "00:00:01.5" << 1500LL;
        QTest::newRow("7 digits") << "00:00:00.1234567" << 123LL;
        QTest::newRow("one-digit hour") << "0:05:00" << 300000LL;
        QTest::newRow("negative") << "-00:00:01" << -1000LL;
        QTest::newRow("minutes > 59") << "00:60:00" << -42LL;
        QTest::newRow("words") << "20 minutes" << -42LL;
        QTest::newRow("missing seconds") << "00:20" << -42LL;
        QTest::newRow("empty") << "" << -42LL;
    }
    void timeSpans()
    {
        QFETCH(QString, text);
        QFETCH(qlonglong, ms);
        auto parsed = parseTimeSpan(text.toStdString());
        if (ms == -42)
            QVERIFY(!parsed);
        else
            QCOMPARE(*parsed, ms);
    }
    void timeSpanFormatRoundTrips()
    {
        for (const char* s : {"00:20:00", "1.05:00:00", "00:00:01.500", "12.23:59:59"})
            QCOMPARE(QString::fromStdString(formatTimeSpan(*parseTimeSpan(s))), QString(s));
    }
    void bindings_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("ip");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("host");
        QTest::newRow("loopback") << "127.0.0.1:8080:" << "127.0.0.1" << 8080 << "";
        QTest::newRow("all + host") << "*:80:WWW.Example.org" << "*" << 80 << "www.example.org";
        QTest::newRow("ipv6") << "[::1]:8443:" << "[::1]" << 8443 << "";
        QTest::newRow("port 0") << "*:0:" << "" << 0 << "";
        QTest::newRow("bad ip") << "300.1.1.1:80:" << "" << 0 << "";
        QTest::newRow("no host part") << "127.0.0.1:80" << "" << 0 << "";
    }
    void bindings()
    {
        QFETCH(QString, text);
        QFETCH(QString, ip);
        QFETCH(int, port);
        QFETCH(QString, host);
        auto b = parseBindingInfo(text.toStdString());
        QCOMPARE(b.has_value(), port != 0);
        if (b) {
            QCOMPARE(QString::fromStdString(b->ip), ip);
            QCOMPARE(int(b->port), port);
            QCOMPARE(QString::fromStdString(b->host), host);
        }
    }
    void canonicalFormsCompareEqual()
    {
        const ElementSpec* pool = Schema::instance().find("system.applicationHost/applicationPools/add");
        QVERIFY(pool);
        QCOMPARE(pool->attribute("autoStart")->canonical("True"), std::string("true"));
        QCOMPARE(pool->attribute("queueLength")->canonical("0100"), std::string("100"));
        QCOMPARE(pool->attribute("startMode")->canonical("alwaysrunning"), std::string("AlwaysRunning"));
        const ElementSpec* recycling = Schema::instance().find("system.applicationHost/applicationPools/add/recycling");
        QCOMPARE(recycling->attribute("logEventOnRecycle")->canonical("Memory,Time"),
                 recycling->attribute("logEventOnRecycle")->canonical("Time, Memory"));
    }
    void everySchemaDefaultPassesItsOwnCheck()
    {
        // The table is data; a default that fails its own type or range would be a typo.
        for (const ElementSpec& e : Schema::instance().elements())
            for (const AttributeSpec& a : e.attributes)
                if (!a.defaultValue.empty())
                    QVERIFY2(a.check(a.defaultValue).empty(), qPrintable(QString::fromStdString(e.path + "/@" + a.name + ": " + a.check(a.defaultValue))));
    }
    void environmentExpansion()
    {
        qputenv("LIDO_TEST_ROOT", "/srv/lido");
        QCOMPARE(expandEnvironment("%LIDO_TEST_ROOT%/www"), std::string("/srv/lido/www"));
        QCOMPARE(expandEnvironment("%LIDO_UNSET_VARIABLE%/www"), std::string("%LIDO_UNSET_VARIABLE%/www"));
        QVERIFY(looksLikeWindowsPath("%SystemDrive%\\inetpub"));
        QVERIFY(looksLikeWindowsPath("C:\\PHP\\php-cgi.exe"));
        QVERIFY(!looksLikeWindowsPath("/usr/bin/php-cgi"));
    }
};

QTEST_APPLESS_MAIN(tst_Values)
#include "tst_values.moc"
