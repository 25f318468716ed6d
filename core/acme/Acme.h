#pragma once
// ACME (RFC 8555), as Caddy and nginx do it and IIS does not: an https binding with lido's
// acme="true" gets its certificate from the CA named in lido/acme (Let's Encrypt, or any RFC 8555
// server), proved by HTTP-01 challenges the engine answers itself on the site's http binding, and
// renewed at two thirds of its lifetime. The account key and certificates live in a folder of
// mode 0700; a failure is an event with the CA's problem document, and whatever certificate was
// serving keeps serving.
#include "util/Result.h"

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace lido::log {
class EventLog;
}

namespace lido::acme {

struct AcmeSettings {
    std::string directory;  // the CA's directory URL
    std::string contact;    // mailto:..., may be empty
    bool acceptTerms = false;
    std::string folder;     // account key and certificates (made 0700)
    std::string caFile;     // trust for the CA's own https (a private or test CA); empty: the system's
    bool operator==(const AcmeSettings&) const = default;
};

// HTTP-01 key authorizations being offered, by token; read by the engine's request threads.
class ChallengeBoard {
public:
    void publish(const std::string& token, const std::string& keyAuthorization);
    void withdraw(const std::string& token);
    std::optional<std::string> find(const std::string& token) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::string> tokens_;
};

struct Issued {
    std::string chainPem; // leaf first
    std::string keyPem;
};

// One certificate for host, obtained from the CA: account (made or found by its key, kept in
// settings.folder/account.key), order, HTTP-01 on the board, CSR with a new P-256 key, download.
// The error says which step failed and carries the CA's problem document.
// cancelled: checked while waiting on the CA (the engine is stopping).
Result<Issued> obtainCertificate(const AcmeSettings& settings, const std::string& host, ChallengeBoard& board,
                                 const std::atomic<bool>* cancelled = nullptr);

// When a certificate valid from notBefore to notAfter is due for renewal: two thirds of its life.
std::time_t renewalTime(std::time_t notBefore, std::time_t notAfter);
// The wait after the n-th failure in a row (1, 2, ...): a minute, doubling, at most six hours.
std::time_t retryDelay(int failures);

// Keeps the certificates of the hosts asked for: obtains a missing one, renews one that is due,
// retries failures later; the work runs on a thread of its own (started when the first host is
// asked for), the decisions in tick().
class AcmeManager {
public:
    using Clock = std::function<std::time_t()>;
    AcmeManager(std::shared_ptr<log::EventLog> events, Clock clock);
    ~AcmeManager();
    AcmeManager(const AcmeManager&) = delete;
    AcmeManager& operator=(const AcmeManager&) = delete;

    void configure(const AcmeSettings& settings, const std::set<std::string>& hosts);
    void tick(); // each second, from the engine
    std::string certificateFile(const std::string& host) const;
    std::string keyFile(const std::string& host) const;
    bool hasCertificate(const std::string& host) const;
    std::shared_ptr<const ChallengeBoard> board() const { return board_; }
    // A new certificate's files are in place for host (called on the manager's thread).
    void onIssued(std::function<void(const std::string& host)> issued);
    static std::string defaultFolder();

private:
    struct HostState {
        std::time_t renewAt = 0;     // 0: no certificate yet
        std::time_t nextAttempt = 0; // after a failure
        int failures = 0;
    };
    void work();
    void runOne(const std::string& host);
    void readExisting(const std::string& host, HostState& state);

    std::shared_ptr<log::EventLog> events_;
    Clock clock_;
    std::shared_ptr<ChallengeBoard> board_ = std::make_shared<ChallengeBoard>();
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    AcmeSettings settings_;
    std::map<std::string, HostState> hosts_;
    std::set<std::string> queued_;
    std::function<void(const std::string&)> issued_;
    bool stopping_ = false;
    std::atomic<bool> cancelled_{false};
    bool busy_ = false;
    std::thread thread_;
};

} // namespace lido::acme
