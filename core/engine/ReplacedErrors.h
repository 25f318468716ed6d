#pragma once
// httpErrors/@existingResponse="Replace" on the wire: a program's response (CGI, FastCGI) on its
// way to the client, its error responses replaced by the site's custom page. Internal to engine/.
#include "http/Connection.h"

#include <functional>
#include <memory>

namespace lido::engine {

// A program's response on its way to the client, with its error responses replaced: when
// `replace(status)` took the error (and answered on the real responder), the program's head and
// body go nowhere. Everything else passes through.
class ErrorReplacingResponder final : public http::Responder {
public:
    ErrorReplacingResponder(std::shared_ptr<http::Responder> inner, std::function<bool(int)> replace)
        : inner_(std::move(inner)), replace_(std::move(replace))
    {
    }
    const http::Request& request() const override { return inner_->request(); }
    asio::any_io_executor executor() override { return inner_->executor(); }
    void sendHead(http::ResponseHead head) override
    {
        if (!dropping_ && head.status >= 400 && replace_ && replace_(head.status)) {
            dropping_ = true;
            return;
        }
        replace_ = nullptr;
        inner_->sendHead(std::move(head));
    }
    void sendBody(std::string data, std::function<void(bool)> done) override
    {
        if (dropping_)
            return drop(std::move(done));
        inner_->sendBody(std::move(data), std::move(done));
    }
    void sendRaw(std::string data, std::function<void(bool)> done) override
    {
        if (dropping_)
            return drop(std::move(done));
        inner_->sendRaw(std::move(data), std::move(done));
    }
    void sendFile(int fd, uint64_t offset, uint64_t length, std::function<void(bool)> done) override
    {
        if (dropping_)
            return drop(std::move(done));
        inner_->sendFile(fd, offset, length, std::move(done));
    }
    void finish() override
    {
        if (!dropping_)
            inner_->finish();
    }
    void cork() override { inner_->cork(); }
    void uncork() override { inner_->uncork(); }
    void abort() override
    {
        if (!dropping_)
            inner_->abort();
    }
    bool headSent() const override { return dropping_ || inner_->headSent(); }
    void setSubstatus(int substatus) override { inner_->setSubstatus(substatus); }
    int substatus() const override { return inner_->substatus(); }
    bool closed() const override { return inner_->closed(); }
    void onBody(std::function<void(std::string_view)> chunk, std::function<void()> end) override { inner_->onBody(std::move(chunk), std::move(end)); }
    void onAbort(std::function<void()> aborted) override { inner_->onAbort(std::move(aborted)); }
    void setBodyBacklog(size_t bytes) override { inner_->setBodyBacklog(bytes); }
    void keepAlive(bool on) override { inner_->keepAlive(on); }
    void onComplete(std::function<void(int, uint64_t)> done) override { inner_->onComplete(std::move(done)); }
    void setConfiguredHeaders(const std::vector<http::Header>* always, const std::vector<http::Header>* redirects) override
    {
        inner_->setConfiguredHeaders(always, redirects);
    }
    void setBodyEncoding(http::EncoderChoice choose) override { inner_->setBodyEncoding(std::move(choose)); }

private:
    void drop(std::function<void(bool)> done)
    {
        if (done)
            asio::post(inner_->executor(), [done = std::move(done)] { done(true); });
    }
    std::shared_ptr<http::Responder> inner_;
    std::function<bool(int)> replace_;
    bool dropping_ = false;
};

} // namespace lido::engine
