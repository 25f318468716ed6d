// One FastCGI request as bytes, with no process and no socket: what is sent (checked by parsing
// it back), and what the pool is told for answers fed whole, byte by byte, and under each
// stderrMode (h2o tests its request builder the same way).
#include "pool/FcgiExchange.h"

#include <QtTest>

using namespace lido;
using namespace lido::pool;
using fastcgi::Type;

namespace {

struct Parsed {
    std::vector<std::pair<Type, std::string>> records;
    std::string stdinBytes;
    bool stdinEnded = false;
};

Parsed parseSent(const std::string& bytes)
{
    // The application's side of the wire: the server's records read back by a plain walk.
    Parsed p;
    size_t at = 0;
    while (at + 8 <= bytes.size()) {
        auto type = static_cast<Type>(static_cast<uint8_t>(bytes[at + 1]));
        size_t len = (static_cast<uint8_t>(bytes[at + 4]) << 8) | static_cast<uint8_t>(bytes[at + 5]);
        size_t pad = static_cast<uint8_t>(bytes[at + 6]);
        std::string content = bytes.substr(at + 8, len);
        if (type == Type::Stdin) {
            p.stdinBytes += content;
            p.stdinEnded = p.stdinEnded || content.empty();
        }
        p.records.emplace_back(type, content);
        at += 8 + len + pad;
    }
    return p;
}

std::string answer(const std::string& stdoutBytes, const std::string& stderrBytes = {}, uint16_t id = 1)
{
    std::string out;
    if (!stderrBytes.empty()) {
        fastcgi::appendRecords(out, Type::Stderr, id, stderrBytes);
        fastcgi::appendRecord(out, Type::Stderr, id, {});
    }
    fastcgi::appendRecords(out, Type::Stdout, id, stdoutBytes);
    fastcgi::appendRecord(out, Type::Stdout, id, {});
    fastcgi::appendRecord(out, Type::EndRequest, id, std::string("\0\0\0\0\0\0\0\0", 8));
    return out;
}

// Everything the pool would be told, summed over the feeds.
struct Told {
    bool sendHead = false;
    int heads = 0;
    http::ResponseHead head;
    std::string body;
    bool finish = false, ended = false;
    int errorStatus = 0;
    std::string errorDetail;
    std::vector<std::string> stderrLines;
    std::optional<FcgiExchange::Failure> failure;
    void add(FcgiExchange::Output o)
    {
        if (o.sendHead) {
            ++heads;
            sendHead = true;
            head = o.head;
        }
        body += o.body;
        finish = finish || o.finish;
        ended = ended || o.ended;
        errorStatus = o.errorStatus ? o.errorStatus : errorStatus;
        errorDetail += o.errorDetail;
        stderrLines.insert(stderrLines.end(), o.stderrLines.begin(), o.stderrLines.end());
        if (o.failure)
            failure = o.failure;
    }
};

Told feedWhole(FcgiExchange& ex, const std::string& bytes)
{
    Told t;
    t.add(ex.feed(bytes));
    return t;
}

Told feedByteByByte(FcgiExchange& ex, const std::string& bytes)
{
    Told t;
    for (char c : bytes)
        t.add(ex.feed(std::string_view(&c, 1)));
    return t;
}

} // namespace

