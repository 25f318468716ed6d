// What URL Rewrite costs per request: WordPress's standard rule (a match on ".*" and two file
// checks through the engine's per-thread file cache) run on a URL that is a file (no rewrite, as
// for a static file or script) and on a permalink (rewritten to index.php), and a short-URL rule
// with captures. Prints nanoseconds per run, best of 5 rounds of 200,000.
#include "config/Config.h"
#include "config/RewriteRules.h"
#include "fs/FileCache.h"
#include "rewrite/Rewriter.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>

using namespace lido;

int main()
{
    auto dir = std::filesystem::temp_directory_path() / ("lido-rewrite-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "www");
    std::ofstream(dir / "www" / "hello.html") << "hello\n";
    std::string www = (dir / "www").string();
    std::ofstream(dir / "applicationHost.config") << R"(<?xml version="1.0"?>
<configuration><system.applicationHost><applicationPools><add name="web" /></applicationPools><sites><site name="Main" id="1">
<application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath=")" << www << R"(" /></application>
<bindings><binding protocol="http" bindingInformation="127.0.0.1:8080:" /></bindings></site></sites></system.applicationHost>
<system.webServer><rewrite><rules>
<rule name="Wiki" stopProcessing="true"><match url="^wiki/([^/]+)$" /><action type="Rewrite" url="index.php?title={UrlEncode:{R:1}}" /></rule>
<rule name="WordPress: Main Rule" stopProcessing="true"><match url=".*" /><conditions logicalGrouping="MatchAll">
<add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" /><add input="{REQUEST_FILENAME}" matchType="IsDirectory" negate="true" />
</conditions><action type="Rewrite" url="index.php" /></rule></rules></rewrite></system.webServer></configuration>
)";
    auto config = config::loadConfig((dir / "applicationHost.config").string());
    if (!config || !(*config)->valid()) {
        std::fprintf(stderr, "the configuration does not load\n");
        return 1;
    }
    const config::ConfigElement* rw = (*config)->section("system.webServer/rewrite");
    config::RewriteRules rules = config::parseRewriteRules(rw->child("rules"), nullptr, {}, nullptr);
    rewrite::Context context;
    context.variable = [&](const std::string& name, const std::string& url) -> std::optional<std::string> {
        if (name == "REQUEST_FILENAME")
            return www + url;
        return std::nullopt;
    };
    context.exists = [](const std::string& p, bool directory) { return fs::cachedFileType(p) == static_cast<mode_t>(directory ? S_IFDIR : S_IFREG); };
    auto measure = [&](const char* what, const std::string& url) {
        double best = 1e18;
        size_t rewritten = 0;
        for (int round = 0; round < 5; ++round) {
            auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < 200000; ++i)
                rewritten += rewrite::run(rules, url, "a=1", context).kind == rewrite::Outcome::Kind::Rewrite;
            double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / 200000;
            best = std::min(best, ns);
        }
        std::printf("%-44s %7.0f ns per request (%zu rewritten)\n", what, best, rewritten);
    };
    measure("a file, WordPress rule not taken (/hello.html)", "/hello.html");
    measure("a permalink, rewritten (/2026/12/hello-world/)", "/2026/12/hello-world/");
    measure("a short URL with a capture (/wiki/Main_Page)", "/wiki/Main_Page");
    std::filesystem::remove_all(dir);
    return 0;
}
