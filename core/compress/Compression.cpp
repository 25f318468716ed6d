#include "compress/Compression.h"

#include "util/Text.h"

#include <algorithm>
#include <brotli/encode.h>
#include <cstdlib>
#include <list>
#include <mutex>
#include <unordered_map>
#include <zlib.h>

namespace lido::compress {

std::string_view codingName(Coding coding)
{
    switch (coding) {
    case Coding::Gzip: return "gzip";
    case Coding::Brotli: return "br";
    case Coding::Identity: break;
    }
    return "identity";
}

bool Settings::typeListed(const std::vector<std::pair<std::string, bool>>& types, std::string_view contentType)
{
    std::string type = toLower(trim(contentType.substr(0, contentType.find(';'))));
    if (type.empty())
        return false;
    for (const auto& [pattern, enabled] : types) {
        bool match = pattern == "*/*" || pattern == type;
        if (!match && pattern.size() > 2 && pattern.compare(pattern.size() - 2, 2, "/*") == 0)
            match = type.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
        if (match)
            return enabled;
    }
    return false;
}

namespace {

// q of one coding in Accept-Encoding: -1 when not named (a "*" counts for those not named).
struct Accepted {
    double gzip = -1, br = -1, star = -1, identity = -1;
};

Accepted parseAccept(std::string_view header)
{
    Accepted a;
    size_t start = 0;
    while (start <= header.size()) {
        size_t comma = header.find(',', start);
        std::string_view item = header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        start = comma == std::string_view::npos ? header.size() + 1 : comma + 1;
        std::string_view name = item.substr(0, item.find(';'));
        std::string coding = toLower(trim(name));
        double q = 1;
        if (auto semi = item.find(';'); semi != std::string_view::npos) {
            std::string params = toLower(trim(item.substr(semi + 1)));
            if (params.rfind("q=", 0) == 0)
                q = std::clamp(std::strtod(params.c_str() + 2, nullptr), 0.0, 1.0);
        }
        if (coding == "gzip" || coding == "x-gzip")
            a.gzip = q;
        else if (coding == "br")
            a.br = q;
        else if (coding == "*")
            a.star = q;
        else if (coding == "identity")
            a.identity = q;
    }
    return a;
}

} // namespace

const Scheme* Settings::negotiate(const http::Request& request, bool forStatic) const
{
    const std::string* header = request.header("Accept-Encoding");
    if (!header || header->empty())
        return nullptr;
    if (noHttp10 && request.versionMajor == 1 && request.versionMinor == 0)
        return nullptr;
    if (noProxies && request.header("Via"))
        return nullptr;
    Accepted a = parseAccept(*header);
    const Scheme* best = nullptr;
    double bestQ = 0;
    for (const Scheme& s : schemes) {
        if (forStatic ? !s.forStatic : !s.forDynamic)
            continue;
        double q = s.coding == Coding::Gzip ? a.gzip : a.br;
        if (q < 0)
            q = a.star < 0 ? 0 : a.star;
        if (q > bestQ) { // ties keep the earlier (preferred) scheme
            best = &s;
            bestQ = q;
        }
    }
    return best;
}

std::string compressWhole(Coding coding, int level, std::string_view data)
{
    std::string out;
    if (coding == Coding::Brotli) {
        size_t size = BrotliEncoderMaxCompressedSize(data.size());
        out.resize(size ? size : data.size() + 1024);
        size = out.size();
        if (!BrotliEncoderCompress(std::clamp(level, BROTLI_MIN_QUALITY, BROTLI_MAX_QUALITY), BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC,
                                   data.size(), reinterpret_cast<const uint8_t*>(data.data()), &size, reinterpret_cast<uint8_t*>(out.data())))
            return {};
        out.resize(size);
        return out;
    }
    z_stream z{};
    if (deflateInit2(&z, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    out.resize(deflateBound(&z, data.size()) + 32);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? out : std::string();
}

namespace {

class GzipEncoder final : public http::BodyEncoder {
public:
    explicit GzipEncoder(int level) { ok_ = deflateInit2(&z_, std::clamp(level, 1, 9), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK; }
    ~GzipEncoder() override
    {
        if (ok_)
            deflateEnd(&z_);
    }
    std::string encode(std::string_view piece) override { return run(piece, Z_SYNC_FLUSH); }
    std::string finish() override { return run({}, Z_FINISH); }

private:
    std::string run(std::string_view in, int flush)
    {
        std::string out;
        if (!ok_)
            return out;
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        z_.avail_in = static_cast<uInt>(in.size());
        char buf[16384];
        do {
            z_.next_out = reinterpret_cast<Bytef*>(buf);
            z_.avail_out = sizeof buf;
            int rc = deflate(&z_, flush);
            if (rc == Z_STREAM_ERROR)
                break;
            out.append(buf, sizeof buf - z_.avail_out);
        } while (z_.avail_out == 0);
        return out;
    }
    z_stream z_{};
    bool ok_ = false;
};

class BrotliEncoder final : public http::BodyEncoder {
public:
    explicit BrotliEncoder(int level) : state_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr))
    {
        if (state_)
            BrotliEncoderSetParameter(state_, BROTLI_PARAM_QUALITY, static_cast<uint32_t>(std::clamp(level, BROTLI_MIN_QUALITY, BROTLI_MAX_QUALITY)));
    }
    ~BrotliEncoder() override
    {
        if (state_)
            BrotliEncoderDestroyInstance(state_);
    }
    std::string encode(std::string_view piece) override { return run(piece, BROTLI_OPERATION_FLUSH); }
    std::string finish() override { return run({}, BROTLI_OPERATION_FINISH); }

private:
    std::string run(std::string_view in, BrotliEncoderOperation op)
    {
        std::string out;
        if (!state_)
            return out;
        size_t availIn = in.size();
        const uint8_t* nextIn = reinterpret_cast<const uint8_t*>(in.data());
        do {
            uint8_t buf[16384];
            size_t availOut = sizeof buf;
            uint8_t* nextOut = buf;
            if (!BrotliEncoderCompressStream(state_, op, &availIn, &nextIn, &availOut, &nextOut, nullptr))
                break;
            out.append(reinterpret_cast<char*>(buf), sizeof buf - availOut);
        } while (availIn > 0 || BrotliEncoderHasMoreOutput(state_));
        return out;
    }
    BrotliEncoderState* state_;
};

struct Cache {
    std::mutex mutex;
    uint64_t budget = 100ull << 20, bytes = 0, hits = 0, compressions = 0;
    std::list<std::pair<std::string, std::shared_ptr<const std::string>>> lru; // most recent first
    std::unordered_map<std::string, decltype(lru)::iterator> index;
};

Cache& cache()
{
    static Cache c;
    return c;
}

void evict(Cache& c)
{
    while (c.bytes > c.budget && !c.lru.empty()) {
        c.bytes -= c.lru.back().second->size();
        c.index.erase(c.lru.back().first);
        c.lru.pop_back();
    }
}

} // namespace

std::unique_ptr<http::BodyEncoder> streamingEncoder(Coding coding, int level)
{
    if (coding == Coding::Brotli)
        return std::make_unique<BrotliEncoder>(level);
    if (coding == Coding::Gzip)
        return std::make_unique<GzipEncoder>(level);
    return nullptr;
}

std::shared_ptr<const std::string> cachedBody(const std::string& key)
{
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    auto it = c.index.find(key);
    if (it == c.index.end())
        return nullptr;
    c.lru.splice(c.lru.begin(), c.lru, it->second);
    ++c.hits;
    return it->second->second;
}

void storeBody(const std::string& key, std::shared_ptr<const std::string> body)
{
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    ++c.compressions;
    if (auto it = c.index.find(key); it != c.index.end()) {
        c.bytes -= it->second->second->size();
        c.lru.erase(it->second);
        c.index.erase(it);
    }
    c.bytes += body->size();
    c.lru.emplace_front(key, std::move(body));
    c.index[key] = c.lru.begin();
    evict(c);
}

void setCacheBudget(uint64_t bytes)
{
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    c.budget = bytes;
    evict(c);
}

CacheFigures cacheFigures()
{
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    return CacheFigures{c.lru.size(), c.bytes, c.hits, c.compressions};
}

} // namespace lido::compress
