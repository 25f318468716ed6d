#include "static/StaticFiles.h"

#include "fs/Beneath.h"
#include "fs/FileCache.h"
#include "util/Text.h"

#include <cerrno>
#include <algorithm>
#include <climits>
#include <ctime>
#include <dirent.h>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace lido::staticfiles {

using http::ResponseHead;
using namespace fs; // Beneath, FileCache

namespace {

constexpr uint64_t kInlineLimit = 32 * 1024;

// A file's own headers on a 200: made once per cached version (shared by its responses), or
// per response for a compressed copy, whose ETag is its own.
std::vector<http::Header> fileHeaders(const std::string& type, const std::string& etag, const std::string& lastModified)
{
    return {{"Content-Type", type}, {"ETag", etag}, {"Last-Modified", lastModified}, {"Accept-Ranges", "bytes"}};
}

std::string etagOf(const struct stat& st)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(st.st_mtim.tv_sec) * 1000000ULL + static_cast<unsigned long long>(st.st_mtim.tv_nsec / 1000),
                  static_cast<unsigned long long>(st.st_size));
    return buf;
}

bool etagMatches(const std::string& header, const std::string& etag)
{
    if (header == "*")
        return true;
    size_t start = 0;
    while (start < header.size()) {
        size_t comma = header.find(',', start);
        std::string one = header.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!one.empty() && one.front() == ' ')
            one.erase(0, 1);
        while (!one.empty() && one.back() == ' ')
            one.pop_back();
        if (one.rfind("W/", 0) == 0)
            one = one.substr(2);
        if (one == etag)
            return true;
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    return false;
}

// "bytes=a-b", "bytes=a-", "bytes=-n"; only one range (RFC 9110 §14.2: a server may ignore others).
enum class RangeResult { None, Ok, Unsatisfiable };
RangeResult parseRange(const std::string& header, uint64_t size, uint64_t& first, uint64_t& last)
{
    if (header.rfind("bytes=", 0) != 0 || header.find(',') != std::string::npos)
        return RangeResult::None;
    std::string spec = header.substr(6);
    auto dash = spec.find('-');
    if (dash == std::string::npos)
        return RangeResult::None;
    std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
    auto num = [](const std::string& s, uint64_t& v) {
        if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos)
            return false;
        v = std::stoull(s);
        return true;
    };
    if (a.empty()) {
        uint64_t n = 0;
        if (!num(b, n))
            return RangeResult::None;
        if (n == 0 || size == 0)
            return RangeResult::Unsatisfiable;
        first = n >= size ? 0 : size - n;
        last = size - 1;
        return RangeResult::Ok;
    }
    if (!num(a, first))
        return RangeResult::None;
    if (b.empty())
        last = size ? size - 1 : 0;
    else if (!num(b, last) || last < first)
        return RangeResult::None;
    if (first >= size)
        return RangeResult::Unsatisfiable;
    if (last >= size)
        last = size - 1;
    return RangeResult::Ok;
}

