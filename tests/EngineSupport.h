#pragma once
// Integration-test support: a real engine on 127.0.0.1 with a free port and a scratch site, and
// a small blocking HTTP client on raw sockets (so that tests can send exactly the bytes they
// mean, malformed ones included).
#include "TestSupport.h"
#include "config/Config.h"
#include "engine/Engine.h"

#include <QMap>
#include <QProcess>
#include <QThread>
#include <arpa/inet.h>
#include <chrono>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

// (No namespace: moc misreads this header and would put the test classes into it.)

inline uint16_t freePort()
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    QByteArray body;
    bool complete = false;
    std::string header(const std::string& name) const
    {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class Client {
public:
    // source: the local address to connect from (127.0.0.2: a client the server can tell apart).
    explicit Client(uint16_t port, const char* source = nullptr)
    {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (source) {
            sockaddr_in from{};
            from.sin_family = AF_INET;
            ::inet_pton(AF_INET, source, &from.sin_addr);
            (void)::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from);
        }
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }
    ~Client()
    {
        if (fd_ >= 0)
            ::close(fd_);
    }
    Client(const Client&) = delete;
    bool connected() const { return connected_; }
    int fd() const { return fd_; }
    void close()
    {
        ::close(fd_);
        fd_ = -1;
    }

    bool send(const QByteArray& bytes)
    {
        qsizetype off = 0;
        while (off < bytes.size()) {
            ssize_t n = ::send(fd_, bytes.constData() + off, size_t(bytes.size() - off), MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            off += n;
        }
        return true;
    }

    // Bytes until the peer closes or `timeoutMs` passes without data.
    QByteArray readAll(int timeoutMs = 5000)
    {
        QByteArray out;
        while (fill(timeoutMs)) {
        }
        out = buffer_;
        buffer_.clear();
        return out;
    }

    // True when the server closed the connection within the time.
    bool closedByPeer(int timeoutMs = 5000)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
        while (std::chrono::steady_clock::now() < deadline) {
            if (!fill(50) && eof_)
                return true;
        }
        return eof_;
    }

    Response read(int timeoutMs = 10000, bool head = false)
    {
        Response r;
        qsizetype end;
        while ((end = buffer_.indexOf("\r\n\r\n")) < 0)
            if (!fill(timeoutMs))
                return r;
        QList<QByteArray> lines = buffer_.left(end).split('\n');
        buffer_.remove(0, end + 4);
        QList<QByteArray> first = lines.takeFirst().trimmed().split(' ');
        if (first.size() < 2)
            return r;
        r.status = first[1].toInt();
        for (const QByteArray& l : lines) {
            qsizetype colon = l.indexOf(':');
            if (colon > 0)
                r.headers[l.left(colon).trimmed().toLower().toStdString()] = l.mid(colon + 1).trimmed().toStdString();
        }
        if (r.status == 100)
            return r;
        if (head || r.status == 204 || r.status == 304) {
            r.complete = true;
            return r;
        }
        if (r.headers.count("content-length")) {
            qsizetype len = std::stoll(r.headers["content-length"]);
            while (buffer_.size() < len)
                if (!fill(timeoutMs))
                    return r;
            r.body = buffer_.left(len);
            buffer_.remove(0, len);
            r.complete = true;
        } else if (r.header("transfer-encoding") == "chunked") {
            for (;;) {
                qsizetype nl;
                while ((nl = buffer_.indexOf("\r\n")) < 0)
                    if (!fill(timeoutMs))
                        return r;
                bool ok = false;
                qsizetype size = buffer_.left(nl).toLongLong(&ok, 16);
                if (!ok)
                    return r;
                while (buffer_.size() < nl + 2 + size + 2)
                    if (!fill(timeoutMs))
                        return r;
                r.body += buffer_.mid(nl + 2, size);
                buffer_.remove(0, nl + 2 + size + 2);
                if (size == 0) {
                    r.complete = true;
                    break;
                }
            }
        } else {
            while (fill(timeoutMs)) {
            }
            r.body = buffer_;
            buffer_.clear();
            r.complete = eof_;
        }
        return r;
    }

private:
    bool fill(int timeoutMs)
    {
        if (eof_ || fd_ < 0)
            return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeoutMs) <= 0)
            return false;
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffer_.append(buf, n);
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    QByteArray buffer_;
};

