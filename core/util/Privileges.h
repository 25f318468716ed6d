#pragma once
// What this process may do to other users' processes and files.

namespace lido::util {

// Whether programs can be started as another user: the process is root, or it holds CAP_SETUID,
// CAP_SETGID and CAP_KILL in its effective set (the packaged service runs as the lido user with
// them and CAP_NET_BIND_SERVICE and CAP_CHOWN; see resources/systemd/lido.service.in).
bool canSwitchIdentity();

} // namespace lido::util
