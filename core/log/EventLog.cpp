#include "log/EventLog.h"

#include <spdlog/details/file_helper.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>

namespace lido::log {

const char* severityName(Severity s)
{
    switch (s) {
    case Severity::Debug: return "debug";
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
    }
    return "info";
}

namespace {

// Anything that came from outside (stderr of programs, URLs) may carry control characters.
std::string sanitize(std::string text)
{
    for (char& c : text)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
            c = '?';
    return text;
}

// One line as the file has it: "2026-12-04T19:06:00.123 info [code] source: message" (local time).
bool parseLine(const std::string& line, Event& e)
{
    std::tm tm{};
    int ms = 0;
    char level[16] = {};
    int consumed = 0;
    if (line.size() < 26 || line[10] != 'T' ||
        std::sscanf(line.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d %15s %n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                    &ms, level, &consumed) != 8 ||
        consumed <= 0 || static_cast<size_t>(consumed) >= line.size() || line[static_cast<size_t>(consumed)] != '[')
        return false;
    size_t close = line.find("] ", static_cast<size_t>(consumed));
    size_t colon = close == std::string::npos ? close : line.find(": ", close + 2);
    if (colon == std::string::npos)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    e.time = std::chrono::system_clock::from_time_t(std::mktime(&tm)) + std::chrono::milliseconds(ms);
    std::string l = level;
    e.severity = l == "error" || l == "critical" ? Severity::Error : l == "warning" ? Severity::Warning : l == "info" ? Severity::Info : Severity::Debug;
    e.code = line.substr(static_cast<size_t>(consumed) + 1, close - static_cast<size_t>(consumed) - 1);
    e.source = line.substr(close + 2, colon - close - 2);
    e.message = line.substr(colon + 2);
    return true;
}

} // namespace

// spdlog's basic_file_sink with reopen(): logrotate renames the file, SIGUSR1 makes the next line
// go to a new file of the same name (nginx's USR1).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit ReopenableFileSink(const std::string& file) { helper_.open(file); }
    // Throws spdlog_ex when the file cannot be opened; lines are then dropped (memory and
    // stderr still have them) until a later reopen succeeds.
    void reopen()
    {
        std::lock_guard lock(mutex_);
        if (open_)
            helper_.flush();
        open_ = false;
        helper_.reopen(false);
        open_ = true;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        if (!open_)
            return;
        spdlog::memory_buf_t formatted;
        formatter_->format(msg, formatted);
        helper_.write(formatted);
    }
    void flush_() override
    {
        if (open_)
            helper_.flush();
    }

private:
    spdlog::details::file_helper helper_;
    bool open_ = true;
};

EventLog::EventLog(const std::string& file, bool toStderr, size_t capacity) : capacity_(capacity)
{
    std::vector<spdlog::sink_ptr> sinks;
    if (toStderr)
        sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    if (!file.empty()) {
        try {
            file_ = std::make_shared<ReopenableFileSink>(file);
            sinks.push_back(file_);
        } catch (const spdlog::spdlog_ex&) {
            // The log folder is unusable: memory and stderr still work; the event says so below.
        }
    }
    if (!file.empty())
        restore(file);
    logger_ = std::make_shared<spdlog::logger>("lido", sinks.begin(), sinks.end());
    logger_->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    logger_->set_level(spdlog::level::debug);
    logger_->flush_on(spdlog::level::warn);
}

void EventLog::restore(const std::string& file)
{
    // The events an earlier run wrote, so that the console shows what happened before a restart:
    // the last `capacity` of them, from at most the last 4 MiB of the file.
    std::ifstream in(file, std::ios::binary);
    if (!in)
        return;
    in.seekg(0, std::ios::end);
    std::streamoff size = in.tellg();
    std::streamoff from = std::max<std::streamoff>(0, size - (std::streamoff(4) << 20));
    in.seekg(from);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (from > 0)
        text.erase(0, text.find('\n') == std::string::npos ? text.size() : text.find('\n') + 1); // a cut first line
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        Event e;
        if (parseLine(line, e)) {
            e.seq = ++seq_;
            ring_.push_back(std::move(e));
            if (ring_.size() > capacity_)
                ring_.pop_front();
        } else if (!ring_.empty() && !line.empty()) {
            ring_.back().message += "\n" + line; // a message of several lines (stderr)
        }
    }
}

EventLog::~EventLog()
{
    if (logger_)
        logger_->flush();
}

Result<void> EventLog::reopen()
{
    if (!file_)
        return {};
    try {
        file_->reopen();
    } catch (const spdlog::spdlog_ex& e) {
        return fail(e.what());
    }
    return {};
}

void EventLog::setRateLimit(int perWindow, std::chrono::seconds window)
{
    std::lock_guard lock(mutex_);
    perWindow_ = perWindow;
    window_ = window;
}

namespace {

Event makeEvent(Severity severity, std::string source, std::string code, std::string message)
{
    Event e;
    e.time = std::chrono::system_clock::now();
    e.severity = severity;
    e.source = sanitize(std::move(source));
    e.code = std::move(code);
    e.message = sanitize(std::move(message));
    return e;
}

} // namespace

void EventLog::add(Severity severity, std::string source, std::string code, std::string message)
{
    if (!wants(severity))
        return;
    Event e = makeEvent(severity, std::move(source), std::move(code), std::move(message));
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    Window& w = windows_[{e.code, e.source}];
    if (now - w.start > window_) {
        if (w.suppressed > 0) {
            Event note;
            note.time = e.time;
            note.severity = Severity::Warning;
            note.source = e.source;
            note.code = "log.suppressed";
            note.message = std::to_string(w.suppressed) + " more '" + e.code + "' events from " + e.source +
                           " were not logged (rate limit)";
            push(std::move(note));
        }
        w = Window{now, 0, 0};
    }
    if (++w.count > perWindow_) {
        ++w.suppressed;
        return;
    }
    push(std::move(e));
}

void EventLog::addAudit(Severity severity, std::string source, std::string code, std::string message)
{
    Event e = makeEvent(severity, std::move(source), std::move(code), std::move(message));
    std::lock_guard lock(mutex_);
    push(std::move(e));
}

void EventLog::push(Event e)
{
    e.seq = ++seq_;
    spdlog::level::level_enum level = e.severity == Severity::Error     ? spdlog::level::err
                                      : e.severity == Severity::Warning ? spdlog::level::warn
                                      : e.severity == Severity::Info    ? spdlog::level::info
                                                                        : spdlog::level::debug;
    logger_->log(level, "[{}] {}: {}", e.code, e.source, e.message);
    ring_.push_back(std::move(e));
    while (ring_.size() > capacity_)
        ring_.pop_front();
}

std::vector<Event> EventLog::since(uint64_t seq) const
{
    std::lock_guard lock(mutex_);
    std::vector<Event> out;
    for (const Event& e : ring_)
        if (e.seq > seq)
            out.push_back(e);
    return out;
}

std::vector<Event> EventLog::find(const std::string& code) const
{
    std::lock_guard lock(mutex_);
    std::vector<Event> out;
    for (const Event& e : ring_)
        if (e.code == code)
            out.push_back(e);
    return out;
}

uint64_t EventLog::lastSeq() const
{
    std::lock_guard lock(mutex_);
    return seq_;
}

void EventLog::flush()
{
    logger_->flush();
}

} // namespace lido::log
