#include "process/ProcStats.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace lido::process {

std::optional<ProcFigures> readProcFigures(pid_t pid)
{
    if (pid <= 0)
        return std::nullopt;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return std::nullopt;
    // The command name, in parentheses, may hold spaces: fields are counted after its ')'.
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 > line.size())
        return std::nullopt;
    std::istringstream words(line.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    if (f.size() <= 21)
        return std::nullopt;
    static const long ticks = ::sysconf(_SC_CLK_TCK);
    static const long page = ::sysconf(_SC_PAGESIZE);
    // f[0] is field 3 (state): utime 14, stime 15, vsize 23, rss 24 (pages).
    try {
        ProcFigures p;
        p.cpuSeconds = static_cast<double>(std::stoull(f[11]) + std::stoull(f[12])) / static_cast<double>(ticks);
        p.virtualBytes = std::stoull(f[20]);
        p.rssBytes = std::stoull(f[21]) * static_cast<uint64_t>(page);
        return p;
    } catch (...) {
        return std::nullopt;
    }
}

double CpuIdleMeter::sample()
{
    // The first line: cpu user nice system idle iowait irq softirq steal ...
    std::ifstream stat("/proc/stat");
    std::string cpu;
    uint64_t v, total = 0, idle = 0;
    stat >> cpu;
    for (int i = 0; i < 8 && (stat >> v); ++i) {
        total += v;
        if (i == 3 || i == 4)
            idle += v;
    }
    double fraction = 1.0;
    if (lastTotal_ && total > lastTotal_)
        fraction = static_cast<double>(idle - lastIdle_) / static_cast<double>(total - lastTotal_);
    lastTotal_ = total;
    lastIdle_ = idle;
    return fraction;
}

} // namespace lido::process
