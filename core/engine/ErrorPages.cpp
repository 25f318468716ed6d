#include "engine/ErrorPages.h"

#include "config/Values.h"

#include <algorithm>

namespace lido::engine {

using config::ConfigElement;

namespace {

ErrorPage::Mode modeOf(const std::string& m)
{
    return m == "ExecuteURL" ? ErrorPage::Mode::ExecuteURL : m == "Redirect" ? ErrorPage::Mode::Redirect : ErrorPage::Mode::File;
}

std::string resolve(ErrorPage::Mode mode, const std::string& path, const std::string& siteRoot)
{
    if (mode != ErrorPage::Mode::File)
        return path;
    std::string p = config::expandEnvironment(path);
    std::replace(p.begin(), p.end(), '\\', '/');
    return p.empty() || p.front() == '/' ? p : siteRoot + "/" + p; // relative: to the site's root folder
}

int substatusOf(const ConfigElement& e)
{
    std::string v = e.get("subStatusCode");
    if (v.empty() || v == "-1")
        return -1;
    return static_cast<int>(config::parseUInt(v).value_or(0));
}

} // namespace

void ErrorPages::apply(const ConfigElement* he, const std::string& siteRoot)
{
    if (!he)
        return;
    if (he->find("errorMode"))
        errorMode_ = he->get("errorMode");
    if (he->find("existingResponse"))
        replaceExisting_ = he->get("existingResponse") == "Replace";
    if (he->find("defaultPath") || he->find("defaultResponseMode")) {
        defaultPage_.mode = modeOf(he->get("defaultResponseMode"));
        defaultPage_.path = resolve(defaultPage_.mode, he->get("defaultPath"), siteRoot);
    }
    for (const ConfigElement& c : he->children) {
        if (c.name == "clear") {
            pages_.clear();
            continue;
        }
        int status = static_cast<int>(config::parseUInt(c.get("statusCode")).value_or(0)), sub = substatusOf(c);
        std::erase_if(pages_, [&](const ErrorPage& p) { return p.status == status && p.substatus == sub; });
        // IIS's own pages live in per-language folders on Windows (prefixLanguageFilePath): an
        // imported file's entries for them are kept but not applied, so Lido's page is sent.
        if (c.name == "error" && status > 0 && c.get("prefixLanguageFilePath").empty()) {
            ErrorPage p;
            p.mode = modeOf(c.get("responseMode"));
            p.status = status;
            p.substatus = sub;
            p.path = resolve(p.mode, c.get("path"), siteRoot);
            if (!p.path.empty())
                pages_.push_back(std::move(p));
        }
    }
}

ErrorPages ErrorPages::from(const config::EffectiveSettings& settings, const std::string& siteRoot)
{
    ErrorPages out;
    out.apply(settings.section("httpErrors"), siteRoot);
    return out;
}

const ErrorPage* ErrorPages::pageFor(int status, int substatus, bool localClient) const
{
    bool custom = errorMode_ == "Custom" || (errorMode_ == "DetailedLocalOnly" && !localClient);
    if (!custom)
        return nullptr;
    const ErrorPage* any = nullptr;
    for (const ErrorPage& p : pages_) {
        if (p.status != status)
            continue;
        if (p.substatus == substatus)
            return &p;
        if (p.substatus == -1)
            any = &p;
    }
    if (any)
        return any;
    return defaultPage_.path.empty() || status < 400 ? nullptr : &defaultPage_;
}

} // namespace lido::engine
