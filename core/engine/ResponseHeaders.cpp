#include "engine/ResponseHeaders.h"

#include "config/Values.h"

#include <algorithm>

namespace lido::engine {

using config::ConfigElement;

namespace {

void collect(const ConfigElement* list, std::vector<http::Header>& out)
{
    if (!list)
        return;
    for (const ConfigElement& c : list->children) {
        if (c.name == "clear") {
            out.clear();
            continue;
        }
        std::string name = c.get("name");
        std::erase_if(out, [&](const http::Header& h) { return http::iequals(h.name, name); });
        // A value with CR or LF would split the header: such an entry is left out (the
        // validator's attribute check reports control characters).
        std::string value = c.get("value");
        if (c.name == "add" && !name.empty() && value.find_first_of("\r\n") == std::string::npos && name.find_first_of(" :\r\n") == std::string::npos)
            out.push_back({name, value});
    }
}

void clientCache(const ConfigElement* cc, std::vector<http::Header>& out)
{
    if (!cc)
        return;
    out.clear();
    std::string mode = cc->get("cacheControlMode"), custom = cc->get("cacheControlCustom");
    std::string control;
    if (mode == "DisableCache")
        control = "no-cache";
    else if (mode == "UseMaxAge")
        control = "max-age=" + std::to_string(config::parseTimeSpan(cc->get("cacheControlMaxAge")).value_or(86400000) / 1000);
    else if (mode == "UseExpires" && !cc->get("httpExpires").empty())
        out.push_back({"Expires", cc->get("httpExpires")});
    if (!custom.empty())
        control += (control.empty() ? "" : ", ") + custom;
    if (!control.empty())
        out.push_back({"Cache-Control", control});
}

void apply(const ConfigElement* web, ResponseHeaders& h)
{
    if (!web)
        return;
    if (const ConfigElement* p = web->child("httpProtocol")) {
        collect(p->child("customHeaders"), h.custom);
        collect(p->child("redirectHeaders"), h.redirect);
    }
    if (const ConfigElement* sc = web->child("staticContent"))
        clientCache(sc->child("clientCache"), h.staticCache);
}

} // namespace

ResponseHeaders ResponseHeaders::from(const config::EffectiveSettings& settings)
{
    ResponseHeaders h;
    apply(&settings.webServer, h);
    return h;
}

} // namespace lido::engine
