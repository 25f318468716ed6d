// The FastCGI wire format: golden bytes, and the parser fed every split, also with a tiny
// maximum record size (h2o's approach).
#include "fastcgi/FcgiProtocol.h"

#include <QtTest>

using namespace lido::fastcgi;

static QByteArray hex(const std::string& s) { return QByteArray::fromStdString(s).toHex(' '); }

class tst_FcgiProtocol : public QObject {
    Q_OBJECT
private slots:
    void recordBytes()
    {
        std::string out;
        appendRecord(out, Type::Stdin, 1, "abc");
        QCOMPARE(hex(out), QByteArray("01 05 00 01 00 03 05 00 61 62 63 00 00 00 00 00"));
        out.clear();
        appendRecord(out, Type::Params, 258, {});
        QCOMPARE(hex(out), QByteArray("01 04 01 02 00 00 00 00"));
    }

    void nameValuePairs()
    {
        std::string longValue(200, 'v');
        std::string bytes = encodeNameValues({{"A", "b"}, {"LONG", longValue}});
        QCOMPARE(hex(bytes.substr(0, 4)), QByteArray("01 01 41 62"));
        QCOMPARE(hex(bytes.substr(4, 5)), QByteArray("04 80 00 00 c8")); // 4-byte length past 127
        auto back = decodeNameValues(bytes);
        QVERIFY(back);
        QCOMPARE(back->size(), size_t(2));
        QCOMPARE((*back)[1].second, longValue);
        QVERIFY(!decodeNameValues(bytes.substr(0, bytes.size() - 1))); // truncated
    }

    void requestHead()
    {
        std::string head = encodeRequestHead(1, true, {{"X", "1"}});
        QCOMPARE(hex(head), QByteArray("01 01 00 01 00 08 00 00 00 01 01 00 00 00 00 00 "  // BEGIN_REQUEST: responder, keep-conn
                                       "01 04 00 01 00 04 04 00 01 01 58 31 00 00 00 00 "  // PARAMS X=1, padded to 8
                                       "01 04 00 01 00 00 00 00"));                       // end of PARAMS
        std::string tiny = encodeRequestHead(1, false, {{"NAME", "value"}}, 2);
        QVERIFY(tiny.size() > head.size());
        QCOMPARE(tiny[10], char(0)); // keep-conn flag off
    }

    void parserEverySplit()
    {
        std::string stream;
        appendRecords(stream, Type::Stdout, 1, "Content-Type: text/plain\r\n\r\nhello", 5);
        appendRecord(stream, Type::Stderr, 1, "warn");
        char end[8] = {0, 0, 0, 7, 0, 0, 0, 0};
        appendRecord(stream, Type::EndRequest, 1, std::string_view(end, 8));
        for (size_t chunk = 1; chunk <= stream.size(); ++chunk) {
            RecordParser p;
            std::string out, err;
            uint32_t status = 99;
            for (size_t i = 0; i < stream.size(); i += chunk) {
                std::string problem = p.feed(std::string_view(stream).substr(i, chunk), [&](const Record& r) {
                    if (r.type == Type::Stdout)
                        out.append(r.content);
                    else if (r.type == Type::Stderr)
                        err.append(r.content);
                    else if (r.type == Type::EndRequest)
                        status = decodeEndRequest(r.content)->appStatus;
                });
                QVERIFY(problem.empty());
            }
            QCOMPARE(out, std::string("Content-Type: text/plain\r\n\r\nhello"));
            QCOMPARE(err, std::string("warn"));
            QCOMPARE(status, 7u);
        }
    }

    void parserErrors_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("error");
        QTest::newRow("version") << QByteArray::fromHex("0206000100000000") << "FastCGI record with version 2 (expected 1)";
        QTest::newRow("type") << QByteArray::fromHex("0105000100000000") << "FastCGI record of type 5, which an application may not send";
        QTest::newRow("end size") << QByteArray::fromHex("0103000100040000") << "FastCGI END_REQUEST record of 4 bytes (expected 8)";
    }
    void parserErrors()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, error);
        RecordParser p;
        QCOMPARE(QString::fromStdString(p.feed(bytes.toStdString(), [](const Record&) {})), error);
        QVERIFY(p.failed());
        QCOMPARE(QString::fromStdString(p.feed("more", [](const Record&) {})), error); // stays failed
    }

    void recordLongerThanTheLimit()
    {
        RecordParser p(100);
        std::string s;
        appendRecord(s, Type::Stdout, 1, std::string(200, 'x'));
        QCOMPARE(QString::fromStdString(p.feed(s, [](const Record&) {})), QString("FastCGI record of 200 bytes (limit 100)"));
    }
};

QTEST_APPLESS_MAIN(tst_FcgiProtocol)
#include "tst_fcgiprotocol.moc"
