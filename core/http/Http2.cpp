#include "http/Http2.h"
#include "http/Http2Session.h"

#include "util/Clock.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <unistd.h>

namespace lido::http {

namespace h2 {

namespace {

// Headers HTTP/2 has no place for (RFC 9113 §8.2.2), and Content-Length (the frames say it), by
// their lower-case names.
bool dropped(std::string_view lower)
{
    return lower == "connection" || lower == "keep-alive" || lower == "proxy-connection" || lower == "transfer-encoding" || lower == "upgrade" ||
           lower == "content-length";
}

} // namespace

template <class S>
class Transport final : public Session {
public:
    Transport(S stream, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, std::shared_ptr<void> keep)
        : Session(std::move(dispatcher), limits, stream.get_executor(), std::move(keep)), stream_(std::move(stream))
    {
    }
    asio::ip::tcp::socket& lowest()
    {
        if constexpr (std::is_same_v<S, asio::ip::tcp::socket>)
            return stream_;
        else
            return stream_.next_layer();
    }

private:
    void readSome() override
    {
        stream_.async_read_some(asio::buffer(buf_), [self = shared_from_this(), this](const asio::error_code& ec, size_t n) { onRead(ec, n); });
    }
    void writeOut() override
    {
        asio::async_write(stream_, asio::buffer(writeBuf_), [self = shared_from_this(), this](const asio::error_code& ec, size_t) { onWritten(ec); });
    }
    void closeSocket() override
    {
        asio::error_code ec;
        lowest().close(ec);
    }

    S stream_;
};

void Session::begin(asio::ip::tcp::socket& socket, bool secure, std::string already, Admission admission)
{
    asio::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    auto local = socket.local_endpoint(ec);
    remoteAddress_ = admission.clientAddress.empty() ? remote.address().to_string() : admission.clientAddress;
    remotePort_ = admission.clientAddress.empty() ? remote.port() : admission.clientPort;
    localAddress_ = local.address().to_string();
    localPort_ = local.port();
    secure_ = secure;

    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, &Session::onBeginFrame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &Session::onBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cbs, &Session::onHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &Session::onFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &Session::onDataChunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &Session::onStreamClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, &Session::onFrameSend);
    nghttp2_option* option = nullptr;
    nghttp2_option_new(&option);
    nghttp2_option_set_no_auto_window_update(option, 1); // request bodies: consumed as the handler takes them
    nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096);
    nghttp2_session_server_new2(&h2_, cbs, this, option);
    nghttp2_option_del(option);
    nghttp2_session_callbacks_del(cbs);

    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.maxConcurrentStreams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
        {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, limits_.headerTableSize},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(limits_.maxHeaderBytes)},
        // RFC 9218's priorities, not RFC 7540's dependency tree (deprecated by RFC 9113): nghttp2
        // then keeps no tree and no closed streams for it.
        {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
    };
    nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, settings, sizeof settings / sizeof settings[0]);
    nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
    rearm();
    if (admission.set) {
        admission.set->add(shared_from_this());
        if (admission.set->closing())
            nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
    }
    if (!already.empty())
        feed(reinterpret_cast<const uint8_t*>(already.data()), already.size());
    flush();
    readMore();
}

void Session::flush()
{
    if (writing_ || closed_ || inLibrary_)
        return;
    for (Stream* s : toSubmit_)
        submit(*s);
    toSubmit_.clear();
    writeBuf_.clear();
    inLibrary_ = true;
    while (writeBuf_.size() < kWriteBatch) {
        const uint8_t* data = nullptr;
        ssize_t n = nghttp2_session_mem_send(h2_, &data);
        if (n <= 0) {
            if (n < 0)
                stopReading_ = true;
            break;
        }
        writeBuf_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    inLibrary_ = false;
    if (writeBuf_.empty()) {
        if (stopReading_ || (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_)))
            closeNow();
        return;
    }
    writing_ = true;
    inFlight_ = std::move(sent_);
    sent_.clear();
    writeOut();
}

