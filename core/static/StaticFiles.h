#pragma once
// Static files: sendfile, ETag and Last-Modified with conditional GET/HEAD (304), one byte range
// (206/416), MIME types, default documents, directory requests redirected to the trailing slash.
// Paths never escape their virtual directory: symbolic links that leave it are refused.
#include "engine/SiteMap.h"
#include "http/Connection.h"

#include <functional>
#include <memory>

namespace lido::staticfiles {

// Calls error(status, detail) for 403/404/405; otherwise answers on the responder.
void serve(const std::shared_ptr<http::Responder>& responder, const engine::SiteMap& map, const engine::Route& route,
           const std::function<void(int status, const std::string& detail)>& error, bool allowSymlinksOut = false);

} // namespace lido::staticfiles