// IIS's directory listing: one line per entry with what showFlags names (Date, Time, Size,
// Extension), folders first, names sorted; hidden (dot) entries are left out. Takes the fd.
std::string listing(int fd, const std::string& urlPath, const std::string& flags)
{
    struct Entry {
        std::string name;
        bool folder = false;
        struct stat st {};
    };
    std::vector<Entry> entries;
    if (DIR* dir = ::fdopendir(fd)) {
        while (dirent* d = ::readdir(dir)) {
            if (d->d_name[0] == '.')
                continue;
            Entry e{d->d_name};
            if (::fstatat(::dirfd(dir), d->d_name, &e.st, AT_SYMLINK_NOFOLLOW) != 0)
                continue;
            e.folder = S_ISDIR(e.st.st_mode);
            entries.push_back(std::move(e));
        }
        ::closedir(dir);
    } else
        ::close(fd);
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.folder != b.folder ? a.folder : a.name < b.name; });
    bool date = flags.find("Date") != std::string::npos, time = flags.find("Time") != std::string::npos,
         size = flags.find("Size") != std::string::npos, extension = flags.find("Extension") != std::string::npos;
    std::string title = http::htmlEscape(urlPath);
    std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head><body>\n<h1>" + title +
                      "</h1>\n<pre>";
    if (urlPath != "/")
        out += "<a href=\"../\">[To Parent Directory]</a>\n";
    for (const Entry& e : entries) {
        char when[64] = "";
        std::tm tm {};
        ::gmtime_r(&e.st.st_mtim.tv_sec, &tm);
        if (date || time)
            std::strftime(when, sizeof when, date && time ? "%Y-%m-%d %H:%M" : date ? "%Y-%m-%d" : "%H:%M", &tm);
        std::string shown = e.name;
        if (!extension && !e.folder && shown.rfind('.') != std::string::npos && shown.rfind('.') > 0)
            shown = shown.substr(0, shown.rfind('.'));
        char sizeText[32] = "";
        if (size)
            std::snprintf(sizeText, sizeof sizeText, "%12s", e.folder ? "&lt;dir&gt;" : std::to_string(e.st.st_size).c_str());
        out += std::string(when) + (when[0] ? " " : "") + sizeText + (size ? " " : "") + "<a href=\"" + http::htmlEscape(urlEncode(e.name)) +
               (e.folder ? "/" : "") + "\">" + http::htmlEscape(shown) + "</a>\n";
    }
    return out + "</pre>\n</body></html>\n";
}

// Larger files are sent as they are: compressing them would hold a worker thread too long.
constexpr uint64_t kMaxStaticCompression = 8 * 1024 * 1024;

// The compressed body of a static file, when its type is listed, the client takes a scheme and
// the result is smaller. Vary goes into `vary` when the type is compressible at all (a cache in
// between must keep the variants apart), whichever variant this client gets.
struct Variant {
    const compress::Scheme* scheme = nullptr;
    std::shared_ptr<const std::string> body;
    std::string etag; // the identity ETag with the coding: "...-br"
};
// The body comes from `cached` when the file is in memory, else it is read from fd.
Variant compressedVariant(const http::Request& req, const compress::Settings* cs, const std::string& path, const std::string& etag,
                          const std::string& type, uint64_t size, const std::string* cached, int fd, std::vector<http::Header>& vary)
{
    Variant v;
    if (!cs || !cs->doStatic || size < cs->minFileSize || size > kMaxStaticCompression || req.method == "OPTIONS" ||
        !compress::Settings::typeListed(cs->staticTypes, type))
        return v;
    vary.push_back({"Vary", "Accept-Encoding"});
    if (req.header("Range")) // a range is of the file as it is, never of a compressed body
        return v;
    const compress::Scheme* scheme = cs->negotiate(req, true);
    if (!scheme)
        return v;
    std::string key = path + '\x1f' + etag + '\x1f' + std::string(compress::codingName(scheme->coding)) + std::to_string(scheme->staticLevel);
    auto body = compress::cachedBody(key);
    if (!body) {
        std::string data;
        if (cached) {
            data = *cached;
        } else {
            data.resize(size);
            ssize_t got = size ? ::pread(fd, data.data(), size, 0) : 0;
            data.resize(got < 0 ? 0 : static_cast<size_t>(got));
        }
        if (data.size() != size)
            return v;
        body = std::make_shared<const std::string>(compress::compressWhole(scheme->coding, scheme->staticLevel, data));
        compress::storeBody(key, body); // also when it did not shrink: not tried again for this version
    }
    if (body->empty() || body->size() >= size)
        return v;
    v.scheme = scheme;
    v.body = std::move(body);
    v.etag = etag.substr(0, etag.size() - 1) + "-" + std::string(compress::codingName(scheme->coding)) + "\"";
    return v;
}

// A fresh cached copy: conditional requests answered from it; ranges go the long way.
void serveCached(const std::shared_ptr<http::Responder>& responder, const std::string& path, const CachedFile& f,
                 const std::vector<http::Header>& cacheHeaders, const compress::Settings* compression);

} // namespace

