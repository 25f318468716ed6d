#pragma once
// The pool's upkeep, driven by its once-a-second tick(now): which instances are due to stop for
// idleness, to be pinged, or to fail a timeout; how many instances maxInstances="0" allows next;
// whether a periodic restart (time, requests, memory, schedule) is due; and the monitorChangesTo
// watch. It decides; the pool acts, so tests drive it with chosen times and no process.
#include "pool/Instance.h"
#include "process/ProcStats.h"

#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lido::pool {

class Maintenance {
public:
    explicit Maintenance(const FastCgiSettings& settings);
    ~Maintenance();

    enum class Due { Nothing, IdleTimeout, Ping, StartupTimeout, ActivityTimeout };
    // What the upkeep looks at in an instance.
    struct Seen {
        InstanceState state = InstanceState::Idle;
        uint64_t requests = 0;             // served so far
        bool hasRequest = false;
        bool answering = false;            // a byte of the current request came back
        Clock::time_point lastActive, lastPing, requestStarted;
        static Seen of(const Instance& in);
    };
    Due due(const Seen& in, Clock::time_point now) const;

    struct Plan {
        std::vector<std::pair<std::shared_ptr<Instance>, Due>> instances;
        int limit = 1;       // maxInstances from now on
        std::string recycle; // a periodic restart is due: why (empty: none)
    };
    struct Facts {
        int limit = 1;
        bool requestsWaited = false; // during the last second
        bool running = true;
        std::map<int, process::ProcFigures> figures; // pid -> /proc figures of the live instances
        std::time_t wallClock = 0;                    // for recycling/periodicRestart/schedule
        double cpuIdle = 1.0;                         // fraction of the machine idle in the last second (maxInstances="0")
    };
    Plan tick(Clock::time_point now, const std::vector<std::shared_ptr<Instance>>& instances, const Facts& facts);

    void served() { ++generationRequests_; } // a request done, toward periodicRestart/@requests
    void restarted(Clock::time_point now);  // a recycle: the next generation starts counting

    // monitorChangesTo: changed() runs on the strand when the file is written or replaced. The
    // folder is watched, so both in-place writes and atomic renames are seen, and so is the
    // folder of every link on the way (a php.ini linked from a ConfigMap). An error sentence.
    std::string watchFile(const Strand& strand, std::function<void()> changed);

private:
    std::string restartDue(Clock::time_point now, const Facts& facts);
    int tuned(const std::vector<std::shared_ptr<Instance>>& instances, const Facts& facts);
    const FastCgiSettings& s_;
    Clock::time_point generationStart_ = Clock::now();
    uint64_t generationRequests_ = 0;
    int64_t lastSecondOfDay_ = -1;
    struct FileWatch;
    std::shared_ptr<FileWatch> watch_;
};

} // namespace lido::pool