class tst_FcgiExchange : public QObject {
    Q_OBJECT
private slots:
    void requestWithBodyGoesInOnePiece()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        ex.addStdin("a=1&b=2");
        ex.endStdin();
        Parsed p = parseSent(ex.begin({{"SCRIPT_FILENAME", "/srv/index.php"}, {"REQUEST_METHOD", "POST"}}));
        QCOMPARE(p.records.front().first, Type::BeginRequest);
        QCOMPARE(int(static_cast<uint8_t>(p.records.front().second[2])), int(fastcgi::kFlagKeepConn));
        auto params = fastcgi::decodeNameValues(p.records[1].second);
        QVERIFY(params);
        QCOMPARE((*params)[0].second, std::string("/srv/index.php"));
        QCOMPARE(p.stdinBytes, std::string("a=1&b=2"));
        QVERIFY(p.stdinEnded);
        QVERIFY(ex.more().empty()); // nothing after the end of stdin
    }

    void bodyThatArrivesLaterFollows()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        Parsed first = parseSent(ex.begin({{"REQUEST_METHOD", "PUT"}}));
        QVERIFY(!first.stdinEnded);
        QVERIFY(first.stdinBytes.empty());
        ex.addStdin("part one, ");
        QCOMPARE(parseSent(ex.more()).stdinBytes, std::string("part one, "));
        ex.addStdin("part two");
        ex.endStdin();
        Parsed last = parseSent(ex.more());
        QCOMPARE(last.stdinBytes, std::string("part two"));
        QVERIFY(last.stdinEnded);
    }

    void rewindSendsTheSameRequestOnce()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        ex.addStdin("payload");
        ex.endStdin();
        std::string once = ex.begin({{"A", "1"}});
        QVERIFY(ex.rewind());
        QCOMPARE(ex.begin({{"A", "1"}}), once);
        QVERIFY(ex.retried());
        QVERIFY(!ex.rewind()); // once only
    }

    void rewindRefusesABodyTooLargeToKeep()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        ex.addStdin(std::string(FcgiExchange::kRetryKeepLimit + 1, 'x'));
        ex.endStdin();
        (void)ex.begin({});
        QVERIFY(!ex.rewind());
    }

    void rewindRefusesOnceTheApplicationAnswered()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        ex.endStdin();
        (void)ex.begin({});
        std::string partial;
        fastcgi::appendRecord(partial, Type::Stdout, 1, "Content-Type: text/plain\r\n");
        (void)ex.feed(partial);
        QVERIFY(ex.anyByte());
        QVERIFY(!ex.rewind()); // the application saw it: never twice
    }

    void answerWholeAndByteByByte_data()
    {
        QTest::addColumn<bool>("byteByByte");
        QTest::newRow("whole") << false;
        QTest::newRow("byte by byte") << true;
    }
    void answerWholeAndByteByByte()
    {
        QFETCH(bool, byteByByte);
        ExchangeRules rules;
        FcgiExchange ex(rules);
        std::string bytes = answer("Status: 201 Created\r\nContent-Type: text/plain\r\nX-App: 1\r\nTransfer-Encoding: chunked\r\n\r\nhello");
        Told t = byteByByte ? feedByteByByte(ex, bytes) : feedWhole(ex, bytes);
        QVERIFY(!t.failure);
        QCOMPARE(t.heads, 1);
        QCOMPARE(t.head.status, 201);
        QCOMPARE(t.head.reason, std::string("Created"));
        QVERIFY(t.head.contentLength); // the whole answer was here: a length, no chunks
        QCOMPARE(*t.head.contentLength, uint64_t(5));
        bool hopByHop = false, app = false;
        for (const auto& h : t.head.headers) {
            hopByHop = hopByHop || http::iequals(h.name, "Transfer-Encoding");
            app = app || h.name == "X-App";
        }
        QVERIFY(!hopByHop);
        QVERIFY(app);
        QCOMPARE(t.body, std::string("hello"));
        QVERIFY(t.finish);
        QVERIFY(t.ended);
    }

    void largeAnswerStreams()
    {
        ExchangeRules rules;
        rules.responseBufferLimit = 16;
        FcgiExchange ex(rules);
        std::string body(100, 'b');
        std::string head;
        fastcgi::appendRecord(head, Type::Stdout, 1, "Content-Type: text/plain\r\n\r\n");
        Told t = feedWhole(ex, head);
        QVERIFY(!t.sendHead); // held back: stderr could still make it a 500
        std::string more;
        fastcgi::appendRecord(more, Type::Stdout, 1, body);
        t.add(ex.feed(more));
        QVERIFY(t.sendHead);
        QVERIFY(!t.head.contentLength); // streamed: chunked
        QVERIFY(ex.streaming());
        std::string end;
        fastcgi::appendRecord(end, Type::EndRequest, 1, std::string(8, '\0'));
        t.add(ex.feed(end));
        QCOMPARE(t.heads, 1);
        QCOMPARE(t.body, body);
        QVERIFY(t.finish);
    }

    void stderrModes_data()
    {
        QTest::addColumn<int>("mode");
        QTest::addColumn<int>("errorStatus");
        QTest::addColumn<bool>("detailHasStderr");
        QTest::addColumn<bool>("bodyReached");
        QTest::addColumn<bool>("stopsInstance");
        QTest::newRow("ReturnStdErrIn500") << int(StderrMode::ReturnStdErrIn500) << 500 << true << false << false;
        QTest::newRow("ReturnGeneric500") << int(StderrMode::ReturnGeneric500) << 500 << false << false << false;
        QTest::newRow("IgnoreAndReturn200") << int(StderrMode::IgnoreAndReturn200) << 0 << false << true << false;
        QTest::newRow("TerminateProcess") << int(StderrMode::TerminateProcess) << 500 << true << false << true;
    }
    void stderrModes()
    {
        QFETCH(int, mode);
        QFETCH(int, errorStatus);
        QFETCH(bool, detailHasStderr);
        QFETCH(bool, bodyReached);
        QFETCH(bool, stopsInstance);
        ExchangeRules rules;
        rules.stderrMode = static_cast<StderrMode>(mode);
        FcgiExchange ex(rules);
        Told t = feedWhole(ex, answer("Content-Type: text/html\r\n\r\n<p>page</p>", "PHP Warning: Undefined variable $x\n"));
        QCOMPARE(t.stderrLines, std::vector<std::string>{"PHP Warning: Undefined variable $x"});
        int status = t.failure ? t.failure->status : t.errorStatus;
        QCOMPARE(status, errorStatus);
        std::string detail = t.failure ? t.failure->detail : t.errorDetail;
        QCOMPARE(detail.find("Undefined variable") != std::string::npos, detailHasStderr);
        QCOMPARE(t.body == "<p>page</p>", bodyReached);
        QCOMPARE(t.failure && t.failure->stopInstance, stopsInstance);
        if (t.failure)
            QCOMPARE(t.failure->cause, FailCause::Stderr);
        else
            QVERIFY(t.ended); // instance and connection stay in service
    }

    void malformedHeadersAreAProtocolError()
    {
        ExchangeRules rules;
        rules.application = "/usr/bin/php-cgi";
        FcgiExchange ex(rules);
        Told t = feedWhole(ex, answer("Content-Type text/html\r\n\r\nbody"));
        QVERIFY(t.failure);
        QCOMPARE(t.failure->status, 502);
        QCOMPARE(t.failure->cause, FailCause::Protocol);
        QVERIFY(!t.failure->stopInstance);
        QVERIFY2(t.failure->detail.find("/usr/bin/php-cgi sent malformed headers") != std::string::npos, t.failure->detail.c_str());
        QVERIFY(t.failure->detail.find("Relaxed") != std::string::npos);
        QVERIFY(!t.sendHead);
    }

    void relaxedSyntaxAcceptsWhatStrictRefuses()
    {
        ExchangeRules rules;
        rules.headerSyntax = cgi::HeaderSyntax::Relaxed;
        FcgiExchange ex(rules);
        Told t = feedWhole(ex, answer("Status: 404\nContent-Type:text/plain\n\nnot here"));
        QVERIFY(!t.failure);
        QCOMPARE(t.head.status, 404);
        QCOMPARE(t.body, std::string("not here"));
    }

    void recordForAnotherRequestStopsTheInstance()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        Told t = feedWhole(ex, answer("Content-Type: text/plain\r\n\r\nx", {}, 2));
        QVERIFY(t.failure);
        QVERIFY(t.failure->stopInstance);
        QVERIFY(t.failure->detail.find("request 2 (expected 1)") != std::string::npos);
    }

    void garbageIsAProtocolError()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        Told t = feedWhole(ex, "HTTP/1.1 200 OK\r\n\r\n"); // an HTTP server where a FastCGI one was expected
        QVERIFY(t.failure);
        QCOMPARE(t.failure->cause, FailCause::Protocol);
        QVERIFY(t.failure->stopInstance);
        QVERIFY(t.failure->detail.find("FastCGI protocol error") == 0);
        QVERIFY(feedWhole(ex, answer("Content-Type: text/plain\r\n\r\nx")).body.empty()); // nothing after a failure
    }

    void endWithoutHeadersSaysWhatStderrSaid()
    {
        ExchangeRules rules;
        FcgiExchange ex(rules);
        std::string bytes;
        fastcgi::appendRecord(bytes, Type::Stderr, 1, "Fatal error: Allowed memory size exhausted");
        fastcgi::appendRecord(bytes, Type::EndRequest, 1, std::string(8, '\0'));
        Told t = feedWhole(ex, bytes);
        QVERIFY(t.failure);
        QCOMPARE(t.failure->status, 502);
        QVERIFY(t.failure->detail.find("without a complete set of headers; stderr: \"Fatal error: Allowed memory size exhausted\"") !=
                std::string::npos);
    }
};

QTEST_APPLESS_MAIN(tst_FcgiExchange)
#include "tst_fcgiexchange.moc"
