#include "http/Connection.h"

#include "http/Http2.h"
#include "http/Tls.h"
#include "util/Clock.h"

#include <asio/ssl.hpp>

#include <algorithm>

#include <llhttp.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <sys/sendfile.h>

namespace lido::http {

namespace {

constexpr size_t kBacklogLimit = 256 * 1024; // unconsumed body bytes before reading pauses

using namespace std::string_view_literals;

void appendNumber(std::string& out, uint64_t n)
{
    char digits[20];
    char* p = digits + sizeof digits;
    do {
        *--p = static_cast<char>('0' + n % 10);
        n /= 10;
    } while (n);
    out.append(p, static_cast<size_t>(digits + sizeof digits - p));
}

} // namespace

// One client connection, over plain TCP or TLS (Tls: asio's SSL stream over the socket; no
// sendfile then, the file goes through the TLS layer in pieces).
template <bool Tls>
class Connection final : public ResponderBase, public Graceful, public std::enable_shared_from_this<Connection<Tls>> {
public:
    using Stream = std::conditional_t<Tls, asio::ssl::stream<asio::ip::tcp::socket>, asio::ip::tcp::socket>;
    using std::enable_shared_from_this<Connection<Tls>>::shared_from_this;
    using std::enable_shared_from_this<Connection<Tls>>::weak_from_this;
    using Clock = std::chrono::steady_clock;

    Connection(Stream socket, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, Admission admission, std::shared_ptr<void> keep = {})
        : socket_(std::move(socket)), dispatcher_(std::move(dispatcher)), limits_(limits), timer_(socket_.get_executor()), keep_(std::move(keep)),
          admission_(std::move(admission))
    {
        llhttp_init(&parser_, HTTP_REQUEST, &settings());
        parser_.data = this;
        req_.headers.reserve(16); // kept from request to request (see nextRequest)
        asio::error_code ec;
        auto remote = lowest().remote_endpoint(ec);
        auto local = lowest().local_endpoint(ec);
        remoteAddress_ = admission_.clientAddress.empty() ? remote.address().to_string() : admission_.clientAddress;
        remotePort_ = admission_.clientAddress.empty() ? remote.port() : admission_.clientPort;
        localAddress_ = local.address().to_string();
        localPort_ = local.port();
        lowest().set_option(asio::ip::tcp::no_delay(true), ec);
    }

    asio::ip::tcp::socket& lowest()
    {
        if constexpr (Tls)
            return socket_.next_layer();
        else
            return socket_;
    }

    // A connection that ends after its last response (Connection: close, the peer gone while
    // idle) is destroyed without closeNow(): the dispatcher hears of its end all the same.
    ~Connection() override
    {
        if (!closed_)
            dispatcher_->connectionClosed();
    }

    void start()
    {
        if (admission_.set)
            admission_.set->add(shared_from_this());
        if constexpr (Tls) {
            // The handshake has the header timeout: a client that opens and says nothing is gone.
            armTimer(limits_.headerTimeout);
            socket_.async_handshake(asio::ssl::stream_base::server, [self = shared_from_this()](const asio::error_code& ec) {
                if (ec) {
                    self->closeNow();
                    return;
                }
                const unsigned char* alpn = nullptr;
                unsigned int alpnLength = 0;
                SSL_get0_alpn_selected(self->socket_.native_handle(), &alpn, &alpnLength);
                if (alpnLength == 2 && std::memcmp(alpn, "h2", 2) == 0) {
                    self->handOver({});
                    return;
                }
                self->armTimer(self->limits_.idleTimeout);
                self->readMore();
            });
        } else {
            armTimer(limits_.idleTimeout);
            readMore();
        }
    }

    // Graceful: idle (between requests, or before the first) closes now; a request in progress
    // gets Connection: close, or the connection closes after its response.
    void closeGracefully() override
    {
        if (closed_ || closing_)
            return;
        keepAlive_ = false;
        if (!messageStarted_) {
            asio::error_code ignored;
            lowest().shutdown(asio::ip::tcp::socket::shutdown_both, ignored); // the pending read ends; closeNow follows
            closing_ = true;
            armTimer(std::chrono::milliseconds(2000));
        }
    }

    // Responder
    const Request& request() const override { return req_; }
    asio::any_io_executor executor() override { return socket_.get_executor(); }
    bool headSent() const override { return headSent_; }
    bool closed() const override { return closed_; }
    void keepAlive(bool on) override
    {
        if (!on)
            keepAlive_ = false;
    }

