#pragma once
// HTTP/2's two halves, internal to Http2.cpp (the Session: nghttp2's session, the socket, the
// timers and defences) and Http2Stream.cpp (a Stream: one request and its response, what a
// handler holds as its Responder).
#include "http/Connection.h"
#include "util/Clock.h"

#include <nghttp2/nghttp2.h>

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lido::http::h2 {

constexpr size_t kStreamWindow = 256 * 1024;      // a stream's request body in flight (SETTINGS_INITIAL_WINDOW_SIZE)
constexpr int32_t kConnectionWindow = 1 << 20;    // all streams' request bodies in flight
constexpr size_t kWriteBatch = 64 * 1024;         // bytes taken from nghttp2 per socket write
constexpr auto kDefenceWindow = std::chrono::seconds(10);

class Session;

// One request and its response on a stream; what a handler holds.
class Stream final : public ResponderBase, public std::enable_shared_from_this<Stream> {
public:
    Stream(std::shared_ptr<Session> session, int32_t id, std::shared_ptr<Dispatcher> dispatcher)
        : session_(std::move(session)), id_(id), dispatcher_(std::move(dispatcher))
    {
    }

    const Request& request() const override { return req_; }
    asio::any_io_executor executor() override;
    bool headSent() const override { return headSent_; }
    bool closed() const override { return closed_; }
    void keepAlive(bool) override {} // the connection is every stream's: a stream cannot close it
    void onBody(std::function<void(std::string_view)> chunk, std::function<void()> end) override;
    void setBodyBacklog(size_t bytes) override;
    void sendHead(ResponseHead head) override;
    void sendBody(std::string data, std::function<void(bool)> done) override;
    void sendRaw(std::string data, std::function<void(bool)> done) override;
    void sendFile(int fd, uint64_t offset, uint64_t length, std::function<void(bool)> done) override;
    void finish() override;
    void abort() override;
    uint64_t bytesReceived() const override { return headerBytes_ + bodyReceived_; }

private:
    friend class Session;
    struct Piece {
        std::string data;
        size_t pos = 0;
        int fd = -1;
        uint64_t offset = 0, length = 0;
        std::function<void(bool)> done;
    };

    void later(std::function<void(bool)> done, bool ok);
    void changed(); // more to send: wake the stream and the connection
    void answer(int status, const std::string& detail); // a response the connection makes (400, 413, 414)
    void closedBySession(bool complete);

    std::shared_ptr<Session> session_;
    int32_t id_;
    std::shared_ptr<Dispatcher> dispatcher_; // this stream's (a request at a time each)
    Request req_;
    std::string cookies_;
    size_t headerBytes_ = 0;
    uint64_t bodyReceived_ = 0;
    bool dispatched_ = false, requestEnded_ = false;
    bool headSent_ = false, submitted_ = false, bodyless_ = false, finished_ = false, eofSent_ = false, deferred_ = false;
    bool closed_ = false, headRequest_ = false;
    ResponseHead head_;
    int status_ = 0;
    // What is to be sent, in order: a vector read from a moving front (a std::deque allocates two
    // blocks as it is made, and a stream is made per request).
    struct Pieces {
        std::vector<Piece> items;
        size_t head = 0;
        bool empty() const { return head == items.size(); }
        Piece& front() { return items[head]; }
        void push_back(Piece p) { items.push_back(std::move(p)); }
        void pop_front()
        {
            items[head] = Piece{};
            if (++head == items.size()) {
                items.clear();
                head = 0;
            }
        }
        auto begin() { return items.begin() + static_cast<std::ptrdiff_t>(head); }
        auto end() { return items.end(); }
        void clear()
        {
            items.clear();
            head = 0;
        }
    };
    Pieces out_;
    uint64_t bytesSent_ = 0;
    size_t backlog_ = 0, unconsumed_ = 0;
    std::function<void(std::string_view)> bodyCb_;
    std::function<void()> bodyEndCb_;
};

// The connection: nghttp2's session, the streams, the socket's reads and writes (one at a time
// each), the timers and the defences. The transport below it is plain TCP or TLS.
class Session : public Graceful, public std::enable_shared_from_this<Session> {
public:
    Session(std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, asio::any_io_executor executor, std::shared_ptr<void> keep)
        : dispatcher_(std::move(dispatcher)), limits_(limits), executor_(executor), timer_(executor), keep_(std::move(keep))
    {
    }
    virtual ~Session()
    {
        if (h2_)
            nghttp2_session_del(h2_);
        if (!closed_)
            dispatcher_->connectionClosed();
    }

    void begin(asio::ip::tcp::socket& socket, bool secure, std::string already, Admission admission);
    // Graceful: GOAWAY; the streams open finish, then the connection closes (at once without any).
    void closeGracefully() override
    {
        if (closed_ || !h2_)
            return;
        if (streams_.empty()) {
            nghttp2_session_terminate_session(h2_, NGHTTP2_NO_ERROR);
            stopReading_ = true;
        } else {
            nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2_), NGHTTP2_NO_ERROR, nullptr, 0);
        }
        flush();
    }
    asio::any_io_executor executor() const { return executor_; }

    // For the streams.
    void flush();
    void submit(Stream& s);
    void resume(Stream& s)
    {
        if (s.submitted_ && s.deferred_ && !closed_) {
            s.deferred_ = false;
            nghttp2_session_resume_data(h2_, s.id_);
        }
    }
    void reset(Stream& s, uint32_t code)
    {
        if (!closed_)
            nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, s.id_, code);
    }
    void consume(Stream& s, size_t n)
    {
        if (!closed_ && n)
            nghttp2_session_consume(h2_, s.id_, n);
    }
    void afterWrite(std::function<void(bool)> done) { sent_.push_back(std::move(done)); }
    bool closed() const { return closed_; }

