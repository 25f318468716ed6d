#pragma once
// W3C extended access log of one site, as IIS writes it: a folder per site (W3SVC<id>), a file
// per period (u_exYYMMDD.log daily, u_exYYMMDDHH.log hourly), #Software/#Version/#Date/#Fields
// header lines, buffered and flushed once a second.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

namespace lido::log {

struct AccessEntry {
    std::string serverIp;
    std::string method;
    std::string uriStem;
    std::string uriQuery;
    uint16_t serverPort = 0;
    std::string clientIp;
    std::string userAgent;
    int status = 0;
    int substatus = 0;
    long long timeTakenMs = 0;
    unsigned long long bytesSent = 0;
};

class AccessLog {
public:
    // period: "Hourly" or anything else (daily).
    AccessLog(std::string folder, std::string period, bool enabled);
    ~AccessLog();
    void write(const AccessEntry& e);
    void flush();
    // Writes what is buffered, closes the file and opens it again by name at the next write
    // (after logrotate moved it away; SIGUSR1).
    void reopen();
    std::string currentFile() const;

private:
    void openFor(std::time_t now);

    std::string folder_;
    bool hourly_;
    bool enabled_;
    mutable std::mutex mutex_;
    std::string buffer_;
    std::string fileName_;
    std::FILE* file_ = nullptr;
};

} // namespace lido::log