    void sendHead(ResponseHead head) override
    {
        if (headSent_ || closed_)
            return;
        headSent_ = true;
        status_ = head.status;
        bool bodyAllowed = prepareHead(head);
        bool http10 = req_.versionMajor == 1 && req_.versionMinor == 0;
        // Every piece with its length known (string_view literals): no strlen per piece.
        std::string out;
        out.reserve(320);
        out += http10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv;
        appendNumber(out, static_cast<uint64_t>(head.status));
        out += ' ';
        if (head.reason.empty())
            out += reasonPhrase(head.status);
        else
            out += head.reason;
        out += "\r\nDate: "sv;
        out += currentHttpDate();
        out += "\r\nServer: Lido/0.1\r\n"sv;
        if (head.shared)
            out += head.shared->wire;
        for (const Header& h : head.headers)
            HeaderBlock::appendLine(out, h);
        chunked_ = false;
        if (bodyAllowed) {
            if (head.contentLength) {
                out += "Content-Length: "sv;
                appendNumber(out, *head.contentLength);
                out += "\r\n"sv;
            } else if (!http10) {
                out += "Transfer-Encoding: chunked\r\n"sv;
                chunked_ = !headRequest_;
            } else {
                keepAlive_ = false; // the body ends when the connection does
            }
        }
        if (!keepAlive_)
            out += "Connection: close\r\n"sv;
        else if (http10)
            out += "Connection: keep-alive\r\n"sv;
        out += "\r\n"sv;
        enqueue(std::move(out), {});
    }

    void cork() override { ++corked_; }
    void uncork() override
    {
        if (corked_ > 0 && --corked_ == 0)
            pump();
    }

    void sendBody(std::string data, std::function<void(bool)> done) override
    {
        if (encoder_ && !closed_ && !headRequest_ && !data.empty())
            data = encoder_->encode(data);
        if (closed_ || headRequest_ || data.empty()) {
            if (done)
                asio::post(socket_.get_executor(), [done, ok = !closed_] { done(ok); });
            return;
        }
        if (chunked_) {
            char size[32];
            std::snprintf(size, sizeof size, "%zx\r\n", data.size());
            data.insert(0, size);
            data += "\r\n";
        }
        enqueue(std::move(data), std::move(done));
    }

    void sendRaw(std::string data, std::function<void(bool)> done) override
    {
        headSent_ = true;
        keepAlive_ = false; // an NPH program owns the framing
        enqueue(std::move(data), std::move(done));
    }

    void sendFile(int fd, uint64_t offset, uint64_t length, std::function<void(bool)> done) override
    {
        if (closed_ || headRequest_ || length == 0) {
            if (done)
                asio::post(socket_.get_executor(), [done, ok = !closed_] { done(ok); });
            return;
        }
        Item item;
        item.fileFd = fd;
        item.offset = offset;
        item.length = length;
        item.done = std::move(done);
        queue_.push_back(std::move(item));
        pump();
    }

    void finish() override
    {
        if (finishRequested_ || closed_)
            return;
        if (!headSent_)
            sendHead(ResponseHead{500, {}, {}, 0});
        if (encoder_ && !headRequest_) {
            std::string tail = encoder_->finish();
            encoder_.reset();
            if (!tail.empty())
                sendBody(std::move(tail), {});
        }
        finishRequested_ = true;
        if (chunked_)
            enqueue("0\r\n\r\n", {});
        pump();
    }

    void abort() override
    {
        keepAlive_ = false;
        // Whatever is queued still goes out; then the socket closes without a terminator.
        chunked_ = false;
        finishRequested_ = true;
        closing_ = true;
        abortCb_ = nullptr;
        pump();
    }

    void onBody(std::function<void(std::string_view)> chunk, std::function<void()> end) override
    {
        bodyCb_ = std::move(chunk);
        bodyEndCb_ = std::move(end);
        if (messageComplete_ && bodyEndCb_)
            asio::post(socket_.get_executor(), [self = shared_from_this()] {
                if (self->bodyEndCb_)
                    self->bodyEndCb_();
            });
    }
    void completed() { ResponderBase::completed(headSent_, status_, bytesSent_); }
    uint64_t bytesReceived() const override
    {
        // "METHOD TARGET HTTP/1.1\r\n", each "Name: value\r\n" (headerBytes_), "\r\n", the body.
        return req_.method.size() + req_.target.size() + 12 + headerBytes_ + 2 + bodyReceived_;
    }

