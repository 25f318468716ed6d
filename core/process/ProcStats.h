#pragma once
// What /proc says about a process and about the machine's CPU, read where figures are sampled
// (once a second, never per request).
#include <cstdint>
#include <optional>
#include <sys/types.h>

namespace lido::process {

struct ProcFigures {
    uint64_t rssBytes = 0;     // resident memory
    uint64_t virtualBytes = 0; // address space (IIS periodicRestart/@memory)
    double cpuSeconds = 0;     // user + system
};

// From /proc/PID/stat; nothing when the process is gone.
std::optional<ProcFigures> readProcFigures(pid_t pid);

// The fraction of the machine's CPU time that was idle since the previous sample (/proc/stat);
// 1.0 on the first.
class CpuIdleMeter {
public:
    double sample();

private:
    uint64_t lastTotal_ = 0, lastIdle_ = 0;
};

} // namespace lido::process
