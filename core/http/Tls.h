#pragma once
// TLS for one listening endpoint (OpenSSL 3): the certificate for each host name, chosen per
// handshake by SNI; a default for clients that send none; IIS's Central Certificate Store (a
// folder with one PEM file per host name, "_.example.com.pem" for a wildcard) looked up by SNI
// without a configuration change; Mozilla's "intermediate" profile by default (TLS 1.2 and 1.3);
// ALPN; session tickets whose keys rotate. Certificate files are checked for changes by
// refresh(): a renewed file serves new handshakes, open connections keep theirs, and a file that
// does not load leaves the certificate that was serving.
#include "util/Result.h"

#include <ctime>
#include <memory>
#include <string>
#include <vector>

namespace asio::ssl {
class context;
}

namespace lido::http {

struct TlsOptions {
    std::string minVersion = "TLSv1.2"; // TLSv1.2 | TLSv1.3
    std::string ciphers;                // TLS 1.2 cipher list; empty: Mozilla intermediate
    std::vector<std::string> alpn = {"http/1.1"};
};

// Mozilla's "intermediate" TLS 1.2 ciphers (TLS 1.3's are OpenSSL's defaults, all good).
extern const char* const kIntermediateCiphers;

// What is wrong with a minimum version as written ("" when fine); cipher lists: lido::cipherListProblem.
std::string checkTlsVersion(const std::string& version);

// A certificate's facts, for status pages and expiry warnings.
struct CertificateFacts {
    std::string host;      // the SNI name it serves ("" for the default, "*.example.com", ...)
    std::string file;      // its certificate file
    std::string subject;   // CN or the first DNS name
    std::time_t notAfter = 0;
    std::string source;    // "binding" or "central store"
};

class TlsEndpoint {
public:
    static Result<std::shared_ptr<TlsEndpoint>> create(const TlsOptions& options);
    ~TlsEndpoint();
    TlsEndpoint(const TlsEndpoint&) = delete;
    TlsEndpoint& operator=(const TlsEndpoint&) = delete;

    // A binding's certificate chain and key (PEM; the key may be in the certificate file). host
    // empty: the default. The error names the file and the reason; nothing changes then.
    std::string addCertificate(const std::string& host, const std::string& certificateFile, const std::string& keyFile);
    // IIS's Central Certificate Store: HOST.pem (certificate and key) per host name, looked up
    // at each handshake whose name has no binding certificate.
    void setCentralStore(const std::string& folder);
    // IIS's sslFlags 4 (DisableHTTP2): ALPN offers only http/1.1 to this SNI name ("" for
    // clients that send none or a name without a certificate of its own).
    void disableHttp2(const std::string& host);

    // The context a handshake starts with (its SNI callback switches to the host's).
    asio::ssl::context& context();

    // Files that changed since they were loaded are loaded again. Returns what happened, one
    // sentence each (renewed, or why a file does not load); the old certificate keeps serving
    // when the new one does not load.
    struct Change {
        bool ok = true;
        std::string message;
    };
    std::vector<Change> refresh();
    std::vector<CertificateFacts> certificates() const;

private:
    TlsEndpoint() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace lido::http
