#include "cgi/CgiResponseParser.h"

#include "util/Text.h"

#include <cctype>
#include <charconv>

namespace lido::cgi {

namespace {

std::string shown(std::string_view line)
{
    std::string out;
    for (char c : line.substr(0, 80)) {
        if (c == '\r')
            out += "\\r";
        else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            out += '?';
        else
            out += c;
    }
    return "\"" + out + (line.size() > 80 ? "...\"" : "\"");
}

} // namespace

HeaderParse parseResponseHeaders(std::string_view data, HeaderSyntax syntax, size_t maxBytes)
{
    HeaderParse r;
    bool lfAllowed = syntax != HeaderSyntax::Strict;
    size_t pos = 0;
    int lineNo = 0;
    auto error = [&](std::string why) {
        r.state = HeaderParse::State::Error;
        r.error = std::move(why);
        return r;
    };
    for (;;) {
        size_t nl = data.find('\n', pos);
        if (nl == std::string_view::npos) {
            if (data.size() > maxBytes)
                return error("the header block is larger than " + std::to_string(maxBytes / 1024) + " KiB");
            return r; // need more
        }
        ++lineNo;
        std::string_view line = data.substr(pos, nl - pos);
        bool crlf = !line.empty() && line.back() == '\r';
        if (crlf)
            line.remove_suffix(1);
        else if (!lfAllowed)
            return error("line " + std::to_string(lineNo) + " ends with LF only (strict syntax wants CRLF)");
        pos = nl + 1;
        if (line.empty())
            break;
        if (line.find('\r') != std::string_view::npos)
            return error("line " + std::to_string(lineNo) + " has a CR inside it " + shown(line));
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            return error("line " + std::to_string(lineNo) + " has no ':' " + shown(line));
        std::string_view name = line.substr(0, colon);
        if (syntax != HeaderSyntax::Strict)
            while (!name.empty() && (name.back() == ' ' || name.back() == '\t'))
                name.remove_suffix(1);
        if (name.empty())
            return error("line " + std::to_string(lineNo) + " has an empty header name " + shown(line));
        if (!allTokenChars(name))
            return error("line " + std::to_string(lineNo) + " has an invalid character in the header name " + shown(line));
        std::string_view value = line.substr(colon + 1);
        if (syntax == HeaderSyntax::Strict) {
            if (value.empty() || value.front() != ' ')
                return error("line " + std::to_string(lineNo) + " lacks the space after ':' " + shown(line));
            value.remove_prefix(1);
            if (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                return error("line " + std::to_string(lineNo) + " has trailing whitespace " + shown(line));
        } else {
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
        }
        for (char c : value)
            if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
                return error("line " + std::to_string(lineNo) + " has a control character in its value " + shown(line));
        if (iequals(name, "Status")) {
            // RFC 3875 §6.3.3: Status: 3DIGIT SP reason-phrase
            if (value.size() < 3 || !std::isdigit(static_cast<unsigned char>(value[0])) ||
                !std::isdigit(static_cast<unsigned char>(value[1])) || !std::isdigit(static_cast<unsigned char>(value[2])) ||
                (value.size() > 3 && value[3] != ' '))
                return error("line " + std::to_string(lineNo) + " has a Status that is not a three-digit code " + shown(line));
            if (value.size() == 3 && syntax == HeaderSyntax::Strict)
                return error("line " + std::to_string(lineNo) + " has a Status without a reason phrase " + shown(line));
            int code = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
            if (code < 100 || code > 599)
                return error("line " + std::to_string(lineNo) + " has a Status outside 100-599 " + shown(line));
            r.head.status = code;
            r.head.reason = value.size() > 4 ? std::string(value.substr(4)) : std::string();
            r.head.hasStatus = true;
            continue;
        }
        if (iequals(name, "Content-Type"))
            r.head.hasContentType = true;
        else if (iequals(name, "Content-Length"))
            r.head.hasContentLength = true;
        else if (iequals(name, "Location"))
            r.head.location = std::string(value);
        r.head.headers.emplace_back(std::string(name), std::string(value));
        if (pos > maxBytes)
            return error("the header block is larger than " + std::to_string(maxBytes / 1024) + " KiB");
    }
    if (!r.head.hasContentType && r.head.location.empty() && !r.head.hasStatus)
        return error("no Content-Type, Location or Status header (RFC 3875 §6.2)");
    if (!r.head.location.empty() && !r.head.hasStatus)
        r.head.status = 302;
    r.head.consumed = pos;
    r.state = HeaderParse::State::Done;
    return r;
}

http::ResponseHead toResponseHead(const ResponseHeaders& parsed)
{
    http::ResponseHead head;
    head.status = parsed.status;
    head.reason = parsed.reason;
    for (const auto& [k, v] : parsed.headers) {
        if (http::iequals(k, "Content-Length")) {
            uint64_t n = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec == std::errc() && end == v.data() + v.size())
                head.contentLength = n;
            continue;
        }
        if (http::iequals(k, "Transfer-Encoding") || http::iequals(k, "Connection"))
            continue;
        head.headers.push_back({k, v});
    }
    return head;
}

} // namespace lido::cgi
