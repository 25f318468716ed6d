#pragma once
// One HTTP/1.1 connection: Asio socket + llhttp parser. Keep-alive, pipelining (one request at a
// time, the next parsed when the response is done), chunked request bodies streamed to the
// handler with back-pressure, Expect: 100-continue, limits with the right status, timeouts.
#include "http/Http.h"

#include <asio.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct llhttp__internal_s;

namespace lido {
class AddressRanges;
}

namespace lido::http {

struct Limits {
    size_t maxUrl = 4096;                  // path bytes -> 414
    size_t maxQueryString = 2048;          // query bytes -> 414 (IIS answers 404.15; Lido says 414)
    size_t maxHeaderBytes = 16384;         // header block -> 431 (IIS's MaxRequestBytes default)
    uint64_t maxContentLength = 30000000;  // body -> 413
    std::chrono::milliseconds headerTimeout{30000}; // headers not complete -> 408
    std::chrono::milliseconds idleTimeout{120000};  // keep-alive idle -> close
    // HTTP/2 (lido/http2): h2c with prior knowledge on plain connections; over TLS h2 is chosen by
    // ALPN (the endpoint offers it). The header list limit is maxHeaderBytes (advertised).
    bool h2c = false;
    uint32_t maxConcurrentStreams = 100;
    uint32_t headerTableSize = 4096;
    // Defences, per connection and 10-second window: streams the client resets before their
    // response is complete (rapid reset, CVE-2023-44487), and frames that cost the server work
    // without a request (SETTINGS, PING, PRIORITY, empty DATA or CONTINUATION). Past either: GOAWAY.
    uint32_t maxResetsPerWindow = 100;
    uint32_t maxControlFramesPerWindow = 200;
    // X-Forwarded-For from these peers names the client (lido/forwardedFor); null: from none.
    std::shared_ptr<const lido::AddressRanges> trustedProxies;
    std::string forwardedHeader = "X-Forwarded-For";
};

// The request's remoteAddress and remotePort: the client's when its peer is a trusted proxy.
void applyTrustedProxies(Request& request, const Limits& limits);

// What a handler gets for one request.
class Responder {
public:
    virtual ~Responder() = default;
    virtual const Request& request() const = 0;
    virtual asio::any_io_executor executor() = 0;
    virtual void sendHead(ResponseHead head) = 0;
    // `done(ok)` runs once the data is written (or the connection failed): back-pressure.
    virtual void sendBody(std::string data, std::function<void(bool)> done = {}) = 0;
    virtual void sendRaw(std::string data, std::function<void(bool)> done = {}) = 0; // NPH: bytes as they are
    virtual void sendFile(int fd, uint64_t offset, uint64_t length, std::function<void(bool)> done) = 0;
    virtual void finish() = 0; // the response is complete
    // Between cork() and uncork() what is sent is held and then goes out in one write (a
    // FastCGI answer's head, body and end). Nested pairs are allowed. Default: nothing held.
    virtual void cork() {}
    virtual void uncork() {}
    // The response cannot be completed (the program died mid-body): the connection is closed
    // without the final chunk, so the client sees a truncated response, not a short one.
    virtual void abort() = 0;
    virtual bool headSent() const = 0;
    // IIS's substatus of this response (404.8: hidden segment), for the access log; never sent.
    virtual void setSubstatus(int substatus) = 0;
    virtual int substatus() const = 0;
    virtual bool closed() const = 0;
    // Request body, pushed as it arrives. Set before returning from dispatch.
    virtual void onBody(std::function<void(std::string_view chunk)> chunk, std::function<void()> end) = 0;
    virtual void onAbort(std::function<void()> aborted) = 0; // the client went away
    // The handler holds this much unconsumed body; above a threshold the socket is not read.
    virtual void setBodyBacklog(size_t bytes) = 0;
    virtual void keepAlive(bool) = 0; // force Connection: close when false
    // Runs once per request when its response is complete or the connection dies (status 0 when
    // no head was sent): access log and metrics.
    virtual void onComplete(std::function<void(int status, uint64_t bytesSent)> done) = 0;
    // The request's bytes so far, for cs-bytes: HTTP/1.1's request line, headers and body as they
    // came; HTTP/2's headers by RFC 9113's size (HPACK decoded) and body.
    virtual uint64_t bytesReceived() const { return 0; }
    // Headers the configuration adds (httpProtocol): `always` to this response unless it sets
    // the header itself, `redirects` to a 3xx with Location. Owned by the caller for the request.
    virtual void setConfiguredHeaders(const std::vector<Header>* always, const std::vector<Header>* redirects)
    {
        (void)always;
        (void)redirects;
    }
    // Compression of a streamed response (CGI, FastCGI): asked once, at sendHead. Default: none.
    virtual void setBodyEncoding(EncoderChoice choose) { (void)choose; }
};

// What HTTP/1.1's connection and HTTP/2's streams keep alike for a response: the configured
// headers, the body's coding, the substatus and the callbacks.
class ResponderBase : public Responder {
public:
    int substatus() const override { return substatus_; }
    void setSubstatus(int substatus) override { substatus_ = substatus; }
    void onAbort(std::function<void()> aborted) override { abortCb_ = std::move(aborted); }
    void onComplete(std::function<void(int, uint64_t)> done) override { completeCb_ = std::move(done); }
    void setBodyEncoding(EncoderChoice choose) override { encoderChoice_ = std::move(choose); }
    void setConfiguredHeaders(const std::vector<Header>* always, const std::vector<Header>* redirects) override
    {
        configuredAlways_ = always;
        configuredRedirects_ = redirects;
    }

protected:
    // Before a head is framed: the body's coding chosen (when a body is allowed), the configured
    // headers added. Returns whether the status allows a body.
    bool prepareHead(ResponseHead& head);
    // The request is over: the completion callback runs once (status 0 when no head was sent).
    void completed(bool headSent, int status, uint64_t bytesSent);
    void resetResponse(); // for the connection's next request

