#include "http/Client.h"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <llhttp.h>
#include <openssl/x509v3.h>

namespace lido::http {

const std::string* ClientResponse::header(std::string_view name) const
{
    return findHeader(headers, name);
}

namespace {

struct Url {
    bool tls = false;
    std::string host, port, target;
};

Result<Url> parseUrl(const std::string& url)
{
    Url u;
    size_t rest;
    if (url.rfind("https://", 0) == 0) {
        u.tls = true;
        rest = 8;
    } else if (url.rfind("http://", 0) == 0) {
        rest = 7;
    } else {
        return fail("'" + url + "' is not an http:// or https:// URL");
    }
    size_t slash = url.find('/', rest);
    std::string authority = url.substr(rest, slash == std::string::npos ? std::string::npos : slash - rest);
    u.target = slash == std::string::npos ? "/" : url.substr(slash);
    size_t colon = authority.rfind(':');
    if (!authority.empty() && authority.front() == '[') { // [v6]:port
        size_t close = authority.find(']');
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':')
            u.port = authority.substr(close + 2);
    } else if (colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (u.port.empty())
        u.port = u.tls ? "443" : "80";
    if (u.host.empty())
        return fail("'" + url + "' names no host");
    return u;
}

// The answer, parsed by llhttp as it arrives.
class Parser {
public:
    explicit Parser(size_t maxBody) : maxBody_(maxBody)
    {
        llhttp_settings_init(&settings_);
        settings_.on_header_field = [](llhttp_t* p, const char* at, size_t n) {
            Parser& self = *static_cast<Parser*>(p->data);
            if (self.inValue_ || self.response.headers.empty()) {
                self.response.headers.push_back({});
                self.inValue_ = false;
            }
            self.response.headers.back().name.append(at, n);
            return 0;
        };
        settings_.on_header_value = [](llhttp_t* p, const char* at, size_t n) {
            Parser& self = *static_cast<Parser*>(p->data);
            self.inValue_ = true;
            self.response.headers.back().value.append(at, n);
            return 0;
        };
        settings_.on_body = [](llhttp_t* p, const char* at, size_t n) {
            Parser& self = *static_cast<Parser*>(p->data);
            if (self.response.body.size() + n > self.maxBody_)
                return -1;
            self.response.body.append(at, n);
            return 0;
        };
        settings_.on_message_complete = [](llhttp_t* p) {
            static_cast<Parser*>(p->data)->complete = true;
            return 0;
        };
        llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
        parser_.data = this;
    }
    bool feed(const char* data, size_t n)
    {
        if (llhttp_execute(&parser_, data, n) != HPE_OK)
            return false;
        response.status = parser_.status_code;
        return true;
    }
    bool finish()
    {
        if (!complete)
            llhttp_finish(&parser_); // a body that ends with the connection is complete now
        response.status = parser_.status_code;
        return complete;
    }
    ClientResponse response;
    bool complete = false;

private:
    llhttp_settings_t settings_{};
    llhttp_t parser_{};
    size_t maxBody_;
    bool inValue_ = false;
};

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const std::string& request, Parser& parser, std::string& error)
{
    asio::error_code ec;
    co_await asio::async_write(stream, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        error = "cannot send the request: " + ec.message();
        co_return;
    }
    std::array<char, 16384> buf;
    for (;;) {
        size_t n = co_await stream.async_read_some(asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (n > 0 && !parser.feed(buf.data(), n)) {
            error = "the answer is not valid HTTP (or its body is too large)";
            co_return;
        }
        if (parser.complete)
            co_return;
        if (ec) {
            // The end of the connection ends a body without a length (a TLS peer may close
            // without close_notify: what arrived is all there is).
            if ((ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) && parser.finish())
                co_return;
            error = "the connection ended before the answer was complete: " + ec.message();
            co_return;
        }
    }
}

} // namespace

Result<ClientResponse> fetchUrl(const std::string& method, const std::string& url, const std::vector<Header>& headers, const std::string& body,
                                const ClientOptions& options)
{
    auto u = parseUrl(url);
    if (!u)
        return fail(u.error());
    std::string request = method + " " + u->target + " HTTP/1.1\r\nHost: " + (u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host) +
                          ":" + u->port + "\r\nConnection: close\r\nUser-Agent: Lido/0.1\r\n";
    for (const Header& h : headers)
        request += h.name + ": " + h.value + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT")
        request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    request += "\r\n" + body;

    asio::io_context io(1);
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    if (u->tls) {
        asio::error_code ec;
        ctx.set_verify_mode(asio::ssl::verify_peer);
        if (options.caFile.empty())
            ctx.set_default_verify_paths(ec);
        else
            ctx.load_verify_file(options.caFile, ec);
        if (ec)
            return fail(url + ": the trusted certificates (" + (options.caFile.empty() ? std::string("the system's") : options.caFile) +
                        ") do not load: " + ec.message());
    }
    Parser parser(options.maxBody);
    std::string error;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            asio::error_code ec;
            asio::ip::tcp::resolver resolver(io);
            auto endpoints = co_await resolver.async_resolve(u->host, u->port, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                error = "cannot resolve " + u->host + ": " + ec.message();
                co_return;
            }
            asio::ip::tcp::socket socket(io);
            co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                error = "cannot connect to " + u->host + ":" + u->port + ": " + ec.message();
                co_return;
            }
            if (!u->tls) {
                co_await exchange(socket, request, parser, error);
                done = error.empty();
                co_return;
            }
            asio::ssl::stream<asio::ip::tcp::socket&> tls(socket, ctx);
            SSL* ssl = tls.native_handle();
            asio::error_code isIp;
            asio::ip::make_address(u->host, isIp);
            if (isIp) { // a name: SNI, and the certificate must be for it
                SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(u->host.c_str()));
                SSL_set1_host(ssl, u->host.c_str());
            } else {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u->host.c_str());
            }
            co_await tls.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                long verify = SSL_get_verify_result(ssl);
                error = "TLS handshake with " + u->host + ":" + u->port + " failed: " +
                        (verify != X509_V_OK ? std::string("its certificate is not trusted (") + X509_verify_cert_error_string(verify) + ")" : ec.message());
                co_return;
            }
            co_await exchange(tls, request, parser, error);
            done = error.empty();
        },
        asio::detached);
    io.run_for(options.timeout);
    if (!done && error.empty())
        error = "no complete answer within " + std::to_string(options.timeout.count() / 1000) + " s";
    if (!done)
        return fail(method + " " + url + ": " + error);
    return std::move(parser.response);
}

} // namespace lido::http
