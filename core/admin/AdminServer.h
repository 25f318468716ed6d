#pragma once
// lidod's admin channel: newline-delimited JSON on a Unix socket (mode 0600 in a 0700 folder,
// peer credentials checked with SO_PEERCRED: the engine's own user or root; with an admin group,
// mode 0660 owned by that group, and its members are let in too, by SO_PEERGROUPS). One request per
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

// $RUNTIME_DIRECTORY/admin.sock (systemd's RuntimeDirectory=), $XDG_RUNTIME_DIR/lido/admin.sock,
// /run/lido/admin.sock for root, else /tmp/lido-UID/admin.sock.
std::string defaultSocketPath();
// The socket a client (lidoctl, the console) talks to by default: the user's own engine's when it
// exists, else the system service's /run/lido/admin.sock when that exists, else defaultSocketPath().
std::string clientSocketPath();

class AdminServer {
public:
    AdminServer(engine::Engine& engine, engine::ConfigReloader& reloader, std::string configPath);
    ~AdminServer(); // closes the socket and removes its file
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // adminGroup: a group name whose members may use the channel (empty: owner and root only).
    Result<void> listen(const std::string& socketPath, const std::string& adminGroup = {});

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace lido::admin
