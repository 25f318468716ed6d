#include "http/Http2Session.h"

#include <asio/post.hpp>

namespace lido::http::h2 {

asio::any_io_executor Stream::executor()
{
    return session_->executor();
}

void Stream::later(std::function<void(bool)> done, bool ok)
{
    if (done)
        asio::post(session_->executor(), [done = std::move(done), ok] { done(ok); });
}

void Stream::changed()
{
    session_->resume(*this);
    session_->flush();
}

void Stream::sendHead(ResponseHead head)
{
    if (headSent_ || closed_)
        return;
    headSent_ = true;
    status_ = head.status;
    bodyless_ = !prepareHead(head) || headRequest_;
    head_ = std::move(head);
    session_->toSubmit_.push_back(this);
    session_->flush();
}

void Stream::sendBody(std::string data, std::function<void(bool)> done)
{
    if (encoder_ && !closed_ && !bodyless_ && !data.empty())
        data = encoder_->encode(data);
    if (closed_ || bodyless_ || data.empty()) {
        later(std::move(done), !closed_);
        return;
    }
    out_.push_back(Piece{std::move(data), 0, -1, 0, 0, std::move(done)});
    changed();
}

void Stream::sendRaw(std::string, std::function<void(bool)> done)
{
    // A non-parsed-header program writes HTTP/1.x itself, which has no meaning on a stream: the
    // client is told to ask again over HTTP/1.1 (RFC 9113 §8.1, HTTP_1_1_REQUIRED).
    headSent_ = true;
    session_->reset(*this, NGHTTP2_HTTP_1_1_REQUIRED);
    later(std::move(done), false);
    session_->flush();
}

void Stream::sendFile(int fd, uint64_t offset, uint64_t length, std::function<void(bool)> done)
{
    if (closed_ || bodyless_ || length == 0) {
        later(std::move(done), !closed_);
        return;
    }
    out_.push_back(Piece{{}, 0, fd, offset, length, std::move(done)});
    changed();
}

void Stream::finish()
{
    if (finished_ || closed_)
        return;
    if (!headSent_)
        sendHead(ResponseHead{500, {}, {}, 0});
    if (encoder_ && !bodyless_) {
        std::string tail = encoder_->finish();
        encoder_.reset();
        if (!tail.empty())
            out_.push_back(Piece{std::move(tail), 0, -1, 0, 0, {}});
    }
    finished_ = true;
    changed();
}

void Stream::abort()
{
    abortCb_ = nullptr;
    finished_ = true;
    session_->reset(*this, NGHTTP2_INTERNAL_ERROR);
    session_->flush();
}

void Stream::onBody(std::function<void(std::string_view)> chunk, std::function<void()> end)
{
    bodyCb_ = std::move(chunk);
    bodyEndCb_ = std::move(end);
    if (requestEnded_ && bodyEndCb_)
        asio::post(session_->executor(), [self = shared_from_this()] {
            if (self->bodyEndCb_)
                self->bodyEndCb_();
        });
}

void Stream::setBodyBacklog(size_t bytes)
{
    backlog_ = bytes;
    if (backlog_ < kStreamWindow && unconsumed_ > 0) {
        session_->consume(*this, unconsumed_);
        unconsumed_ = 0;
        session_->flush(); // the WINDOW_UPDATE
    }
}

void Stream::answer(int status, const std::string& detail)
{
    std::string body = dispatcher_->errorBody(status, req_, detail);
    bodyCb_ = nullptr;
    sendHead(ResponseHead{status, {}, {{"Content-Type", "text/html; charset=utf-8"}}, body.size()});
    sendBody(std::move(body), {});
    finish();
}

// The stream is over: complete (its response sent) or not (reset by the client, the connection
// gone). What the handler gave is released, so the handler and the stream do not hold each other.
void Stream::closedBySession(bool complete)
{
    if (closed_)
        return;
    closed_ = true;
    auto aborted = std::move(abortCb_);
    abortCb_ = nullptr;
    bodyCb_ = nullptr;
    bodyEndCb_ = nullptr;
    if (aborted && !complete)
        aborted();
    for (auto& p : out_)
        if (p.done)
            later(std::move(p.done), false);
    out_.clear();
    completed(headSent_, status_, bytesSent_);
    resetResponse();
}

} // namespace lido::http::h2
