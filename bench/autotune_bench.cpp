// Benchmark (not a test): FastCGI maxInstances="0" against fixed pool sizes on an I/O-bound app
// (5 ms per request). Prints, each second, requests/s and the pool's instance limit, then the
// auto-tuned throughput reached within 10 s as a fraction of the best fixed size.
//   lido_autotune_bench [APP] [QUERY] [CLIENTS]   default: build/tests/lido-test-fcgi sleep=5 32
#include "config/Config.h"
#include "config/ConfigDocument.h"
#include "engine/Engine.h"

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

uint16_t freePort()
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

// One keep-alive client: request, read the head, read Content-Length bytes, again.
void client(uint16_t port, const std::string& path, std::atomic<bool>& stop, std::atomic<uint64_t>& done)
{
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return;
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n";
    std::string buf;
    char chunk[8192];
    while (!stop) {
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) <= 0)
            break;
        size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0)
                goto out;
            buf.append(chunk, static_cast<size_t>(n));
        }
        size_t cl = buf.find("Content-Length: ");
        size_t length = cl == std::string::npos || cl > end ? 0 : std::stoul(buf.substr(cl + 16));
        while (buf.size() < end + 4 + length) {
            ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
            if (n <= 0)
                goto out;
            buf.append(chunk, static_cast<size_t>(n));
        }
        buf.erase(0, end + 4 + length);
        ++done;
    }
out:
    ::close(fd);
}

struct Run {
    double steadyRps = 0;     // mean over seconds 8..12
    double rpsAtTen = 0;      // mean over seconds 9..10
};

Run measure(const std::string& app, const std::string& query, int clients, int maxInstances, bool print)
{
    uint16_t port = freePort();
    char dir[] = "/tmp/lido-autotune-XXXXXX";
    std::string root = ::mkdtemp(dir);
    std::string text = "<configuration><system.applicationHost><applicationPools><add name=\"bench\" /></applicationPools><sites>"
                       "<site name=\"s\" id=\"1\"><application path=\"/\" applicationPool=\"bench\"><virtualDirectory path=\"/\" physicalPath=\"" +
                       root + "\" /></application><bindings><binding protocol=\"http\" bindingInformation=\"127.0.0.1:" + std::to_string(port) +
                       ":\" /></bindings><logFile enabled=\"false\" /></site></sites></system.applicationHost><system.webServer><fastCgi>"
                       "<application fullPath=\"" + app + "\" maxInstances=\"" + std::to_string(maxInstances) +
                       "\" instanceMaxRequests=\"10000000\" /></fastCgi><handlers><add name=\"F\" path=\"*\" verb=\"*\" modules=\"FastCgiModule\" "
                       "scriptProcessor=\"" + app + "\" /></handlers></system.webServer></configuration>";
    auto doc = lido::config::ConfigDocument::parse(text, "bench.config");
    auto config = lido::config::Config::fromDocument(*doc);
    lido::engine::Engine engine(lido::engine::EngineOptions{0, {}, false, root});
    if (!engine.start(config))
        return {};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> done{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
        threads.emplace_back(client, port, "/x?" + query, std::ref(stop), std::ref(done));
    Run r;
    uint64_t last = 0;
    double at8to12 = 0;
    for (int t = 1; t <= 12; ++t) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        uint64_t now = done.load();
        double rps = static_cast<double>(now - last);
        last = now;
        auto snap = engine.snapshot();
        int limit = snap.fastcgi.empty() ? 0 : snap.fastcgi.front().maxInstances;
        int live = snap.fastcgi.empty() ? 0 : snap.fastcgi.front().busy + snap.fastcgi.front().idle;
        if (print)
            std::printf("  t=%2d s  %7.0f req/s  limit %2d  instances %2d\n", t, rps, limit, live);
        if (t == 9 || t == 10)
            r.rpsAtTen += rps / 2;
        if (t >= 8)
            at8to12 += rps / 5;
    }
    r.steadyRps = at8to12;
    stop = true;
    for (auto& t : threads)
        t.join();
    engine.stop(std::chrono::seconds(1));
    return r;
}

} // namespace

int main(int argc, char** argv)
{
    std::string app = argc > 1 ? argv[1] : LIDO_TEST_FCGI;
    std::string query = argc > 2 ? argv[2] : "sleep=5";
    int clients = argc > 3 ? std::atoi(argv[3]) : 32;
    std::printf("app %s ?%s, %d keep-alive clients\n", app.c_str(), query.c_str(), clients);
    double best = 0;
    int bestSize = 0;
    for (int size : {1, 2, 4, 8, 16, 32}) {
        Run r = measure(app, query, clients, size, false);
        std::printf("fixed maxInstances=%-2d  %7.0f req/s\n", size, r.steadyRps);
        if (r.steadyRps > best) {
            best = r.steadyRps;
            bestSize = size;
        }
    }
    std::printf("maxInstances=0 (auto-tuned), per second:\n");
    Run autoRun = measure(app, query, clients, 0, true);
    std::printf("best fixed size %d: %.0f req/s; auto-tuned at 10 s: %.0f req/s = %.1f %% of it\n", bestSize, best, autoRun.rpsAtTen,
                100.0 * autoRun.rpsAtTen / best);
    return 0;
}
