#include "acme/Acme.h"

#include "config/AtomicFile.h"
#include "http/Client.h"
#include "log/EventLog.h"

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::acme {

using json = nlohmann::json;

void ChallengeBoard::publish(const std::string& token, const std::string& keyAuthorization)
{
    std::lock_guard lock(mutex_);
    tokens_[token] = keyAuthorization;
}

void ChallengeBoard::withdraw(const std::string& token)
{
    std::lock_guard lock(mutex_);
    tokens_.erase(token);
}

std::optional<std::string> ChallengeBoard::find(const std::string& token) const
{
    std::lock_guard lock(mutex_);
    auto it = tokens_.find(token);
    return it == tokens_.end() ? std::nullopt : std::optional(it->second);
}

std::time_t renewalTime(std::time_t notBefore, std::time_t notAfter)
{
    return notBefore + (notAfter - notBefore) * 2 / 3;
}

std::time_t retryDelay(int failures)
{
    std::time_t delay = 60;
    for (int i = 1; i < failures && delay < 6 * 3600; ++i)
        delay *= 2;
    return std::min<std::time_t>(delay, 6 * 3600);
}

namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A string member of a JSON object, "" when there is none (the CA's answers are not trusted to be well formed).
std::string str(const json& o, const char* key)
{
    if (o.is_object())
        if (auto it = o.find(key); it != o.end() && it->is_string())
            return it->get<std::string>();
    return {};
}
// An array member, an empty array when there is none.
json list(const json& o, const char* key)
{
    if (o.is_object())
        if (auto it = o.find(key); it != o.end() && it->is_array())
            return *it;
    return json::array();
}

std::string base64url(const unsigned char* data, size_t n)
{
    std::string out(4 * ((n + 2) / 3) + 1, '\0');
    int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
    out.resize(static_cast<size_t>(len));
    for (char& c : out)
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!out.empty() && out.back() == '=')
        out.pop_back();
    return out;
}
std::string base64url(std::string_view s)
{
    return base64url(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

std::string keyPem(EVP_PKEY* key)
{
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(n));
    BIO_free(bio);
    return pem;
}

Pkey newKey()
{
    return Pkey(EVP_EC_gen("P-256"));
}

// The account key in folder/account.key: read, or made (mode 0600) the first time.
Result<Pkey> accountKey(const std::string& folder)
{
    std::string path = folder + "/account.key";
    if (FILE* f = std::fopen(path.c_str(), "r")) {
        Pkey key(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
        std::fclose(f);
        if (!key)
            return fail(path + " is not a PEM private key");
        return key;
    }
    Pkey key = newKey();
    if (!key)
        return fail("cannot make a P-256 key");
    if (auto w = writeFileAtomically(path, keyPem(key.get())); !w)
        return fail(w.error());
    ::chmod(path.c_str(), 0600);
    return key;
}

json jwk(EVP_PKEY* key)
{
    auto coordinate = [&](const char* name) {
        BIGNUM* bn = nullptr;
        EVP_PKEY_get_bn_param(key, name, &bn);
        unsigned char buf[32];
        BN_bn2binpad(bn, buf, 32);
        BN_free(bn);
        return base64url(buf, 32);
    };
    // The members in lexicographic order, as the thumbprint (RFC 7638) wants them.
    return json{{"crv", "P-256"}, {"kty", "EC"}, {"x", coordinate(OSSL_PKEY_PARAM_EC_PUB_X)}, {"y", coordinate(OSSL_PKEY_PARAM_EC_PUB_Y)}};
}

std::string sha256(std::string_view data)
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(md), n);
}

// ES256: the ECDSA signature as r || s, 32 bytes each (RFC 7518 §3.4), not DER.
std::string sign(EVP_PKEY* key, std::string_view data)
{
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t length = 0;
    std::string der;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
        EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1) {
        der.resize(length);
        if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &length, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1)
            der.resize(length);
        else
            der.clear();
    }
    EVP_MD_CTX_free(ctx);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    if (!sig)
        return {};
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32);
    ECDSA_SIG_free(sig);
    return std::string(reinterpret_cast<char*>(raw), 64);
}