    int substatus_ = 0;
    std::function<void()> abortCb_;
    std::function<void(int, uint64_t)> completeCb_;
    EncoderChoice encoderChoice_;          // this request's compression, asked at sendHead
    std::unique_ptr<BodyEncoder> encoder_; // the body's coding, when one was chosen
    const std::vector<Header>* configuredAlways_ = nullptr; // this request's, from its dispatcher
    const std::vector<Header>* configuredRedirects_ = nullptr;
};

class Dispatcher {
public:
    virtual ~Dispatcher() = default;
    virtual void dispatch(std::shared_ptr<Responder> responder) = 0;
    // A response the connection makes itself (400, 408, 413, 414, 431): the engine renders the body.
    virtual std::string errorBody(int status, const Request& request, const std::string& detail) = 0;
    virtual void connectionClosed() {}
    // HTTP/2 serves several requests at once on one connection: a dispatcher for one more of
    // them, sharing this one's connection (null: this one serves any number at once).
    virtual std::shared_ptr<Dispatcher> forStream() { return nullptr; }
    // Something the connection did about a misbehaving client (an HTTP/2 flood, a GOAWAY):
    // kind is an event name ("http2.rapid-reset"), detail a sentence.
    virtual void protocolEvent(const std::string& kind, const std::string& detail)
    {
        (void)kind;
        (void)detail;
    }
};

// A redirect (301, 302, 303, 307) to location, with a short HTML body naming it.
void sendRedirect(Responder& responder, int status, const std::string& location);

// A connection a stop can end gracefully: an idle one closes at once, a busy one after its
// current response (HTTP/1.1: Connection: close; HTTP/2: GOAWAY, then its open streams finish).
class Graceful {
public:
    virtual ~Graceful() = default;
    virtual void closeGracefully() = 0;
};

// The open connections of one worker thread, touched on that thread only: what a stop reaches so
// that idle keep-alive connections do not hold it for its whole grace period.
class ConnectionSet {
public:
    void add(const std::shared_ptr<Graceful>& connection);
    // Every connection closes gracefully, and so does each one added from now on.
    void closeAll();
    bool closing() const { return closing_; }

private:
    std::vector<std::weak_ptr<Graceful>> live_;
    size_t pruneAt_ = 256;
    bool closing_ = false;
};

// How a connection was admitted: the client's address when a proxy in front said it (the PROXY
// protocol; empty: the socket's peer), and the worker's set it joins (none: it joins none).
struct Admission {
    std::string clientAddress;
    uint16_t clientPort = 0;
    std::shared_ptr<ConnectionSet> set;
};

class TlsEndpoint;
void startConnection(asio::ip::tcp::socket socket, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, Admission admission = {});
// Over TLS: the handshake (with the header timeout), then HTTP/2 when ALPN chose h2, else the same
// HTTP/1.1. The connection keeps the endpoint (its certificates) alive.
void startTlsConnection(asio::ip::tcp::socket socket, std::shared_ptr<TlsEndpoint> tls, std::shared_ptr<Dispatcher> dispatcher,
                        const Limits& limits, Admission admission = {});

} // namespace lido::http
