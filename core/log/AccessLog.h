#pragma once
// W3C extended access log of one site, as IIS writes it: a folder per site (W3SVC<id>), a file
// per period with IIS's names (u_exYYMMDDHH.log hourly, u_exYYMMDD.log daily, u_exYYMMWW.log
// weekly, u_exYYMM.log monthly, u_extendN.log by size), #Software/#Version/#Date/#Fields
// header lines (again whenever a log opens its file, as IIS does when a worker starts), the
// fields logExtFileFlags names in IIS's order, buffered and flushed once a second.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace lido::log {

// What one request gives the log; the views last for the write call only.
struct AccessEntry {
    std::string_view serverIp;
    std::string_view method;
    std::string_view uriStem;
    std::string_view uriQuery;
    uint16_t serverPort = 0;
    std::string_view userName; // (no authentication module sets one yet: "-")
    std::string_view clientIp;
    std::string_view protocolVersion; // "HTTP/1.1"
    std::string_view userAgent;
    std::string_view cookie;
    std::string_view referer;
    std::string_view host;
    int status = 0;
    int substatus = 0;
    unsigned long long bytesSent = 0;
    unsigned long long bytesReceived = 0;
    long long timeTakenMs = 0;
};

// logExtFileFlags ("Date, Time, ClientIP, ...") as a set of fields; unknown names are the
// validator's to report and are skipped here.
uint32_t parseLogFields(std::string_view flags);
// The #Fields line's names for a set, in IIS's order ("date time s-ip ...").
std::string logFieldNames(uint32_t fields);

class AccessLog {
public:
    // period: IIS's Hourly, Daily, Weekly, Monthly or MaxSize (a new file past truncateSize bytes).
    // siteName: s-sitename (W3SVC<id>).
    AccessLog(std::string folder, const std::string& period, uint64_t truncateSize, bool enabled, uint32_t fields, std::string siteName);
    ~AccessLog();
    bool enabled() const { return enabled_; }
    void write(const AccessEntry& e);
    void flush();
    // Writes what is buffered, closes the file and opens it again by name at the next write
    // (after logrotate moved it away; SIGUSR1).
    void reopen();
    std::string currentFile() const;

private:
    void openFor(std::time_t now);

    enum class Period { Hourly, Daily, Weekly, Monthly, MaxSize };
    std::string nameFor(std::time_t now);

    std::string folder_;
    Period period_;
    uint64_t truncateSize_;
    unsigned sizeSerial_ = 0; // MaxSize: N of u_extendN.log (0: not looked for yet)
    bool enabled_;
    uint32_t fields_;
    std::string siteName_, computerName_;
    mutable std::mutex mutex_;
    std::string buffer_;
    std::string fileName_;
    std::FILE* file_ = nullptr;
};

} // namespace lido::log
