#pragma once
// The FastCGI wire format (FastCGI specification 1.0) as pure functions from values to bytes
// and back, and a resumable record parser fed arbitrary chunks (nginx, h2o). The pool owns
// processes and connections; this file only encodes and decodes.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lido::fastcgi {

enum class Type : uint8_t {
    BeginRequest = 1,
    AbortRequest = 2,
    EndRequest = 3,
    Params = 4,
    Stdin = 5,
    Stdout = 6,
    Stderr = 7,
    Data = 8,
    GetValues = 9,
    GetValuesResult = 10,
    UnknownType = 11,
};

constexpr uint16_t kRoleResponder = 1;
constexpr uint8_t kFlagKeepConn = 1;
constexpr size_t kMaxContent = 65535;

using NameValues = std::vector<std::pair<std::string, std::string>>;

// One or more records carrying `content` (split at maxContent), padded to 8 bytes.
void appendRecords(std::string& out, Type type, uint16_t requestId, std::string_view content, size_t maxContent = kMaxContent);
// One record, even when content is empty (the end-of-stream marker).
void appendRecord(std::string& out, Type type, uint16_t requestId, std::string_view content);

std::string encodeNameValues(const NameValues& pairs);
std::optional<NameValues> decodeNameValues(std::string_view data);

// BEGIN_REQUEST (responder, keep-conn as asked) + PARAMS records + the empty PARAMS record.
std::string encodeRequestHead(uint16_t requestId, bool keepConnection, const NameValues& params, size_t maxContent = kMaxContent);
// STDIN records for a body chunk; an empty chunk is the end of stdin.
std::string encodeStdin(uint16_t requestId, std::string_view data, size_t maxContent = kMaxContent);
std::string encodeAbort(uint16_t requestId);
std::string encodeGetValues(const std::vector<std::string>& names = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"});

struct EndRequest {
    uint32_t appStatus = 0;
    uint8_t protocolStatus = 0; // 0 request complete, 1 cant mpx conn, 2 overloaded, 3 unknown role
};

struct Record {
    Type type;
    uint16_t requestId;
    std::string_view content; // valid during the callback only
};

// Resumable parser of the application's records. Any split of the input gives the same records.
// A version other than 1, a type the application may not send, or content longer than allowed is
// an error with a reason; the parser then refuses further input.
class RecordParser {
public:
    explicit RecordParser(size_t maxContent = kMaxContent) : maxContent_(maxContent) {}
    // Returns an empty string, or the protocol error.
    std::string feed(std::string_view data, const std::function<void(const Record&)>& onRecord);
    bool failed() const { return !error_.empty(); }

private:
    enum class State { Header, Content, Padding };
    State state_ = State::Header;
    uint8_t header_[8]{};
    size_t have_ = 0;
    Type type_{};
    uint16_t requestId_ = 0;
    size_t contentLength_ = 0;
    size_t padding_ = 0;
    std::string content_;
    size_t maxContent_;
    std::string error_;
};

std::optional<EndRequest> decodeEndRequest(std::string_view content);

} // namespace lido::fastcgi
