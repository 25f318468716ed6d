// The CGI meta-variables for a request (RFC 3875 §4.1), httpoxy and underscore spoofing.
#include "cgi/CgiEnvironment.h"

#include <QtTest>
#include <map>

using namespace lido;

class tst_CgiEnvironment : public QObject {
    Q_OBJECT

    static std::map<std::string, std::string> vars(const http::Request& r, cgi::CgiContext c = {})
    {
        c.request = &r;
        std::map<std::string, std::string> m;
        for (const auto& [k, v] : cgi::cgiVariables(c))
            m[k] = v;
        return m;
    }

private slots:
    void metaVariables()
    {
        http::Request r;
        r.method = "POST";
        r.target = "/cgi-bin/x.cgi/a/b?q=1";
        r.path = "/cgi-bin/x.cgi/a/b";
        r.query = "q=1";
        r.host = "www.example.org";
        r.remoteAddress = "127.0.0.1";
        r.remotePort = 40000;
        r.localAddress = "127.0.0.1";
        r.localPort = 8080;
        r.headers = {{"Host", "www.example.org:8080"}, {"Content-Type", "text/plain"}, {"Content-Length", "5"},
                     {"User-Agent", "test"}, {"Accept", "a"}, {"accept", "b"}, {"Cookie", "a=1"}, {"Cookie", "b=2"}};
        cgi::CgiContext c;
        c.scriptName = "/cgi-bin/x.cgi";
        c.pathInfo = "/a/b";
        c.pathTranslated = "/srv/www/a/b";
        c.scriptFilename = "/srv/www/cgi-bin/x.cgi";
        c.documentRoot = "/srv/www";
        c.contentLength = 5;
        c.extra = {{"APP_MODE", "test"}, {"PATH", "/opt/bin"}};
        auto m = vars(r, c);
        QCOMPARE(m["GATEWAY_INTERFACE"], std::string("CGI/1.1"));
        QCOMPARE(m["REQUEST_METHOD"], std::string("POST"));
        QCOMPARE(m["QUERY_STRING"], std::string("q=1"));
        QCOMPARE(m["SCRIPT_NAME"], std::string("/cgi-bin/x.cgi"));
        QCOMPARE(m["PATH_INFO"], std::string("/a/b"));
        QCOMPARE(m["PATH_TRANSLATED"], std::string("/srv/www/a/b"));
        QCOMPARE(m["SCRIPT_FILENAME"], std::string("/srv/www/cgi-bin/x.cgi"));
        QCOMPARE(m["SERVER_NAME"], std::string("www.example.org"));
        QCOMPARE(m["SERVER_PORT"], std::string("8080"));
        QCOMPARE(m["SERVER_PROTOCOL"], std::string("HTTP/1.1"));
        QCOMPARE(m["REMOTE_ADDR"], std::string("127.0.0.1"));
        QCOMPARE(m["REMOTE_PORT"], std::string("40000"));
        QCOMPARE(m["CONTENT_TYPE"], std::string("text/plain"));
        QCOMPARE(m["CONTENT_LENGTH"], std::string("5"));
        QCOMPARE(m["REQUEST_URI"], std::string("/cgi-bin/x.cgi/a/b?q=1"));
        QCOMPARE(m["HTTPS"], std::string("off"));
        QCOMPARE(m["HTTP_USER_AGENT"], std::string("test"));
        QCOMPARE(m["HTTP_ACCEPT"], std::string("a, b"));
        QCOMPARE(m["HTTP_COOKIE"], std::string("a=1; b=2"));
        QCOMPARE(m["APP_MODE"], std::string("test"));
        QCOMPARE(m["PATH"], std::string("/opt/bin"));
        QVERIFY(!m.count("HTTP_CONTENT_TYPE"));
        QVERIFY(!m.count("HTTP_CONTENT_LENGTH"));
    }

    void noPathInfoNoPathTranslated()
    {
        http::Request r;
        r.method = "GET";
        auto m = vars(r);
        QVERIFY(!m.count("PATH_INFO"));
        QVERIFY(!m.count("PATH_TRANSLATED"));
        QVERIFY(!m.count("CONTENT_LENGTH"));
    }

    void httpoxyAndUnderscoreSpoofing()
    {
        http::Request r;
        r.headers = {{"Proxy", "http://evil.example:3128"}, {"X_Forwarded_For", "6.6.6.6"}, {"X-Forwarded-For", "10.0.0.1"},
                     {"PROXY", "x"}};
        auto m = vars(r);
        QVERIFY(!m.count("HTTP_PROXY"));
        QCOMPARE(m["HTTP_X_FORWARDED_FOR"], std::string("10.0.0.1"));
    }
};

QTEST_APPLESS_MAIN(tst_CgiEnvironment)
#include "tst_cgienvironment.moc"
