#include "admin/AdminClient.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace lido::admin {

using nlohmann::json;

std::string jsonString(const std::string& value) { return json(value).dump(); }

AdminClient::~AdminClient()
{
    if (fd_ >= 0)
        ::close(fd_);
}

Result<void> AdminClient::connect(const std::string& socketPath)
{
    path_ = socketPath;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (socketPath.size() >= sizeof a.sun_path)
        return fail("socket path too long: " + socketPath);
    std::strcpy(a.sun_path, socketPath.c_str());
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        return fail(std::string("socket: ") + std::strerror(errno));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        int err = errno;
        if (err == ENOENT || err == ECONNREFUSED)
            return fail("no engine is running at " + socketPath + " (start lidod, or pass --connect SOCKET)");
        if (err == EACCES || err == EPERM) {
            // Say who may: the socket's owner, root, and its group when the mode lets the group in.
            struct stat st{};
            std::string who = "the engine's user or root";
            if (::stat(socketPath.c_str(), &st) == 0) {
                passwd* owner = ::getpwuid(st.st_uid);
                who = st.st_uid == 0 ? std::string("root") : (owner ? std::string(owner->pw_name) : "uid " + std::to_string(st.st_uid)) + " or root";
                if (st.st_mode & S_IWGRP) {
                    group* g = ::getgrgid(st.st_gid);
                    who += ", or a member of group " + (g ? std::string(g->gr_name) : std::to_string(st.st_gid)) +
                           (g ? " (usermod -aG " + std::string(g->gr_name) + " USER, then log in again)" : std::string());
                }
            }
            return fail("permission denied: " + socketPath + " may be used by " + who);
        }
        return fail("cannot connect to " + socketPath + ": " + std::strerror(err));
    }
    return {};
}

Result<std::string> AdminClient::readLine(int timeoutMs)
{
    for (;;) {
        if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            return line;
        }
        pollfd p{fd_, POLLIN, 0};
        int ready = ::poll(&p, 1, timeoutMs);
        if (ready == 0)
            return fail("the engine did not answer in time");
        if (ready < 0 && errno == EINTR)
            continue;
        char chunk[65536];
        ssize_t n = ::read(fd_, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return fail("the engine closed the connection");
        buffer_.append(chunk, static_cast<size_t>(n));
    }
}

Result<std::string> AdminClient::call(const std::string& op, const std::string& fieldsJson)
{
    uint64_t id = nextId_++;
    std::string line = "{\"id\":" + std::to_string(id) + ",\"op\":" + jsonString(op) + (fieldsJson.empty() ? "" : "," + fieldsJson) + "}\n";
    for (size_t at = 0; at < line.size();) {
        ssize_t n = ::send(fd_, line.data() + at, line.size() - at, MSG_NOSIGNAL);
        if (n <= 0)
            return fail("the engine closed the connection");
        at += static_cast<size_t>(n);
    }
    for (;;) {
        auto reply = readLine(30000);
        if (!reply)
            return fail(reply.error());
        json j;
        try {
            j = json::parse(*reply);
        } catch (const json::exception& e) {
            return fail(std::string("the engine sent malformed JSON: ") + e.what());
        }
        if (j.contains("stream"))
            continue; // a streamed message of a subscription, not the answer
        if (!j.value("ok", false))
            return fail(j.value("error", std::string("the engine refused the request")));
        if (j.contains("id") && j["id"] != id)
            continue;
        return j.contains("result") ? j["result"].dump() : std::string("null");
    }
}

Result<void> AdminClient::follow(const std::function<bool(const std::string&)>& onLine)
{
    for (;;) {
        auto line = readLine(-1);
        if (!line)
            return fail(line.error());
        if (!onLine(*line))
            return {};
    }
}

} // namespace lido::admin
