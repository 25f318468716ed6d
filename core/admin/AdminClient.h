#pragma once
// A blocking client of lidod's admin channel (lidoctl; the console's remote engine client).
#include "util/Result.h"

#include <functional>
#include <string>

namespace lido::admin {

class AdminClient {
public:
    AdminClient() = default;
    ~AdminClient();
    AdminClient(const AdminClient&) = delete;
    AdminClient& operator=(const AdminClient&) = delete;

    // "no engine is running at PATH" / "permission denied: ..." as one clear line.
    Result<void> connect(const std::string& socketPath);
    // Sends {"op":op, ...fields} (fieldsJson: the members of an object without braces, or
    // empty) and returns the result member as JSON text, or the engine's error.
    Result<std::string> call(const std::string& op, const std::string& fieldsJson = {});
    // Reads streamed lines (after a subscribe) until onLine returns false or the engine goes.
    Result<void> follow(const std::function<bool(const std::string& line)>& onLine);
    // The next whole line from the engine, waiting at most timeoutMs (-1: forever).
    Result<std::string> readLine(int timeoutMs = -1);
    // The connected socket, for a caller that relays bytes itself (lidoctl bridge).
    int descriptor() const { return fd_; }

private:
    int fd_ = -1;
    std::string path_;
    std::string buffer_;
    uint64_t nextId_ = 1;
};

// JSON string literal for a value (quotes and escapes).
std::string jsonString(const std::string& value);

} // namespace lido::admin
