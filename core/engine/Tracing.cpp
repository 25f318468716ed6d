#include "engine/Tracing.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fnmatch.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace lido::engine {

using nlohmann::json;
using log::Phase;

TraceRules::TraceRules(const config::ConfigElement* section)
{
    if (!section)
        return;
    for (const config::ConfigElement& add : section->children) {
        if (add.name != "add")
            continue; // the merge applied remove and clear already
        Rule r;
        r.path = add.get("path");
        if (const config::ConfigElement* f = add.child("failureDefinitions")) {
            r.statusCodes = config::parseStatusCodes(f->get("statusCodes")).value_or(std::vector<config::StatusRange>{}); // the validator names a bad one
            r.timeTaken = std::chrono::milliseconds(config::parseTimeSpan(f->get("timeTaken")).value_or(0));
            std::string v = f->get("verbosity");
            r.stderrFails = !v.empty() && v != "Ignore";
        }
        if (const config::ConfigElement* areas = add.child("traceAreas"))
            for (const config::ConfigElement& a : areas->children)
                if (a.name == "add")
                    r.areas += (r.areas.empty() ? "" : "; ") + a.get("provider") + ": " + a.get("areas");
        rules_.push_back(std::move(r));
    }
}

const TraceRules::Rule* TraceRules::ruleFor(const std::string& urlPath, const std::string& scopePrefix) const
{
    std::string below = urlPath.compare(0, scopePrefix.size(), scopePrefix) == 0 ? urlPath.substr(scopePrefix.size() - 1) : urlPath;
    std::string name = urlPath.substr(urlPath.rfind('/') + 1);
    for (const Rule& r : rules_) {
        bool withSlash = r.path.find('/') != std::string::npos;
        const std::string& subject = withSlash ? below : name;
        if (r.path == "*" || ::fnmatch(r.path.c_str(), subject.c_str(), FNM_CASEFOLD) == 0)
            return &r;
    }
    return nullptr;
}

std::optional<std::string> TraceRules::failure(const Rule& rule, int status, int substatus, std::chrono::milliseconds taken, bool wroteStderr)
{
    for (const config::StatusRange& s : rule.statusCodes)
        if (s.matches(status, substatus))
            return "status " + std::to_string(status) + (substatus ? "." + std::to_string(substatus) : "") + " is in statusCodes";
    if (rule.timeTaken.count() > 0 && taken > rule.timeTaken)
        return "it took " + std::to_string(taken.count()) + " ms, more than timeTaken (" + config::formatTimeSpan(rule.timeTaken.count()) + ")";
    if (rule.stderrFails && wroteStderr)
        return "the application wrote to stderr";
    return std::nullopt;
}

namespace {

std::string isoTime(std::chrono::system_clock::time_point t)
{
    std::time_t s = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&s, &tm);
    char buf[96];
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, static_cast<int>(ms));
    return buf;
}

double ms(int64_t micros) { return static_cast<double>(micros) / 1000.0; }

// The phases in the order they were entered, each with its start and length (the last ends at Done).
json phases(const log::RequestTrack& t)
{
    std::vector<std::pair<int64_t, Phase>> entered;
    for (size_t i = 0; i < log::kPhaseCount; ++i)
        if (int64_t at = t.enteredAt(static_cast<Phase>(i)); at >= 0)
            entered.emplace_back(at, static_cast<Phase>(i));
    std::stable_sort(entered.begin(), entered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    json out = json::array();
    for (size_t i = 0; i < entered.size(); ++i) {
        if (entered[i].second == Phase::Done)
            continue;
        int64_t end = i + 1 < entered.size() ? entered[i + 1].first : entered[i].first;
        out.push_back({{"phase", log::phaseKey(entered[i].second)}, {"name", log::phaseName(entered[i].second)},
                       {"startMs", ms(entered[i].first)}, {"ms", ms(end - entered[i].first)}});
    }
    return out;
}

double lengthOf(const json& phases, const char* key)
{
    double total = 0;
    for (const json& p : phases)
        if (p["phase"] == key)
            total += p["ms"].get<double>();
    return total;
}

bool validName(const std::string& name)
{
    return name.size() == 8 && name.rfind("fr", 0) == 0 && name.find_first_not_of("0123456789", 2) == std::string::npos;
}

} // namespace

