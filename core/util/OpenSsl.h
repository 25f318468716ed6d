#pragma once
// OpenSSL's own verdict on TLS settings as written, for the validator (the TLS endpoint itself is
// in http/Tls), and its digest.
#include <string>
#include <string_view>

namespace lido {

// The SHA-256 of data in lower-case hex (64 digits).
std::string sha256Hex(std::string_view data);

// "" when OpenSSL takes the TLS 1.2 cipher list, else its reason.
std::string cipherListProblem(std::string_view ciphers);

} // namespace lido
