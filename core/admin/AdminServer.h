#pragma once
// lidod's admin channel: newline-delimited JSON on a Unix socket (mode 0600 in a 0700 folder,
// peer credentials checked with SO_PEERCRED: the engine's own user or root). One request per
// line, {"id":1,"op":"snapshot"}; one answer per request, {"id":1,"ok":true,"result":...} or
// {"id":1,"ok":false,"error":"..."}; a malformed line is answered with an error and the
// connection stays. "subscribe" streams {"stream":"snapshot",...} once a second and
// {"stream":"event",...} as events happen. The operations are listed in the README.
#include "util/Result.h"

#include <memory>
#include <string>

namespace lido::engine {
class Engine;
class ConfigReloader;
} // namespace lido::engine

namespace lido::admin {

// $XDG_RUNTIME_DIR/lido/admin.sock, /run/lido/admin.sock for root, else /tmp/lido-UID/admin.sock.
std::string defaultSocketPath();

class AdminServer {
public:
    AdminServer(engine::Engine& engine, engine::ConfigReloader& reloader, std::string configPath);
    ~AdminServer(); // closes the socket and removes its file
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    Result<void> listen(const std::string& socketPath);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace lido::admin
