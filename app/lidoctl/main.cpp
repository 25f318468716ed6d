// lidoctl: validate, show, diff and edit Lido configuration files; control a running lidod.
#include "Commands.h"
#include "Control.h"

#include "admin/AdminServer.h"
#include "config/Config.h"
#include "config/ConfigDiff.h"
#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"
#include "config/ConfigHistory.h"
#include "config/SchemaReference.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>

using namespace lido::config;

namespace {

enum Exit { Ok = 0, Failed = 1, Trouble = 2 };

int validate(const std::string& file, bool elsewhere)
{
    auto config = loadConfig(file, ValidateOptions{!elsewhere});
    if (!config) {
        std::cerr << config.error() << "\n";
        return Trouble;
    }
    for (const Diagnostic& d : (*config)->diagnostics())
        std::cout << d.str() << "\n";
    int errors = (*config)->errorCount();
    int warnings = 0;
    for (const Diagnostic& d : (*config)->diagnostics())
        warnings += d.severity == Diagnostic::Severity::Warning;
    std::cout << file << ": " << (errors ? "invalid" : "valid") << " (" << errors << " errors, " << warnings << " warnings)\n";
    return errors ? Failed : Ok;
}

int diff(const std::string& a, const std::string& b, const std::string& format)
{
    auto ca = loadConfig(a, ValidateOptions{false});
    auto cb = loadConfig(b, ValidateOptions{false});
    for (const auto* c : {&ca, &cb})
        if (!*c) {
            std::cerr << c->error() << "\n";
            return Trouble;
        }
    auto changes = semanticDiff(**ca, **cb);
    if (format == "unified")
        std::cout << unifiedDiff((*ca)->text(), (*cb)->text(), a, b);
    else if (format == "script")
        std::cout << scriptDiff(**ca, **cb);
    else
        std::cout << formatSemanticDiff(changes);
    if (format == "unified")
        return (*ca)->text() == (*cb)->text() ? Ok : Failed;
    return changes.empty() ? Ok : Failed;
}

// Saves only if the file still holds what was loaded (another writer's change is never lost).
int save(const std::string& file, const ConfigDocument& doc, const std::string& loaded)
{
    SaveOptions options;
    options.expectedOnDisk = loaded;
    if (auto r = saveConfig(file, doc, options); !r) {
        std::cerr << "lidoctl: " << r.error() << "\n";
        return Failed;
    }
    return Ok;
}

int edit(const std::string& verb, const std::string& file, const std::string& kind, const std::string& key,
         const std::vector<std::string>& args)
{
    auto doc = ConfigDocument::load(file);
    if (!doc) {
        std::cerr << "lidoctl: " << doc.error() << "\n";
        return Trouble;
    }
    const std::string loaded = doc->text();
    if (auto r = applyEdit(*doc, verb, kind, key, args); !r) {
        std::cerr << "lidoctl: " << verb << " " << kind << " " << key << ": " << r.error() << "; " << file << " is unchanged\n";
        return Failed;
    }
    return save(file, *doc, loaded);
}

int batch(const std::string& file)
{
    auto doc = ConfigDocument::load(file);
    if (!doc) {
        std::cerr << "lidoctl: " << doc.error() << "\n";
        return Trouble;
    }
    const std::string loaded = doc->text();
    std::string line;
    int number = 0;
    while (std::getline(std::cin, line)) {
        ++number;
        auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#')
            continue;
        auto words = splitShellWords(line);
        if (words && !words->empty()) {
            if (auto r = applyEditWords(*doc, *words); r)
                continue;
            else
                words = lido::fail(r.error());
        }
        std::cerr << "lidoctl: batch line " << number << ": " << words.error() << "; " << file << " is unchanged\n";
        return Failed;
    }
    return save(file, *doc, loaded);
}

int history(const std::string& file)
{
    auto config = loadConfig(file, ValidateOptions{false});
    auto h = historyFor(file, config ? config->get() : nullptr);
    auto entries = h.list();
    if (entries.empty()) {
        std::cout << "no history for " << file << " (kept in " << h.folder() << ")\n";
        return Ok;
    }
    std::cout << "ID    REPLACED (UTC)        SIZE\n";
    for (const HistoryEntry& e : entries) {
        char when[32];
        std::tm tm{};
        gmtime_r(&e.time, &tm);
        std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        std::printf("%-5d %s   %llu\n", e.id, when, static_cast<unsigned long long>(e.size));
    }
    return Ok;
}

} // namespace

