#include "http/Tls.h"

#include "util/Text.h"

#include <asio/ssl.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::http {

// Sessions a context keeps for resumption (about 1 KiB each; nginx's 10 MB shared cache holds
// some 40,000). Past it OpenSSL drops the oldest.
constexpr long kSessionCacheSize = 20000;

const char* const kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

namespace {

int versionOf(const std::string& v)
{
    return v == "TLSv1.2" ? TLS1_2_VERSION : v == "TLSv1.3" ? TLS1_3_VERSION : 0;
}

std::string opensslError(const char* fallback)
{
    unsigned long e = ERR_peek_last_error();
    std::string out = e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : fallback : fallback;
    ERR_clear_error();
    return out;
}

std::string dateOf(std::time_t t)
{
    char buf[64];
    std::tm tm {};
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

std::time_t timeOf(const ASN1_TIME* t)
{
    std::tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return ::timegm(&tm);
}

struct FileStamp {
    bool exists = false;
    timespec mtime{};
    off_t size = 0;
    bool operator==(const FileStamp& o) const
    {
        return exists == o.exists && mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec && size == o.size;
    }
};

FileStamp stampOf(const std::string& path)
{
    FileStamp s;
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) {
        s.exists = true;
        s.mtime = st.st_mtim;
        s.size = st.st_size;
    }
    return s;
}

// Where a context keeps its endpoint (asio keeps its own verify callback in the app data slot).
int endpointIndex()
{
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

struct Loaded {
    SSL_CTX* ctx = nullptr;
    std::string certFile, keyFile;
    FileStamp certStamp, keyStamp;
    CertificateFacts facts;
    ~Loaded()
    {
        if (ctx)
            SSL_CTX_free(ctx);
    }
};

} // namespace

struct TlsEndpoint::Impl {
    TlsOptions options;
    std::string alpnWire; // ALPN protocols in wire format
    std::unique_ptr<asio::ssl::context> base;
    mutable std::mutex mutex;
    std::map<std::string, std::shared_ptr<Loaded>> byHost; // lower-case host, "" the default
    std::string centralStore;
    std::set<std::string> http1Only; // hosts whose binding has IIS's DisableHTTP2 flag ("" the default's)
    std::map<std::string, std::shared_ptr<Loaded>> central; // by file name
    std::map<std::string, std::chrono::steady_clock::time_point> centralMissing; // names looked up lately and not found
    // Files that did not load (certificate and key path), with their stamps: not reported again until they change.
    std::map<std::string, std::pair<FileStamp, FileStamp>> failed;

