// The response-header parser as a pure function: every syntax, every error named exactly, any
// split of the input gives the same result.
#include "cgi/CgiResponseParser.h"

#include <QtTest>

using namespace lido::cgi;
using State = HeaderParse::State;

Q_DECLARE_METATYPE(HeaderSyntax)

class tst_CgiResponseParser : public QObject {
    Q_OBJECT
private slots:
    void cases_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<HeaderSyntax>("syntax");
        QTest::addColumn<int>("status"); // 0: error expected
        QTest::addColumn<QString>("error");
        auto row = [](const char* name, QByteArray in, HeaderSyntax s, int status, QString err = {}) {
            QTest::newRow(name) << in << s << status << err;
        };
        row("cgi LF", "Content-Type: text/plain\n\nbody", HeaderSyntax::Cgi, 200);
        row("cgi CRLF", "Content-Type: text/plain\r\n\r\nbody", HeaderSyntax::Cgi, 200);
        row("cgi no space", "Content-Type:text/plain\n\n", HeaderSyntax::Cgi, 200);
        row("status", "Status: 404 Not Here\nContent-Type: text/html\n\n", HeaderSyntax::Cgi, 404);
        row("location only", "Location: http://example.org/\n\n", HeaderSyntax::Cgi, 302);
        row("status only code (cgi)", "Status: 201\n\n", HeaderSyntax::Cgi, 201);
        row("strict ok", "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n", HeaderSyntax::Strict, 200);
        row("strict LF", "Content-Type: text/plain\n\n", HeaderSyntax::Strict, 0,
            "line 1 ends with LF only (strict syntax wants CRLF)");
        row("strict no space", "Content-Type:text/plain\r\n\r\n", HeaderSyntax::Strict, 0,
            "line 1 lacks the space after ':' \"Content-Type:text/plain\"");
        row("strict bare status", "Status: 500\r\nContent-Type: text/plain\r\n\r\n", HeaderSyntax::Strict, 0,
            "line 1 has a Status without a reason phrase \"Status: 500\"");
        row("strict trailing space", "Content-Type: text/plain \r\n\r\n", HeaderSyntax::Strict, 0,
            "line 1 has trailing whitespace \"Content-Type: text/plain \"");
        row("relaxed accepts all of that", "Status: 500\nContent-Type:text/plain  \n\n", HeaderSyntax::Relaxed, 500);
        row("no colon", "Hello world\n\n", HeaderSyntax::Cgi, 0, "line 1 has no ':' \"Hello world\"");
        row("bad name", "Content Type: x\n\n", HeaderSyntax::Cgi, 0, "line 1 has an invalid character in the header name \"Content Type: x\"");
        row("bare CR inside", "X-A: a\rInjected: yes\n\n", HeaderSyntax::Relaxed, 0, "line 1 has a CR inside it \"X-A: a\\rInjected: yes\"");
        row("control char", QByteArray("X-A: a\x01z\n\n"), HeaderSyntax::Relaxed, 0, "line 1 has a control character in its value \"X-A: a?z\"");
        row("bad status", "Status: abc\n\n", HeaderSyntax::Cgi, 0, "line 1 has a Status that is not a three-digit code \"Status: abc\"");
        row("status out of range", "Status: 700 Odd\n\n", HeaderSyntax::Cgi, 0, "line 1 has a Status outside 100-599 \"Status: 700 Odd\"");
        row("no CGI field", "X-Only: 1\n\n", HeaderSyntax::Cgi, 0, "no Content-Type, Location or Status header (RFC 3875 §6.2)");
    }
    void cases()
    {
        QFETCH(QByteArray, input);
        QFETCH(HeaderSyntax, syntax);
        QFETCH(int, status);
        QFETCH(QString, error);
        HeaderParse p = parseResponseHeaders(std::string_view(input.constData(), size_t(input.size())), syntax);
        if (status == 0) {
            QCOMPARE(int(p.state), int(State::Error));
            QCOMPARE(QString::fromStdString(p.error), error);
        } else {
            QCOMPARE(int(p.state), int(State::Done));
            QCOMPARE(p.head.status, status);
        }
    }

    void everySplitGivesTheSameResult()
    {
        // Fed in growing prefixes, the parser says NeedMore until the blank line, then Done.
        std::string in = "Status: 201 Made\r\nContent-Type: text/plain\r\nX-Long: " + std::string(300, 'x') + "\r\n\r\nBODY";
        size_t end = in.find("\r\n\r\n") + 4;
        for (size_t n = 0; n <= in.size(); ++n) {
            HeaderParse p = parseResponseHeaders(std::string_view(in).substr(0, n), HeaderSyntax::Strict);
            if (n < end)
                QVERIFY2(p.state == State::NeedMore, qPrintable(QString::number(n)));
            else {
                QCOMPARE(int(p.state), int(State::Done));
                QCOMPARE(p.head.consumed, end);
                QCOMPARE(p.head.reason, std::string("Made"));
                QCOMPARE(p.head.headers.size(), size_t(2));
            }
        }
    }

    void oversizedHeaderBlock()
    {
        std::string in = "Content-Type: text/plain\n" + std::string(70000, 'x');
        HeaderParse p = parseResponseHeaders(in, HeaderSyntax::Cgi);
        QCOMPARE(int(p.state), int(State::Error));
        QCOMPARE(QString::fromStdString(p.error), QString("the header block is larger than 64 KiB"));
    }
};

QTEST_APPLESS_MAIN(tst_CgiResponseParser)
#include "tst_cgiresponseparser.moc"
