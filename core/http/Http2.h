#pragma once
// HTTP/2 (RFC 9113) on one connection, with nghttp2 doing the framing, HPACK and flow control.
// Each stream is a Responder like an HTTP/1.1 connection, so static files, CGI and FastCGI serve
// it unchanged. Internal to the http layer: Connection hands its stream over after TLS's ALPN
// chose h2, or when a plain connection opens with the h2c preface (prior knowledge).
#include "http/Connection.h"

#include <asio/ssl/stream.hpp>

#include <string>

namespace lido::http {

// The client connection preface; a plain connection starting with it speaks h2c.
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// already: bytes read from the connection before the hand-over (the preface, with h2c).
void startHttp2(asio::ip::tcp::socket socket, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits, std::shared_ptr<void> keep,
                std::string already, Admission admission);
void startHttp2(asio::ssl::stream<asio::ip::tcp::socket> stream, std::shared_ptr<Dispatcher> dispatcher, const Limits& limits,
                std::shared_ptr<void> keep, std::string already, Admission admission);

} // namespace lido::http