// The head goes to nghttp2 when the connection writes next: by then a small response is
// usually complete, and goes as HEADERS and one DATA frame with END_STREAM, or HEADERS alone.
void Session::submit(Stream& s)
{
    if (s.submitted_ || s.closed_ || closed_)
        return;
    s.submitted_ = true;
    // The lower-case names in one buffer (reserved whole, so that no view into it moves), and
    // the list on the stack for a usual head: no allocation per header.
    size_t namesSize = 0;
    s.head_.forEachHeader([&](const Header& h) { namesSize += h.name.size(); });
    std::string names;
    names.reserve(namesSize);
    std::array<nghttp2_nv, 24> fixed;
    std::vector<nghttp2_nv> spilled;
    size_t count = 0;
    auto add = [&](std::string_view name, std::string_view value, uint8_t flags) {
        // nghttp2 copies what is not flagged NO_COPY (only the literal names are).
        nghttp2_nv one{reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())), reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())),
                       name.size(), value.size(), flags};
        if (count < fixed.size() && spilled.empty())
            fixed[count] = one;
        else {
            if (spilled.empty())
                spilled.assign(fixed.begin(), fixed.begin() + static_cast<std::ptrdiff_t>(count));
            spilled.push_back(one);
        }
        ++count;
    };
    std::string status = std::to_string(s.head_.status);
    add(":status", status, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    add("date", currentHttpDate(), NGHTTP2_NV_FLAG_NO_COPY_NAME);
    add("server", "Lido/0.1", NGHTTP2_NV_FLAG_NO_COPY_NAME);
    s.head_.forEachHeader([&](const Header& h) {
        size_t at = names.size();
        for (char c : h.name)
            names.push_back(lowerAscii(c));
        std::string_view lower(names.data() + at, h.name.size());
        if (!dropped(lower))
            add(lower, h.value, NGHTTP2_NV_FLAG_NONE);
    });
    std::string length;
    if (s.head_.contentLength && (!s.bodyless_ || s.headRequest_)) {
        length = std::to_string(*s.head_.contentLength);
        add("content-length", length, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    }
    nghttp2_data_provider provider;
    provider.source.ptr = &s;
    provider.read_callback = &Session::readBody;
    bool body = !s.bodyless_ && !(s.finished_ && s.out_.empty());
    const nghttp2_nv* list = spilled.empty() ? fixed.data() : spilled.data();
    int rv = nghttp2_submit_response(h2_, s.id_, list, count, body ? &provider : nullptr);
    if (rv != 0)
        reset(s, NGHTTP2_INTERNAL_ERROR);
    else if (!body)
        s.eofSent_ = true;
}

ssize_t Session::readBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags, nghttp2_data_source* source, void* user)
{
    Session& self = of(user);
    Stream& s = *static_cast<Stream*>(source->ptr);
    size_t copied = 0;
    while (copied < length && !s.out_.empty()) {
        Stream::Piece& p = s.out_.front();
        if (p.fd < 0) {
            size_t n = std::min(length - copied, p.data.size() - p.pos);
            std::memcpy(buf + copied, p.data.data() + p.pos, n);
            p.pos += n;
            copied += n;
            if (p.pos < p.data.size())
                break;
        } else {
            size_t want = static_cast<size_t>(std::min<uint64_t>(length - copied, p.length));
            ssize_t got = ::pread(p.fd, buf + copied, want, static_cast<off_t>(p.offset));
            if (got <= 0) {
                // The file shrank or cannot be read: the response is broken, the stream is reset.
                if (p.done)
                    self.sent_.push_back([done = std::move(p.done)](bool) { done(false); });
                s.out_.pop_front();
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
            }
            p.offset += static_cast<uint64_t>(got);
            p.length -= static_cast<uint64_t>(got);
            copied += static_cast<size_t>(got);
            if (p.length > 0)
                break;
        }
        if (p.done)
            self.sent_.push_back(std::move(p.done));
        s.out_.pop_front();
    }
    s.bytesSent_ += copied;
    if (s.out_.empty() && s.finished_) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        s.eofSent_ = true;
        return static_cast<ssize_t>(copied);
    }
    if (copied == 0) {
        s.deferred_ = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return static_cast<ssize_t>(copied);
}