// A CSR (DER) for host with key.
std::string csrFor(const std::string& host, EVP_PKEY* key)
{
    X509_REQ* req = X509_REQ_new();
    X509_REQ_set_version(req, 0);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
    STACK_OF(X509_EXTENSION)* extensions = sk_X509_EXTENSION_new_null();
    std::string san = "DNS:" + host;
    sk_X509_EXTENSION_push(extensions, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str()));
    X509_REQ_add_extensions(req, extensions);
    sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    unsigned char* der = nullptr;
    int n = i2d_X509_REQ(req, &der);
    std::string out = n > 0 ? std::string(reinterpret_cast<char*>(der), static_cast<size_t>(n)) : std::string();
    OPENSSL_free(der);
    X509_REQ_free(req);
    return out;
}

// One conversation with the CA: the nonces, the signed requests and the problem documents.
class Session {
public:
    Session(const AcmeSettings& settings, EVP_PKEY* key, const std::atomic<bool>* cancelled)
        : settings_(settings), key_(key), cancelled_(cancelled), jwk_(jwk(key))
    {
    }

    Result<json> directory()
    {
        auto r = http::fetchUrl("GET", settings_.directory, {}, {}, options());
        if (!r)
            return fail("reading the directory: " + r.error());
        if (r->status != 200)
            return fail("reading the directory " + settings_.directory + ": HTTP " + std::to_string(r->status));
        json d = json::parse(r->body, nullptr, false);
        if (!d.is_object() || !d.contains("newNonce") || !d.contains("newAccount") || !d.contains("newOrder"))
            return fail(settings_.directory + " is not an ACME directory");
        dir_ = d;
        return d;
    }

    // A signed POST (payload null: POST-as-GET). A badNonce answer is retried with the new nonce.
    Result<http::ClientResponse> post(const std::string& url, const std::optional<json>& payload, const std::string& step, bool useJwk = false)
    {
        for (int attempt = 0;; ++attempt) {
            if (nonce_.empty()) {
                auto n = http::fetchUrl("HEAD", str(dir_, "newNonce"), {}, {}, options());
                if (!n)
                    return fail(step + ": " + n.error());
                if (const std::string* v = n->header("Replay-Nonce"))
                    nonce_ = *v;
            }
            json protect{{"alg", "ES256"}, {"nonce", nonce_}, {"url", url}};
            if (useJwk)
                protect["jwk"] = jwk_;
            else
                protect["kid"] = kid_;
            std::string p64 = base64url(protect.dump()), body64 = payload ? base64url(payload->dump()) : std::string();
            json jws{{"protected", p64}, {"payload", body64}, {"signature", base64url(sign(key_, p64 + "." + body64))}};
            nonce_.clear();
            auto r = http::fetchUrl("POST", url, {{"Content-Type", "application/jose+json"}}, jws.dump(), options());
            if (!r)
                return fail(step + ": " + r.error());
            if (const std::string* v = r->header("Replay-Nonce"))
                nonce_ = *v;
            if (r->status < 400)
                return r;
            json problem = json::parse(r->body, nullptr, false);
            std::string type = problem.is_object() ? str(problem, "type") : "";
            if (type == "urn:ietf:params:acme:error:badNonce" && attempt < 4)
                continue;
            return fail(step + ": the CA answered " + std::to_string(r->status) +
                        (problem.is_object() ? " " + type + ": " + str(problem, "detail") + " (problem document: " + problem.dump() + ")"
                                             : std::string(" without a problem document")));
        }
    }

    // The object at url, asked again until its status is no longer one of `waiting` (Retry-After
    // honoured, at most a minute and a half in all).
    Result<json> poll(const std::string& url, const std::vector<std::string>& waiting, const std::string& step)
    {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
        auto pause = std::chrono::milliseconds(200);
        for (;;) {
            auto r = post(url, std::nullopt, step);
            if (!r)
                return fail(r.error());
            json o = json::parse(r->body, nullptr, false);
            std::string status = o.is_object() ? str(o, "status") : "";
            if (std::find(waiting.begin(), waiting.end(), status) == waiting.end())
                return o;
            if (cancelled_ && cancelled_->load())
                return fail(step + ": the engine is stopping");
            if (std::chrono::steady_clock::now() > deadline)
                return fail(step + ": still " + status + " after 90 s");
            if (const std::string* after = r->header("Retry-After"))
                pause = std::chrono::milliseconds(std::clamp(std::atol(after->c_str()), 1L, 10L) * 1000);
            std::this_thread::sleep_for(pause); // the CA's pace: a real wait on a remote server
            pause = std::min(pause * 2, std::chrono::milliseconds(2000));
        }
    }

