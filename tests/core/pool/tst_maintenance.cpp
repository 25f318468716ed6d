// The pool's 1-second upkeep, driven with chosen times and figures instead of sleeping: which
// instance is due for what, periodic restarts by time, requests, memory and schedule, and the
// limit maxInstances="0" allows next.
#include "pool/Maintenance.h"

#include <QtTest>

using namespace lido::pool;
using namespace std::chrono_literals;
using Due = Maintenance::Due;
using Seen = Maintenance::Seen;

namespace {

const Clock::time_point t0 = Clock::now();

FastCgiSettings settings()
{
    FastCgiSettings s;
    s.idleTimeout = 300s;
    s.activityTimeout = 30s;
    s.startupTimeLimit = 90s;
    s.pingInterval = 30s;
    return s;
}

Seen idle(Clock::time_point lastActive, Clock::time_point lastPing) { return Seen{InstanceState::Idle, 5, false, false, lastActive, lastPing, {}}; }

Seen busy(uint64_t served, bool answering, Clock::time_point lastActive, Clock::time_point started)
{
    return Seen{InstanceState::Busy, served, true, answering, lastActive, t0, started};
}

std::time_t at(int h, int m, int s)
{
    std::tm local{};
    local.tm_year = 126;
    local.tm_mon = 11;
    local.tm_mday = 1;
    local.tm_hour = h;
    local.tm_min = m;
    local.tm_sec = s;
    local.tm_isdst = -1;
    return std::mktime(&local);
}

} // namespace

class tst_Maintenance : public QObject {
    Q_OBJECT
private slots:
    void idleInstances()
    {
        FastCgiSettings s = settings();
        Maintenance m(s);
        QCOMPARE(m.due(idle(t0, t0), t0 + 10s), Due::Nothing);
        QCOMPARE(m.due(idle(t0, t0), t0 + 30s), Due::Ping);           // pingInterval since it was last heard from
        QCOMPARE(m.due(idle(t0, t0 + 20s), t0 + 40s), Due::Nothing);  // pinged 20 s ago
        QCOMPARE(m.due(idle(t0, t0), t0 + 301s), Due::IdleTimeout);
        s.alwaysRunning = true;
        QCOMPARE(m.due(idle(t0, t0), t0 + 301s), Due::Ping); // AlwaysRunning: never stopped for idleness
        s.pingingEnabled = false;
        QCOMPARE(m.due(idle(t0, t0), t0 + 301s), Due::Nothing);
    }

    void pingingStartingAndStoppingInstancesAreLeftAlone()
    {
        FastCgiSettings s = settings();
        Maintenance m(s);
        for (InstanceState st : {InstanceState::Starting, InstanceState::Pinging, InstanceState::Stopping, InstanceState::Exited}) {
            Seen x = idle(t0, t0);
            x.state = st;
            QCOMPARE(m.due(x, t0 + 1000s), Due::Nothing);
        }
    }

    void busyInstances()
    {
        FastCgiSettings s = settings();
        Maintenance m(s);
        // The first request of a new instance, not a byte back: startupTimeLimit.
        QCOMPARE(m.due(busy(0, false, t0, t0), t0 + 60s), Due::Nothing);
        QCOMPARE(m.due(busy(0, false, t0, t0), t0 + 91s), Due::StartupTimeout);
        // Later requests, or once it answers: activityTimeout of silence.
        QCOMPARE(m.due(busy(3, false, t0, t0), t0 + 31s), Due::ActivityTimeout);
        QCOMPARE(m.due(busy(0, true, t0 + 10s, t0), t0 + 31s), Due::Nothing);
        QCOMPARE(m.due(busy(0, true, t0 + 10s, t0), t0 + 41s), Due::ActivityTimeout);
        Seen draining = busy(3, true, t0, t0);
        draining.state = InstanceState::Draining;
        QCOMPARE(m.due(draining, t0 + 31s), Due::ActivityTimeout); // draining still serves
        Seen between = busy(3, true, t0, t0);
        between.hasRequest = false;
        QCOMPARE(m.due(between, t0 + 1000s), Due::Nothing);
    }

