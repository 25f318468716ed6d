#pragma once
// lidoctl's commands that talk to a running lidod over its admin channel.
#include <string>

namespace lidoctl {

int status(const std::string& socket, bool json);
int control(const std::string& socket, const std::string& verb, const std::string& kind, const std::string& name);
int reload(const std::string& socket);
// drain: /health answers 503 so that load balancers move traffic away, while requests are served
// on; undrain: 200 again.
int drain(const std::string& socket, bool on);
// Copies standard input to the admin socket and the socket to standard output until both
// ends are done: `ssh -T user@host lidoctl bridge` is the admin channel of a remote engine,
// with the remote side's permission checks unchanged.
int bridge(const std::string& socket);
int events(const std::string& socket, bool follow, unsigned long long since);
// The requests running now (IIS's current requests): URL, client, pool, pid, phase, elapsed time.
int requests(const std::string& socket, const std::string& pool, bool json);
// The failed-request traces the sites keep, newest first; with an id, that trace in full.
int traces(const std::string& socket, const std::string& site, const std::string& id, bool json);

} // namespace lidoctl
