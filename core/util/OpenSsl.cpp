#include "util/OpenSsl.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

namespace lido {

std::string sha256Hex(std::string_view data)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

std::string cipherListProblem(std::string_view ciphers)
{
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return "OpenSSL cannot make a context";
    ERR_clear_error();
    std::string list(ciphers);
    bool ok = SSL_CTX_set_cipher_list(ctx, list.c_str()) == 1;
    std::string why;
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        const char* reason = e ? ERR_reason_error_string(e) : nullptr;
        why = "OpenSSL refuses the cipher list '" + list + "' (" + (reason ? reason : "no cipher match") + ")";
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return why;
}

} // namespace lido
