// Fuzz target: arbitrary bytes through the CGI/FastCGI response-header parser, in every syntax,
// whole and split at every tenth position. Any crash or sanitizer report is a bug; so is a
// parsed header whose name or value carries CR or LF.
#include "cgi/CgiResponseParser.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    using namespace lido::cgi;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    for (HeaderSyntax s : {HeaderSyntax::Cgi, HeaderSyntax::Strict, HeaderSyntax::Relaxed}) {
        HeaderParse whole = parseResponseHeaders(in, s, 4096);
        if (whole.state == HeaderParse::State::Done) {
            if (whole.head.consumed > size)
                std::abort();
            for (const auto& [k, v] : whole.head.headers)
                if (k.find_first_of("\r\n") != std::string::npos || v.find_first_of("\r\n") != std::string::npos)
                    std::abort(); // header injection
        }
        for (size_t n = 0; n < size; n += 10) {
            HeaderParse part = parseResponseHeaders(in.substr(0, n), s, 4096);
            // A prefix can never be "done" later than the whole, nor fail where the whole succeeds.
            if (part.state == HeaderParse::State::Error && whole.state == HeaderParse::State::Done)
                std::abort();
        }
    }
    return 0;
}
