#pragma once
// The engine's threads and what accepts connections on them: one io_context per worker thread,
// each watching one shared listening socket per endpoint (a new connection goes to a worker that
// is waiting for work); the engine's and each endpoint's connection limits, past which a connection gets a short
// 503; the open-file limit, raised at start, and spare descriptors given up on EMFILE so that the
// engine sheds load instead of spinning; and the status listener, bound by the same code.
#include "engine/View.h"
#include "http/Connection.h"
#include "log/EventLog.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lido::engine {

struct DescriptorLimit {
    uint64_t soft = 0, hard = 0, before = 0; // before: the soft limit found at start
};

class Listeners {
public:
    Listeners(std::shared_ptr<SharedSlot> slot, std::shared_ptr<log::EventLog> events);
    ~Listeners();
    Listeners(const Listeners&) = delete;
    Listeners& operator=(const Listeners&) = delete;

    void start(int threads); // raises the open-file limit and starts the workers
    // Closes every acceptor and waits (up to grace) for open connections to end, then stops and
    // joins the workers. Their io_contexts stay until clear(), for what still lives on them.
    void stop(std::chrono::milliseconds grace);
    void clear();

    asio::io_context& io(size_t worker = 0);
    asio::io_context& nextIo(); // round robin: FastCGI pools are spread over the workers
    // Runs fn on the first worker's thread and waits for it.
    void runOnFirst(std::function<void()> fn);

    // Opens what next has and the running set lacks, closes what it no longer has; marks the
    // sites of an endpoint that cannot be bound as failed, with an event. The failures, joined.
    std::string sync(Shared& next);
    // The status pages' listener (on the first worker): an error, or empty.
    std::string openStatus(const EndpointKey& key, std::shared_ptr<http::Dispatcher> pages);

    const DescriptorLimit& descriptors() const { return descriptors_; }
    int64_t defaultMaxConnections() const; // the open-file limit less a quarter (at least 64) kept for pools, logs and files
    void tick(); // once a second: takes the spares back once connections have fallen well below where they ran out

private:
    struct Worker;
    struct Endpoint;
    void accept(Worker& w, const std::shared_ptr<Endpoint>& ep);
    void admit(Worker& w, asio::ip::tcp::socket socket, const EndpointKey& key, const std::shared_ptr<std::atomic<int64_t>>& count);
    void reportProxyFailure(const EndpointKey& key, const std::string& peer, const std::string& error);
    std::string openOn(Worker& w, const std::shared_ptr<Endpoint>& ep);
    std::string open(const EndpointKey& key);
    void close(const EndpointKey& key);
    void reportAcceptFailure(const std::string& where, const std::string& error, bool shedding);
    void takeSpares();
    bool releaseSpares();

    std::shared_ptr<SharedSlot> slot_;
    std::shared_ptr<log::EventLog> events_;
    std::vector<std::unique_ptr<Worker>> workers_;
    size_t nextWorker_ = 0;
    std::vector<EndpointKey> open_; // the endpoints listened on (changed only by sync, under the engine's apply lock)
    std::map<EndpointKey, std::shared_ptr<std::atomic<int64_t>>> endpointConnections_;
    std::shared_ptr<std::atomic<int64_t>> openConnections_ = std::make_shared<std::atomic<int64_t>>(0); // all listeners
    DescriptorLimit descriptors_;
    // Spare descriptors, given up when accept() finds none left: the open connections then still
    // have some to open files with, and new connections are answered 503 with them (shed) until
    // the number of open connections falls well below where it ran out.
    std::mutex spareMutex_;
    std::vector<int> spares_;
    std::atomic<int64_t> pressureCeiling_;
    // PROXY headers that failed: told at most once every 10 s, with how many there were.
    std::mutex proxyMutex_;
    std::chrono::steady_clock::time_point proxyToldAt_{};
    uint64_t proxyUntold_ = 0;
    static constexpr size_t kSpares = 16;
};

} // namespace lido::engine
