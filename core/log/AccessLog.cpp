#include "log/AccessLog.h"

#include "util/Text.h"

#include <algorithm>
#include <array>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lido::log {

namespace {

// IIS's fields in the order IIS writes them, each with its logExtFileFlags name.
enum Field : int {
    FDate, FTime, FSiteName, FComputerName, FServerIP, FMethod, FUriStem, FUriQuery, FServerPort, FUserName, FClientIP,
    FProtocolVersion, FUserAgent, FCookie, FReferer, FHost, FHttpStatus, FHttpSubStatus, FWin32Status, FBytesSent,
    FBytesRecv, FTimeTaken, FieldCount
};
struct FieldName {
    std::string_view flag, w3c;
};
constexpr std::array<FieldName, FieldCount> kFields{{
    {"Date", "date"}, {"Time", "time"}, {"SiteName", "s-sitename"}, {"ComputerName", "s-computername"}, {"ServerIP", "s-ip"},
    {"Method", "cs-method"}, {"UriStem", "cs-uri-stem"}, {"UriQuery", "cs-uri-query"}, {"ServerPort", "s-port"},
    {"UserName", "cs-username"}, {"ClientIP", "c-ip"}, {"ProtocolVersion", "cs-version"}, {"UserAgent", "cs(User-Agent)"},
    {"Cookie", "cs(Cookie)"}, {"Referer", "cs(Referer)"}, {"Host", "cs-host"}, {"HttpStatus", "sc-status"},
    {"HttpSubStatus", "sc-substatus"}, {"Win32Status", "sc-win32-status"}, {"BytesSent", "sc-bytes"}, {"BytesRecv", "cs-bytes"},
    {"TimeTaken", "time-taken"},
}};

// Lido's default, as the schema's: IIS 10's, with the bytes sent.
constexpr std::string_view kDefaultFlags = "Date, Time, ClientIP, UserName, ServerIP, Method, UriStem, UriQuery, HttpStatus, "
                                           "Win32Status, BytesSent, TimeTaken, ServerPort, UserAgent, Referer, HttpSubStatus";

// W3C fields are space-separated: spaces become '+', empty values '-'.
void field(std::string& line, std::string_view v)
{
    line += ' ';
    if (v.empty()) {
        line += '-';
        return;
    }
    for (char c : v)
        line += c == ' ' ? '+' : static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c;
}

void number(std::string& line, unsigned long long n)
{
    line += ' ';
    line += std::to_string(n);
}

void makeFolders(const std::string& path)
{
    for (size_t p = path.find('/', 1); p != std::string::npos; p = path.find('/', p + 1))
        ::mkdir(path.substr(0, p).c_str(), 0755);
    ::mkdir(path.c_str(), 0755);
}

} // namespace