    void setBodyBacklog(size_t bytes) override
    {
        backlog_ = bytes;
        if (readWaiting_ && backlog_ < kBacklogLimit) {
            readWaiting_ = false;
            readMore();
        }
    }

private:
    struct Item {
        std::string data;
        int fileFd = -1;
        uint64_t offset = 0;
        uint64_t length = 0;
        std::function<void(bool)> done;
    };

    static llhttp_settings_t& settings()
    {
        static llhttp_settings_t s = [] {
            llhttp_settings_t st;
            llhttp_settings_init(&st);
            st.on_message_begin = [](llhttp_t* p) { return self(p)->onMessageBegin(); };
            st.on_url = [](llhttp_t* p, const char* at, size_t n) { return self(p)->onUrl(at, n); };
            st.on_url_complete = [](llhttp_t* p) { return self(p)->onUrlComplete(); };
            st.on_header_field = [](llhttp_t* p, const char* at, size_t n) { return self(p)->onHeaderPart(self(p)->field_, at, n); };
            st.on_header_value = [](llhttp_t* p, const char* at, size_t n) { return self(p)->onHeaderValue(at, n); };
            st.on_header_value_complete = [](llhttp_t* p) { return self(p)->onHeaderComplete(); };
            st.on_headers_complete = [](llhttp_t* p) { return self(p)->onHeadersComplete(); };
            st.on_body = [](llhttp_t* p, const char* at, size_t n) { return self(p)->onBodyData(at, n); };
            st.on_message_complete = [](llhttp_t* p) { return self(p)->onMessageComplete(); };
            return st;
        }();
        return s;
    }
    static Connection* self(llhttp_t* p) { return static_cast<Connection*>(p->data); }

    int refuse(int status, std::string detail)
    {
        pendingStatus_ = status;
        pendingDetail_ = std::move(detail);
        return -1;
    }

    int onMessageBegin()
    {
        messageStarted_ = true;
        armTimer(limits_.headerTimeout); // slowloris: the whole header block must come in time
        return 0;
    }

    int onUrl(const char* at, size_t n)
    {
        req_.target.append(at, n);
        if (req_.target.size() > limits_.maxUrl + limits_.maxQueryString + 1)
            return refuse(414, "the request line is longer than " + std::to_string(limits_.maxUrl + limits_.maxQueryString) + " bytes");
        return 0;
    }

    int onUrlComplete()
    {
        auto q = req_.target.find('?');
        req_.path.assign(req_.target, 0, q);
        if (q != std::string::npos)
            req_.query.assign(req_.target, q + 1);
        if (req_.path.size() > limits_.maxUrl)
            return refuse(414, "the URL is longer than maxUrl (" + std::to_string(limits_.maxUrl) + " bytes)");
        if (req_.query.size() > limits_.maxQueryString)
            return refuse(414, "the query string is longer than maxQueryString (" + std::to_string(limits_.maxQueryString) + " bytes)");
        return 0;
    }

    int onHeaderPart(std::string& into, const char* at, size_t n)
    {
        headerBytes_ += n;
        if (headerBytes_ > limits_.maxHeaderBytes)
            return refuse(431, "the request headers are larger than " + std::to_string(limits_.maxHeaderBytes) + " bytes");
        into.append(at, n);
        return 0;
    }

    int onHeaderValue(const char* at, size_t n)
    {
        // llhttp passes an obs-fold continuation as a second span of the same value that starts
        // right after a line break: refuse it (RFC 9112 §5.2).
        char before = at > bufStart_ ? at[-1] : prevLast_;
        if (!value_.empty() && before == '\n')
            return refuse(400, "a folded header line (obs-fold)");
        return onHeaderPart(value_, at, n);
    }

    int onHeaderComplete()
    {
        // RFC 9112 §5.2: obs-fold is refused (a folded value could hide a second header), and a
        // field name is a token.
        if (value_.find_first_of("\r\n") != std::string::npos)
            return refuse(400, "a folded header line (obs-fold)");
        if (!allTokenChars(field_))
            return refuse(400, "an invalid character in a header name");
        req_.headers.push_back(Header{std::move(field_), std::move(value_)});
        field_.clear();
        value_.clear();
        headerBytes_ += 4;
        return 0;
    }

