#include "Commands.h"

#include "config/Config.h"

#include <algorithm>
#include <vector>

namespace lidoctl {

using lido::config::Config;
using lido::config::ConfigElement;

namespace {

using Row = std::vector<std::string>;

std::string render(const Row& header, const std::vector<Row>& rows)
{
    std::vector<size_t> width(header.size());
    for (size_t i = 0; i < header.size(); ++i)
        width[i] = header[i].size();
    for (const Row& r : rows)
        for (size_t i = 0; i < r.size(); ++i)
            width[i] = std::max(width[i], r[i].size());
    std::string out;
    auto line = [&](const Row& r) {
        std::string l;
        for (size_t i = 0; i < r.size(); ++i)
            l += r[i] + (i + 1 < r.size() ? std::string(width[i] - r[i].size() + 2, ' ') : "");
        out += l + "\n";
    };
    line(header);
    for (const Row& r : rows)
        line(r);
    return out;
}

std::string nested(const ConfigElement* e, const char* child, const char* attr)
{
    // The value from the child element, else the child's schema default via an empty element.
    if (const ConfigElement* c = e->child(child))
        return c->get(attr);
    return "";
}

} // namespace

std::string showTable(const Config& config, const std::string& what)
{
    if (what == "pools") {
        std::vector<Row> rows;
        for (const ConfigElement* p : config.pools()) {
            std::string user = nested(p, "processModel", "userName");
            std::string crashes = nested(p, "failure", "rapidFailProtectionMaxCrashes");
            std::string window = nested(p, "failure", "rapidFailProtectionInterval");
            rows.push_back({p->get("name"), p->get("autoStart"), p->get("startMode"), p->get("queueLength"),
                            user.empty() ? "(engine's user)" : user, crashes.empty() ? "5 in 00:05:00" : crashes + " in " + (window.empty() ? "00:05:00" : window)});
        }
        return render({"NAME", "AUTOSTART", "STARTMODE", "QUEUE", "IDENTITY", "RAPID-FAIL"}, rows);
    }
    if (what == "sites") {
        std::vector<Row> rows;
        for (const ConfigElement* s : config.sites()) {
            std::string bindings, apps;
            if (const ConfigElement* b = s->child("bindings"))
                for (const ConfigElement* x : b->childrenNamed("binding"))
                    bindings += (bindings.empty() ? "" : ",") + x->get("protocol") + "/" + x->get("bindingInformation");
            for (const ConfigElement* a : s->childrenNamed("application")) {
                std::string dir;
                for (const ConfigElement* v : a->childrenNamed("virtualDirectory"))
                    if (v->get("path") == "/")
                        dir = v->get("physicalPath");
                apps += (apps.empty() ? "" : " ") + a->get("path") + "=" + a->get("applicationPool") + ":" + dir;
            }
            rows.push_back({s->get("name"), s->get("id"), s->get("serverAutoStart"), bindings, apps});
        }
        return render({"NAME", "ID", "AUTOSTART", "BINDINGS", "APPLICATIONS (path=pool:folder)"}, rows);
    }
    if (what == "fastcgi") {
        std::vector<Row> rows;
        for (const ConfigElement* a : config.fastCgiApplications())
            rows.push_back({a->get("fullPath"), a->get("arguments"), a->get("maxInstances") == "0" ? "auto" : a->get("maxInstances"),
                            a->get("protocol"), a->get("queueLength"), a->get("stderrMode"), a->get("monitorChangesTo")});
        return render({"FULLPATH", "ARGUMENTS", "MAXINSTANCES", "PROTOCOL", "QUEUE", "STDERRMODE", "MONITOR"}, rows);
    }
    if (what == "handlers") {
        std::vector<Row> rows;
        for (const ConfigElement* h : config.handlers())
            rows.push_back({h->get("name"), h->get("path"), h->get("verb"), h->get("modules"), h->get("scriptProcessor"),
                            h->get("resourceType")});
        return render({"NAME", "PATH", "VERB", "MODULES", "SCRIPTPROCESSOR", "RESOURCETYPE"}, rows);
    }
    return {};
}

} // namespace lidoctl
