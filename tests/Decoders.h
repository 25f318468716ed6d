#pragma once
// Reference decoders for compression round trips: zlib's inflate and brotli's decoder, the
// libraries browsers and curl decode with.
#include <brotli/decode.h>
#include <string>
#include <string_view>
#include <zlib.h>

namespace testsupport {

// A whole gzip member (or several pieces of one stream); empty with ok=false when malformed.
inline std::string gunzip(std::string_view in, bool* ok = nullptr)
{
    z_stream z{};
    inflateInit2(&z, 15 + 16);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    std::string out;
    int rc = Z_OK;
    char buf[16384];
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(buf);
        z.avail_out = sizeof buf;
        rc = inflate(&z, Z_NO_FLUSH);
        out.append(buf, sizeof buf - z.avail_out);
        if (rc == Z_BUF_ERROR && z.avail_in == 0)
            break;
    }
    inflateEnd(&z);
    if (ok)
        *ok = rc == Z_STREAM_END;
    return out;
}

inline std::string unbrotli(std::string_view in, bool* ok = nullptr)
{
    BrotliDecoderState* s = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    size_t availIn = in.size();
    const uint8_t* nextIn = reinterpret_cast<const uint8_t*>(in.data());
    std::string out;
    BrotliDecoderResult r = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
    // (With its input used up, the decoder says NEEDS_MORE_INPUT even while output is pending.)
    while (r == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT || (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT && BrotliDecoderHasMoreOutput(s))) {
        uint8_t buf[16384];
        size_t availOut = sizeof buf;
        uint8_t* nextOut = buf;
        r = BrotliDecoderDecompressStream(s, &availIn, &nextIn, &availOut, &nextOut, nullptr);
        out.append(reinterpret_cast<char*>(buf), sizeof buf - availOut);
    }
    BrotliDecoderDestroyInstance(s);
    if (ok)
        *ok = r == BROTLI_DECODER_RESULT_SUCCESS;
    return out;
}

} // namespace testsupport