// Sends `count` requests at once on separate connections and collects the responses.
inline std::vector<Response> concurrently(uint16_t port, const QString& path, int count);

inline QByteArray getRequest(const QString& path, const QByteArray& extra = {}, const char* method = "GET")
{
    return QByteArray(method) + " " + path.toUtf8() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

inline Response fetch(uint16_t port, const QString& path, const QByteArray& extra = {}, const char* method = "GET")
{
    Client c(port);
    if (!c.send(getRequest(path, extra, method)))
        return {};
    return c.read(20000, QByteArray(method) == "HEAD");
}

inline std::vector<Response> concurrently(uint16_t port, const QString& path, int count)
{
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < count; ++i) {
        clients.push_back(std::make_unique<Client>(port));
        clients.back()->send(getRequest(path));
    }
    std::vector<Response> out;
    for (auto& c : clients)
        out.push_back(c->read(30000));
    return out;
}

// `total` GET requests over `concurrency` keep-alive connections at once (a connection the server
// closes is opened again); returns how many responses had each status (0: no complete response).
inline std::map<int, int> keepAliveLoad(uint16_t port, const QString& path, int total, int concurrency)
{
    std::atomic<int> next{0};
    std::mutex m;
    std::map<int, int> statuses;
    std::vector<std::thread> threads;
    for (int t = 0; t < concurrency; ++t)
        threads.emplace_back([&] {
            std::map<int, int> mine;
            auto c = std::make_unique<Client>(port);
            while (next++ < total) {
                Response r;
                if (c->send(getRequest(path)))
                    r = c->read(20000);
                ++mine[r.complete ? r.status : 0];
                if (!r.complete || r.header("connection") == "close")
                    c = std::make_unique<Client>(port);
            }
            std::lock_guard lock(m);
            for (auto [status, n] : mine)
                statuses[status] += n;
        });
    for (auto& t : threads)
        t.join();
    return statuses;
}

#ifndef Q_MOC_RUN // moc's parser loses track of the namespace inside raw strings
inline QString siteConfig()
{
    static const char* text = R"(<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.applicationHost>
        <applicationPools>
            <add name="web" cgiMaxConcurrent="@CGIMAX@" cgiQueueLength="@CGIQUEUE@" cgiQueueTimeout="@CGIWAIT@">
                <processModel userName="@USER@" />
            </add>
            @POOLS@
        </applicationPools>
        <sites>
            <site name="Main" id="1"@SITEATTRS@>
                <application path="/" applicationPool="web">
                    <virtualDirectory path="/" physicalPath="@DIR@/www" />
                </application>
                @APPS@
                <bindings>
                    <binding protocol="http" bindingInformation="127.0.0.1:@PORT@:"@BINDATTRS@ />
                </bindings>
                <limits connectionTimeout="@TIMEOUT@" maxConnections="@MAXCONN@" />
                <logFile directory="@DIR@/logs" />
            </site>
            @SITES@
        </sites>
    </system.applicationHost>
    <system.webServer>
        <cgi timeout="@CGITIMEOUT@" />
        @FASTCGI@
        <handlers>
            @HANDLERS@
            <add name="CGI" path="/cgi-bin/*" verb="*" modules="CgiModule" resourceType="Unspecified" />
            <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule,DefaultDocumentModule" resourceType="Either" />
        </handlers>
        <security>
            <requestFiltering>
                <requestLimits maxAllowedContentLength="100000" maxUrl="1024" maxQueryString="512" />
                @FILTERING@
            </requestFiltering>
            @SECURITY@
        </security>
        <httpErrors errorMode="@ERRORMODE@" />
    </system.webServer>
    @LIDO@
</configuration>
)";
    return QString::fromUtf8(text);
}
#endif

