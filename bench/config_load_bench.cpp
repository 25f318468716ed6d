// Benchmark (not a test): generates a ~10 MB configuration with 5,000 pools and 5,000 sites and
// prints the time to load and validate it and the peak memory (ru_maxrss).
#include "config/Config.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    int count = argc > 1 ? std::atoi(argv[1]) : 5000;
    std::string dir = "/tmp/lido-bench-" + std::to_string(::getpid());
    std::string cmd = "mkdir -p " + dir + "/www";
    if (std::system(cmd.c_str()) != 0)
        return 1;
    std::string path = dir + "/applicationHost.config";
    {
        std::ofstream out(path);
        out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <system.applicationHost>\n    <applicationPools>\n";
        for (int i = 0; i < count; ++i)
            out << "      <!-- pool " << i << " -->\n      <add name=\"pool" << i
                << "\" autoStart=\"true\" startMode=\"OnDemand\" queueLength=\"1000\" cgiMaxConcurrent=\"8\">\n"
                << "        <processModel identityType=\"SpecificUser\" userName=\"www-data\" idleTimeout=\"00:20:00\" "
                   "maxProcesses=\"1\" pingingEnabled=\"true\" pingInterval=\"00:00:30\" pingResponseTime=\"00:01:30\" "
                   "shutdownTimeLimit=\"00:01:30\" startupTimeLimit=\"00:01:30\" maxOpenFiles=\"4096\" />\n"
                << "        <recycling logEventOnRecycle=\"Time, Requests, Memory\">\n"
                << "          <periodicRestart requests=\"10000\" time=\"1.05:00:00\" memory=\"0\">\n"
                << "            <schedule>\n              <add value=\"03:00:00\" />\n              <add value=\"15:00:00\" />\n"
                << "            </schedule>\n          </periodicRestart>\n"
                << "        </recycling>\n"
                << "        <failure rapidFailProtection=\"true\" rapidFailProtectionInterval=\"00:05:00\" "
                   "rapidFailProtectionMaxCrashes=\"5\" />\n      </add>\n";
        out << "    </applicationPools>\n    <sites>\n";
        for (int i = 0; i < count; ++i)
            out << "      <site name=\"site" << i << "\" id=\"" << i + 1 << "\" serverAutoStart=\"true\">\n"
                << "        <application path=\"/\" applicationPool=\"pool" << i << "\">\n"
                << "          <virtualDirectory path=\"/\" physicalPath=\"" << dir << "/www\" />\n        </application>\n"
                << "        <application path=\"/app\" applicationPool=\"pool" << i << "\" enabledProtocols=\"http\">\n"
                << "          <virtualDirectory path=\"/\" physicalPath=\"" << dir << "/www\" />\n"
                << "          <virtualDirectory path=\"/static\" physicalPath=\"" << dir << "/www\" />\n        </application>\n"
                << "        <bindings>\n          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:" << 10000 + i % 50000
                << ":site" << i << ".example.org\" />\n"
                << "          <binding protocol=\"http\" bindingInformation=\"127.0.0.1:" << 10000 + i % 50000
                << ":www.site" << i << ".example.org\" />\n        </bindings>\n"
                << "        <limits maxConnections=\"1000\" connectionTimeout=\"00:02:00\" />\n"
                << "        <logFile directory=\"" << dir << "/log\" period=\"Daily\" localTimeRollover=\"false\" "
                   "logExtFileFlags=\"Date, Time, ClientIP, UserName, ServerIP, Method, UriStem, UriQuery, HttpStatus, "
                   "TimeTaken, ServerPort, UserAgent, Referer, Host, HttpSubStatus\" />\n      </site>\n";
        out << "    </sites>\n  </system.applicationHost>\n</configuration>\n";
    }
    std::ifstream in(path, std::ios::ate);
    double mb = static_cast<double>(in.tellg()) / 1e6;
    double best = 1e9;
    size_t diagnostics = 0;
    for (int run = 0; run < 5; ++run) {
        auto t0 = std::chrono::steady_clock::now();
        auto config = lido::config::loadConfig(path);
        auto t1 = std::chrono::steady_clock::now();
        if (!config) {
            std::fprintf(stderr, "%s\n", config.error().c_str());
            return 1;
        }
        diagnostics = (*config)->diagnostics().size();
        best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    std::printf("config: %.1f MB, %d pools, %d sites, %zu diagnostics\n", mb, count, count, diagnostics);
    std::printf("load+validate: %.1f ms (best of 5)\npeak memory: %.1f MiB\n", best, static_cast<double>(ru.ru_maxrss) / 1024.0);
    cmd = "rm -rf " + dir;
    return std::system(cmd.c_str()) == 0 ? 0 : 1;
}