int Session::onBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user)
{
    Session& self = of(user);
    self.countWindow();
    bool costly = false;
    switch (hd->type) {
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PING: costly = !(hd->flags & NGHTTP2_FLAG_ACK); break;
    case NGHTTP2_PRIORITY: costly = true; break;
    case NGHTTP2_DATA: costly = hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM); break;
    case NGHTTP2_HEADERS: self.continuations_ = 0; break;
    case NGHTTP2_CONTINUATION:
        costly = hd->length == 0;
        if (++self.continuations_ > 16)
            self.calm("http2.continuation-flood", "more than 16 CONTINUATION frames in one header block");
        break;
    default: break;
    }
    if (costly && ++self.controlFrames_ > self.limits_.maxControlFramesPerWindow)
        self.calm("http2.flood", std::to_string(self.controlFrames_) + " SETTINGS, PING, PRIORITY or empty frames within 10 s (limit " +
                                     std::to_string(self.limits_.maxControlFramesPerWindow) + ")");
    return 0;
}

int Session::onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user)
{
    Session& self = of(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST || self.calm_)
        return 0;
    auto dispatcher = self.dispatcher_->forStream();
    auto s = std::make_shared<Stream>(self.shared_from_this(), frame->hd.stream_id, dispatcher ? dispatcher : self.dispatcher_);
    Request& r = s->req_;
    r.headers.reserve(8); // one allocation for a usual request's headers, not one per doubling
    r.versionMajor = 2;
    r.versionMinor = 0;
    r.remoteAddress = self.remoteAddress_;
    r.remotePort = self.remotePort_;
    r.localAddress = self.localAddress_;
    r.localPort = self.localPort_;
    r.secure = self.secure_;
    self.streams_.emplace(frame->hd.stream_id, std::move(s));
    ++self.undispatched_;
    self.rearm();
    return 0;
}

int Session::onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen, const uint8_t* value, size_t valuelen,
                      uint8_t, void* user)
{
    Session& self = of(user);
    auto s = self.find(frame->hd.stream_id);
    if (!s || s->dispatched_ || self.calm_)
        return 0; // trailers, or a stream already refused: ignored
    s->headerBytes_ += namelen + valuelen + 32; // RFC 9113 §6.5.2's size
    if (s->headerBytes_ > self.limits_.maxHeaderBytes) {
        self.calm("http2.header-list-too-large", "a header list over the advertised limit of " + std::to_string(self.limits_.maxHeaderBytes) +
                                                     " bytes (SETTINGS_MAX_HEADER_LIST_SIZE; an HPACK bomb decodes to this)");
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen), v(reinterpret_cast<const char*>(value), valuelen);
    Request& r = s->req_;
    if (!n.empty() && n.front() == ':') {
        if (n == ":method")
            r.method = v;
        else if (n == ":path")
            r.target = v;
        else if (n == ":authority")
            r.host = v;
        return 0;
    }
    if (n == "cookie") { // crumbs, joined again (RFC 9113 §8.2.3)
        s->cookies_ += (s->cookies_.empty() ? "" : "; ") + std::string(v);
        return 0;
    }
    if (n == "host" && r.host.empty())
        r.host = v;
    r.headers.push_back(Header{std::string(n), std::string(v)});
    return 0;
}

int Session::onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user)
{
    Session& self = of(user);
    if (self.calm_)
        return 0;
    auto s = self.find(frame->hd.stream_id);
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!s)
            return 0;
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
            s->requestEnded_ = true;
        if (!s->dispatched_ && (frame->hd.flags & NGHTTP2_FLAG_END_HEADERS))
            self.requestReady(*s);
        else if (s->requestEnded_ && s->bodyEndCb_) // trailers end the body
            s->bodyEndCb_();
        break;
    case NGHTTP2_DATA:
        if (s && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            s->requestEnded_ = true;
            if (s->bodyEndCb_)
                s->bodyEndCb_();
        }
        break;
    case NGHTTP2_RST_STREAM:
        if (s && !s->eofSent_) {
            ++self.resets_;
            if (self.resets_ > self.limits_.maxResetsPerWindow)
                self.calm("http2.rapid-reset", std::to_string(self.resets_) + " streams reset by the client before their response within 10 s (limit " +
                                                   std::to_string(self.limits_.maxResetsPerWindow) + ", CVE-2023-44487)");
        }
        break;
    default: break;
    }
    return 0;
}

