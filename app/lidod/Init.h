#pragma once
// lidod as a container's PID 1. The kernel hands PID 1 every orphan of its namespace (a CGI
// script's background process, a FastCGI program's grandchildren), and PID 1 must reap them or
// they stay zombies; and signals it has no handler for never reach it. So lidod, started as PID 1,
// forks as tini and dumb-init do: the parent reaps every orphan and passes SIGTERM, SIGINT,
// SIGHUP and SIGUSR1 (what the engine handles) on to it in the child, and exits with its status. The engine
// waits for its own children itself, untouched by the reaper. LIDO_NO_INIT=1 turns this off.

namespace lidod {

// As PID 1: forks; returns -1 in the child (which goes on as the engine) and, in the parent, the
// engine's exit status once it has exited. Otherwise returns -1 at once.
int initIfPid1();

} // namespace lidod