    void setKid(std::string kid) { kid_ = std::move(kid); }
    std::string thumbprint() const { return base64url(sha256(jwk_.dump())); }
    const json& dir() const { return dir_; }

private:
    http::ClientOptions options() const
    {
        http::ClientOptions o;
        o.caFile = settings_.caFile;
        o.timeout = std::chrono::seconds(30);
        return o;
    }

    const AcmeSettings& settings_;
    EVP_PKEY* key_;
    const std::atomic<bool>* cancelled_;
    json jwk_;
    json dir_;
    std::string nonce_, kid_;
};

std::string problemOf(const json& o)
{
    if (o.is_object() && o.contains("error") && o["error"].is_object())
        return str(o["error"], "type") + ": " + str(o["error"], "detail") + " (problem document: " + o["error"].dump() + ")";
    return "no reason given";
}

} // namespace

Result<Issued> obtainCertificate(const AcmeSettings& settings, const std::string& host, ChallengeBoard& board, const std::atomic<bool>* cancelled)
{
    auto key = accountKey(settings.folder);
    if (!key)
        return fail("the account key: " + key.error());
    Session s(settings, key->get(), cancelled);
    if (auto d = s.directory(); !d)
        return fail(d.error());
    json account{{"termsOfServiceAgreed", settings.acceptTerms}};
    if (!settings.contact.empty())
        account["contact"] = json::array({settings.contact});
    auto acct = s.post(str(s.dir(), "newAccount"), account, "creating the account", true);
    if (!acct)
        return fail(acct.error());
    const std::string* kid = acct->header("Location");
    if (!kid)
        return fail("creating the account: the CA gave no account URL (Location)");
    s.setKid(*kid);

    json identifiers = json::array({json{{"type", "dns"}, {"value", host}}});
    auto order = s.post(str(s.dir(), "newOrder"), json{{"identifiers", identifiers}}, "ordering a certificate for " + host);
    if (!order)
        return fail(order.error());
    const std::string* orderUrlHeader = order->header("Location");
    std::string orderUrl = orderUrlHeader ? *orderUrlHeader : std::string();
    json o = json::parse(order->body, nullptr, false);
    if (!o.is_object() || !o.contains("authorizations") || !o.contains("finalize"))
        return fail("ordering a certificate for " + host + ": the CA's order is not valid JSON");

    for (const auto& authzUrl : list(o, "authorizations")) {
        std::string url = authzUrl.is_string() ? authzUrl.get<std::string>() : std::string();
        auto a = s.post(url, std::nullopt, "reading the authorization for " + host);
        if (!a)
            return fail(a.error());
        json authz = json::parse(a->body, nullptr, false);
        if (str(authz, "status") == "valid")
            continue;
        json http01;
        for (const auto& c : list(authz, "challenges"))
            if (str(c, "type") == "http-01")
                http01 = c;
        if (!http01.is_object())
            return fail("the CA offers no http-01 challenge for " + host);
        std::string token = str(http01, "token");
        board.publish(token, token + "." + s.thumbprint());
        auto started = s.post(str(http01, "url"), json::object(), "starting the http-01 challenge for " + host);
        Result<json> done = started ? s.poll(url, {"pending"}, "waiting for the CA to check http://" + host + "/.well-known/acme-challenge/")
                                    : Result<json>(fail(started.error()));
        board.withdraw(token);
        if (!done)
            return fail(done.error());
        if (str(*done, "status") != "valid") {
            std::string why = "no reason given";
            for (const auto& c : list(*done, "challenges"))
                if (str(c, "type") == "http-01")
                    why = problemOf(c);
            return fail("the CA did not accept the http-01 challenge for " + host + " (" + str(*done, "status") + "): " + why);
        }
    }

    Pkey certKey = newKey();
    auto fin = s.post(str(o, "finalize"), json{{"csr", base64url(csrFor(host, certKey.get()))}}, "finalizing the order for " + host);
    if (!fin)
        return fail(fin.error());
    json finished = json::parse(fin->body, nullptr, false);
    if (str(finished, "status") != "valid") {
        if (orderUrl.empty())
            return fail("finalizing the order for " + host + ": the CA gave no order URL to wait on");
        auto polled = s.poll(orderUrl, {"pending", "ready", "processing"}, "waiting for the certificate of " + host);
        if (!polled)
            return fail(polled.error());
        finished = *polled;
    }
    if (str(finished, "status") != "valid" || !finished.contains("certificate"))
        return fail("the order for " + host + " ended " + str(finished, "status") + ": " + problemOf(finished));
    auto cert = s.post(str(finished, "certificate"), std::nullopt, "downloading the certificate of " + host);
    if (!cert)
        return fail(cert.error());
    if (cert->body.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return fail("downloading the certificate of " + host + ": the answer is no PEM chain");
    return Issued{cert->body, keyPem(certKey.get())};
}

// AcmeManager

AcmeManager::AcmeManager(std::shared_ptr<log::EventLog> events, Clock clock) : events_(std::move(events)), clock_(std::move(clock)) {}

AcmeManager::~AcmeManager()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cancelled_ = true;
    wake_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

std::string AcmeManager::defaultFolder()
{
    if (const char* service = std::getenv("STATE_DIRECTORY"); service && *service) // systemd's StateDirectory=
        return std::string(service) + "/acme";
    if (::geteuid() == 0)
        return "/var/lib/lido/acme";
    if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
        return std::string(state) + "/lido/acme";
    const char* home = std::getenv("HOME");
    return std::string(home ? home : "/tmp") + "/.local/state/lido/acme";
}

std::string AcmeManager::certificateFile(const std::string& host) const
{
    std::lock_guard lock(mutex_);
    return settings_.folder + "/" + host + "/certificate.pem";
}

std::string AcmeManager::keyFile(const std::string& host) const
{
    std::lock_guard lock(mutex_);
    return settings_.folder + "/" + host + "/key.pem";
}

bool AcmeManager::hasCertificate(const std::string& host) const
{
    return ::access(certificateFile(host).c_str(), R_OK) == 0 && ::access(keyFile(host).c_str(), R_OK) == 0;
}

void AcmeManager::onIssued(std::function<void(const std::string&)> issued)
{
    std::lock_guard lock(mutex_);
    issued_ = std::move(issued);
}

// The validity of a certificate already on disk decides its renewal time. One whose key on disk is
// not its own (the engine stopped between writing the new key and the new certificate) is
// obtained again at once: the TLS endpoint would not load that pair, and its renewal may be months away.
void AcmeManager::readExisting(const std::string& host, HostState& state)
{
    std::string file = settings_.folder + "/" + host + "/certificate.pem";
    FILE* f = std::fopen(file.c_str(), "r");
    if (!f)
        return;
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    if (!x)
        return;
    EVP_PKEY* key = nullptr;
    if (FILE* k = std::fopen((settings_.folder + "/" + host + "/key.pem").c_str(), "r")) {
        key = PEM_read_PrivateKey(k, nullptr, nullptr, nullptr);
        std::fclose(k);
    }
    bool matches = key && X509_check_private_key(x, key) == 1;
    EVP_PKEY_free(key);
    ERR_clear_error(); // (a mismatch leaves its reason on this thread's queue)
    if (!matches) {
        X509_free(x);
        events_->add(log::Severity::Warning, "acme " + host, "acme.pair-mismatch",
                     settings_.folder + "/" + host + "/key.pem is not the key of certificate.pem beside it (saved halfway?); a new certificate is obtained now");
        return;
    }
    std::tm tm{};
    std::time_t notBefore = 0, notAfter = 0;
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm) == 1)
        notBefore = timegm(&tm);
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
        notAfter = timegm(&tm);
    X509_free(x);
    state.renewAt = renewalTime(notBefore, notAfter);
}

