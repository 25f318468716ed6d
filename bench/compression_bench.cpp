// What each compression level costs and saves, on text like what sites serve: time to compress
// (best of 5) and the size left, for gzip 1-9 and br 0-11; and the streamed encoder on a page
// written in 4 KiB pieces (a PHP page's flushes). Picks nothing: the README says which level Lido
// uses and why, from these figures.
#include "compress/Compression.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace lido::compress;

namespace {

std::string readFile(const char* path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

double bestOf(int runs, const std::function<void()>& work)
{
    double best = 1e18;
    for (int i = 0; i < runs; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        work();
        best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

} // namespace

int main(int argc, char** argv)
{
    std::vector<std::pair<std::string, std::string>> inputs;
    for (int i = 1; i < argc; ++i)
        inputs.emplace_back(argv[i], readFile(argv[i]));
    if (inputs.empty()) {
        std::fprintf(stderr, "usage: %s FILE...  (e.g. /usr/share/javascript/jquery/jquery.js /usr/share/doc/*/index.html)\n", argv[0]);
        return 2;
    }
    for (const auto& [name, data] : inputs) {
        std::printf("%s: %zu bytes\n", name.c_str(), data.size());
        std::printf("  %-8s %10s %8s %10s\n", "coding", "us", "ratio", "MB/s");
        for (Coding coding : {Coding::Gzip, Coding::Brotli})
            for (int level = coding == Coding::Gzip ? 1 : 0; level <= (coding == Coding::Gzip ? 9 : 11); ++level) {
                std::string out;
                double us = bestOf(level >= 10 ? 2 : 5, [&] { out = compressWhole(coding, level, data); });
                std::printf("  %-5s %2d %10.0f %7.1f%% %10.1f\n", std::string(codingName(coding)).c_str(), level, us,
                            100.0 * static_cast<double>(out.size()) / static_cast<double>(data.size()), static_cast<double>(data.size()) / us);
            }
        for (Coding coding : {Coding::Gzip, Coding::Brotli})
            for (int level : {1, 4, 6}) {
                size_t outBytes = 0;
                double us = bestOf(5, [&] {
                    auto e = streamingEncoder(coding, level);
                    outBytes = 0;
                    for (size_t pos = 0; pos < data.size(); pos += 4096)
                        outBytes += e->encode(std::string_view(data).substr(pos, 4096)).size();
                    outBytes += e->finish().size();
                });
                std::printf("  streamed %-5s %d in 4 KiB pieces: %8.0f us, %5.1f%%\n", std::string(codingName(coding)).c_str(), level, us,
                            100.0 * static_cast<double>(outBytes) / static_cast<double>(data.size()));
            }
    }
}
