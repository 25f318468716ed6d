#include "pool/FcgiExchange.h"

#include <algorithm>

namespace lido::pool {

const char* causeName(FailCause c)
{
    switch (c) {
    case FailCause::Crash: return "crash";
    case FailCause::Timeout: return "timeout";
    case FailCause::Connection: return "connection";
    case FailCause::Protocol: return "protocol";
    case FailCause::Stderr: return "stderr";
    case FailCause::Stopped: return "stopped";
    }
    return "?";
}

std::string FcgiExchange::begin(const fastcgi::NameValues& params)
{
    return fastcgi::encodeRequestHead(1, true, params) + more();
}

std::string FcgiExchange::more()
{
    std::string data;
    if (stdinClosed_)
        return data;
    if (!pending_.empty()) {
        data = fastcgi::encodeStdin(1, pending_);
        keepSent(pending_);
        pending_.clear();
    }
    if (stdinDone_) {
        data += fastcgi::encodeStdin(1, {}); // the end of stdin
        stdinClosed_ = true;
    }
    return data;
}

void FcgiExchange::keepSent(std::string_view data)
{
    if (!retriable_)
        return;
    if (sent_.size() + data.size() > kRetryKeepLimit) {
        retriable_ = false;
        std::string().swap(sent_);
        return;
    }
    sent_.append(data);
}

bool FcgiExchange::rewind()
{
    if (retried_ || !retriable_ || anyByte_)
        return false;
    retried_ = true;
    pending_ = std::move(sent_) + pending_;
    sent_.clear();
    stdinClosed_ = false;
    parser_ = fastcgi::RecordParser();
    return true;
}

FcgiExchange::Output FcgiExchange::feed(std::string_view bytes)
{
    Output out;
    if (done_)
        return out;
    anyByte_ = anyByte_ || !bytes.empty();
    std::string err = parser_.feed(bytes, [&](const fastcgi::Record& r) {
        if (!done_)
            onRecord(r, out);
    });
    if (!err.empty() && !done_) {
        done_ = true;
        out.failure = Failure{502, "FastCGI protocol error: " + err, FailCause::Protocol, true};
    }
    return out;
}

void FcgiExchange::onRecord(const fastcgi::Record& r, Output& out)
{
    if (r.requestId != 1 && r.type != fastcgi::Type::UnknownType) {
        done_ = true;
        out.failure = Failure{502, "FastCGI protocol error: a record for request " + std::to_string(r.requestId) + " (expected 1)",
                              FailCause::Protocol, true};
        return;
    }
    bool ignoreStderr = rules_->stderrMode == StderrMode::IgnoreAndReturn200;
    switch (r.type) {
    case fastcgi::Type::Stdout: {
        if (headParsed_) {
            body_.append(r.content);
            if (streaming_ || body_.size() > rules_->responseBufferLimit || ignoreStderr)
                flush(out, false);
            return;
        }
        head_.append(r.content);
        cgi::HeaderParse p = cgi::parseResponseHeaders(head_, rules_->headerSyntax);
        if (p.state == cgi::HeaderParse::State::NeedMore)
            return;
        if (p.state == cgi::HeaderParse::State::Error) {
            done_ = true;
            out.failure = Failure{502,
                                  "the FastCGI application " + rules_->application + " sent malformed headers: " + p.error +
                                      (rules_->headerSyntax == cgi::HeaderSyntax::Strict ? " (responseHeaders=\"Relaxed\" accepts more)" : ""),
                                  FailCause::Protocol, false};
            return;
        }
        headParsed_ = true;
        response_ = cgi::toResponseHead(p.head);
        body_ = head_.substr(p.head.consumed);
        std::string().swap(head_);
        if (ignoreStderr || body_.size() > rules_->responseBufferLimit)
            flush(out, false);
        return;
    }
    case fastcgi::Type::Stderr: {
        if (r.content.empty())
            return; // the end of the stderr stream
        stderrText_.append(r.content.substr(0, std::min<size_t>(r.content.size(), 65536)));
        std::string line(r.content.substr(0, 1024));
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
            line.pop_back();
        out.stderrLines.push_back(std::move(line));
        if (rules_->stderrMode == StderrMode::TerminateProcess && !streaming_) {
            done_ = true;
            out.failure = Failure{500, "the FastCGI application wrote to stderr (stderrMode=TerminateProcess): " + stderrText_,
                                  FailCause::Stderr, true};
        }
        return;
    }
    case fastcgi::Type::EndRequest: {
        done_ = true;
        bool hadStderr = !stderrText_.empty();
        if (!headParsed_) {
            out.failure = Failure{502,
                                  "the FastCGI application ended the request without a complete set of headers" +
                                      (hadStderr ? "; stderr: \"" + stderrText_.substr(0, 4096) + "\"" : std::string()),
                                  FailCause::Protocol, false};
            return;
        }
        out.ended = true;
        if (hadStderr && !streaming_ &&
            (rules_->stderrMode == StderrMode::ReturnStdErrIn500 || rules_->stderrMode == StderrMode::ReturnGeneric500)) {
            // The request ended cleanly: the answer becomes a 500; instance and connection stay.
            out.errorStatus = 500;
            out.errorDetail = rules_->stderrMode == StderrMode::ReturnStdErrIn500 ? stderrText_ : std::string();
            return;
        }
        flush(out, true);
        return;
    }
    default: return;
    }
}

void FcgiExchange::flush(Output& out, bool finish)
{
    if (!streaming_) {
        out.sendHead = true;
        out.head = response_;
        if (finish && !out.head.contentLength)
            out.head.contentLength = body_.size(); // the whole answer is here: no chunking needed
    }
    streaming_ = true;
    out.body += body_;
    body_.clear();
    out.finish = out.finish || finish;
}

} // namespace lido::pool
