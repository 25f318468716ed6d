#pragma once
// HTTP content codings, as IIS's urlCompression and httpCompression configure them: gzip (zlib)
// and br (brotli), negotiated by Accept-Encoding with q-values; whole bodies for static files
// (compressed once per file version and kept in a byte-bounded cache) and a streaming encoder for
// CGI and FastCGI responses. Built once per applied configuration; negotiate() is pure.
#include "http/Http.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lido::compress {

enum class Coding { Identity, Gzip, Brotli };
std::string_view codingName(Coding coding); // "gzip", "br", "identity"

struct Scheme {
    Coding coding = Coding::Gzip;
    int staticLevel = 9;  // zlib 1-9, brotli 0-11
    int dynamicLevel = 1;
    bool forStatic = true, forDynamic = true;
};

struct Settings {
    bool doStatic = true;
    bool doDynamic = false;
    uint64_t minFileSize = 2700;
    bool noHttp10 = true;
    bool noProxies = true;
    std::vector<Scheme> schemes; // the server's preference when the client's q-values tie: br first
    std::vector<std::pair<std::string, bool>> staticTypes, dynamicTypes; // pattern ("text/*"), compress?

    // First matching pattern wins, as IIS's lists; parameters (";charset=") are ignored.
    static bool typeListed(const std::vector<std::pair<std::string, bool>>& types, std::string_view contentType);
    // The scheme for a request, or null: what the client accepts (q > 0) among the offered
    // ones, its highest q first, then the server's order.
    const Scheme* negotiate(const http::Request& request, bool forStatic) const;
};

// The whole of data in one coding (level as in Scheme).
std::string compressWhole(Coding coding, int level, std::string_view data);

// A streaming encoder for a response body: each piece is flushed (so a slowly streaming page
// still reaches the client piece by piece), the end closes the stream.
std::unique_ptr<http::BodyEncoder> streamingEncoder(Coding coding, int level);

// Compressed static bodies, by file and version (path, ETag) and coding; the least recently used
// go first when the total passes the budget (httpCompression/@maxDiskSpaceUsage).
std::shared_ptr<const std::string> cachedBody(const std::string& key);
void storeBody(const std::string& key, std::shared_ptr<const std::string> body);
void setCacheBudget(uint64_t bytes);
struct CacheFigures {
    uint64_t entries = 0, bytes = 0, hits = 0, compressions = 0;
};
CacheFigures cacheFigures();

} // namespace lido::compress
