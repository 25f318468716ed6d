#pragma once
// OpenSSL's own verdict on TLS settings as written, for the validator (the TLS endpoint itself is
// in http/Tls).
#include <string>
#include <string_view>

namespace lido {

// "" when OpenSSL takes the TLS 1.2 cipher list, else its reason.
std::string cipherListProblem(std::string_view ciphers);

} // namespace lido
