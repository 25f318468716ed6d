#!/usr/bin/env bash
# Runs a command inside the current X display with a system-tray host, so QSystemTrayIcon works.
set -u
tray_pid=""
if command -v trayer >/dev/null 2>&1 && [ -n "${DISPLAY:-}" ]; then
  trayer --edge bottom --align right --widthtype pixel --width 200 --heighttype pixel --height 24 >/dev/null 2>&1 &
  tray_pid=$!
  sleep 0.5
fi
"$@"
rc=$?
[ -n "$tray_pid" ] && kill "$tray_pid" 2>/dev/null
exit $rc
