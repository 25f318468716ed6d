// Benchmark (not a test) for the console: opens a configuration with 1,000 pools and 1,000 sites
// in the real main window, drives snapshots for all of them at 1 Hz, and prints the time to first
// paint and the CPU the GUI thread uses while the Application Pools page sits idle. With SERVERS
// above 1, that many more servers of POOLS pools each publish at 1 Hz too, watched by the
// Connections dock, the Servers overview and the tray, as in the console.
//   xvfb-run -a build/bin/lido_console_bench [POOLS] [IDLE_SECONDS] [SERVERS]
#include "EngineClient.h"
#include "MainWindow.h"
#include "PoolsPage.h"
#include "ServerList.h"
#include "Tray.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QTableView>
#include <QTimer>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <vector>
#include <unistd.h>

namespace {

// Snapshots as the engine would publish them for `count` pools and sites, changing every second.
class FixtureEngine : public EngineClient {
public:
    explicit FixtureEngine(int count) : count_(count)
    {
        QObject::connect(&timer_, &QTimer::timeout, this, [this] {
            ++tick_;
            snapshot_ = make(); // once per tick, as the console's engine clients do
            emit snapshotReady();
        });
        snapshot_ = make();
        timer_.start(1000);
    }
    const lido::engine::Snapshot& snapshot() const override { return snapshot_; }
    lido::engine::Snapshot make() const
    {
        lido::engine::Snapshot s;
        s.time = std::chrono::system_clock::now();
        for (int i = 0; i < count_; ++i) {
            lido::engine::PoolMetrics p;
            p.pool = "pool" + std::to_string(i);
            p.application = "/usr/bin/php-cgi";
            p.maxInstances = 4;
            p.busy = (i + tick_) % 4;
            p.idle = 4 - p.busy;
            p.queued = (i * 7 + tick_) % 5;
            p.completed = static_cast<uint64_t>(tick_) * 100 + static_cast<uint64_t>(i);
            p.requestsPerSecond = (i + tick_) % 100;
            p.p99Ms = 3.5;
            s.fastcgi.push_back(std::move(p));
            lido::engine::SiteMetrics m;
            m.name = "site" + std::to_string(i);
            m.id = static_cast<uint32_t>(i + 1);
            m.started = true;
            m.state = "Started";
            m.requestsPerSecond = (i + tick_) % 50;
            s.sites.push_back(std::move(m));
        }
        return s;
    }
    std::vector<lido::log::Event> eventsSince(uint64_t) const override { return {}; }
    void controlPool(const QString&, lido::engine::PoolAction) override {}
    void controlSite(const QString&, lido::engine::SiteAction) override {}
    void recycleInstance(const QString&, int) override {}
    void reload() override {}
    void drain(bool) override {}
    QString where() const override { return "fixture"; }
    QString runningConfigText() const override { return {}; }
    void requestTraces() override { emit tracesReady(); }
    void requestTrace(const QString&) override {}

private:
    int count_;
    int tick_ = 0;
    lido::engine::Snapshot snapshot_;
    QTimer timer_;
};

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

class FirstPaint : public QObject {
public:
    QElapsedTimer* clock = nullptr;
    qint64 at = -1;
    bool eventFilter(QObject* o, QEvent* e) override
    {
        if (e->type() == QEvent::Paint && at < 0)
            at = clock->elapsed();
        return QObject::eventFilter(o, e);
    }
};

} // namespace

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("LidoBench");
    int count = argc > 1 ? std::atoi(argv[1]) : 1000;
    int idleSeconds = argc > 2 ? std::atoi(argv[2]) : 20;
    int serverCount = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
    std::string dir = "/tmp/lido-console-bench-" + std::to_string(::getpid());
    std::string mk = "mkdir -p " + dir + "/www";
    if (std::system(mk.c_str()) != 0)
        return 1;
    std::string path = dir + "/applicationHost.config";
    {
        std::ofstream out(path);
        out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <system.applicationHost>\n    <applicationPools>\n";
        for (int i = 0; i < count; ++i)
            out << "      <add name=\"pool" << i << "\" queueLength=\"1000\">\n        <processModel idleTimeout=\"00:20:00\" />\n      </add>\n";
        out << "    </applicationPools>\n    <sites>\n";
        for (int i = 0; i < count; ++i)
            out << "      <site name=\"site" << i << "\" id=\"" << i + 1 << "\">\n        <application path=\"/\" applicationPool=\"pool" << i
                << "\">\n          <virtualDirectory path=\"/\" physicalPath=\"" << dir << "/www\" />\n        </application>\n"
                << "        <bindings><binding protocol=\"http\" bindingInformation=\"127.0.0.1:8080:site" << i
                << ".example.org\" /></bindings>\n      </site>\n";
        out << "    </sites>\n  </system.applicationHost>\n</configuration>\n";
    }

    QElapsedTimer clock;
    clock.start();
    FixtureEngine engine(count);
    ServerList servers(&engine);
    std::vector<std::unique_ptr<FixtureEngine>> others;
    for (int i = 1; i < serverCount; ++i) {
        others.push_back(std::make_unique<FixtureEngine>(count));
        servers.addClient(QString("server%1").arg(i), others.back().get());
    }
    MainWindow window(&engine, &servers);
    Tray tray(&servers);
    FirstPaint paint;
    paint.clock = &clock;
    window.poolsPage()->table()->viewport()->installEventFilter(&paint);
    if (!window.openFile(QString::fromStdString(path)))
        return 1;
    window.resize(1200, 760);
    window.show();
    double cpuStart = 0;
    QElapsedTimer idle;
    QTimer::singleShot(3000, &app, [&] { // after the first paint and a few snapshots have settled
        cpuStart = threadCpuSeconds();
        idle.start();
        QTimer::singleShot(idleSeconds * 1000, &app, [&] {
            double cpu = threadCpuSeconds() - cpuStart;
            double wall = static_cast<double>(idle.elapsed()) / 1000.0;
            std::printf("console: %d pools, %d sites, snapshots at 1 Hz, %d server(s)\n", count, count, serverCount);
            std::printf("first paint of the pools table: %lld ms after start (goal < 1000 ms)\n", static_cast<long long>(paint.at));
            std::printf("GUI thread CPU while idle on the pools page: %.2f %% of a core over %.0f s (goal < 5 %%)\n", 100.0 * cpu / wall, wall);
            std::printf("pools table rows: %d\n", window.poolsPage()->table()->model()->rowCount());
            app.quit();
        });
    });
    int rc = app.exec();
    std::string rm = "rm -rf " + dir;
    return rc == 0 && std::system(rm.c_str()) == 0 ? 0 : 1;
}