    // A context with Lido's TLS settings (no certificate yet).
    std::string configure(SSL_CTX* ctx)
    {
        SSL_CTX_set_min_proto_version(ctx, versionOf(options.minVersion));
        // Resumption from the context's session cache: TLS 1.3's stateful tickets (each resumes
        // once, and its session stays in this process) and TLS 1.2's session IDs. Stateless
        // tickets were refused to a client that keeps its SSL object and clears it between
        // connections (wrk: a full handshake every time; tst_tls resumes with one such client).
        SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
        SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE); // intermediate: the client's order
        if (SSL_CTX_set_cipher_list(ctx, options.ciphers.empty() ? kIntermediateCiphers : options.ciphers.c_str()) != 1)
            return "the cipher list is refused by OpenSSL: " + opensslError("no cipher match");
        SSL_CTX_set1_groups_list(ctx, "X25519:prime256v1:secp384r1");
        SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>("lido"), 4);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, kSessionCacheSize);
        SSL_CTX_set_ex_data(ctx, endpointIndex(), this);
        SSL_CTX_set_alpn_select_cb(ctx, &Impl::selectAlpn, this);
        // (SSL_CTX_set_tlsext_servername_callback, without the macro's C cast)
        SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB, reinterpret_cast<void (*)()>(&Impl::serverName));
        SSL_CTX_set_tlsext_servername_arg(ctx, this);
        return {};
    }

    // A certificate chain and key into a new context; the reason when they do not load.
    Result<std::shared_ptr<Loaded>> load(const std::string& certFile, const std::string& keyFile, const std::string& host)
    {
        for (const std::string& f : {certFile, keyFile})
            if (::access(f.c_str(), R_OK) != 0)
                return fail(f + " cannot be read: " + std::strerror(errno));
        auto l = std::make_shared<Loaded>();
        l->certFile = certFile;
        l->keyFile = keyFile;
        l->certStamp = stampOf(certFile);
        l->keyStamp = stampOf(keyFile);
        l->ctx = SSL_CTX_new(TLS_server_method());
        if (!l->ctx)
            return fail("OpenSSL cannot make a context: " + opensslError("out of memory"));
        if (std::string e = configure(l->ctx); !e.empty())
            return fail(e);
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(l->ctx, certFile.c_str()) != 1)
            return fail(certFile + " is not a PEM certificate chain (" + opensslError("no certificate") + ")");
        if (SSL_CTX_use_PrivateKey_file(l->ctx, keyFile.c_str(), SSL_FILETYPE_PEM) != 1) {
            std::string why = opensslError("no key");
            if (why.find("mismatch") != std::string::npos)
                return fail("the private key in " + keyFile + " does not match the certificate in " + certFile);
            return fail(keyFile + " holds no PEM private key (" + why + ")");
        }
        if (SSL_CTX_check_private_key(l->ctx) != 1)
            return fail("the private key in " + keyFile + " does not match the certificate in " + certFile);
        X509* x = SSL_CTX_get0_certificate(l->ctx);
        l->facts.host = host;
        l->facts.file = certFile;
        l->facts.notAfter = timeOf(X509_get0_notAfter(x));
        if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
            return fail("the certificate in " + certFile + " expired on " + dateOf(l->facts.notAfter));
        char cn[256] = "";
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        l->facts.subject = cn;
        return l;
    }

    std::shared_ptr<Loaded> centralFor(const std::string& name)
    {
        // Under mutex. IIS's names: www.example.com.pem, _.example.com.pem for *.example.com.
        if (centralStore.empty() || name.empty() || name.find('/') != std::string::npos || name.find("..") != std::string::npos)
            return nullptr;
        std::vector<std::string> files{name + ".pem"};
        if (auto dot = name.find('.'); dot != std::string::npos)
            files.push_back("_" + name.substr(dot) + ".pem");
        for (const std::string& f : files) {
            if (auto it = central.find(f); it != central.end())
                return it->second;
            auto now = std::chrono::steady_clock::now();
            if (auto miss = centralMissing.find(f); miss != centralMissing.end() && now - miss->second < std::chrono::seconds(5))
                continue;
            std::string path = centralStore + "/" + f;
            if (::access(path.c_str(), R_OK) != 0) {
                if (centralMissing.size() > 10000)
                    centralMissing.clear(); // random names from clients cannot grow it without bound
                centralMissing[f] = now;
                continue;
            }
            auto l = load(path, path, f[0] == '_' ? "*" + f.substr(1, f.size() - 5) : f.substr(0, f.size() - 4));
            if (!l) {
                centralMissing[f] = now;
                continue;
            }
            (*l)->facts.source = "central store";
            central[f] = *l;
            return *l;
        }
        return nullptr;
    }

    std::shared_ptr<Loaded> choose(const char* sni)
    {
        std::lock_guard lock(mutex);
        std::string name = sni ? toLower(sni) : std::string();
        if (!name.empty()) {
            if (auto it = byHost.find(name); it != byHost.end())
                return it->second;
            if (auto dot = name.find('.'); dot != std::string::npos)
                if (auto it = byHost.find("*" + name.substr(dot)); it != byHost.end())
                    return it->second;
            if (auto c = centralFor(name))
                return c;
        }
        auto it = byHost.find("");
        return it == byHost.end() ? nullptr : it->second;
    }

    static int serverName(SSL* ssl, int* alert, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        std::shared_ptr<Loaded> l = self->choose(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
        if (!l) {
            *alert = SSL_AD_UNRECOGNIZED_NAME;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        SSL_set_SSL_CTX(ssl, l->ctx); // takes its own reference
        return SSL_TLSEXT_ERR_OK;
    }

    static int selectAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen, void* arg)
    {
        auto* self = static_cast<Impl*>(arg);
        static const std::string http11Only = std::string("\x08") + "http/1.1";
        const std::string* offer = &self->alpnWire;
        if (!self->http1Only.empty()) { // (SNI is decided before ALPN)
            const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
            std::string host = name ? toLower(name) : std::string();
            std::lock_guard lock(self->mutex);
            if (self->http1Only.count(host) || (self->http1Only.count("") && !self->byHost.count(host)))
                offer = &http11Only;
        }
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(offer->data()),
                                  static_cast<unsigned int>(offer->size()), in, inlen) != OPENSSL_NPN_NEGOTIATED)
            return SSL_TLSEXT_ERR_NOACK; // no protocol in common: carry on without ALPN (HTTP/1.1)
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
};

std::string checkTlsVersion(const std::string& version)
{
    return versionOf(version) ? std::string() : "'" + version + "' is not TLSv1.2 or TLSv1.3";
}