    void periodicRestartByRequests()
    {
        FastCgiSettings s = settings();
        s.recycleAfterRequests = 3;
        Maintenance m(s);
        Maintenance::Facts f;
        for (int i = 0; i < 2; ++i)
            m.served();
        QVERIFY(m.tick(t0, {}, f).recycle.empty());
        m.served();
        QCOMPARE(m.tick(t0, {}, f).recycle, std::string("periodicRestart requests (3) reached"));
        QVERIFY(m.tick(t0, {}, f).recycle.empty()); // asked once: the next generation counts from 0
    }

    void periodicRestartByTime()
    {
        FastCgiSettings s = settings();
        s.recycleAfterTime = 60s;
        Maintenance m(s);
        m.restarted(t0);
        Maintenance::Facts f;
        QVERIFY(m.tick(t0 + 59s, {}, f).recycle.empty());
        QCOMPARE(m.tick(t0 + 60s, {}, f).recycle, std::string("periodicRestart time (60 s) reached"));
        QVERIFY(m.tick(t0 + 61s, {}, f).recycle.empty());
        f.running = false; // a stopped pool is not recycled
        QVERIFY(m.tick(t0 + 200s, {}, f).recycle.empty());
    }

    void periodicRestartByMemory()
    {
        FastCgiSettings s = settings();
        s.recyclePrivateMemoryKB = 100000;
        s.recycleMemoryKB = 500000;
        Maintenance m(s);
        Maintenance::Facts f;
        f.figures[41] = {50000 * 1024, 400000 * 1024, 1.0};
        QVERIFY(m.tick(t0, {}, f).recycle.empty());
        f.figures[42] = {120000 * 1024, 200000 * 1024, 1.0};
        QCOMPARE(m.tick(t0, {}, f).recycle, std::string("periodicRestart privateMemory (100000 KB) exceeded by pid 42 (120000 KB)"));
        f.figures.erase(42);
        f.figures[41].virtualBytes = 600000 * 1024;
        QCOMPARE(m.tick(t0, {}, f).recycle, std::string("periodicRestart memory (500000 KB) exceeded by pid 41 (600000 KB virtual)"));
    }

    void periodicRestartBySchedule()
    {
        FastCgiSettings s = settings();
        s.recycleSchedule = {std::chrono::milliseconds((3 * 3600 + 30 * 60) * 1000)}; // 03:30:00
        Maintenance m(s);
        Maintenance::Facts f;
        f.wallClock = at(3, 29, 58);
        QVERIFY(m.tick(t0, {}, f).recycle.empty());
        f.wallClock = at(3, 29, 59);
        QVERIFY(m.tick(t0, {}, f).recycle.empty());
        f.wallClock = at(3, 30, 1); // a tick late: still crossed
        QCOMPARE(m.tick(t0, {}, f).recycle, std::string("periodicRestart schedule (03:30:00)"));
        f.wallClock = at(3, 30, 2);
        QVERIFY(m.tick(t0, {}, f).recycle.empty());
    }

    void limitIsTunedOnlyWhenMaxInstancesIsZero()
    {
        FastCgiSettings s = settings();
        s.maxInstances = 4;
        Maintenance fixed(s);
        Maintenance::Facts f;
        f.limit = 4;
        f.requestsWaited = true;
        QCOMPARE(fixed.tick(t0, {}, f).limit, 4);
        s.maxInstances = 0;
        Maintenance tuned(s);
        f.cpuIdle = 0.9;
        QCOMPARE(tuned.tick(t0, {}, f).limit, 8); // requests waited, CPU free: doubled
        f.cpuIdle = 0.01;
        QCOMPARE(tuned.tick(t0, {}, f).limit, 4); // saturated: more would only queue for the CPU
    }
};

QTEST_APPLESS_MAIN(tst_Maintenance)
#include "tst_maintenance.moc"