void serve(const std::shared_ptr<http::Responder>& responder, const routing::Route& route,
           const std::function<void(int, const std::string&)>& error, const std::function<void(const std::string&)>& refusedLink,
           const std::vector<http::Header>& cacheHeaders, const compress::Settings* compression)
{
    const http::Request& req = responder->request();
    if (req.method != "GET" && req.method != "HEAD") {
        error(405, "static files answer GET and HEAD only");
        return;
    }
    // A copy opened under another symlink policy (the same folder served twice) is not this
    // request's: it goes the long way, and its copy replaces the other.
    if (auto hit = cachedFile(route.physicalPath); hit && hit->policy == route.directory->symlinks && !req.header("Range")) {
        serveCached(responder, route.physicalPath, *hit, cacheHeaders, compression);
        return;
    }
    std::string relative = route.relativePath;
    auto refuse = [&](int err, const std::string& why) {
        if (!why.empty()) {
            if (refusedLink)
                refusedLink(why);
            error(403, why);
        } else if (err == EXDEV || err == ELOOP)
            error(403, "the path leaves its virtual directory through a symbolic link");
        else if (err == EACCES)
            error(403, "the file cannot be read (permission denied)");
        else if (err == EMFILE || err == ENFILE)
            error(503, "the server has no file descriptor left to open the file with");
        else
            error(404, "no file " + route.urlPath);
    };
    auto root = route.directory->root->current(); // held while it is opened beneath
    Opened opened = openBeneath(root->fd.get(), relative, route.directory->symlinks, O_RDONLY);
    int fd = opened.fd;
    if (fd < 0) {
        refuse(opened.error, opened.refusal);
        return;
    }
    struct stat st {};
    ::fstat(fd, &st);
    if (S_ISDIR(st.st_mode)) {
        if (route.urlPath.back() != '/') {
            ::close(fd);
            // IIS and Apache: a folder is addressed with its trailing slash.
            std::string location = route.urlPath + "/" + (req.query.empty() ? "" : "?" + req.query);
            http::sendRedirect(*responder, 301, location);
            return;
        }
        // Default documents were tried by the engine, which routes them to their own handler.
        if (route.scope->directoryBrowse) {
            std::string body = listing(fd, route.urlPath, route.scope->browseFlags); // (closes fd)
            responder->sendHead(ResponseHead{200, {}, {{"Content-Type", "text/html; charset=utf-8"}}, body.size()});
            if (req.method != "HEAD")
                responder->sendBody(std::move(body));
            responder->finish();
            return;
        }
        ::close(fd);
        error(403, route.scope->defaultDocumentEnabled ? "the folder has no default document and directory browsing is off"
                                                       : "default documents are disabled and directory browsing is off");
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        error(404, "not a regular file");
        return;
    }
    std::string type = route.scope->mimeType(route.physicalPath);
    if (type.empty()) {
        ::close(fd);
        error(404, "no MIME type is mapped for this file's extension (staticContent/mimeMap)");
        return;
    }
    std::string etag = etagOf(st);
    std::string lastModified = http::httpDate(st.st_mtime);
    uint64_t size = static_cast<uint64_t>(st.st_size), first = 0, last = size ? size - 1 : 0;
    std::vector<http::Header> vary;
    Variant variant = compressedVariant(req, compression, route.physicalPath, etag, type, size, nullptr, fd, vary);
    if (variant.body)
        etag = variant.etag;
    std::vector<http::Header> headers = fileHeaders(type, etag, lastModified);
    headers.insert(headers.end(), cacheHeaders.begin(), cacheHeaders.end());
    headers.insert(headers.end(), vary.begin(), vary.end());

    bool notModified = false;
    if (const std::string* inm = req.header("If-None-Match"))
        notModified = etagMatches(*inm, etag);
    else if (const std::string* ims = req.header("If-Modified-Since"))
        if (auto t = http::parseHttpDate(*ims))
            notModified = st.st_mtime <= *t;
    if (notModified) {
        ::close(fd);
        std::vector<http::Header> h{{"ETag", etag}, {"Last-Modified", lastModified}};
        h.insert(h.end(), cacheHeaders.begin(), cacheHeaders.end());
        h.insert(h.end(), vary.begin(), vary.end());
        responder->sendHead(ResponseHead{304, {}, std::move(h), std::nullopt});
        responder->finish();
        return;
    }
    if (variant.body) {
        ::close(fd);
        headers.push_back({"Content-Encoding", std::string(compress::codingName(variant.scheme->coding))});
        responder->sendHead(ResponseHead{200, {}, std::move(headers), variant.body->size()});
        if (req.method != "HEAD")
            responder->sendBody(*variant.body);
        responder->finish();
        return;
    }

    int status = 200;
    const std::string* range = req.header("Range");
    bool rangeApplies = range && req.method == "GET";
    if (rangeApplies)
        if (const std::string* ifRange = req.header("If-Range"))
            rangeApplies = *ifRange == etag || *ifRange == lastModified;
    if (rangeApplies) {
        switch (parseRange(*range, size, first, last)) {
        case RangeResult::Unsatisfiable:
            ::close(fd);
            responder->sendHead(ResponseHead{416, {}, {{"Content-Range", "bytes */" + std::to_string(size)}}, 0});
            responder->finish();
            return;
        case RangeResult::Ok:
            status = 206;
            headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size)});
            break;
        case RangeResult::None: break;
        }
    }
    uint64_t length = size == 0 ? 0 : last - first + 1;
    responder->sendHead(ResponseHead{status, {}, std::move(headers), length});
    if (req.method == "HEAD") {
        ::close(fd);
    } else if (length <= kInlineLimit) {
        // Small files travel with the head in one send (measured: one TCP segment instead of
        // two nearly doubles small-file throughput on loopback); large ones go by sendfile.
        std::string body(length, '\0');
        ssize_t got = length ? ::pread(fd, body.data(), length, static_cast<off_t>(first)) : 0;
        ::close(fd);
        if (got != static_cast<ssize_t>(length)) {
            responder->abort();
            return;
        }
        if (status == 200) {
            auto c = std::make_shared<CachedFile>();
            c->body = body;
            c->etag = etag;
            c->lastModified = lastModified;
            c->mimeType = type;
            c->mtime = st.st_mtime;
            c->size = size;
            c->policy = route.directory->symlinks;
            c->headers = std::make_shared<const http::HeaderBlock>(fileHeaders(type, etag, lastModified));
            storeFile(route.physicalPath, std::move(c));
        }
        responder->sendBody(std::move(body));
    } else {
        responder->sendFile(fd, first, length, [fd](bool) { ::close(fd); });
    }
    responder->finish();
}

} // namespace lido::staticfiles