uint32_t parseLogFields(std::string_view flags)
{
    if (flags.find_first_not_of(" ,") == std::string_view::npos)
        flags = kDefaultFlags;
    uint32_t set = 0;
    size_t start = 0;
    while (start < flags.size()) {
        size_t end = flags.find(',', start);
        std::string name = trim(flags.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
        for (int f = 0; f < FieldCount; ++f)
            if (kFields[f].flag == name)
                set |= 1u << f;
        if (end == std::string_view::npos)
            break;
        start = end + 1;
    }
    return set;
}

std::string logFieldNames(uint32_t fields)
{
    std::string out;
    for (int f = 0; f < FieldCount; ++f)
        if (fields & (1u << f)) {
            if (!out.empty())
                out += ' ';
            out += kFields[f].w3c;
        }
    return out;
}

AccessLog::AccessLog(std::string folder, const std::string& period, uint64_t truncateSize, bool enabled, uint32_t fields, std::string siteName)
    : folder_(std::move(folder)),
      period_(period == "Hourly"    ? Period::Hourly
              : period == "Weekly"  ? Period::Weekly
              : period == "Monthly" ? Period::Monthly
              : period == "MaxSize" ? Period::MaxSize
                                    : Period::Daily),
      truncateSize_(truncateSize ? truncateSize : 20971520), enabled_(enabled && !folder_.empty()), fields_(fields), siteName_(std::move(siteName))
{
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        computerName_ = host;
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

// IIS's names: two-digit years; the week is the week of the month, weeks starting on Sunday.
std::string AccessLog::nameFor(std::time_t now)
{
    std::tm tm{};
    gmtime_r(&now, &tm);
    char name[64];
    switch (period_) {
    case Period::Hourly:
        std::snprintf(name, sizeof name, "/u_ex%02d%02d%02d%02d.log", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
        break;
    case Period::Weekly: {
        int firstWeekday = ((tm.tm_wday - (tm.tm_mday - 1)) % 7 + 7) % 7; // of the 1st
        std::snprintf(name, sizeof name, "/u_ex%02d%02d%02d.log", tm.tm_year % 100, tm.tm_mon + 1, (tm.tm_mday - 1 + firstWeekday) / 7 + 1);
        break;
    }
    case Period::Monthly:
        std::snprintf(name, sizeof name, "/u_ex%02d%02d.log", tm.tm_year % 100, tm.tm_mon + 1);
        break;
    case Period::MaxSize: {
        if (sizeSerial_ == 0) { // the highest u_extendN.log there, to go on with
            sizeSerial_ = 1;
            if (DIR* d = ::opendir(folder_.c_str())) {
                while (dirent* e = ::readdir(d)) {
                    unsigned n = 0;
                    char tail[8] = {};
                    if (std::sscanf(e->d_name, "u_extend%u.%4s", &n, tail) == 2 && std::string_view(tail) == "log")
                        sizeSerial_ = std::max(sizeSerial_, n);
                }
                ::closedir(d);
            }
        }
        struct stat st {};
        std::string current = folder_ + "/u_extend" + std::to_string(sizeSerial_) + ".log";
        if (::stat(current.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= truncateSize_)
            ++sizeSerial_;
        return folder_ + "/u_extend" + std::to_string(sizeSerial_) + ".log";
    }
    case Period::Daily:
        std::snprintf(name, sizeof name, "/u_ex%02d%02d%02d.log", tm.tm_year % 100, tm.tm_mon + 1, tm.tm_mday);
        break;
    }
    return folder_ + name;
}

void AccessLog::openFor(std::time_t now)
{
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::string path = nameFor(now);
    if (path == fileName_ && file_)
        return;
    if (file_)
        std::fclose(file_);
    makeFolders(folder_);
    file_ = std::fopen(path.c_str(), "a");
    fileName_ = path;
    // The header whenever this log opens the file, not only when the file is new: a file appended
    // to after a restart or a change of fields says which fields follow (IIS does the same).
    if (file_) {
        char date[32];
        std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        std::fprintf(file_, "#Software: Lido 0.1\n#Version: 1.0\n#Date: %s\n#Fields: %s\n", date, logFieldNames(fields_).c_str());
    }
}

void AccessLog::write(const AccessEntry& e)
{
    if (!enabled_)
        return;
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char day[16], when[16];
    std::strftime(day, sizeof day, "%Y-%m-%d", &tm);
    std::strftime(when, sizeof when, "%H:%M:%S", &tm);
    std::string line;
    line.reserve(256);
    auto has = [this](Field f) { return (fields_ & (1u << f)) != 0; };
    if (has(FDate))
        field(line, day);
    if (has(FTime))
        field(line, when);
    if (has(FSiteName))
        field(line, siteName_);
    if (has(FComputerName))
        field(line, computerName_);
    if (has(FServerIP))
        field(line, e.serverIp);
    if (has(FMethod))
        field(line, e.method);
    if (has(FUriStem))
        field(line, e.uriStem);
    if (has(FUriQuery))
        field(line, e.uriQuery);
    if (has(FServerPort))
        number(line, e.serverPort);
    if (has(FUserName))
        field(line, e.userName);
    if (has(FClientIP))
        field(line, e.clientIp);
    if (has(FProtocolVersion))
        field(line, e.protocolVersion);
    if (has(FUserAgent))
        field(line, e.userAgent);
    if (has(FCookie))
        field(line, e.cookie);
    if (has(FReferer))
        field(line, e.referer);
    if (has(FHost))
        field(line, e.host);
    if (has(FHttpStatus))
        number(line, static_cast<unsigned long long>(e.status));
    if (has(FHttpSubStatus))
        number(line, static_cast<unsigned long long>(e.substatus));
    if (has(FWin32Status))
        number(line, 0);
    if (has(FBytesSent))
        number(line, e.bytesSent);
    if (has(FBytesRecv))
        number(line, e.bytesReceived);
    if (has(FTimeTaken))
        number(line, static_cast<unsigned long long>(e.timeTakenMs));
    line += '\n';
    std::string_view text = line.empty() ? std::string_view() : std::string_view(line).substr(1); // (the first field's space)
    std::lock_guard lock(mutex_);
    buffer_ += text;
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
