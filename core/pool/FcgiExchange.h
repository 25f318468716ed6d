#pragma once
// One FastCGI request as bytes, with no process or socket: the records to send (BEGIN_REQUEST,
// PARAMS, STDIN as the body arrives) and, fed what the application answers, what to do with it:
// the head and body for the client, stderr lines for the log, and the stderrMode decision (a 500,
// a 200 that ignores stderr, or the instance terminated). Tested with recorded bytes.
#include "cgi/CgiResponseParser.h"
#include "fastcgi/FcgiProtocol.h"
#include "http/Http.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lido::pool {

enum class StderrMode { ReturnStdErrIn500, ReturnGeneric500, IgnoreAndReturn200, TerminateProcess };

// Why an exchange or an instance failed: counted and said by the pool.
enum class FailCause { Crash, Timeout, Connection, Protocol, Stderr, Stopped };
const char* causeName(FailCause c);

struct ExchangeRules {
    std::string application; // fullPath, named in messages
    StderrMode stderrMode = StderrMode::ReturnStdErrIn500;
    cgi::HeaderSyntax headerSyntax = cgi::HeaderSyntax::Strict;
    size_t responseBufferLimit = 4 * 1024 * 1024;
};

class FcgiExchange {
public:
    explicit FcgiExchange(const ExchangeRules& rules) : rules_(&rules) {}

    // --- the request
    void addStdin(std::string_view data) { pending_.append(data); }
    void endStdin() { stdinDone_ = true; }
    // BEGIN_REQUEST (keep the connection), PARAMS and the stdin there is, with its end when the
    // body is complete, in one piece: libfcgi closes a kept connection when a STDIN record comes
    // after it has answered (measured).
    std::string begin(const fastcgi::NameValues& params);
    std::string more(); // stdin that came since, and its end once complete; empty when nothing
    // Sends the request again (its instance exited before answering): false when its body was
    // too large to keep (over 1 MiB) or it has been sent again already.
    bool rewind();
    bool retried() const { return retried_; }

    // --- the answer
    struct Failure {
        int status = 502;
        std::string detail;
        FailCause cause = FailCause::Protocol;
        bool stopInstance = false; // the instance cannot be trusted with another request
    };
    struct Output {
        bool sendHead = false; // head goes first (once)
        http::ResponseHead head;
        std::string body;
        bool finish = false;                 // the response is complete
        std::vector<std::string> stderrLines; // for the log, one per STDERR record
        std::optional<Failure> failure;       // the exchange failed: the connection is not reused
        // END_REQUEST: the instance is free again. With errorStatus set, the client gets that
        // error instead of the answer (stderr under ReturnStdErrIn500/ReturnGeneric500).
        bool ended = false;
        int errorStatus = 0;
        std::string errorDetail;
    };
    Output feed(std::string_view bytes);
    bool anyByte() const { return anyByte_; }
    bool streaming() const { return streaming_; }
    const std::string& stderrText() const { return stderrText_; }

    static constexpr size_t kRetryKeepLimit = 1024 * 1024;

private:
    void onRecord(const fastcgi::Record& r, Output& out);
    void flush(Output& out, bool finish);
    void keepSent(std::string_view data);
    const ExchangeRules* rules_;
    std::string pending_;
    bool stdinDone_ = false, stdinClosed_ = false;
    bool retriable_ = true, retried_ = false;
    std::string sent_; // stdin sent so far, for rewind()
    fastcgi::RecordParser parser_;
    std::string head_; // stdout until the header block is complete
    bool headParsed_ = false, streaming_ = false, anyByte_ = false, done_ = false;
    http::ResponseHead response_;
    std::string body_; // held back while stderr could still turn the answer into a 500
    std::string stderrText_;
};

} // namespace lido::pool