    int onHeadersComplete()
    {
        headersDone_ = true;
        deadline_ = Clock::time_point::max(); // the handler has its own timeouts
        req_.method = llhttp_method_name(static_cast<llhttp_method_t>(parser_.method));
        req_.versionMajor = parser_.http_major;
        req_.versionMinor = parser_.http_minor;
        req_.keepAlive = llhttp_should_keep_alive(&parser_) != 0;
        keepAlive_ = req_.keepAlive && !(admission_.set && admission_.set->closing());
        req_.chunked = (parser_.flags & F_CHUNKED) != 0;
        if (parser_.flags & F_CONTENT_LENGTH)
            req_.contentLength = parser_.content_length;
        req_.remoteAddress = remoteAddress_;
        req_.secure = Tls;
        req_.remotePort = remotePort_;
        req_.localAddress = localAddress_;
        req_.localPort = localPort_;
        applyTrustedProxies(req_, limits_);
        headRequest_ = req_.method == "HEAD";
        int hosts = 0;
        for (const Header& h : req_.headers) {
            if (!iequals(h.name, "Host"))
                continue;
            ++hosts;
            req_.host = hostOf(h.value);
        }
        if (hosts > 1)
            return refuse(400, "more than one Host header");
        if (hosts == 0 && req_.versionMinor >= 1)
            return refuse(400, "HTTP/1.1 request without a Host header");
        if (req_.path.empty() || (req_.path.front() != '/' && req_.path != "*"))
            return refuse(400, "the request target is not an absolute path");
        if (req_.contentLength && *req_.contentLength > limits_.maxContentLength)
            return refuse(413, "the body (" + std::to_string(*req_.contentLength) + " bytes) is larger than maxAllowedContentLength (" +
                                   std::to_string(limits_.maxContentLength) + " bytes)");
        if (const std::string* expect = req_.header("Expect")) {
            if (!iequals(*expect, "100-continue"))
                return refuse(417, "unsupported Expect: " + *expect);
            if (req_.versionMinor >= 1 && req_.hasBody())
                enqueue("HTTP/1.1 100 Continue\r\n\r\n", {});
        }
        // Corked: what the handler sends while it is being called (a static file's head and body)
        // goes out in one write.
        ++corked_;
        dispatcher_->dispatch(shared_from_this());
        --corked_;
        pump();
        return 0;
    }

    int onBodyData(const char* at, size_t n)
    {
        bodyReceived_ += n;
        if (bodyReceived_ > limits_.maxContentLength)
            return refuse(413, "the body is larger than maxAllowedContentLength (" + std::to_string(limits_.maxContentLength) + " bytes)");
        if (bodyCb_)
            bodyCb_(std::string_view(at, n));
        return 0;
    }

    int onMessageComplete()
    {
        messageComplete_ = true;
        if (bodyEndCb_)
            bodyEndCb_();
        return HPE_PAUSED; // the next pipelined request waits for this response
    }