void Session::requestReady(Stream& s)
{
    s.dispatched_ = true;
    --undispatched_;
    Request& r = s.req_;
    if (!s.cookies_.empty())
        r.headers.push_back(Header{"cookie", std::move(s.cookies_)});
    bool hasHost = r.header("host") != nullptr;
    if (!hasHost && !r.host.empty())
        r.headers.push_back(Header{"host", r.host}); // HTTP_HOST for CGI, as HTTP/1.1 has it
    r.host = hostOf(r.host);
    auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string::npos ? std::string() : r.target.substr(q + 1);
    if (const std::string* length = r.header("content-length")) {
        char* end = nullptr;
        unsigned long long v = std::strtoull(length->c_str(), &end, 10);
        if (end && *end == 0 && !length->empty())
            r.contentLength = v;
    }
    r.chunked = !s.requestEnded_ && !r.contentLength; // a body of unknown length: DATA until END_STREAM
    applyTrustedProxies(r, limits_);
    s.headRequest_ = r.method == "HEAD";
    rearm();
    if (r.path.size() > limits_.maxUrl)
        return s.answer(414, "the URL is longer than maxUrl (" + std::to_string(limits_.maxUrl) + " bytes)");
    if (r.query.size() > limits_.maxQueryString)
        return s.answer(414, "the query string is longer than maxQueryString (" + std::to_string(limits_.maxQueryString) + " bytes)");
    if (r.host.empty())
        return s.answer(400, "an HTTP/2 request without :authority or Host");
    if (r.path.empty() || r.path.front() != '/')
        return s.answer(400, "the request target is not an absolute path");
    if (r.contentLength && *r.contentLength > limits_.maxContentLength)
        return s.answer(413, "the body (" + std::to_string(*r.contentLength) + " bytes) is larger than maxAllowedContentLength (" +
                                 std::to_string(limits_.maxContentLength) + " bytes)");
    if (const std::string* expect = r.header("expect"); expect && iequals(*expect, "100-continue") && !s.requestEnded_) {
        static const char status[] = "100";
        nghttp2_nv nv{reinterpret_cast<uint8_t*>(const_cast<char*>(":status")), reinterpret_cast<uint8_t*>(const_cast<char*>(status)), 7, 3,
                      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE}; // literals
        nghttp2_submit_headers(h2_, NGHTTP2_FLAG_NONE, s.id_, nullptr, &nv, 1, nullptr);
    }
    s.dispatcher_->dispatch(s.shared_from_this());
}

int Session::onDataChunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len, void* user)
{
    Session& self = of(user);
    auto s = self.find(id);
    if (!s || s->closed_ || self.calm_) {
        nghttp2_session_consume_connection(self.h2_, len);
        return 0;
    }
    s->bodyReceived_ += len;
    if (s->bodyReceived_ > self.limits_.maxContentLength) {
        nghttp2_session_consume_connection(self.h2_, len);
        if (!s->headSent_)
            s->answer(413, "the body is larger than maxAllowedContentLength (" + std::to_string(self.limits_.maxContentLength) + " bytes)");
        else
            self.reset(*s, NGHTTP2_CANCEL);
        s->bodyCb_ = nullptr;
        return 0;
    }
    if (s->bodyCb_)
        s->bodyCb_(std::string_view(reinterpret_cast<const char*>(data), len));
    if (s->backlog_ < kStreamWindow)
        nghttp2_session_consume(self.h2_, id, len);
    else
        s->unconsumed_ += len; // the handler holds enough: the window stays shut until it takes it
    return 0;
}

int Session::onStreamClose(nghttp2_session*, int32_t id, uint32_t code, void* user)
{
    of(user).streamClosed(id, code);
    return 0;
}

void Session::streamClosed(int32_t id, uint32_t code)
{
    auto it = streams_.find(id);
    if (it == streams_.end())
        return;
    std::shared_ptr<Stream> s = std::move(it->second);
    streams_.erase(it);
    if (!s->dispatched_)
        --undispatched_;
    if (s->unconsumed_)
        nghttp2_session_consume_connection(h2_, s->unconsumed_);
    s->unconsumed_ = 0;
    s->closedBySession(code == NGHTTP2_NO_ERROR && s->eofSent_);
    std::erase(toSubmit_, s.get());
    rearm();
}