TraceStore::TraceStore(std::string root, uint32_t siteId, size_t maxFiles, size_t maxBytes)
    : folder_(std::move(root) + "/W3SVC" + std::to_string(siteId)), siteId_(siteId), maxFiles_(std::max<size_t>(maxFiles, 1)), maxBytes_(maxBytes)
{
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder_, ec)) {
        std::string stem = entry.path().stem().string();
        if (entry.path().extension() == ".json" && validName(stem))
            kept_.push_back(stem);
    }
    std::sort(kept_.begin(), kept_.end());
    if (!kept_.empty())
        next_ = std::stoull(kept_.back().substr(2)) + 1;
}

std::string TraceStore::key() const
{
    return folder_ + "|" + std::to_string(maxFiles_) + "|" + std::to_string(maxBytes_);
}

std::string TraceStore::keyFor(const std::string& root, uint32_t siteId, size_t maxFiles, size_t maxBytes)
{
    return root + "/W3SVC" + std::to_string(siteId) + "|" + std::to_string(std::max<size_t>(maxFiles, 1)) + "|" + std::to_string(maxBytes);
}

TraceSummary TraceStore::summaryOf(const std::string& name, const json& j) const
{
    TraceSummary s;
    s.id = "W3SVC" + std::to_string(siteId_) + "/" + name;
    s.site = j.value("site", "");
    s.time = j.value("time", "");
    s.failure = j.value("failure", "");
    if (j.contains("request") && j["request"].is_object()) {
        s.method = j["request"].value("method", "");
        s.url = j["request"].value("url", "");
    }
    if (j.contains("routing") && j["routing"].is_object())
        s.pool = j["routing"].value("pool", "");
    if (j.contains("response") && j["response"].is_object())
        s.status = j["response"].value("status", 0);
    if (j.contains("timings") && j["timings"].is_object())
        s.totalMs = j["timings"].value("totalMs", 0.0);
    return s;
}

Result<std::string> TraceStore::write(const log::RequestTrack& t, const TraceRules::Rule& rule, const std::string& failure, int status, int substatus,
                                      uint64_t bytes, const std::vector<log::Event>& events)
{
    json j;
    json p = phases(t);
    double total = ms(t.enteredAt(Phase::Done) >= 0 ? t.enteredAt(Phase::Done) : t.elapsedMicros());
    j["site"] = t.site;
    j["siteId"] = siteId_;
    j["time"] = isoTime(t.startedWall);
    j["failure"] = failure;
    j["rule"] = {{"path", rule.path}, {"areas", rule.areas}};
    j["request"] = {{"method", t.method}, {"url", t.url}, {"protocol", t.protocol}, {"client", t.client}, {"headers", t.headers}};
    j["routing"] = {{"application", t.application}, {"virtualDirectory", t.virtualDirectory}, {"physicalPath", t.physicalPath},
                    {"handler", t.handler},         {"module", t.module},                     {"pool", t.pool},
                    {"pid", t.pid()},               {"rulesFired", t.rulesFired},             {"rewrittenUrl", t.rewrittenUrl}};
    j["phases"] = p;
    int64_t sending = t.enteredAt(Phase::Sending);
    j["timings"] = {{"queueMs", lengthOf(p, "queued") + lengthOf(p, "spawning")},
                    {"spawnMs", lengthOf(p, "spawning")},
                    {"connectMs", lengthOf(p, "connecting")},
                    {"firstByteMs", sending >= 0 ? json(ms(sending)) : json(nullptr)},
                    {"totalMs", total}};
    j["response"] = {{"status", status}, {"substatus", substatus}, {"bytes", bytes}};
    j["stderr"] = t.stderrText();
    json ev = json::array();
    for (const log::Event& e : events)
        ev.push_back({{"seq", e.seq}, {"time", isoTime(e.time)}, {"severity", log::severityName(e.severity)}, {"source", e.source},
                      {"code", e.code}, {"message", e.message}});
    j["events"] = ev;
    std::string text = j.dump(1, ' ', false, json::error_handler_t::replace);
    if (text.size() > maxBytes_) { // maxLogFileSizeKB: the bulky parts go first
        j["request"]["headers"] = json::array({"(cut: the trace was over maxLogFileSizeKB)"});
        std::string err = j["stderr"].get<std::string>();
        j["stderr"] = err.substr(err.size() > 512 ? err.size() - 512 : 0);
        while (j["events"].size() > 1 && j.dump().size() > maxBytes_)
            j["events"].erase(j["events"].begin());
        text = j.dump(1, ' ', false, json::error_handler_t::replace);
    }
    std::lock_guard lock(mutex_);
    char name[16];
    std::snprintf(name, sizeof name, "fr%06llu", static_cast<unsigned long long>(next_ % 1000000));
    ++next_;
    std::error_code ec;
    // Traces hold URLs with their query strings and the application's stderr: readable by the
    // engine's user and group only (0750 folders, 0640 files), as the log folder is.
    std::filesystem::create_directories(folder_, ec);
    std::filesystem::permissions(folder_, std::filesystem::perms(0750), ec);
    std::string file = folder_ + "/" + name + ".json", tmp = file + ".tmp";
    text += '\n';
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    bool written = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int err = errno;
    if (fd >= 0)
        ::close(fd);
    if (!written) {
        ::unlink(tmp.c_str());
        return fail("cannot write the trace " + file + ": " + std::strerror(err)); // a full disk costs this trace, nothing else
    }
    if (std::rename(tmp.c_str(), file.c_str()) != 0)
        return fail("cannot write the trace " + file + ": " + std::strerror(errno));
    kept_.push_back(name);
    summaries_[name] = summaryOf(name, j);
    while (kept_.size() > maxFiles_) {
        std::filesystem::remove(folder_ + "/" + kept_.front() + ".json", ec);
        summaries_.erase(kept_.front());
        kept_.erase(kept_.begin());
    }
    return std::string(name);
}

