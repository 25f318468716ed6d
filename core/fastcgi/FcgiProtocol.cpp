#include "fastcgi/FcgiProtocol.h"

namespace lido::fastcgi {

namespace {

void appendHeader(std::string& out, Type type, uint16_t id, size_t length, size_t padding)
{
    out += static_cast<char>(1); // FCGI_VERSION_1
    out += static_cast<char>(type);
    out += static_cast<char>(id >> 8);
    out += static_cast<char>(id & 0xff);
    out += static_cast<char>((length >> 8) & 0xff);
    out += static_cast<char>(length & 0xff);
    out += static_cast<char>(padding);
    out += '\0';
}

void appendLength(std::string& out, size_t n)
{
    if (n < 128) {
        out += static_cast<char>(n);
    } else {
        out += static_cast<char>(((n >> 24) & 0x7f) | 0x80);
        out += static_cast<char>((n >> 16) & 0xff);
        out += static_cast<char>((n >> 8) & 0xff);
        out += static_cast<char>(n & 0xff);
    }
}

bool readLength(std::string_view& in, size_t& n)
{
    if (in.empty())
        return false;
    auto b0 = static_cast<unsigned char>(in[0]);
    if (!(b0 & 0x80)) {
        n = b0;
        in.remove_prefix(1);
        return true;
    }
    if (in.size() < 4)
        return false;
    n = (static_cast<size_t>(b0 & 0x7f) << 24) | (static_cast<size_t>(static_cast<unsigned char>(in[1])) << 16) |
        (static_cast<size_t>(static_cast<unsigned char>(in[2])) << 8) | static_cast<unsigned char>(in[3]);
    in.remove_prefix(4);
    return true;
}

} // namespace

void appendRecord(std::string& out, Type type, uint16_t requestId, std::string_view content)
{
    size_t padding = (8 - content.size() % 8) % 8;
    appendHeader(out, type, requestId, content.size(), padding);
    out.append(content);
    out.append(padding, '\0');
}

void appendRecords(std::string& out, Type type, uint16_t requestId, std::string_view content, size_t maxContent)
{
    if (maxContent == 0 || maxContent > kMaxContent)
        maxContent = kMaxContent;
    while (!content.empty()) {
        size_t n = std::min(content.size(), maxContent);
        appendRecord(out, type, requestId, content.substr(0, n));
        content.remove_prefix(n);
    }
}

std::string encodeNameValues(const NameValues& pairs)
{
    std::string out;
    for (const auto& [k, v] : pairs) {
        appendLength(out, k.size());
        appendLength(out, v.size());
        out += k;
        out += v;
    }
    return out;
}

std::optional<NameValues> decodeNameValues(std::string_view in)
{
    NameValues out;
    while (!in.empty()) {
        size_t nl = 0, vl = 0;
        if (!readLength(in, nl) || !readLength(in, vl) || in.size() < nl + vl)
            return std::nullopt;
        out.emplace_back(std::string(in.substr(0, nl)), std::string(in.substr(nl, vl)));
        in.remove_prefix(nl + vl);
    }
    return out;
}

std::string encodeRequestHead(uint16_t requestId, bool keepConnection, const NameValues& params, size_t maxContent)
{
    std::string out;
    char begin[8] = {0, static_cast<char>(kRoleResponder), static_cast<char>(keepConnection ? kFlagKeepConn : 0), 0, 0, 0, 0, 0};
    appendRecord(out, Type::BeginRequest, requestId, std::string_view(begin, 8));
    appendRecords(out, Type::Params, requestId, encodeNameValues(params), maxContent);
    appendRecord(out, Type::Params, requestId, {});
    return out;
}

std::string encodeStdin(uint16_t requestId, std::string_view data, size_t maxContent)
{
    std::string out;
    if (data.empty())
        appendRecord(out, Type::Stdin, requestId, {});
    else
        appendRecords(out, Type::Stdin, requestId, data, maxContent);
    return out;
}

std::string encodeAbort(uint16_t requestId)
{
    std::string out;
    appendRecord(out, Type::AbortRequest, requestId, {});
    return out;
}

std::string encodeGetValues(const std::vector<std::string>& names)
{
    NameValues pairs;
    for (const auto& n : names)
        pairs.emplace_back(n, "");
    std::string out;
    appendRecord(out, Type::GetValues, 0, encodeNameValues(pairs));
    return out;
}

std::optional<EndRequest> decodeEndRequest(std::string_view c)
{
    if (c.size() < 8)
        return std::nullopt;
    EndRequest e;
    e.appStatus = (static_cast<uint32_t>(static_cast<unsigned char>(c[0])) << 24) |
                  (static_cast<uint32_t>(static_cast<unsigned char>(c[1])) << 16) |
                  (static_cast<uint32_t>(static_cast<unsigned char>(c[2])) << 8) | static_cast<unsigned char>(c[3]);
    e.protocolStatus = static_cast<uint8_t>(c[4]);
    return e;
}

std::string RecordParser::feed(std::string_view data, const std::function<void(const Record&)>& onRecord)
{
    if (!error_.empty())
        return error_;
    while (!data.empty()) {
        switch (state_) {
        case State::Header: {
            size_t take = std::min<size_t>(8 - have_, data.size());
            std::copy_n(data.begin(), take, header_ + have_);
            have_ += take;
            data.remove_prefix(take);
            if (have_ < 8)
                return {};
            have_ = 0;
            if (header_[0] != 1)
                return error_ = "FastCGI record with version " + std::to_string(header_[0]) + " (expected 1)";
            type_ = static_cast<Type>(header_[1]);
            requestId_ = static_cast<uint16_t>((header_[2] << 8) | header_[3]);
            contentLength_ = static_cast<size_t>((header_[4] << 8) | header_[5]);
            padding_ = header_[6];
            switch (type_) {
            case Type::Stdout:
            case Type::Stderr:
            case Type::EndRequest:
            case Type::GetValuesResult:
            case Type::UnknownType: break;
            default:
                return error_ = "FastCGI record of type " + std::to_string(header_[1]) + ", which an application may not send";
            }
            if (contentLength_ > maxContent_)
                return error_ = "FastCGI record of " + std::to_string(contentLength_) + " bytes (limit " + std::to_string(maxContent_) + ")";
            if (type_ == Type::EndRequest && contentLength_ != 8)
                return error_ = "FastCGI END_REQUEST record of " + std::to_string(contentLength_) + " bytes (expected 8)";
            content_.clear();
            state_ = State::Content;
            if (contentLength_ == 0) {
                onRecord(Record{type_, requestId_, {}});
                state_ = padding_ ? State::Padding : State::Header;
            }
            break;
        }
        case State::Content: {
            size_t take = std::min(contentLength_ - content_.size(), data.size());
            content_.append(data.substr(0, take));
            data.remove_prefix(take);
            if (content_.size() == contentLength_) {
                onRecord(Record{type_, requestId_, content_});
                state_ = padding_ ? State::Padding : State::Header;
            }
            break;
        }
        case State::Padding: {
            size_t take = std::min(padding_, data.size());
            padding_ -= take;
            data.remove_prefix(take);
            if (padding_ == 0)
                state_ = State::Header;
            break;
        }
        }
    }
    return {};
}

} // namespace lido::fastcgi
