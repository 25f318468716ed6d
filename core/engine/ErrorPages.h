#pragma once
// IIS's custom error pages (httpErrors/error): for an error the server makes, a file sent with
// the error's status (File), a URL of the site run in its place (ExecuteURL: how IIS sites send a
// 404 to a front controller), or a 302 to elsewhere (Redirect); by status and substatus, with
// defaultPath for the rest. errorMode decides who sees them: Custom everyone, DetailedLocalOnly
// remote clients (local ones see the detailed page), Detailed no one. The server's settings with
// a site's <location path="Site"> on top.
#include "config/Effective.h"

#include <string>
#include <vector>

namespace lido::engine {

struct ErrorPage {
    enum class Mode { File, ExecuteURL, Redirect } mode = Mode::File;
    int status = 0;
    int substatus = -1; // -1: any
    std::string path;   // File: a physical path; ExecuteURL: a URL of the site; Redirect: a URL
};

class ErrorPages {
public:
    // From a scope's merged settings; File paths are relative to the site's folder.
    static ErrorPages from(const config::EffectiveSettings& settings, const std::string& siteRoot);
    // The page to send instead of Lido's own, or null.
    const ErrorPage* pageFor(int status, int substatus, bool localClient) const;
    bool empty() const { return pages_.empty() && defaultPage_.path.empty(); }
    // existingResponse="Replace": an application's own error responses (CGI, FastCGI) get the
    // custom page too. Auto and PassThrough keep the application's body: IIS's Auto would replace
    // a FastCGI application's errors (it cannot ask IIS to skip custom errors), which is why PHP
    // sites behind IIS set PassThrough; Lido's Auto does what they set.
    bool replaceExisting() const { return replaceExisting_ && !empty(); }

private:
    void apply(const config::ConfigElement* httpErrors, const std::string& siteRoot);
    std::string errorMode_ = "DetailedLocalOnly";
    bool replaceExisting_ = false;
    std::vector<ErrorPage> pages_;
    ErrorPage defaultPage_;
};

} // namespace lido::engine
