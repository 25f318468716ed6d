#pragma once
// The engine's state behind Engine (internal to core/engine): Engine.cpp holds the public
// operations and the ticker's work, EngineBuild.cpp the building of a configuration's view (sites,
// pools, listeners' certificates, ACME).
#include "engine/Engine.h"

#include "config/ConfigDiff.h"
#include "config/Values.h"
#include "engine/Listeners.h"
#include "engine/Router.h"
#include "engine/Settings.h"
#include "engine/StatusPage.h"
#include "engine/View.h"
#include "util/AddressRanges.h"
#include "util/OpenSsl.h"

#include <asio.hpp>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <sys/resource.h>
#include <unistd.h>
#include <thread>

namespace lido::engine {

using config::ConfigElement;
using namespace routing; // SiteMap, HandlerMapping, ...

struct Engine::Impl {
    EngineOptions options;
    std::string runtimeDir;
    std::shared_ptr<SharedSlot> slot = std::make_shared<SharedSlot>();
    std::mutex applyMutex; // one apply (or start/stop) at a time
    std::set<std::string> stoppedSites; // by the administrator (under applyMutex)
    std::map<std::string, std::string> stoppedPools; // application pools stopped by the administrator, and why (under applyMutex)
    std::map<std::string, std::string> keptStopped;  // this apply: application pools whose FastCGI pool rapid-fail protection had stopped
    std::unique_ptr<Listeners> listeners;
    std::vector<std::shared_ptr<pool::FastCgiPool>> retired; // replaced pools still finishing their requests
    std::mutex retiredMutex;
    std::shared_ptr<log::EventLog> events;
    std::shared_ptr<HealthState> health = std::make_shared<HealthState>();
    std::shared_ptr<log::RequestBoard> board = std::make_shared<log::RequestBoard>();
    std::unique_ptr<acme::AcmeManager> acme; // made with the engine; its thread uses only the members above
    mutable std::mutex historyMutex;
    std::deque<HistoryPoint> history;
    PoolHistory poolHistory; // under historyMutex
    std::unique_ptr<asio::steady_timer> ticker;
    std::atomic<bool> running{false};
    uint64_t certificateTicks = 0;              // ticker thread only
    std::set<std::string> warnedCertificates;   // expiry warnings given (file, notAfter, kind)

    std::shared_ptr<Shared> current() const { return slot->load(); }

    // Where traces go when the site names no folder: FailedReqLogFiles in the engine's log folder
    // (its option, else lido/log/@directory, else /var/log/lido as root or $XDG_STATE_HOME/lido/log).
    std::string defaultTraceRoot(const config::Config& config) const;

    // Builds the request path's view of a configuration. Site counters, access logs, CGI limiters
    // and FastCGI pools of `old` are reused where their settings did not change.
    std::shared_ptr<Shared> build(std::shared_ptr<const config::Config> config, const Shared* old);

    // An https binding's certificate on its endpoint (SNI: for its host name; else the endpoint's
    // default), or the central store. One that does not load fails the site, with the reason.
    // lido/acme and the hosts of https bindings with acme="true", before their certificates are added.
    void configureAcme(const config::Config& config, Shared& shared);

    // A new ACME certificate serves the endpoints of its host from the next handshake on.
    void acmeIssued(const std::string& host);

    void addCertificate(const config::Config& config, const Shared& shared, EndpointInfo& ep, const SiteConfig& site, const SiteConfig::Binding& b,
                        SiteState& state);

    // Once a second: certificate files that changed are loaded again (renewal without a restart);
    // once a minute: certificates that expire within 14 days, or have expired, are told.
    void checkCertificates(const Shared& shared);

    // A new FastCGI pool starts, unless its application pool is stopped (lidoctl stop pool): then
    // it stays stopped with that reason until the pool is started.
    void startUnlessStopped(Shared& shared, const std::string& key, pool::FastCgiPool& p);

    // IIS's rapid-fail protection stops the application pool, not one of its programs: once a
    // FastCGI pool of P has been stopped by it, every application of P answers 503, static files
    // and CGI too, until an administrator starts P (as for lidoctl stop pool P). Checked by the
    // ticker; an apply in progress may need this thread, so then it is the next second's turn.
    // metrics: this tick's, of every FastCGI pool.
    void stopPoolsThatRapidFailed(const Shared& shared, const std::vector<pool::PoolMetrics>& metrics);

    void retirePools(const Shared& old, const Shared& next, const std::string& why);

    void tick();
};

} // namespace lido::engine
