#include "engine/PoolIdentity.h"

#include "util/Privileges.h"

#include <pwd.h>
#include <unistd.h>

namespace lido::engine {

namespace {

std::string show(const std::string& name, uid_t uid) { return name + " (uid " + std::to_string(uid) + ")"; }

std::string engineUser()
{
    passwd* pw = ::getpwuid(::geteuid());
    return show(pw ? pw->pw_name : std::to_string(::geteuid()), ::geteuid());
}

} // namespace

PoolIdentity poolIdentity(const config::ConfigElement& pool, const config::Config& config)
{
    const config::ConfigElement* pm = pool.child("processModel");
    std::string type = config::identityType(pm);
    PoolIdentity out;
    if (!util::canSwitchIdentity()) {
        out.shown = engineUser(); // no switch is possible; the validator warns when another is asked for
        return out;
    }
    if (type == "LocalSystem" && ::geteuid() != 0) {
        out.shown = engineUser() + ", LocalSystem (the engine is not root)";
        return out;
    }
    if (type == "LocalSystem") {
        out.shown = show("root", 0) + ", LocalSystem";
        return out;
    }
    std::vector<std::string> candidates;
    if (type == "SpecificUser") {
        candidates = {pm ? pm->get("userName") : std::string()};
        if (candidates.front().empty()) {
            out.error = "identityType=\"SpecificUser\" needs processModel/@userName";
            out.shown = "(none)";
            return out;
        }
    } else if (type == "LocalService" || type == "NetworkService") {
        candidates = {"nobody"};
    } else {
        const config::ConfigElement* l = config.section("lido/applicationPoolIdentity");
        candidates = {l ? l->get("userName") : std::string("www-data"), "nobody"};
    }
    std::string why;
    for (const std::string& user : candidates) {
        auto id = process::resolveIdentity(user);
        if (id && id->uid != 0) {
            out.identity = *id;
            out.shown = show(id->name, id->uid);
            return out;
        }
        why += (why.empty() ? "" : "; ") + (id ? "user '" + user + "' is root, which only identityType=\"LocalSystem\" may be" : id.error());
    }
    out.error = "pool " + pool.get("name") + " has no identity to run as: " + why;
    out.shown = "(none)";
    return out;
}

} // namespace lido::engine