class EngineFixture {
public:
    EngineFixture()
    {
        QDir d(s.path());
        d.mkpath("www/sub");
        d.mkpath("www/cgi-bin");
        d.mkpath("logs");
        // Where programs may write (pid files): they run as the pool's unprivileged identity.
        d.mkpath("shared");
        ::chmod(s.path("shared").toUtf8().constData(), 01777);
        s.write("www/hello.txt", "Hello, Lido!\n");
        s.write("www/sub/index.html", "<p>sub index</p>\n");
        s.write("secret.txt", "outside the root\n");
        QFile::link(s.path("secret.txt"), s.path("www/link.txt"));
        QByteArray big(100000, 'x');
        for (int i = 0; i < big.size(); ++i)
            big[i] = char('a' + i % 26);
        s.write("www/big.txt", big);
        for (const char* name : {"www/cgi-bin/helper.cgi", "www/cgi-bin/nph-helper.cgi"}) {
            QFile::copy(LIDO_TEST_BIN_DIR "/lido-test-cgi", s.path(name));
            QFile::setPermissions(s.path(name), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadGroup |
                                                    QFile::ExeGroup | QFile::ReadOther | QFile::ExeOther);
        }
        ::chmod(s.path().toUtf8().constData(), 0755);
        port = freePort();
        values = {{"@PORT@", QString::number(port)}, {"@CGIMAX@", "8"}, {"@CGIQUEUE@", "1000"}, {"@CGIWAIT@", "00:00:30"},
                  {"@TIMEOUT@", "00:02:00"}, {"@MAXCONN@", "4294967295"}, {"@CGITIMEOUT@", "00:00:30"},
                  {"@ERRORMODE@", "DetailedLocalOnly"}, {"@USER@", ""}, {"@POOLS@", ""}, {"@APPS@", ""}, {"@SITES@", ""},
                  {"@FASTCGI@", ""}, {"@HANDLERS@", ""}, {"@LIDO@", ""}, {"@FILTERING@", ""},
                  {"@SITEATTRS@", ""}, {"@BINDATTRS@", ""}, {"@SECURITY@", ""}};
    }
    ~EngineFixture()
    {
        if (engine)
            engine->stop(std::chrono::milliseconds(500));
    }

    QString text() const
    {
        QString t = siteConfig();
        for (int pass = 0; pass < 2; ++pass) // values may hold placeholders themselves
            for (auto it = values.begin(); it != values.end(); ++it)
                t.replace(it.key(), it.value());
        return s.fill(t);
    }

    bool start()
    {
        QString file = s.config(text());
        auto config = lido::config::loadConfig(file.toStdString());
        if (!config || !(*config)->valid()) {
            for (const auto& d : (*config)->diagnostics())
                qWarning("%s", d.str().c_str());
            return false;
        }
        engine = std::make_unique<lido::engine::Engine>(
            lido::engine::EngineOptions{2, s.path("log").toStdString(), false, s.path("run").toStdString(), clock});
        auto r = engine->start(*config);
        if (!r)
            qWarning("%s", r.error().c_str());
        return r.ok();
    }

    // Writes the configuration as the current values give it and applies it to the running engine.
    lido::Result<std::string> apply()
    {
        QString file = s.config(text());
        auto config = lido::config::loadConfig(file.toStdString());
        if (!config)
            return lido::Error{config.error()};
        for (const auto& d : (*config)->diagnostics())
            qDebug("%s", d.str().c_str());
        return engine->apply(*config);
    }

    std::vector<lido::log::Event> events(const std::string& code) const { return engine->events()->find(code); }

