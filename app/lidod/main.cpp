// lidod: the headless engine. Until the engine lands it validates the configuration and prints
// what it would serve.
#include "config/Config.h"

#include <CLI/CLI.hpp>
#include <iostream>

using namespace lido::config;

int main(int argc, char** argv)
{
    CLI::App app{"lidod: the Lido engine"};
    std::string file;
    bool check = false;
    app.add_option("--config", file, "configuration file")->required();
    app.add_flag("--check", check, "validate the configuration and exit");
    CLI11_PARSE(app, argc, argv);

    auto config = loadConfig(file);
    if (!config) {
        std::cerr << config.error() << "\n";
        return 2;
    }
    for (const Diagnostic& d : (*config)->diagnostics())
        std::cerr << d.str() << "\n";
    if (!(*config)->valid()) {
        std::cerr << file << ": invalid, not started\n";
        return 1;
    }
    if (check) {
        std::cout << file << ": valid\n";
        return 0;
    }
    std::cout << "lidod: configuration " << file << " is valid\n";
    for (const ConfigElement* p : (*config)->pools())
        std::cout << "  pool " << p->get("name") << "\n";
    for (const ConfigElement* s : (*config)->sites()) {
        std::cout << "  site " << s->get("name") << " (id " << s->get("id") << ")";
        if (const ConfigElement* b = s->child("bindings"))
            for (const ConfigElement* x : b->childrenNamed("binding"))
                std::cout << " " << x->get("protocol") << "/" << x->get("bindingInformation");
        std::cout << "\n";
    }
    std::cout << "lidod: the HTTP engine is not built yet (see README); exiting\n";
    return 0;
}
