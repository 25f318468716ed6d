#pragma once
// Static files: sendfile, ETag and Last-Modified with conditional GET/HEAD (304), one byte range
// (206/416), MIME types, default documents, directory requests redirected to the trailing slash,
// directory listings where directoryBrowse is on, gzip and br for the types httpCompression lists
// (each file version compressed once, then served from compress::cachedBody).
// Paths never escape their virtual directory except as its symlink policy allows (static/Beneath.h).
#include "compress/Compression.h"
#include "routing/SiteMap.h"
#include "http/Connection.h"

#include <functional>
#include <memory>

namespace lido::staticfiles {

// Calls error(status, detail) for 403/404/405/503; otherwise answers on the responder. A link the
// virtual directory's symlink policy refuses is also told to refusedLink (the event log).
void serve(const std::shared_ptr<http::Responder>& responder, const routing::Route& route,
           const std::function<void(int status, const std::string& detail)>& error,
           const std::function<void(const std::string& why)>& refusedLink = {}, const std::vector<http::Header>& cacheHeaders = {},
           const compress::Settings* compression = nullptr);

} // namespace lido::staticfiles
