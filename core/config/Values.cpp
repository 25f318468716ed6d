#include "config/Values.h"

#include <arpa/inet.h>
#include <cctype>
#include <cstdlib>
#include <charconv>

namespace lido::config {

std::optional<bool> parseBool(std::string_view text)
{
    // IIS accepts true/false in any case.
    if (iequals(text, "true"))
        return true;
    if (iequals(text, "false"))
        return false;
    return std::nullopt;
}

std::optional<uint64_t> parseUInt(std::string_view text)
{
    if (text.empty() || text.size() > 20)
        return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size())
        return std::nullopt;
    return v;
}

static bool readDigits(std::string_view& s, int minDigits, int maxDigits, int64_t& out)
{
    int n = 0;
    out = 0;
    while (n < static_cast<int>(s.size()) && n < maxDigits && std::isdigit(static_cast<unsigned char>(s[n]))) {
        out = out * 10 + (s[n] - '0');
        ++n;
    }
    if (n < minDigits)
        return false;
    s.remove_prefix(n);
    return true;
}

std::optional<int64_t> parseTimeSpan(std::string_view text)
{
    // .NET TimeSpan "c" format, as IIS writes it: [-][d.]hh:mm:ss[.fffffff]
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && s.front() == '-') {
        negative = true;
        s.remove_prefix(1);
    }
    int64_t days = 0, hours = 0, minutes = 0, seconds = 0, fraction = 0;
    int64_t first = 0;
    if (!readDigits(s, 1, 8, first))
        return std::nullopt;
    if (!s.empty() && s.front() == '.') {
        days = first;
        s.remove_prefix(1);
        if (!readDigits(s, 1, 2, hours))
            return std::nullopt;
    } else {
        hours = first;
    }
    if (s.empty() || s.front() != ':')
        return std::nullopt;
    s.remove_prefix(1);
    if (!readDigits(s, 2, 2, minutes))
        return std::nullopt;
    if (s.empty() || s.front() != ':')
        return std::nullopt;
    s.remove_prefix(1);
    if (!readDigits(s, 2, 2, seconds))
        return std::nullopt;
    int fractionDigits = 0;
    if (!s.empty() && s.front() == '.') {
        s.remove_prefix(1);
        size_t before = s.size();
        if (!readDigits(s, 1, 7, fraction))
            return std::nullopt;
        fractionDigits = static_cast<int>(before - s.size());
    }
    if (!s.empty() || hours > 23 || minutes > 59 || seconds > 59)
        return std::nullopt;
    int64_t ms = fraction;
    for (int i = fractionDigits; i < 3; ++i)
        ms *= 10;
    for (int i = 3; i < fractionDigits; ++i)
        ms /= 10;
    int64_t total = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000 + ms;
    return negative ? -total : total;
}

std::string formatTimeSpan(int64_t milliseconds)
{
    std::string out;
    if (milliseconds < 0) {
        out += '-';
        milliseconds = -milliseconds;
    }
    int64_t ms = milliseconds % 1000;
    int64_t totalSeconds = milliseconds / 1000;
    int64_t s = totalSeconds % 60, m = (totalSeconds / 60) % 60, h = (totalSeconds / 3600) % 24, d = totalSeconds / 86400;
    char buf[64];
    if (d > 0)
        out += std::to_string(d) + ".";
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", static_cast<long long>(h), static_cast<long long>(m),
                  static_cast<long long>(s));
    out += buf;
    if (ms) {
        std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(ms));
        out += buf;
    }
    return out;
}

std::optional<BindingInfo> parseBindingInfo(std::string_view text, std::string* why)
{
    auto failWith = [&](const char* reason) -> std::optional<BindingInfo> {
        if (why)
            *why = reason;
        return std::nullopt;
    };
    BindingInfo b;
    std::string_view rest = text;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos)
            return failWith("IPv6 address lacks ']'");
        b.ip = std::string(rest.substr(0, close + 1));
        rest.remove_prefix(close + 1);
        in6_addr a6{};
        if (inet_pton(AF_INET6, b.ip.substr(1, b.ip.size() - 2).c_str(), &a6) != 1)
            return failWith("not a valid IPv6 address");
    } else {
        auto colon = rest.find(':');
        if (colon == std::string_view::npos)
            return failWith("expected ip:port:host");
        b.ip = std::string(rest.substr(0, colon));
        rest.remove_prefix(colon);
        if (b.ip.empty())
            b.ip = "*";
        in_addr a4{};
        if (b.ip != "*" && inet_pton(AF_INET, b.ip.c_str(), &a4) != 1)
            return failWith("not a valid IPv4 address (use * for all)");
    }
    if (rest.empty() || rest.front() != ':')
        return failWith("expected ip:port:host");
    rest.remove_prefix(1);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos)
        return failWith("expected ip:port:host");
    auto port = parseUInt(rest.substr(0, colon));
    if (!port || *port == 0 || *port > 65535)
        return failWith("port must be a number from 1 to 65535");
    b.port = static_cast<uint16_t>(*port);
    b.host = toLower(rest.substr(colon + 1));
    if (b.host.find_first_of(" /:") != std::string::npos)
        return failWith("host name has a space, ':' or '/'");
    return b;
}