int Session::onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user)
{
    Session& self = of(user);
    if (frame->hd.type == NGHTTP2_GOAWAY && frame->goaway.error_code != NGHTTP2_NO_ERROR && !self.calm_ && !self.reported_) {
        std::string why(reinterpret_cast<const char*>(frame->goaway.opaque_data), frame->goaway.opaque_data_len);
        self.report("http2.protocol-error", std::string("GOAWAY (") + nghttp2_http2_strerror(frame->goaway.error_code) + ")" +
                                                (why.empty() ? "" : ": " + why));
    }
    // A complete response before the whole request: the client may stop sending (RFC 9113 §8.1).
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        if (auto s = self.find(frame->hd.stream_id); s && !s->requestEnded_)
            nghttp2_submit_rst_stream(self.h2_, NGHTTP2_FLAG_NONE, s->id_, NGHTTP2_NO_ERROR);
    return 0;
}

// One timer: the header timeout while a request's headers (or the preface) are incomplete, the
// idle timeout while no stream is open, none while requests are being served. Kept lazily as in
// HTTP/1.1: armed at most headerTimeout ahead, it looks at the deadline when it fires.
void Session::rearm()
{
    if (closed_)
        return;
    Timer mode = undispatched_ ? Timer::Header : streams_.empty() ? Timer::Idle : Timer::None;
    if (mode == timerMode_)
        return;
    timerMode_ = mode;
    auto now = coarseNow();
    deadline_ = mode == Timer::None ? Deadline::max() : now + (mode == Timer::Header ? limits_.headerTimeout : limits_.idleTimeout);
    if (mode == Timer::None || (timerArmed_ && armedUntil_ <= deadline_))
        return;
    armTimer(now);
}

void Session::armTimer(Deadline now)
{
    armedUntil_ = std::min(deadline_, now + std::min(limits_.headerTimeout, limits_.idleTimeout));
    timerArmed_ = true;
    timer_.expires_at(armedUntil_);
    timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) // aborted: armed again sooner, or closed
            return;
        self->timerArmed_ = false;
        if (self->closed_)
            return;
        auto at = std::chrono::steady_clock::now();
        if (at < self->deadline_) {
            if (self->deadline_ != Deadline::max())
                self->armTimer(at);
            return;
        }
        // Nothing more is read; the GOAWAY goes out and the connection closes.
        nghttp2_session_terminate_session(self->h2_, NGHTTP2_NO_ERROR);
        self->stopReading_ = true;
        self->flush();
    });
}

void Session::closeNow()
{
    if (closed_)
        return;
    closed_ = true;
    timer_.cancel();
    closeSocket();
    auto streams = std::move(streams_);
    streams_.clear();
    toSubmit_.clear();
    for (auto& [id, s] : streams)
        s->closedBySession(false);
    for (auto* list : {&sent_, &inFlight_}) {
        auto callbacks = std::move(*list);
        list->clear();
        for (auto& cb : callbacks)
            cb(false);
    }
    dispatcher_->connectionClosed();
}

} // namespace h2

using h2::Transport;

void startHttp2(asio::ip::tcp::socket socket, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, std::shared_ptr<void> keep, std::string already,
                Admission admission)
{
    auto t = std::make_shared<Transport<asio::ip::tcp::socket>>(std::move(socket), std::move(dispatcher), limits, std::move(keep));
    t->begin(t->lowest(), false, std::move(already), std::move(admission));
}

void startHttp2(asio::ssl::stream<asio::ip::tcp::socket> stream, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits,
                std::shared_ptr<void> keep, std::string already, Admission admission)
{
    auto t = std::make_shared<Transport<asio::ssl::stream<asio::ip::tcp::socket>>>(std::move(stream), std::move(dispatcher), limits, std::move(keep));
    t->begin(t->lowest(), true, std::move(already), std::move(admission));
}

} // namespace lido::http