    void readMore()
    {
        if (reading_ || closed_ || closing_)
            return;
        if (backlog_ >= kBacklogLimit) {
            readWaiting_ = true;
            return;
        }
        reading_ = true;
        socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const asio::error_code& ec, size_t n) {
            self->reading_ = false;
            if (ec) {
                self->closeNow();
                return;
            }
            self->feed(self->buf_.data(), n);
        });
    }

    // The stream goes on as HTTP/2; this connection is done without having served a request.
    void handOver(std::string already)
    {
        closed_ = true;
        timer_.cancel();
        startHttp2(std::move(socket_), dispatcher_, limits_, std::move(keep_), std::move(already), std::move(admission_));
    }

    void feed(const char* data, size_t n)
    {
        if (closed_)
            return;
        if (closing_ && !messageStarted_) { // closed gracefully while idle: what arrives is not served
            closeNow();
            return;
        }
        if constexpr (!Tls) {
            // h2c with prior knowledge: the first bytes of the connection are HTTP/2's preface.
            if (fresh_ && limits_.h2c && n > 0 && std::string_view(data, n).substr(0, kHttp2Preface.size()) == kHttp2Preface.substr(0, std::min(n, kHttp2Preface.size()))) {
                handOver(std::string(data, n));
                return;
            }
        }
        fresh_ = false;
        bufStart_ = data;
        llhttp_errno_t err = llhttp_execute(&parser_, data, n);
        if (n > 0)
            prevLast_ = data[n - 1];
        if (err == HPE_OK) {
            readMore();
            return;
        }
        if (err == HPE_PAUSED) {
            const char* pos = llhttp_get_error_pos(&parser_);
            std::string rest(pos, static_cast<size_t>(data + n - pos));
            pending_ = std::move(rest);
            if (responseDone_ && !keepAlive_) { // closed gracefully after its response, while its body came in
                closeNow();
                return;
            }
            if (responseDone_)
                nextRequest();
            return;
        }
        int status = pendingStatus_ ? pendingStatus_ : 400;
        std::string detail = pendingStatus_ ? pendingDetail_ : std::string("malformed request: ") + llhttp_get_error_reason(&parser_);
        failRequest(status, detail);
    }

    // A request the connection answers itself; the connection closes afterwards (RFC 9112 §11:
    // after a framing error nothing that follows can be trusted).
    void failRequest(int status, const std::string& detail)
    {
        keepAlive_ = false;
        closing_ = true;
        if (abortCb_ && !finishRequested_) {
            auto cb = std::move(abortCb_);
            cb();
        }
        if (headSent_) {
            closeNow();
            return;
        }
        std::string body = dispatcher_->errorBody(status, req_, detail);
        ResponseHead head{status, {}, {{"Content-Type", "text/html; charset=utf-8"}}, body.size()};
        headRequest_ = false;
        sendHead(std::move(head));
        enqueue(std::move(body), {});
        finishRequested_ = true;
        pump();
    }

    void enqueue(std::string data, std::function<void(bool)> done)
    {
        // Joined to the bytes queued before them when those have no callback of their own (a
        // head and its body): they would go out in the same write, and are copied once here
        // rather than into the write buffer.
        if (!queue_.empty() && queue_.back().fileFd < 0 && !queue_.back().done) {
            queue_.back().data += data;
            queue_.back().done = std::move(done);
            pump();
            return;
        }
        Item item;
        item.data = std::move(data);
        item.done = std::move(done);
        queue_.push_back(std::move(item));
        pump();
    }

    void pump()
    {
        if (writing_ || closed_ || corked_)
            return;
        if (queue_.empty()) {
            if (finishRequested_ && !responseDone_)
                responseComplete();
            return;
        }
        if (queue_.front().fileFd >= 0) {
            writeFile();
            return;
        }
        writeBuf_.clear();
        writeDone_.clear();
        if (queue_.size() == 1 || queue_[1].fileFd >= 0) { // one piece: its bytes are the write's
            writeBuf_.swap(queue_.front().data);
            if (queue_.front().done)
                writeDone_.push_back(std::move(queue_.front().done));
            queue_.pop_front();
        }
        while (!queue_.empty() && queue_.front().fileFd < 0) {
            writeBuf_ += queue_.front().data;
            if (queue_.front().done)
                writeDone_.push_back(std::move(queue_.front().done));
            queue_.pop_front();
        }
        writing_ = true;
        bytesSent_ += writeBuf_.size();
        asio::async_write(socket_, asio::buffer(writeBuf_), [self = shared_from_this()](const asio::error_code& ec, size_t) {
            self->writing_ = false;
            auto callbacks = std::move(self->writeDone_);
            self->writeDone_.clear();
            for (auto& cb : callbacks)
                cb(!ec);
            if (ec) {
                self->closeNow();
                return;
            }
            self->pump();
        });
    }

    void writeFile()
    {
        if constexpr (Tls) {
            writeFileThroughTls();
            return;
        }
        Item& item = queue_.front();
        lowest().native_non_blocking(true);
        while (item.length > 0) {
            off_t off = static_cast<off_t>(item.offset);
            ssize_t sent = ::sendfile(lowest().native_handle(), item.fileFd, &off, std::min<uint64_t>(item.length, 1 << 20));
            if (sent > 0) {
                bytesSent_ += static_cast<uint64_t>(sent);
                item.offset += static_cast<uint64_t>(sent);
                item.length -= static_cast<uint64_t>(sent);
                continue;
            }
            if (sent < 0 && errno == EINTR)
                continue;
            if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                writing_ = true;
                lowest().async_wait(asio::ip::tcp::socket::wait_write, [self = shared_from_this()](const asio::error_code& ec) {
                    self->writing_ = false;
                    if (ec) {
                        self->closeNow();
                        return;
                    }
                    self->pump();
                });
                return;
            }
            // EOF before the promised length (the file shrank) or an error: the response is broken.
            fileDone(false);
            return;
        }
        fileDone(true);
    }

    // The file at the front of the queue is sent (ok) or cannot be (the connection closes).
    void fileDone(bool ok)
    {
        auto done = std::move(queue_.front().done);
        queue_.pop_front();
        if (done)
            done(ok);
        if (ok)
            pump();
        else
            closeNow();
    }

    // A file over TLS: read in pieces of 64 KiB and written through the TLS layer.
    void writeFileThroughTls()
    {
        Item& item = queue_.front();
        if (item.length == 0) {
            fileDone(true);
            return;
        }
        writeBuf_.resize(std::min<uint64_t>(item.length, 64 * 1024));
        ssize_t got = ::pread(item.fileFd, writeBuf_.data(), writeBuf_.size(), static_cast<off_t>(item.offset));
        if (got <= 0) {
            fileDone(false);
            return;
        }
        writeBuf_.resize(static_cast<size_t>(got));
        item.offset += static_cast<uint64_t>(got);
        item.length -= static_cast<uint64_t>(got);
        bytesSent_ += static_cast<uint64_t>(got);
        writing_ = true;
        asio::async_write(socket_, asio::buffer(writeBuf_), [self = shared_from_this()](const asio::error_code& ec, size_t) {
            self->writing_ = false;
            if (ec) {
                self->closeNow();
                return;
            }
            self->pump();
        });
    }

    void responseComplete()
    {
        responseDone_ = true;
        // The handler's callbacks hold what holds this connection (a CGI run holds its responder):
        // once the response is complete they go, or the two would keep each other alive.
        abortCb_ = nullptr;
        completed();
        if (!keepAlive_ || closing_) {
            if constexpr (Tls) {
                if (!reading_) {
                    // close_notify first (RFC 8446 §6.1: the client can tell the end from a
                    // truncation), then the peer's, or the lingering time, ends the connection.
                    closing_ = true;
                    armTimer(std::chrono::milliseconds(2000));
                    socket_.async_shutdown([self = shared_from_this()](const asio::error_code&) { self->closeNow(); });
                    return;
                }
            }
            asio::error_code ec;
            lowest().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
            // Give the client a moment to read before the socket goes (lingering close).
            closing_ = true;
            armTimer(std::chrono::milliseconds(2000));
            drainAndClose();
            return;
        }
        if (messageComplete_)
            nextRequest();
        else
            bodyCb_ = nullptr; // the body that still arrives is read and dropped
    }

    void drainAndClose()
    {
        socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const asio::error_code& ec, size_t) {
            if (ec)
                self->closeNow();
            else if (!self->closed_)
                self->drainAndClose();
        });
    }

    void nextRequest()
    {
        // A fresh request that keeps the last one's header list and target (their memory).
        auto headers = std::move(req_.headers);
        auto target = std::move(req_.target);
        headers.clear();
        target.clear();
        req_ = Request();
        req_.headers = std::move(headers);
        req_.target = std::move(target);
        field_.clear();
        value_.clear();
        headerBytes_ = 0;
        bodyReceived_ = 0;
        messageStarted_ = headersDone_ = messageComplete_ = false;
        headSent_ = finishRequested_ = responseDone_ = false;
        chunked_ = headRequest_ = false;
        resetResponse();
        status_ = 0;
        bodyCb_ = nullptr;
        bodyEndCb_ = nullptr;
        bytesSent_ = 0;
        backlog_ = 0;
        pendingStatus_ = 0;
        llhttp_resume(&parser_);
        armTimer(limits_.idleTimeout);
        if (!pending_.empty()) {
            // Pipelined bytes: parse them from the event loop, not from inside this call chain.
            asio::post(socket_.get_executor(), [self = shared_from_this()] {
                std::string data = std::move(self->pending_);
                self->pending_.clear();
                self->feed(data.data(), data.size());
            });
        } else {
            readMore();
        }
    }

    // One deadline (header, idle or lingering close), kept lazily: the timer is armed at most
    // headerTimeout ahead and checks the deadline when it fires, so that moving the deadline with
    // each request costs no system call.
    void armTimer(std::chrono::milliseconds after)
    {
        auto now = coarseNow();
        deadline_ = now + after;
        if (timerArmed_ && armedUntil_ <= deadline_)
            return; // it fires in time and looks again
        armPhysical(now);
    }

    void armPhysical(Clock::time_point now)
    {
        armedUntil_ = std::min(deadline_, now + std::min(limits_.headerTimeout, limits_.idleTimeout));
        timerArmed_ = true;
        timer_.expires_at(armedUntil_);
        timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
            auto self = weak.lock();
            if (!self || ec) // aborted: re-armed earlier, or the connection closed
                return;
            self->timerArmed_ = false;
            if (self->closed_)
                return;
            auto at = Clock::now();
            if (at < self->deadline_) {
                if (self->deadline_ != Clock::time_point::max())
                    self->armPhysical(at);
                return;
            }
            if (self->closing_)
                self->closeNow();
            else if (self->messageStarted_ && !self->headersDone_)
                self->failRequest(408, "the request headers did not arrive in time");
            else if (!self->messageStarted_)
                self->closeNow();
        });
    }

    void closeNow()
    {
        if (closed_)
            return;
        closed_ = true;
        timer_.cancel();
        asio::error_code ec;
        lowest().close(ec);
        auto aborted = std::move(abortCb_);
        abortCb_ = nullptr;
        if (aborted && !responseDone_)
            aborted();
        bodyCb_ = nullptr;
        bodyEndCb_ = nullptr;
        for (auto& item : queue_)
            if (item.done)
                item.done(false);
        queue_.clear();
        if (!responseDone_)
            completed();
        dispatcher_->connectionClosed();
    }

    Stream socket_;
    std::shared_ptr<Dispatcher> dispatcher_;
    Limits limits_;
    asio::steady_timer timer_;
    Clock::time_point deadline_ = Clock::time_point::max(), armedUntil_{};
    bool timerArmed_ = false;
    int corked_ = 0; // a handler is being called, or cork(): writes wait for uncork()
    llhttp_t parser_{};
    std::array<char, 16384> buf_{};
    std::string pending_;
    const char* bufStart_ = nullptr;
    char prevLast_ = 0;
    std::string remoteAddress_, localAddress_;
    uint16_t remotePort_ = 0, localPort_ = 0;

    Request req_;
    std::string field_, value_;
    size_t headerBytes_ = 0;
    uint64_t bodyReceived_ = 0;
    int pendingStatus_ = 0;
    std::string pendingDetail_;
    bool messageStarted_ = false, headersDone_ = false, messageComplete_ = false;
    bool headSent_ = false, finishRequested_ = false, responseDone_ = false;
    bool keepAlive_ = true, closing_ = false, closed_ = false;
    bool chunked_ = false, headRequest_ = false;
    bool reading_ = false, readWaiting_ = false, writing_ = false;
    bool fresh_ = true; // nothing read yet
    int status_ = 0;
    size_t backlog_ = 0;
    std::function<void(std::string_view)> bodyCb_;
    std::function<void()> bodyEndCb_;
    uint64_t bytesSent_ = 0;

    std::deque<Item> queue_;
    std::string writeBuf_;
    std::vector<std::function<void(bool)>> writeDone_;
    std::shared_ptr<void> keep_; // what the stream needs alive (the TLS endpoint its context is in)
    Admission admission_;
};

