// A flood of connections against a real lidod started with a low open-file limit (256, soft and
// hard, as systemd's and a login shell's 1024 would be in a larger flood): a keep-alive client
// connected before keeps getting answers, lidod stays nearly idle while it refuses, and new
// clients are served again within a second of the flood closing. Once through the engine's
// connection ceiling (503s), once with the ceiling lifted so that accept() itself runs out of
// descriptors (back-off instead of a busy loop).
#include "EngineSupport.h"

#include <fcntl.h>
#include <sys/resource.h>

namespace {

double cpuSeconds(pid_t pid)
{
    QFile f(QString("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    QByteArray line = f.readAll();
    QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
    static const long ticks = ::sysconf(_SC_CLK_TCK);
    return double(fields[11].toLongLong() + fields[12].toLongLong()) / double(ticks);
}

void lowDescriptorLimit()
{
    rlimit rl{256, 256};
    ::setrlimit(RLIMIT_NOFILE, &rl);
}

int connectTo(uint16_t port)
{
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

class tst_Flood : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        // This process holds the flood: 1,000 sockets and more.
        rlimit rl{};
        ::getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = std::max<rlim_t>(rl.rlim_cur, std::min<rlim_t>(rl.rlim_max, 8192));
        if (rl.rlim_cur < 4096 && ::geteuid() == 0)
            rl.rlim_cur = rl.rlim_max = 8192;
        QVERIFY(::setrlimit(RLIMIT_NOFILE, &rl) == 0);
        if (rl.rlim_cur < 2048)
            QSKIP("this process cannot open 2,000 descriptors");
    }

    void flood_data()
    {
        QTest::addColumn<QString>("lido");
        QTest::addColumn<QString>("event");
        QTest::newRow("engine ceiling") << QString() << "engine.connection-limit";
        QTest::newRow("accept back-off") << R"(<lido><limits maxConnections="100000" /></lido>)" << "engine.accept-failed";
    }
    void flood()
    {
        QFETCH(QString, lido);
        QFETCH(QString, event);
        EngineFixture f;
        f.values["@LIDO@"] = lido;
        Lidod d(f, {}, QProcessEnvironment::systemEnvironment(), lowDescriptorLimit);
        QCOMPARE(fetch(f.port, "/hello.txt").status, 200);

        Client keepAlive(f.port);
        auto ask = [&] {
            if (!keepAlive.send(getRequest("/hello.txt")))
                return 0;
            return keepAlive.read(3000).status;
        };
        QCOMPARE(ask(), 200);

        std::vector<int> flood;
        for (int i = 0; i < 1000; ++i)
            if (int fd = connectTo(f.port); fd >= 0)
                flood.push_back(fd);
        QVERIFY2(flood.size() >= 900, qPrintable(QString::number(flood.size())));
        QThread::msleep(300); // the burst of accepts and refusals is over

        double before = cpuSeconds(d.pid());
        auto started = std::chrono::steady_clock::now();
        int answered = 0, asked = 0;
        while (std::chrono::steady_clock::now() - started < std::chrono::seconds(2)) {
            ++asked;
            answered += ask() == 200;
            QThread::msleep(100);
        }
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        double cpu = (cpuSeconds(d.pid()) - before) / seconds;
        QCOMPARE(answered, asked); // the client connected before the flood is served throughout
        QVERIFY2(cpu < 0.10, qPrintable(QString("lidod used %1 % of a core while refusing").arg(cpu * 100, 0, 'f', 1)));

        int refused = 0;
        for (int fd : flood) {
            char buf[256];
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            refused += n > 0 && QByteArray(buf, int(n)).startsWith("HTTP/1.1 503");
        }
        // 192 of 256 descriptors are for connections; without that ceiling the spare descriptors
        // given up at EMFILE shed the rest.
        QVERIFY2(refused > 700, qPrintable(QString::number(refused)));

        for (int fd : flood)
            ::close(fd);
        auto closed = std::chrono::steady_clock::now();
        int status = 0;
        while (status != 200 && std::chrono::steady_clock::now() - closed < std::chrono::seconds(3)) {
            status = fetch(f.port, "/hello.txt").status;
            if (status != 200)
                QThread::msleep(20);
        }
        double recovered = std::chrono::duration<double>(std::chrono::steady_clock::now() - closed).count();
        QCOMPARE(status, 200);
        QVERIFY2(recovered < 1.0, qPrintable(QString("served again after %1 s").arg(recovered)));
        QCOMPARE(ask(), 200);

        keepAlive.close();
        d.process.terminate();
        QVERIFY(d.process.waitForFinished(10000));
        QString log = QString::fromUtf8(d.process.readAllStandardError());
        QVERIFY2(log.contains("open-file limit 256 (soft and hard limit 256)"), qPrintable(log.left(2000)));
        QVERIFY2(log.contains(event), qPrintable(log.left(2000)));
        qInfo("lidod: %.1f %% of a core while refusing; %d of %zu flood connections got 503; served again after %.3f s", cpu * 100, refused,
              flood.size(), recovered);
    }
};

QTEST_GUILESS_MAIN(tst_Flood)
#include "tst_flood.moc"