namespace lido::staticfiles {
namespace {

void serveCached(const std::shared_ptr<http::Responder>& responder, const std::string& path, const CachedFile& f,
                 const std::vector<http::Header>& cacheHeaders, const compress::Settings* compression)
{
    const http::Request& req = responder->request();
    std::vector<http::Header> vary;
    Variant variant = compressedVariant(req, compression, path, f.etag, f.mimeType, f.size, &f.body, -1, vary);
    const std::string& etag = variant.body ? variant.etag : f.etag;
    bool notModified = false;
    if (const std::string* inm = req.header("If-None-Match"))
        notModified = etagMatches(*inm, etag);
    else if (const std::string* ims = req.header("If-Modified-Since"))
        if (auto t = http::parseHttpDate(*ims))
            notModified = f.mtime <= *t;
    if (notModified) {
        std::vector<http::Header> h{{"ETag", etag}, {"Last-Modified", f.lastModified}};
        h.insert(h.end(), cacheHeaders.begin(), cacheHeaders.end());
        h.insert(h.end(), vary.begin(), vary.end());
        responder->sendHead(ResponseHead{304, {}, std::move(h), std::nullopt});
        responder->finish();
        return;
    }
    ResponseHead head{200, {}, {}, variant.body ? variant.body->size() : f.size};
    if (variant.body || !f.headers) // (a compressed copy has an ETag of its own)
        head.headers = fileHeaders(f.mimeType, etag, f.lastModified);
    else
        head.shared = f.headers;
    head.headers.insert(head.headers.end(), cacheHeaders.begin(), cacheHeaders.end());
    head.headers.insert(head.headers.end(), vary.begin(), vary.end());
    if (variant.body)
        head.headers.push_back({"Content-Encoding", std::string(compress::codingName(variant.scheme->coding))});
    responder->sendHead(std::move(head));
    if (req.method != "HEAD")
        responder->sendBody(variant.body ? *variant.body : f.body);
    responder->finish();
}

} // namespace
} // namespace lido::staticfiles