Result<std::shared_ptr<TlsEndpoint>> TlsEndpoint::create(const TlsOptions& options)
{
    if (std::string e = checkTlsVersion(options.minVersion); !e.empty())
        return fail(e);
    std::shared_ptr<TlsEndpoint> t(new TlsEndpoint);
    t->impl_ = std::make_unique<Impl>();
    Impl& i = *t->impl_;
    i.options = options;
    for (const std::string& p : options.alpn) {
        i.alpnWire += static_cast<char>(p.size());
        i.alpnWire += p;
    }
    i.base = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    if (std::string e = i.configure(i.base->native_handle()); !e.empty())
        return fail(e);
    return t;
}

TlsEndpoint::~TlsEndpoint() = default;

void TlsEndpoint::disableHttp2(const std::string& host)
{
    std::lock_guard lock(impl_->mutex);
    impl_->http1Only.insert(toLower(host));
}

std::string TlsEndpoint::addCertificate(const std::string& host, const std::string& certificateFile, const std::string& keyFile)
{
    auto l = impl_->load(certificateFile, keyFile.empty() ? certificateFile : keyFile, toLower(host));
    if (!l)
        return l.error();
    (*l)->facts.source = "binding";
    std::lock_guard lock(impl_->mutex);
    impl_->byHost[toLower(host)] = *l;
    if (!impl_->byHost.count(""))
        impl_->byHost[""] = *l; // the first one is also the default
    return {};
}

void TlsEndpoint::setCentralStore(const std::string& folder)
{
    std::lock_guard lock(impl_->mutex);
    impl_->centralStore = folder;
    while (!impl_->centralStore.empty() && impl_->centralStore.back() == '/')
        impl_->centralStore.pop_back();
}

asio::ssl::context& TlsEndpoint::context() { return *impl_->base; }

std::vector<TlsEndpoint::Change> TlsEndpoint::refresh()
{
    std::vector<Change> out;
    std::lock_guard lock(impl_->mutex);
    auto check = [&](std::shared_ptr<Loaded>& l, const std::string& what) {
        FileStamp c = stampOf(l->certFile), k = stampOf(l->keyFile);
        if (c == l->certStamp && k == l->keyStamp)
            return;
        std::string key = l->certFile + '\x1f' + l->keyFile;
        if (auto f = impl_->failed.find(key); f != impl_->failed.end() && f->second.first == c && f->second.second == k)
            return; // reported already, unchanged since
        auto fresh = impl_->load(l->certFile, l->keyFile, l->facts.host);
        if (!fresh) {
            impl_->failed[key] = {c, k};
            out.push_back({false, "the certificate for " + what + " does not load: " + fresh.error() +
                                      "; the certificate that was serving keeps serving (valid until " + dateOf(l->facts.notAfter) + ")"});
            return;
        }
        impl_->failed.erase(key);
        (*fresh)->facts.source = l->facts.source;
        out.push_back({true, "the certificate for " + what + " was renewed from " + l->certFile + ": " + (*fresh)->facts.subject +
                                 ", valid until " + dateOf((*fresh)->facts.notAfter) + "; new connections use it"});
        l = *fresh;
    };
    // Named hosts first; the default is usually one of them (the same certificate) and follows it.
    std::map<Loaded*, std::shared_ptr<Loaded>> renewed;
    for (auto& [host, l] : impl_->byHost) {
        if (host.empty())
            continue;
        Loaded* before = l.get();
        if (auto r = renewed.find(before); r != renewed.end()) {
            l = r->second;
            continue;
        }
        check(l, host);
        renewed[before] = l;
    }
    if (auto d = impl_->byHost.find(""); d != impl_->byHost.end()) {
        if (auto r = renewed.find(d->second.get()); r != renewed.end())
            d->second = r->second;
        else
            check(d->second, "clients without SNI");
    }
    for (auto& [file, l] : impl_->central)
        check(l, l->facts.host + " (central store)");
    return out;
}

std::vector<CertificateFacts> TlsEndpoint::certificates() const
{
    std::lock_guard lock(impl_->mutex);
    std::vector<CertificateFacts> out;
    for (const auto& [host, l] : impl_->byHost) {
        if (host.empty() && impl_->byHost.size() > 1)
            continue; // the default is one of the named ones
        CertificateFacts f = l->facts;
        f.host = host;
        out.push_back(f);
    }
    for (const auto& [file, l] : impl_->central)
        out.push_back(l->facts);
    return out;
}

} // namespace lido::http