void sendRedirect(Responder& responder, int status, const std::string& location)
{
    std::string body = "<a href=\"" + htmlEscape(location) + "\">Moved</a>\n";
    responder.sendHead(ResponseHead{status, {}, {{"Location", location}, {"Content-Type", "text/html"}}, body.size()});
    responder.sendBody(std::move(body));
    responder.finish();
}

void startConnection(asio::ip::tcp::socket socket, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, Admission admission)
{
    auto c = std::make_shared<Connection<false>>(std::move(socket), std::move(dispatcher), limits, std::move(admission));
    c->start();
}

void startTlsConnection(asio::ip::tcp::socket socket, std::shared_ptr<TlsEndpoint> tls, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits,
                        Admission admission)
{
    asio::ssl::stream<asio::ip::tcp::socket> stream(std::move(socket), tls->context());
    // Asio asks OpenSSL to free a connection's 16 KiB record buffers after every read and write;
    // that made each response a malloc, a free and a malloc_consolidate of the heap (measured:
    // 15 % of the engine's CPU under h2load). The buffers now stay while the connection does,
    // as OpenSSL keeps them by default: 34 KiB per open TLS connection.
    SSL_clear_mode(stream.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    auto c = std::make_shared<Connection<true>>(std::move(stream), std::move(dispatcher), limits, std::move(admission), std::move(tls));
    c->start();
}

} // namespace lido::http
