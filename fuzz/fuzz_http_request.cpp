// Fuzz target: arbitrary bytes through the engine's request path (llhttp, limits, routing,
// static files, error pages) over a real loopback connection to an in-process engine.
#include "config/Config.h"
#include "config/ConfigDocument.h"
#include "engine/Engine.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

uint16_t g_port = 0;

void startEngine()
{
    static std::unique_ptr<lido::engine::Engine> engine;
    char tmpl[] = "/tmp/lido-fuzz-http-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    std::string cmd = "mkdir -p " + dir + "/www/sub && echo hello > " + dir + "/www/hello.txt && echo sub > " + dir + "/www/sub/index.html";
    if (std::system(cmd.c_str()) != 0)
        std::abort();
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    g_port = ntohs(a.sin_port);
    std::string text = "<configuration><system.applicationHost><applicationPools><add name=\"p\" /></applicationPools><sites>"
                       "<site name=\"s\" id=\"1\"><application path=\"/\" applicationPool=\"p\"><virtualDirectory path=\"/\" physicalPath=\"" +
                       dir + "/www\" /></application><bindings><binding protocol=\"http\" bindingInformation=\"127.0.0.1:" +
                       std::to_string(g_port) + ":\" /></bindings><limits connectionTimeout=\"00:00:01\" /></site></sites>"
                       "</system.applicationHost><system.webServer><security><requestFiltering><requestLimits maxAllowedContentLength=\"1000\" "
                       "maxUrl=\"256\" maxQueryString=\"128\" /></requestFiltering></security></system.webServer></configuration>";
    auto doc = lido::config::ConfigDocument::parse(text, "fuzz.config");
    auto config = lido::config::Config::fromDocument(*doc);
    if (!config->valid())
        std::abort();
    engine = std::make_unique<lido::engine::Engine>(lido::engine::EngineOptions{1, {}, false, {}});
    if (!engine->start(config))
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (!g_port)
        startEngine();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(g_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = -1;
    for (int attempt = 0;; ++attempt) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        // RST on close: hundreds of thousands of runs must not use up the ephemeral ports in
        // TIME_WAIT (that, not the engine, made an early version of this harness fail).
        linger lg{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        // ...and each run comes from another loopback address, so the port space never runs dry.
        static uint32_t counter = 0;
        ++counter;
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr.s_addr = htonl((127u << 24) | (1u + ((counter >> 16) & 0xfe)) << 16 | (counter & 0xffff));
        ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
            break;
        int err = errno;
        ::close(fd);
        if (err == ECONNREFUSED || attempt > 50)
            std::abort(); // the engine died
        ::usleep(10000);
    }
    size_t off = 0;
    while (off < size) {
        ssize_t n = ::send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 3000) <= 0)
            break;
        if (::recv(fd, buf, sizeof buf, 0) <= 0)
            break;
    }
    ::close(fd);
    return 0;
}
