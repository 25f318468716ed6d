#include "config/ConfigValidator.h"

#include "config/RewriteRules.h"
#include "config/Schema.h"
#include "config/Values.h"
#include "util/AddressRanges.h"
#include "util/OpenSsl.h"
#include "util/Privileges.h"

#include <algorithm>
#include <arpa/inet.h>
#include <map>
#include <pwd.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace lido::config {

namespace {

using Severity = Diagnostic::Severity;

size_t editDistance(std::string_view a, std::string_view b)
{
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) !=
                                        std::tolower(static_cast<unsigned char>(b[j - 1])));
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

class Validator {
public:
    Validator(const std::string& file, const ValidateOptions& options) : file_(file), options_(options) {}

    std::vector<Diagnostic> run(const ConfigElement& root)
    {
        if (root.name != "configuration")
            add(Severity::Error, root.line, root.name, "the root element is <" + root.name + ">, expected <configuration>");
        for (const ConfigElement& c : root.children)
            element(c);
        references(root);
        locations(root);
        tls(root);
        addresses(root);
        tracing(root);
        rewriteRules(root);
        std::stable_sort(out_.begin(), out_.end(), [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
        return std::move(out_);
    }

private:
    void add(Severity s, int line, std::string path, std::string message)
    {
        out_.push_back(Diagnostic{s, file_, line, std::move(path), std::move(message)});
    }

    void element(const ConfigElement& e)
    {
        if (!e.spec) {
            std::string why = e.name == "configSections" || e.name == "configProtectedData"
                                  ? "IIS section declarations are kept unchanged; Lido's schema is built in"
                                  : "not known to Lido; kept unchanged";
            add(Severity::Ignored, e.line, e.path, why);
            return; // its children are part of what is ignored
        }
        attributes(e);
        collection(e);
        // Unknown children of a known element are reported once per name, not once per element.
        std::map<std::string, int> unknown;
        for (const ConfigElement& c : e.children)
            if (!c.spec)
                ++unknown[c.name];
        for (const ConfigElement& c : e.children) {
            auto it = unknown.find(c.name);
            if (it == unknown.end()) {
                element(c);
            } else if (it->second > 1) {
                std::string p = e.path + "/" + c.name;
                add(Severity::Ignored, c.line, p, std::to_string(it->second) + " elements not known to Lido; kept unchanged");
                it->second = 0;
            } else if (it->second == 1) {
                element(c);
            }
        }
    }

    // IIS's configuration-system attributes, allowed on any element; they only matter to IIS's
    // delegation, so Lido keeps them without comment.
    static bool isLockingAttribute(std::string_view name)
    {
        return name == "lockAttributes" || name == "lockAllAttributesExcept" || name == "lockElements" ||
               name == "lockAllElementsExcept" || name == "lockItem" || name == "xdt:Transform" || name == "xdt:Locator";
    }

    void attributes(const ConfigElement& e)
    {
        for (const auto& [name, value] : e.attributes) {
            std::string where = e.path + "/@" + name;
            const AttributeSpec* a = e.spec->attribute(name);
            if (!a && isLockingAttribute(name))
                continue;
            if (!a && name == "configSource") {
                add(Severity::Warning, e.line, where, "sections in other files are not read by Lido; kept, ignored");
                continue;
            }
            if (!a) {
                std::string msg = "unknown attribute '" + name + "'";
                const AttributeSpec* best = nullptr;
                size_t bestDistance = 3;
                for (const AttributeSpec& cand : e.spec->attributes)
                    if (size_t d = editDistance(name, cand.name); d < bestDistance)
                        best = &cand, bestDistance = d;
                if (best)
                    msg += " (did you mean " + best->name + "?)";
                add(Severity::Warning, e.line, where, msg + "; kept, ignored");
                continue;
            }
            if (a->windowsOnly) {
                add(Severity::Warning, e.line, where, "Windows-only setting; kept, no effect on Lido");
                continue;
            }
            if (std::string problem = a->check(value); !problem.empty()) {
                add(Severity::Error, e.line, where, problem);
                continue;
            }
            if ((a->type == AttrType::Directory || a->type == AttrType::Executable) && !value.empty())
                path(e, *a, value);
            else if (a->type == AttrType::String && (name == "directory" || name == "monitorChangesTo") &&
                     looksLikeWindowsPath(expandEnvironment(value)))
                add(Severity::Warning, e.line, where, "Windows path '" + value + "' cannot be used on Linux; ignored");
        }
        for (const AttributeSpec& a : e.spec->attributes)
            if (a.required && !e.find(a.name))
                add(Severity::Error, e.line, e.path + "/@" + a.name, "required attribute is missing");
    }

    void path(const ConfigElement& e, const AttributeSpec& a, const std::string& value)
    {
        std::string where = e.path + "/@" + a.name;
        std::string expanded = expandEnvironment(value);
        if (looksLikeWindowsPath(expanded)) {
            add(Severity::Warning, e.line, where, "Windows path '" + value + "' cannot be used on Linux");
            return;
        }
        Severity missing = options_.pathsAreLocal ? Severity::Error : Severity::Warning;
        if (expanded.empty() || expanded.front() != '/') {
            add(missing, e.line, where, "'" + value + "' is not an absolute path");
            return;
        }
        // Thousands of sites often share a few folders: ask the file system once per path.
        auto cached = stats_.find(expanded);
        if (cached == stats_.end()) {
            struct stat fresh {};
            bool found = ::stat(expanded.c_str(), &fresh) == 0;
            cached = stats_.emplace(expanded, std::make_pair(found, fresh)).first;
        }
        const struct stat& st = cached->second.second;
        if (!cached->second.first) {
            add(missing, e.line, where,
                std::string(a.type == AttrType::Directory ? "folder '" : "program '") + expanded + "' does not exist");
            return;
        }
        if (a.type == AttrType::Directory && !S_ISDIR(st.st_mode))
            add(missing, e.line, where, "'" + expanded + "' is not a folder");
        else if (a.type == AttrType::Executable && (!S_ISREG(st.st_mode) || ::access(expanded.c_str(), X_OK) != 0))
            add(missing, e.line, where, "'" + expanded + "' is not an executable file");
    }

    // Keys and unique attributes among the items of one collection, with IIS's clear/remove.
    void collection(const ConfigElement& parent)
    {
        std::map<std::string, std::map<std::string, int>> seen; // item name -> key -> first line
        std::map<std::string, std::map<std::string, int>> uniques;
        for (const ConfigElement& c : parent.children) {
            if (!c.spec)
                continue;
            if (c.name == "clear") {
                seen.clear();
                continue;
            }
            if (!c.spec->collectionItem)
                continue;
            auto keys = c.spec->keys();
            if (keys.empty())
                continue;
            std::string key, shown;
            bool complete = true;
            for (const AttributeSpec* k : keys) {
                const std::string* v = c.find(k->name);
                if (!v && k->required)
                    complete = false;
                std::string value = v ? k->canonical(*v) : k->defaultValue;
                if (k->type == AttrType::String || k->type == AttrType::Executable)
                    value = v ? *v : k->defaultValue;
                key += value + '\x1f';
                shown += (shown.empty() ? "" : " ") + k->name + " '" + (v ? *v : value) + "'";
            }
            if (!complete)
                continue;
            std::string group = c.name == "remove" ? std::string("add") : c.name;
            if (c.name == "remove") {
                seen[group].erase(key);
                continue;
            }
            auto [it, inserted] = seen[group].emplace(key, c.line);
            if (!inserted)
                add(Severity::Error, c.line, c.path,
                    "duplicate " + shown + " (first defined on line " + std::to_string(it->second) + ")");
            for (const AttributeSpec& a : c.spec->attributes) {
                if (!a.unique)
                    continue;
                if (const std::string* v = c.find(a.name)) {
                    auto [u, fresh] = uniques[a.name].emplace(a.canonical(*v), c.line);
                    if (!fresh)
                        add(Severity::Error, c.line, c.path + "/@" + a.name,
                            "duplicate " + a.name + " " + *v + " (first defined on line " + std::to_string(u->second) + ")");
                }
            }
        }
    }

    static const ConfigElement* find(const ConfigElement& root, std::initializer_list<std::string_view> steps)
    {
        const ConfigElement* cur = &root;
        for (auto s : steps) {
            cur = cur->child(s);
            if (!cur)
                return nullptr;
        }
        return cur;
    }

    // Root only when written so; an engine that is not root cannot switch to what a pool asks for.
    void identity(const ConfigElement& pool)
    {
        const ConfigElement* pm = pool.child("processModel");
        std::string type = identityType(pm);
        const ConfigElement& at = pm ? *pm : pool;
        std::string where = at.path + (pm && pm->find("identityType") ? "/@identityType" : pm && pm->find("userName") ? "/@userName" : "");
        if (type == "LocalSystem")
            add(Severity::Warning, at.line, where, "pool " + pool.get("name") + " runs as root (identityType=\"LocalSystem\")");
        if (util::canSwitchIdentity() || (type == "ApplicationPoolIdentity" && !(pm && pm->find("identityType"))))
            return;
        passwd* me = ::getpwuid(::geteuid());
        std::string self = me ? me->pw_name : std::to_string(::geteuid());
        if (type == "SpecificUser" && pm && pm->get("userName") == self)
            return;
        add(Severity::Warning, at.line, where,
            "the engine runs as " + self + ", neither root nor with CAP_SETUID, and cannot switch users: pool " + pool.get("name") + " runs as " + self);
    }

    // An https binding has its certificate: PEM files that exist, or the central store (sslFlags 2).
    void httpsBinding(const ConfigElement& b, const std::string& storePath, const ConfigElement* acme, const std::string& host)
    {
        uint64_t flags = parseUInt(b.get("sslFlags")).value_or(0);
        std::string cert = expandEnvironment(b.get("certificateFile"));
        if (b.get("acme") == "true") {
            if (host.empty())
                add(Severity::Error, b.line, b.path + "/@bindingInformation", "acme=\"true\" needs a host name in bindingInformation (ip:port:host): the certificate is for it");
            if (!acme || acme->get("directory").empty())
                add(Severity::Error, b.line, b.path + "/@acme", "acme=\"true\" needs lido/acme/@directory, the CA's directory URL");
            else if (acme->get("directory").rfind("https://", 0) != 0)
                add(Severity::Error, acme->line, acme->path + "/@directory", "the ACME directory must be an https:// URL (RFC 8555)");
            else if (acme->get("acceptTermsOfService") != "true")
                add(Severity::Error, acme->line, acme->path + "/@acceptTermsOfService",
                    "the CA asks its terms of service to be agreed to: set acceptTermsOfService=\"true\" once you have read them");
            if (!cert.empty())
                add(Severity::Warning, b.line, b.path + "/@certificateFile", "ignored: acme=\"true\" takes the certificate from the CA");
            return;
        }
        if (flags & 2) {
            if (storePath.empty())
                add(Severity::Error, b.line, b.path + "/@sslFlags",
                    "sslFlags 2 takes the certificate from the Central Certificate Store: set lido/centralCertificateStore/@physicalPath");
        } else if (cert.empty()) {
            add(Severity::Error, b.line, b.path + "/@certificateFile",
                "an https binding needs certificateFile (a PEM chain, with certificateKeyFile for its key), or sslFlags 2 "
                "for the Central Certificate Store" + std::string(b.find("certificateHash") ? " (certificateHash names a Windows store)" : ""));
        }
        for (const char* attr : {"certificateFile", "certificateKeyFile"}) {
            std::string f = expandEnvironment(b.get(attr));
            if (f.empty())
                continue;
            Severity missing = options_.pathsAreLocal ? Severity::Error : Severity::Warning;
            if (::access(f.c_str(), F_OK) != 0)
                add(missing, b.line, b.path + "/@" + attr, "file '" + f + "' does not exist");
            else if (::access(f.c_str(), R_OK) != 0)
                add(missing, b.line, b.path + "/@" + attr, "file '" + f + "' cannot be read");
        }
    }

    void tls(const ConfigElement& root)
    {
        const ConfigElement* t = find(root, {"lido", "tls"});
        if (!t || !t->find("ciphers") || t->get("ciphers").empty())
            return;
        if (std::string why = cipherListProblem(t->get("ciphers")); !why.empty())
            add(Severity::Error, t->line, t->path + "/@ciphers", why);
    }

    // lido/forwardedFor's trusted proxies and ipSecurity's rules are addresses, ranges and masks.
    void addresses(const ConfigElement& root)
    {
        if (const ConfigElement* f = find(root, {"lido", "forwardedFor"})) {
            AddressRanges ranges;
            if (std::string why = AddressRanges::parse(f->get("trustedProxies"), ranges); !why.empty())
                add(Severity::Error, f->line, f->path + "/@trustedProxies", why);
        }
        for (const ConfigElement& c : root.children) {
            const ConfigElement* web = c.name == "system.webServer" ? &c : c.name == "location" ? c.child("system.webServer") : nullptr;
            const ConfigElement* security = web ? web->child("security") : nullptr;
            const ConfigElement* ip = security ? security->child("ipSecurity") : nullptr;
            for (const ConfigElement* a : ip ? ip->childrenNamed("add") : std::vector<const ConfigElement*>{}) {
                std::string address = a->get("ipAddress"), mask = a->get("subnetMask");
                AddressRanges one;
                if (address.empty() || address.find('/') != std::string::npos || !AddressRanges::parse(address, one).empty()) {
                    add(Severity::Error, a->line, a->path + "/@ipAddress", "'" + address + "' is not an IPv4 or IPv6 address (a subnet goes in subnetMask)");
                    continue;
                }
                bool v6 = address.find(':') != std::string::npos;
                bool digits = !mask.empty() && mask.size() <= 3 && mask.find_first_not_of("0123456789") == std::string::npos;
                bool ok = mask.empty() || (digits && std::stoi(mask) <= (v6 ? 128 : 32));
                if (!ok && !v6) {
                    in_addr m{};
                    if (::inet_pton(AF_INET, mask.c_str(), &m) == 1) {
                        uint32_t bitsSet = ntohl(m.s_addr);
                        ok = (bitsSet & (~bitsSet >> 1)) == 0; // ones, then zeros
                    }
                }
                if (!ok)
                    add(Severity::Error, a->line, a->path + "/@subnetMask",
                        "'" + mask + "' is not a subnet mask: " + (v6 ? "a prefix length, 0 to 128" : "255.255.255.0 or a prefix length, 0 to 32"));
            }
        }
    }

    // traceFailedRequests' failure definitions: statuses and ranges IIS would take.
    void tracing(const ConfigElement& root)
    {
        for (const ConfigElement& c : root.children) {
            const ConfigElement* web = c.name == "system.webServer" ? &c : c.name == "location" ? c.child("system.webServer") : nullptr;
            const ConfigElement* t = web ? web->child("tracing") : nullptr;
            const ConfigElement* rules = t ? t->child("traceFailedRequests") : nullptr;
            for (const ConfigElement* a : rules ? rules->childrenNamed("add") : std::vector<const ConfigElement*>{}) {
                const ConfigElement* f = a->child("failureDefinitions");
                std::string why;
                if (f && !parseStatusCodes(f->get("statusCodes"), &why))
                    add(Severity::Error, f->line, f->path + "/@statusCodes", why);
                if (!f)
                    add(Severity::Warning, a->line, a->path, "the rule for '" + a->get("path") + "' has no failureDefinitions: it traces nothing");
            }
        }
    }

    // <location path="Site/app/path">: the site exists, and the sections are ones that IIS allows
    // below the server. Lido has no feature delegation: overrideMode="Deny" locks nothing.
    void locations(const ConfigElement& root)
    {
        std::set<std::string> siteNames;
        if (const ConfigElement* sites = find(root, {"system.applicationHost", "sites"}))
            for (const ConfigElement* site : sites->childrenNamed("site"))
                siteNames.insert(site->get("name"));
        for (const ConfigElement& loc : root.children) {
            if (loc.name != "location" || !loc.spec)
                continue;
            std::string path = loc.get("path");
            while (!path.empty() && path.back() == '/')
                path.pop_back();
            bool server = path.empty() || path == ".";
            if (!server && !siteNames.count(path.substr(0, path.find('/'))))
                add(Severity::Warning, loc.line, loc.path + "/@path",
                    "no site is named '" + path.substr(0, path.find('/')) + "': these settings apply to no request");
            if ((loc.find("overrideMode") && loc.get("overrideMode") == "Deny") ||
                (loc.find("allowOverride") && loc.get("allowOverride") == "false"))
                add(Severity::Ignored, loc.line, loc.path + (loc.find("overrideMode") ? "/@overrideMode" : "/@allowOverride"),
                    "Lido has no feature delegation: nothing is locked, the settings apply as written");
            for (const ConfigElement& group : loc.children) {
                if (group.name == "system.applicationHost" || group.name == "lido")
                    add(server ? Severity::Warning : Severity::Error, group.line, group.path,
                        group.name + " is read at the top level of the file only, not inside <location>");
                if (group.name != "system.webServer")
                    continue;
                for (const ConfigElement& section : group.children)
                    if (section.name == "fastCgi" || section.name == "httpCompression")
                        add(server ? Severity::Warning : Severity::Error, section.line, section.path,
                            "can be set for the whole server only, at the top level of the file (IIS: allowDefinition=\"AppHostOnly\")");
            }
        }
    }

    // URL Rewrite: patterns compile, values refer only to groups, variables, functions and maps
    // that exist (at server level and in <location> blocks).
    void rewriteRules(const ConfigElement& root)
    {
        const ConfigElement* serverMaps = nullptr;
        for (const ConfigElement& c : root.children)
            if (const ConfigElement* rw = c.name == "system.webServer" ? c.child("rewrite") : nullptr)
                serverMaps = rw->child("rewriteMaps");
        for (const ConfigElement& c : root.children) {
            const ConfigElement* web = c.name == "system.webServer" ? &c : c.name == "location" ? c.child("system.webServer") : nullptr;
            const ConfigElement* rw = web ? web->child("rewrite") : nullptr;
            if (!rw)
                continue;
            const ConfigElement* maps = rw->child("rewriteMaps") ? rw->child("rewriteMaps") : serverMaps;
            parseRewriteRules(rw->child("globalRules"), maps, file_, &out_);
            parseRewriteRules(rw->child("rules"), maps, file_, &out_);
        }
    }

    void references(const ConfigElement& root)
    {
        std::unordered_map<std::string, int> pools;
        if (const ConfigElement* ap = find(root, {"system.applicationHost", "applicationPools"}))
            for (const ConfigElement* p : ap->childrenNamed("add")) {
                pools.emplace(p->get("name"), p->line);
                identity(*p);
            }
        const ConfigElement* sites = find(root, {"system.applicationHost", "sites"});
        std::string defaultPool;
        if (sites)
            if (const ConfigElement* d = sites->child("applicationDefaults"))
                defaultPool = d->get("applicationPool");
        if (!defaultPool.empty() && !pools.count(defaultPool))
            add(Severity::Error, sites->child("applicationDefaults")->line,
                sites->child("applicationDefaults")->path + "/@applicationPool",
                "application pool '" + defaultPool + "' does not exist");

        struct Bound {
            std::string site;
            int line;
        };
        std::map<std::string, Bound> bindings;
        std::map<std::string, std::pair<std::string, int>> protocolAt; // ip:port -> the protocol first bound there, its line
        std::map<std::string, std::pair<bool, int>> proxyAt;           // ip:port -> proxyProtocol first written there, its line
        const ConfigElement* store = find(root, {"lido", "centralCertificateStore"});
        std::string storePath = store ? expandEnvironment(store->get("physicalPath")) : std::string();
        for (const ConfigElement* site : sites ? sites->childrenNamed("site") : std::vector<const ConfigElement*>{}) {
            std::string siteName = site->get("name");
            bool rootApp = false;
            for (const ConfigElement* app : site->childrenNamed("application")) {
                std::string path = app->get("path");
                rootApp = rootApp || path == "/";
                if (!path.empty() && path.front() != '/')
                    add(Severity::Error, app->line, app->path + "/@path", "'" + path + "' must start with '/'");
                std::string pool = app->find("applicationPool") ? *app->find("applicationPool") : defaultPool;
                if (pool.empty())
                    add(Severity::Error, app->line, app->path + "/@applicationPool",
                        "no application pool: set applicationPool here or in sites/applicationDefaults");
                else if (!pools.count(pool))
                    add(Severity::Error, app->line, app->path + "/@applicationPool",
                        "application pool '" + pool + "' does not exist");
                bool rootDir = false;
                for (const ConfigElement* vd : app->childrenNamed("virtualDirectory")) {
                    std::string vp = vd->get("path");
                    rootDir = rootDir || vp == "/";
                    if (!vp.empty() && vp.front() != '/')
                        add(Severity::Error, vd->line, vd->path + "/@path", "'" + vp + "' must start with '/'");
                }
                if (!rootDir)
                    add(Severity::Error, app->line, app->path, "the application has no virtualDirectory with path '/'");
            }
            if (!rootApp)
                add(Severity::Error, site->line, site->path, "the site has no root application (path '/')");
            if (const ConfigElement* bs = site->child("bindings")) {
                for (const ConfigElement* b : bs->childrenNamed("binding")) {
                    auto info = parseBindingInfo(b->get("bindingInformation"));
                    if (!info)
                        continue;
                    std::string key = toLower(b->get("protocol")) + " " + info->ip + ":" + std::to_string(info->port) + ":" + info->host;
                    auto [it, fresh] = bindings.emplace(key, Bound{siteName, b->line});
                    if (!fresh && it->second.site != siteName)
                        add(Severity::Error, b->line, b->path + "/@bindingInformation",
                            b->get("protocol") + " " + b->get("bindingInformation") + " is already bound by site '" +
                                it->second.site + "' (line " + std::to_string(it->second.line) + ")");
                    std::string protocol = toLower(b->get("protocol"));
                    auto [at, first] = protocolAt.emplace(info->ip + ":" + std::to_string(info->port), std::make_pair(protocol, b->line));
                    if (!first && at->second.first != protocol)
                        add(Severity::Error, b->line, b->path + "/@protocol",
                            info->ip + ":" + std::to_string(info->port) + " serves " + at->second.first + " (line " +
                                std::to_string(at->second.second) + "); one port cannot serve http and https");
                    bool proxied = b->get("proxyProtocol") == "true";
                    auto [pp, ppFirst] = proxyAt.emplace(info->ip + ":" + std::to_string(info->port), std::make_pair(proxied, b->line));
                    if (!ppFirst && pp->second.first != proxied)
                        add(Severity::Error, b->line, b->path + "/@proxyProtocol",
                            info->ip + ":" + std::to_string(info->port) + " is bound with proxyProtocol=\"" + (pp->second.first ? "true" : "false") +
                                "\" on line " + std::to_string(pp->second.second) + "; every binding of one address and port agrees");
                    if (protocol == "https")
                        httpsBinding(*b, storePath, find(root, {"lido", "acme"}), info->host);
                    else if (b->get("acme") == "true")
                        add(Severity::Error, b->line, b->path + "/@acme", "acme=\"true\" is for https bindings (an http binding needs no certificate)");
                }
            }
        }

        std::map<std::pair<std::string, std::string>, int> apps;
        if (const ConfigElement* fc = find(root, {"system.webServer", "fastCgi"}))
            for (const ConfigElement* a : fc->childrenNamed("application"))
                apps.emplace(std::make_pair(a->get("fullPath"), a->get("arguments")), a->line);
        std::vector<const ConfigElement*> handlerSections;
        for (const ConfigElement& c : root.children) {
            const ConfigElement* web = c.name == "system.webServer" ? &c : c.name == "location" ? c.child("system.webServer") : nullptr;
            if (const ConfigElement* hs = web ? web->child("handlers") : nullptr)
                handlerSections.push_back(hs);
        }
        for (const ConfigElement* hs : handlerSections) {
            for (const ConfigElement* h : hs->childrenNamed("add")) {
                if (h->get("modules").find("FastCgiModule") == std::string::npos)
                    continue;
                std::string sp = h->get("scriptProcessor");
                if (sp.empty()) {
                    add(Severity::Error, h->line, h->path + "/@scriptProcessor",
                        "a FastCgiModule handler needs a scriptProcessor naming a fastCgi application");
                    continue;
                }
                auto bar = sp.find('|');
                std::string full = sp.substr(0, bar), args = bar == std::string::npos ? std::string() : sp.substr(bar + 1);
                if (!apps.count({full, args}))
                    add(Severity::Error, h->line, h->path + "/@scriptProcessor",
                        "no fastCgi application has fullPath '" + full + "'" +
                            (args.empty() ? std::string() : " and arguments '" + args + "'"));
            }
        }
    }

    std::string file_;
    ValidateOptions options_;
    std::unordered_map<std::string, std::pair<bool, struct stat>> stats_;
    std::vector<Diagnostic> out_;
};

} // namespace

std::vector<Diagnostic> validateConfig(const ConfigElement& root, const std::string& fileName, const ValidateOptions& options)
{
    return Validator(fileName, options).run(root);
}

} // namespace lido::config