void AcmeManager::configure(const AcmeSettings& settings, const std::set<std::string>& hosts)
{
    std::lock_guard lock(mutex_);
    bool changed = !(settings == settings_);
    settings_ = settings;
    // The folder only once a binding asks for a certificate: an engine without ACME makes none.
    if (!settings_.folder.empty() && !hosts.empty()) {
        for (size_t i = 1; i <= settings_.folder.size(); ++i)
            if (i == settings_.folder.size() || settings_.folder[i] == '/')
                ::mkdir(settings_.folder.substr(0, i).c_str(), 0700);
        ::chmod(settings_.folder.c_str(), 0700); // the account key and certificate keys
    }
    for (auto it = hosts_.begin(); it != hosts_.end();)
        it = hosts.count(it->first) ? std::next(it) : hosts_.erase(it);
    for (const std::string& h : hosts)
        if (!hosts_.count(h) || changed) {
            HostState state;
            readExisting(h, state);
            hosts_[h] = state;
        }
    // The thread only once a certificate is wanted: an engine without ACME bindings has none.
    if (!hosts_.empty() && !thread_.joinable())
        thread_ = std::thread([this] { work(); });
}

void AcmeManager::tick()
{
    std::time_t now = clock_();
    {
        std::lock_guard lock(mutex_);
        if (settings_.directory.empty())
            return;
        for (auto& [host, state] : hosts_)
            if ((state.renewAt == 0 || now >= state.renewAt) && now >= state.nextAttempt)
                queued_.insert(host);
    }
    wake_.notify_all();
}