int main(int argc, char** argv)
{
    CLI::App app{"lidoctl: validate, show, diff and edit Lido (applicationHost.config) configuration files; control a running lidod"};
    app.require_subcommand(1);
    int result = Ok;
    std::string socket = lido::admin::clientSocketPath();
    app.add_option("--connect", socket, "the engine's admin socket")->capture_default_str();

    std::string file, other, format = "semantic", what = "pools", kind, key;
    std::vector<std::string> args;
    bool elsewhere = false;
    int id = 0;

    auto* v = app.add_subcommand("validate", "Print every problem; exit 0 when valid, 1 when invalid, 2 when unreadable");
    v->add_option("FILE", file, "configuration file")->required();
    v->add_flag("--elsewhere", elsewhere, "the file runs on another machine: missing folders and programs are warnings");
    v->callback([&] { result = validate(file, elsewhere); });

    auto* d = app.add_subcommand("diff", "Compare two configurations; exit 0 when equal, 1 when they differ");
    d->add_option("OLD", file)->required();
    d->add_option("NEW", other)->required();
    d->add_option("--format", format, "semantic, unified or script")->check(CLI::IsMember({"semantic", "unified", "script"}));
    d->callback([&] { result = diff(file, other, format); });

    auto* s = app.add_subcommand("show", "A table of pools, sites, fastcgi applications or handlers");
    s->add_option("FILE", file)->required();
    s->add_option("WHAT", what, "pools, sites, fastcgi or handlers")->check(CLI::IsMember({"pools", "sites", "fastcgi", "handlers"}));
    s->callback([&] {
        auto config = loadConfig(file, ValidateOptions{false});
        if (!config) {
            std::cerr << config.error() << "\n";
            result = Trouble;
            return;
        }
        std::cout << lidoctl::showTable(**config, what);
    });

    for (const char* verb : {"set", "unset", "add", "remove"}) {
        std::string help = std::string(verb) + " a pool, site, fastcgi application, handler or any element; validates and saves atomically";
        auto* e = app.add_subcommand(verb, help);
        e->add_option("FILE", file)->required();
        e->add_option("KIND", kind, "pool, site, fastcgi, handler or element")->required();
        e->add_option("KEY", key, "the name (fastcgi: FULLPATH[|ARGUMENTS]; element: a path)")->required();
        if (std::string(verb) != "remove")
            e->add_option("ATTRIBUTES", args, std::string(verb) == "unset" ? "ATTRIBUTE..." : "ATTRIBUTE=VALUE... (dots for nested elements)");
        std::string verbName = verb;
        e->callback([&, verbName] { result = edit(verbName, file, kind, key, args); });
    }

    auto* b = app.add_subcommand("batch", "Apply edit commands read from stdin (one per line), validate once, save once");
    b->add_option("FILE", file)->required();
    b->callback([&] { result = batch(file); });

    auto* h = app.add_subcommand("history", "List the saved earlier versions");
    h->add_option("FILE", file)->required();
    h->callback([&] { result = history(file); });

    auto* r = app.add_subcommand("restore", "Make history entry ID the current file (validated; the current one is kept)");
    r->add_option("FILE", file)->required();
    r->add_option("ID", id)->required();
    r->callback([&] {
        if (auto res = restoreConfig(file, id); !res) {
            std::cerr << "lidoctl: " << res.error() << "\n";
            result = Failed;
        }
    });

    std::string refFormat = "markdown", refDate;
    auto* ref = app.add_subcommand("reference", "The configuration reference, written from the schema (every element and attribute)");
    ref->add_option("--format", refFormat, "markdown or man")->check(CLI::IsMember({"markdown", "man"}))->capture_default_str();
    ref->add_option("--date", refDate, "the man page's date (default: today)");
    ref->callback([&] {
        if (refFormat == "man") {
            if (refDate.empty()) {
                char today[16];
                std::time_t now = std::time(nullptr);
                std::tm tm{};
                gmtime_r(&now, &tm);
                std::strftime(today, sizeof today, "%Y-%m-%d", &tm);
                refDate = today;
            }
            std::cout << lido::config::referenceManPage(refDate);
        } else {
            std::cout << lido::config::referenceMarkdown();
        }
    });

    bool asJson = false, follow = false;
    unsigned long long since = 0;
    auto* st = app.add_subcommand("status", "Pools and sites of the running engine: state, instances, queue, failures");
    st->add_flag("--json", asJson, "the engine's snapshot as JSON");
    st->callback([&] { result = lidoctl::status(socket, asJson); });
    for (const char* verb : {"start", "stop", "recycle"}) {
        std::string verbName = verb;
        auto* c = app.add_subcommand(verb, verbName + " an application pool" + (verbName == "recycle" ? "" : " or a site") + " of the running engine");
        c->add_option("KIND", kind, "pool or site")->required()->check(CLI::IsMember({"pool", "site"}));
        c->add_option("NAME", key, "its name")->required();
        c->callback([&, verbName] { result = lidoctl::control(socket, verbName, kind, key); });
    }
    auto* rl = app.add_subcommand("reload", "Make the running engine read its configuration file again and apply what changed");
    rl->callback([&] { result = lidoctl::reload(socket); });
    auto* dr = app.add_subcommand("drain", "Make /health answer 503 so that load balancers move traffic away; requests are served on");
    dr->callback([&] { result = lidoctl::drain(socket, true); });
    auto* ud = app.add_subcommand("undrain", "End a drain: /health answers 200 again");
    ud->callback([&] { result = lidoctl::drain(socket, false); });
    std::string filterPool, filterSite, traceId;
    bool requestsJson = false, tracesJson = false;
    auto* rq = app.add_subcommand("requests", "The requests running now: phase, pool, client, pid, URL and how long they have run");
    rq->add_option("POOL", filterPool, "only this application pool's");
    rq->add_flag("--json", requestsJson, "as JSON");
    rq->callback([&] { result = lidoctl::requests(socket, filterPool, requestsJson); });
    auto* tr = app.add_subcommand("traces", "The failed-request traces the sites keep (traceFailedRequests); with an ID, that trace");
    tr->add_option("ID", traceId, "a trace's id, e.g. W3SVC1/fr000012");
    tr->add_option("--site", filterSite, "only this site's");
    tr->add_flag("--json", tracesJson, "as JSON");
    tr->callback([&] { result = lidoctl::traces(socket, filterSite, traceId, tracesJson); });
    auto* br = app.add_subcommand("bridge", "Relay standard input and output to the admin socket (ssh -T host lidoctl bridge)");
    br->callback([&] { result = lidoctl::bridge(socket); });
    auto* ev = app.add_subcommand("events", "The running engine's events");
    ev->add_flag("--follow,-f", follow, "keep printing new events");
    ev->add_option("--since", since, "only events after this sequence number");
    ev->callback([&] { result = lidoctl::events(socket, follow, since); });

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? Ok : Trouble;
    }
    return result;
}