std::string escapeAttribute(std::string_view value, char quote)
{
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '\n': out += "&#10;"; break;
        case '\r': out += "&#13;"; break;
        case '\t': out += "&#9;"; break;
        case '"':
            if (quote == '"')
                out += "&quot;";
            else
                out += c;
            break;
        case '\'':
            if (quote == '\'')
                out += "&apos;";
            else
                out += c;
            break;
        default: out += c;
        }
    }
    return out;
}

std::string expandEnvironment(std::string_view text)
{
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        auto start = text.find('%', i);
        if (start == std::string_view::npos)
            break;
        auto end = text.find('%', start + 1);
        if (end == std::string_view::npos)
            break;
        out.append(text.substr(i, start - i));
        std::string name(text.substr(start + 1, end - start - 1));
        const char* value = name.empty() ? nullptr : std::getenv(name.c_str());
        if (value)
            out += value;
        else
            out.append(text.substr(start, end - start + 1));
        i = end + 1;
    }
    out.append(text.substr(i));
    return out;
}

bool looksLikeWindowsPath(std::string_view text)
{
    if (text.size() >= 2 && std::isalpha(static_cast<unsigned char>(text[0])) && text[1] == ':')
        return true;
    if (text.find('\\') != std::string_view::npos)
        return true;
    auto p = text.find('%');
    return p != std::string_view::npos && text.find('%', p + 1) != std::string_view::npos;
}

bool StatusRange::matches(int status, int substatus) const
{
    if (status < from || status > to)
        return false;
    if (subFrom < 0)
        return true;
    // 401.1-401.5: the substatus range applies within the first and last status.
    long lo = long(from) * 1000 + subFrom, hi = long(to) * 1000 + subTo, v = long(status) * 1000 + substatus;
    return v >= lo && v <= hi;
}

std::optional<std::vector<StatusRange>> parseStatusCodes(std::string_view text, std::string* why)
{
    std::vector<StatusRange> out;
    auto one = [](std::string_view raw, int& status, int& sub) {
        std::string t = trim(raw);
        size_t dot = t.find('.');
        auto s = parseUInt(std::string_view(t).substr(0, dot));
        if (!s || *s < 100 || *s > 999)
            return false;
        status = static_cast<int>(*s);
        sub = -1;
        if (dot != std::string::npos) {
            auto ss = parseUInt(std::string_view(t).substr(dot + 1));
            if (!ss || *ss > 999)
                return false;
            sub = static_cast<int>(*ss);
        }
        return true;
    };
    size_t at = 0;
    while (at <= text.size()) {
        size_t comma = text.find(',', at);
        std::string item = trim(text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
        at = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
        if (item.empty())
            continue;
        StatusRange r;
        size_t dash = item.find('-');
        int subTo = -1;
        bool ok = one(std::string_view(item).substr(0, dash), r.from, r.subFrom);
        if (ok && dash != std::string::npos)
            ok = one(std::string_view(item).substr(dash + 1), r.to, subTo) && (r.subFrom < 0) == (subTo < 0);
        else {
            r.to = r.from;
            subTo = r.subFrom;
        }
        r.subTo = subTo;
        if (ok && (r.to < r.from || (r.to == r.from && r.subTo < r.subFrom)))
            ok = false;
        if (!ok) {
            if (why)
                *why = "'" + item + "' is not a status code or a range of them (e.g. 500-599, 404.2, 401.1-401.5)";
            return std::nullopt;
        }
        out.push_back(r);
    }
    return out;
}

} // namespace lido::config