void AcmeManager::work()
{
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
        if (stopping_)
            return;
        std::string host = *queued_.begin();
        queued_.erase(queued_.begin());
        if (!hosts_.count(host))
            continue;
        lock.unlock();
        runOne(host);
        lock.lock();
    }
}

void AcmeManager::runOne(const std::string& host)
{
    AcmeSettings settings;
    bool renewal;
    {
        std::lock_guard lock(mutex_);
        settings = settings_;
        renewal = hosts_[host].renewAt != 0;
    }
    std::string source = "acme " + host;
    auto issued = obtainCertificate(settings, host, *board_, &cancelled_);
    if (cancelled_)
        return;
    std::time_t now = clock_();
    if (!issued) {
        std::lock_guard lock(mutex_);
        HostState& state = hosts_[host];
        ++state.failures;
        state.nextAttempt = now + retryDelay(state.failures);
        events_->add(log::Severity::Error, source, "acme.failed",
                     issued.error() + (renewal ? "; the current certificate keeps serving" : "; handshakes for " + host + " fail until one is obtained") +
                         "; next attempt in " + std::to_string(retryDelay(state.failures)) + " s");
        return;
    }
    std::string dir = settings.folder + "/" + host;
    ::mkdir(dir.c_str(), 0700);
    // The key first: until the chain is replaced too the pair does not match, and the TLS
    // endpoint keeps the certificate that was serving (it loads a pair only when both agree).
    auto k = writeFileAtomically(dir + "/key.pem", issued->keyPem);
    ::chmod((dir + "/key.pem").c_str(), 0600);
    auto c = k ? writeFileAtomically(dir + "/certificate.pem", issued->chainPem) : Result<void>(fail(k.error()));
    if (!c) {
        events_->add(log::Severity::Error, source, "acme.failed", "the certificate for " + host + " was issued but cannot be saved: " + c.error());
        return;
    }
    std::function<void(const std::string&)> told;
    {
        std::lock_guard lock(mutex_);
        HostState& state = hosts_[host];
        state.failures = 0;
        state.nextAttempt = 0;
        readExisting(host, state);
        told = issued_;
    }
    events_->add(log::Severity::Info, source, renewal ? "acme.certificate-renewed" : "acme.certificate-obtained",
                 "a certificate for " + host + " from " + settings.directory + " is in " + dir + "/certificate.pem");
    if (told)
        told(host);
}

} // namespace lido::acme
