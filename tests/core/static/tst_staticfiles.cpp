// Static files served from real files through a real SiteMap, without an engine or a socket: the
// responder records what a connection would send (the one collaborator stood in for; the
// handler under test is the real one). Conditional GET, ranges, HEAD, folders, MIME types,
// methods, large files by sendfile, and a file changed on disk seen within the cache's second.
#include "TestSupport.h"
#include "config/Config.h"
#include "routing/SiteMap.h"
#include "static/StaticFiles.h"

#include <asio/io_context.hpp>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

using namespace lido;

namespace {

// What a connection would have sent for one request.
class RecordingResponder final : public http::Responder {
public:
    explicit RecordingResponder(http::Request r) : req_(std::move(r)) {}
    const http::Request& request() const override { return req_; }
    asio::any_io_executor executor() override { return io_.get_executor(); }
    void sendHead(http::ResponseHead h) override
    {
        head = std::move(h);
        heads++;
    }
    void sendBody(std::string data, std::function<void(bool)> done) override
    {
        body += data;
        if (done)
            done(true);
    }
    void sendRaw(std::string data, std::function<void(bool)> done) override { sendBody(std::move(data), std::move(done)); }
    void sendFile(int fd, uint64_t offset, uint64_t length, std::function<void(bool)> done) override
    {
        std::string chunk(length, '\0');
        ssize_t n = ::pread(fd, chunk.data(), length, static_cast<off_t>(offset));
        body += chunk.substr(0, n < 0 ? 0 : static_cast<size_t>(n));
        byFile = true;
        done(true);
    }
    void finish() override { finished = true; }
    void abort() override { aborted = true; }
    bool headSent() const override { return heads > 0; }
    void setSubstatus(int s) override { substatus_ = s; }
    int substatus() const override { return substatus_; }
    bool closed() const override { return false; }
    void onBody(std::function<void(std::string_view)>, std::function<void()>) override {}
    void onAbort(std::function<void()>) override {}
    void setBodyBacklog(size_t) override {}
    void keepAlive(bool) override {}
    void onComplete(std::function<void(int, uint64_t)>) override {}

    std::string header(const std::string& name) const // the first, shared or own, as a connection sends them
    {
        std::optional<std::string> found;
        head.forEachHeader([&](const http::Header& h) {
            if (!found && http::iequals(h.name, name))
                found = h.value;
        });
        return found.value_or(std::string());
    }

    http::ResponseHead head;
    int heads = 0;
    std::string body;
    bool finished = false, aborted = false, byFile = false;

private:
    http::Request req_;
    asio::io_context io_;
    int substatus_ = 0;
};

struct Answer {
    int status = 0; // from the responder's head, or the error callback's
    std::string detail;
    std::shared_ptr<RecordingResponder> r;
};

} // namespace

#ifndef Q_MOC_RUN // moc loses track of the class after a raw string with quotes in it
static QString staticConfig()
{
    return R"(<?xml version="1.0"?>
<configuration>
  <system.applicationHost>
    <applicationPools><add name="web" /></applicationPools>
    <sites>
      <site name="Main" id="1">
        <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
        <bindings><binding protocol="http" bindingInformation="127.0.0.1:8080:" /></bindings>
      </site>
    </sites>
  </system.applicationHost>
  <system.webServer>
    <handlers><add name="StaticFile" path="*" verb="*" modules="StaticFileModule" resourceType="Either" /></handlers>
    <staticContent>
      <mimeMap fileExtension=".txt" mimeType="text/plain" />
      <mimeMap fileExtension=".html" mimeType="text/html" />
    </staticContent>
  </system.webServer>
</configuration>
)";
}
#endif

