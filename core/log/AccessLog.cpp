#include "log/AccessLog.h"

#include <sys/stat.h>

namespace lido::log {

namespace {

// W3C fields are space-separated: spaces become '+', empty values '-'.
std::string field(const std::string& v)
{
    if (v.empty())
        return "-";
    std::string out = v;
    for (char& c : out)
        if (c == ' ')
            c = '+';
        else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    return out;
}

void makeFolders(const std::string& path)
{
    for (size_t p = path.find('/', 1); p != std::string::npos; p = path.find('/', p + 1))
        ::mkdir(path.substr(0, p).c_str(), 0755);
    ::mkdir(path.c_str(), 0755);
}

} // namespace

AccessLog::AccessLog(std::string folder, std::string period, bool enabled)
    : folder_(std::move(folder)), hourly_(period == "Hourly"), enabled_(enabled && !folder_.empty())
{
}

AccessLog::~AccessLog()
{
    flush();
    if (file_)
        std::fclose(file_);
}

void AccessLog::reopen()
{
    flush();
    std::lock_guard lock(mutex_);
    if (file_)
        std::fclose(file_);
    file_ = nullptr;
    fileName_.clear();
}

std::string AccessLog::currentFile() const
{
    std::lock_guard lock(mutex_);
    return fileName_;
}

void AccessLog::openFor(std::time_t now)
{
    std::tm tm{};
    gmtime_r(&now, &tm);
    // IIS's names: u_exYYMMDD.log (two-digit year), u_exYYMMDDHH.log when hourly.
    char name[64];
    if (hourly_)
        std::snprintf(name, sizeof name, "/u_ex%02d%02d%02d%02d.log", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
    else
        std::snprintf(name, sizeof name, "/u_ex%02d%02d%02d.log", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday);
    std::string path = folder_ + name;
    if (path == fileName_ && file_)
        return;
    if (file_)
        std::fclose(file_);
    makeFolders(folder_);
    file_ = std::fopen(path.c_str(), "a");
    fileName_ = path;
    if (file_ && std::ftell(file_) == 0) {
        char date[32];
        std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        std::fprintf(file_,
                     "#Software: Lido 0.1\n#Version: 1.0\n#Date: %s\n"
                     "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip cs(User-Agent) sc-status sc-substatus sc-bytes time-taken\n",
                     date);
    }
}

void AccessLog::write(const AccessEntry& e)
{
    if (!enabled_)
        return;
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    std::string line = std::string(when) + " " + field(e.serverIp) + " " + field(e.method) + " " + field(e.uriStem) + " " +
                       field(e.uriQuery) + " " + std::to_string(e.serverPort) + " " + field(e.clientIp) + " " +
                       field(e.userAgent) + " " + std::to_string(e.status) + " " + std::to_string(e.substatus) + " " + std::to_string(e.bytesSent) + " " +
                       std::to_string(e.timeTakenMs) + "\n";
    std::lock_guard lock(mutex_);
    buffer_ += line;
    if (buffer_.size() > 64 * 1024) {
        openFor(now);
        if (file_)
            std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
        buffer_.clear();
    }
}

void AccessLog::flush()
{
    std::lock_guard lock(mutex_);
    if (!enabled_ || buffer_.empty())
        return;
    openFor(std::time(nullptr));
    if (file_) {
        std::fwrite(buffer_.data(), 1, buffer_.size(), file_);
        std::fflush(file_);
    }
    buffer_.clear();
}

} // namespace lido::log