    // /app/* of the root application goes to the libfcgi test helper with these application
    // attributes and environment variables (NAME=value pairs).
    void useFastCgiHelper(const QString& attributes = {}, const QList<QPair<QString, QString>>& environment = {})
    {
        QString env;
        for (const auto& [name, value] : environment)
            env += QString("<environmentVariable name=\"%1\" value=\"%2\" />").arg(name, value);
        values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" " + attributes + ">" +
                              (env.isEmpty() ? QString() : "<environmentVariables>" + env + "</environmentVariables>") + "</application></fastCgi>";
        values["@HANDLERS@"] = "<add name=\"App\" path=\"/app/*\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                               "/lido-test-fcgi\" />";
    }

    testsupport::Scratch s;
    uint16_t port = 0;
    QMap<QString, QString> values;
    std::function<std::time_t()> clock; // the engine's wall clock for certificate renewals (empty: the real one)
    std::unique_ptr<lido::engine::Engine> engine;
};

#ifndef Q_MOC_RUN
// Pools a (/a) and b (/b), each with the FastCGI helper under arguments "one" and "two", each
// mapped (*.app) by a <location> of its own application only.
inline void scopedFastCgiApps(EngineFixture& f)
{
    f.values["@POOLS@"] = R"(<add name="a" /><add name="b" />)";
    f.values["@APPS@"] = R"(<application path="/a" applicationPool="a"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)"
                         R"(<application path="/b" applicationPool="b"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
    QString helper = LIDO_TEST_BIN_DIR "/lido-test-fcgi";
    f.values["@FASTCGI@"] = QString(R"(<fastCgi><application fullPath="%1" arguments="one" /><application fullPath="%1" arguments="two" /></fastCgi>)").arg(helper);
    QString location = R"(<location path="Main/%1"><system.webServer><handlers><add name="%2" path="*.app" verb="*" modules="FastCgiModule" )"
                       R"(scriptProcessor="%3|%4" /></handlers></system.webServer></location>)";
    f.values["@LIDO@"] = location.arg("a", "One", helper, "one") + location.arg("b", "Two", helper, "two");
}
#endif

// A self-signed P-256 certificate for cn (its own CA) in NAME.pem and NAME.key, readable by the
// engine and the pools' users. False (with openssl's words as a warning) when openssl fails.
inline bool makeCertificate(const testsupport::Scratch& s, const QString& name, const QString& cn, int days = 30)
{
    QProcess p;
    p.start("openssl", {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", s.path(name + ".key"),
                        "-out", s.path(name + ".pem"), "-days", QString::number(days), "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn});
    if (!p.waitForFinished(30000) || p.exitCode() != 0) {
        qWarning("openssl: %s", p.readAllStandardError().constData());
        return false;
    }
    for (const char* ext : {".key", ".pem"})
        QFile::setPermissions(s.path(name + ext), QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther);
    return true;
}

// A running lidod on the fixture's configuration, with its admin socket in the scratch folder.
class Lidod {
public:
    explicit Lidod(EngineFixture& f, QStringList extra = {}, const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment(),
                   std::function<void()> childSetup = {})
        : socket(f.s.path("admin.sock"))
    {
        file = f.s.config(f.text());
        process.setProcessEnvironment(env);
        if (childSetup)
            process.setChildProcessModifier(childSetup); // in the child, before exec (rlimits)
        process.start(LIDO_BIN_DIR "/lidod", QStringList{"--config", file, "--admin-socket", socket, "--threads", "2"} + extra);
        process.waitForStarted();
        for (int i = 0; i < 100 && fetch(f.port, "/hello.txt").status != 200; ++i)
            QThread::msleep(50);
        for (int i = 0; i < 100 && !QFile::exists(socket); ++i)
            QThread::msleep(50);
    }
    ~Lidod()
    {
        if (process.state() != QProcess::NotRunning) {
            process.terminate();
            if (!process.waitForFinished(10000))
                process.kill();
        }
    }
    testsupport::Run ctl(QStringList args) { return testsupport::lidoctl(QStringList{"--connect", socket} + args); }
    pid_t pid() { return pid_t(process.processId()); }

    QString file, socket;
    QProcess process;
};