class tst_StaticFiles : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QDir d(s.path());
        d.mkpath("www/docs");
        d.mkpath("www/empty");
        s.write("www/hello.txt", "Hello, world\n");
        s.write("www/page.html", "<p>page</p>\n");
        s.write("www/data.unknownext", "?");
        s.write("www/big.txt", QByteArray(200 * 1024, 'b') + "END");
        QString file = s.config(staticConfig());
        auto config = config::loadConfig(file.toStdString());
        QVERIFY(config);
        QVERIFY((*config)->valid());
        cfg = *config;
        map = routing::SiteMap::build(*cfg);
        site = map->siteFor("127.0.0.1", 8080, "");
        QVERIFY(site);
    }

    void fileWithItsValidators()
    {
        Answer a = get("/hello.txt");
        QCOMPARE(a.status, 200);
        QCOMPARE(a.r->body, std::string("Hello, world\n"));
        QCOMPARE(a.r->header("Content-Type"), std::string("text/plain"));
        QCOMPARE(*a.r->head.contentLength, uint64_t(13));
        QVERIFY(!a.r->header("ETag").empty());
        QVERIFY(a.r->header("Last-Modified").find("GMT") != std::string::npos);
        QCOMPARE(a.r->header("Accept-Ranges"), std::string("bytes"));
        QVERIFY(a.r->finished);
        QCOMPARE(get("/page.html").r->header("Content-Type"), std::string("text/html"));
    }

    void conditionalRequests()
    {
        std::string etag = get("/hello.txt").r->header("ETag");
        std::string lastModified = get("/hello.txt").r->header("Last-Modified");
        Answer a = get("/hello.txt", {{"If-None-Match", "\"other\", " + etag}});
        QCOMPARE(a.status, 304);
        QVERIFY(a.r->body.empty());
        QCOMPARE(get("/hello.txt", {{"If-None-Match", "W/" + etag}}).status, 304); // weak comparison
        QCOMPARE(get("/hello.txt", {{"If-None-Match", "\"other\""}}).status, 200);
        QCOMPARE(get("/hello.txt", {{"If-Modified-Since", lastModified}}).status, 304);
        QCOMPARE(get("/hello.txt", {{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}}).status, 200);
    }

    void ranges()
    {
        Answer a = get("/hello.txt", {{"Range", "bytes=0-4"}});
        QCOMPARE(a.status, 206);
        QCOMPARE(a.r->body, std::string("Hello"));
        QCOMPARE(a.r->header("Content-Range"), std::string("bytes 0-4/13"));
        QCOMPARE(get("/hello.txt", {{"Range", "bytes=-6"}}).r->body, std::string("world\n"));
        QCOMPARE(get("/hello.txt", {{"Range", "bytes=7-"}}).r->body, std::string("world\n"));
        Answer past = get("/hello.txt", {{"Range", "bytes=100-"}});
        QCOMPARE(past.status, 416);
        QCOMPARE(past.r->header("Content-Range"), std::string("bytes */13"));
        QCOMPARE(get("/hello.txt", {{"Range", "bytes=0-1,4-5"}}).status, 200); // several ranges: the whole file
        QCOMPARE(get("/hello.txt", {{"Range", "bytes=0-4"}, {"If-Range", "\"stale\""}}).status, 200);
    }

    void headHasNoBody()
    {
        Answer a = get("/hello.txt", {}, "HEAD"); // a small file, from the cache
        QCOMPARE(a.status, 200);
        QCOMPARE(*a.r->head.contentLength, uint64_t(13));
        QVERIFY(a.r->body.empty());
        Answer big = get("/big.txt", {}, "HEAD"); // a large one: not read at all
        QCOMPARE(*big.r->head.contentLength, uint64_t(200 * 1024 + 3));
        QVERIFY(big.r->body.empty());
        QVERIFY(!big.r->byFile);
    }

    void otherMethodsAreRefused()
    {
        Answer a = get("/hello.txt", {}, "POST");
        QCOMPARE(a.status, 405);
        QVERIFY(a.detail.find("GET and HEAD") != std::string::npos);
        QCOMPARE(get("/hello.txt", {}, "DELETE").status, 405);
    }

    void foldersAndMissingFiles()
    {
        Answer a = get("/docs", {}, "GET", "x=1");
        QCOMPARE(a.status, 301);
        QCOMPARE(a.r->header("Location"), std::string("/docs/?x=1"));
        Answer b = get("/empty/");
        QCOMPARE(b.status, 403);
        QVERIFY(b.detail.find("no default document") != std::string::npos);
        Answer c = get("/nothing.txt");
        QCOMPARE(c.status, 404);
        QCOMPARE(c.detail, std::string("no file /nothing.txt"));
        Answer d = get("/data.unknownext");
        QCOMPARE(d.status, 404);
        QVERIFY(d.detail.find("no MIME type") != std::string::npos); // IIS's 404.3
    }

    void largeFilesGoBySendfile()
    {
        Answer a = get("/big.txt");
        QCOMPARE(a.status, 200);
        QVERIFY(a.r->byFile);
        QCOMPARE(a.r->body.size(), size_t(200 * 1024 + 3));
        QCOMPARE(a.r->body.substr(a.r->body.size() - 3), std::string("END"));
        QVERIFY(!get("/hello.txt").r->byFile); // small ones travel with the head
    }

    void changedFileIsSeenWithinTheCachesSecond()
    {
        QCOMPARE(get("/hello.txt").r->body, std::string("Hello, world\n")); // cached now
        s.write("www/hello.txt", "Changed\n");
        // Its modification time moved back a minute, so that the change is not told by the clock alone.
        utimbuf t{::time(nullptr) - 60, ::time(nullptr) - 60};
        ::utime(s.path("www/hello.txt").toUtf8().constData(), &t);
        QTRY_COMPARE_WITH_TIMEOUT(QString::fromStdString(get("/hello.txt").r->body), QString("Changed\n"), 3000);
    }

private:
    Answer get(const std::string& path, std::vector<http::Header> headers = {}, const std::string& method = "GET", const std::string& query = {})
    {
        http::Request req;
        req.method = method;
        req.path = path;
        req.query = query;
        req.target = path + (query.empty() ? "" : "?" + query);
        req.headers = std::move(headers);
        Answer a;
        a.r = std::make_shared<RecordingResponder>(req);
        routing::Route route;
        if (!map->route(*site, path, route))
            return a;
        staticfiles::serve(a.r, route, [&a](int status, const std::string& detail) {
            a.status = status;
            a.detail = detail;
        });
        if (a.r->heads)
            a.status = a.r->head.status;
        return a;
    }

    testsupport::Scratch s;
    std::shared_ptr<const config::Config> cfg;
    std::shared_ptr<const routing::SiteMap> map;
    const routing::SiteConfig* site = nullptr;
};

QTEST_GUILESS_MAIN(tst_StaticFiles)
#include "tst_staticfiles.moc"