std::vector<TraceSummary> TraceStore::list() const
{
    std::vector<std::string> names, missing;
    {
        std::lock_guard lock(mutex_);
        names = kept_;
        for (const std::string& n : names)
            if (!summaries_.count(n))
                missing.push_back(n);
    }
    // Traces kept from before this store (found on disk) are read once, outside the lock.
    std::map<std::string, TraceSummary> found;
    for (const std::string& n : missing)
        if (auto text = read(n)) {
            json j = json::parse(*text, nullptr, false);
            if (!j.is_discarded() && j.is_object())
                found[n] = summaryOf(n, j);
        }
    std::lock_guard lock(mutex_);
    for (auto& [n, summary] : found)
        if (std::find(kept_.begin(), kept_.end(), n) != kept_.end())
            summaries_.emplace(n, std::move(summary));
    std::vector<TraceSummary> out;
    for (auto it = names.rbegin(); it != names.rend(); ++it)
        if (auto s = summaries_.find(*it); s != summaries_.end())
            out.push_back(s->second);
    return out;
}

Result<std::string> TraceStore::read(const std::string& name) const
{
    if (!validName(name))
        return fail("no trace " + name);
    std::ifstream in(folder_ + "/" + name + ".json", std::ios::binary);
    if (!in)
        return fail("no trace " + name + " in " + folder_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<log::Event> eventsOf(const log::RequestTrack& track, const log::EventLog& events)
{
    uint64_t last = events.lastSeq();
    std::vector<log::Event> out;
    std::string pid = track.pid() ? "pid " + std::to_string(track.pid()) : std::string();
    auto namesPid = [&](const std::string& text) {
        for (size_t at = text.find(pid); !pid.empty() && at != std::string::npos; at = text.find(pid, at + 1))
            if (at + pid.size() == text.size() || !std::isdigit(static_cast<unsigned char>(text[at + pid.size()])))
                return true;
        return false;
    };
    for (log::Event& e : events.since(last > 500 ? last - 500 : 0)) {
        if (e.time < track.startedWall - std::chrono::milliseconds(1))
            continue;
        if (e.message.find(track.url) != std::string::npos || namesPid(e.message) ||
            (!track.physicalPath.empty() && e.source.find(track.physicalPath) != std::string::npos))
            out.push_back(std::move(e));
    }
    return out;
}

} // namespace lido::engine