protected:
    virtual void readSome() = 0;  // into buf_, then onRead
    virtual void writeOut() = 0;  // all of writeBuf_, then onWritten
    virtual void closeSocket() = 0;

    void onRead(const asio::error_code& ec, size_t n)
    {
        reading_ = false;
        if (ec) {
            closeNow();
            return;
        }
        feed(reinterpret_cast<const uint8_t*>(buf_.data()), n);
        flush();
        readMore();
    }
    void onWritten(const asio::error_code& ec)
    {
        writing_ = false;
        auto callbacks = std::move(inFlight_);
        inFlight_.clear();
        for (auto& cb : callbacks)
            cb(!ec);
        if (ec) {
            closeNow();
            return;
        }
        flush();
        readMore();
    }

    std::array<char, 16384> buf_{};
    std::string writeBuf_;

private:
    friend class Stream;
    static Session& of(void* user) { return *static_cast<Session*>(user); }
    // A plain pointer (no reference count moved for every header and frame): streams_ holds the
    // stream until nghttp2 closes it, which it never does inside another of its callbacks.
    Stream* find(int32_t id)
    {
        auto it = streams_.find(id);
        return it == streams_.end() ? nullptr : it->second.get();
    }

    void readMore()
    {
        if (reading_ || closed_ || stopReading_ || !nghttp2_session_want_read(h2_))
            return;
        reading_ = true;
        readSome();
    }

    void feed(const uint8_t* data, size_t n)
    {
        inLibrary_ = true;
        ssize_t rv = nghttp2_session_mem_recv(h2_, data, n);
        inLibrary_ = false;
        if (rv < 0) {
            // nghttp2 refused the connection (a bad preface, a flood it counted): what it queued
            // (a GOAWAY) goes out, then the connection closes.
            if (!calm_ && !reported_ && rv != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
                report("http2.protocol-error", std::string("the connection is closed: ") + nghttp2_strerror(static_cast<int>(rv)));
            stopReading_ = true;
        }
        rearm();
    }

    // A defence tripped: GOAWAY (ENHANCE_YOUR_CALM), an event, and nothing more from the client.
    void calm(const std::string& kind, const std::string& detail)
    {
        if (calm_)
            return;
        calm_ = true;
        report(kind, detail + "; the connection is closed with GOAWAY (ENHANCE_YOUR_CALM)");
        nghttp2_session_terminate_session(h2_, NGHTTP2_ENHANCE_YOUR_CALM);
        stopReading_ = true;
    }
    void report(const std::string& kind, const std::string& detail)
    {
        reported_ = true;
        dispatcher_->protocolEvent(kind, "HTTP/2 client " + remoteAddress_ + ":" + std::to_string(remotePort_) + ": " + detail);
    }

    // Counts a frame against the window's budget of costly frames.
    void countWindow()
    {
        auto now = coarseNow();
        if (now - windowStart_ > kDefenceWindow) {
            windowStart_ = now;
            resets_ = controlFrames_ = 0;
        }
    }

    using Deadline = std::chrono::steady_clock::time_point;
    void rearm();
    void armTimer(Deadline now);
    void closeNow();
    void streamClosed(int32_t id, uint32_t code);

    // nghttp2's callbacks.
    static int onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user);
    static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
    static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen, const uint8_t* value, size_t valuelen,
                        uint8_t flags, void* user);
    static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
    static int onDataChunk(nghttp2_session*, uint8_t flags, int32_t id, const uint8_t* data, size_t len, void* user);
    static int onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* user);
    static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user);
    static ssize_t readBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags, nghttp2_data_source* source, void* user);

    void requestReady(Stream& s);

    nghttp2_session* h2_ = nullptr;
    std::shared_ptr<Dispatcher> dispatcher_;
    Limits limits_;
    asio::any_io_executor executor_;
    asio::steady_timer timer_;
    std::shared_ptr<void> keep_;
    std::map<int32_t, std::shared_ptr<Stream>> streams_;
    std::vector<Stream*> toSubmit_;
    std::vector<std::function<void(bool)>> sent_, inFlight_;
    std::string remoteAddress_, localAddress_;
    uint16_t remotePort_ = 0, localPort_ = 0;
    bool secure_ = false;
    bool reading_ = false, writing_ = false, closed_ = false, stopReading_ = false, inLibrary_ = false;
    bool calm_ = false, reported_ = false;
    enum class Timer { None, Header, Idle } timerMode_ = Timer::None;
    Deadline deadline_ = Deadline::max(), armedUntil_{};
    bool timerArmed_ = false;
    size_t undispatched_ = 0; // streams whose headers are not complete yet
    std::chrono::steady_clock::time_point windowStart_ = std::chrono::steady_clock::now();
    uint32_t resets_ = 0, controlFrames_ = 0, continuations_ = 0;
};

} // namespace lido::http::h2
