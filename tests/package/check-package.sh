#!/usr/bin/env bash
# The Debian packages, built by CPack in the build folder and unpacked into a scratch root
# (dpkg -x): their files and modes, the control data (dependencies computed, no Qt in lido,
# conffiles, maintainer scripts), the unit file's paths, man pages that render without a
# warning, the desktop entry and metainfo validated, bash completion that completes, and the
# installed engine serving the default welcome page from the unpacked tree.
# Usage: check-package.sh BUILD_DIR
set -uo pipefail
build=$1
scratch=$(mktemp -d /tmp/lido-package.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

(cd "$build" && cpack -G DEB -B "$scratch/out" >"$scratch/cpack.log" 2>&1) || { cat "$scratch/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
server=$(ls "$scratch"/out/lido_*_amd64.deb "$scratch"/out/lido_*.deb 2>/dev/null | head -1)
console=$(ls "$scratch"/out/lido-console_*.deb 2>/dev/null | head -1)
[ -f "$server" ] || { echo "FAIL: no lido_*.deb in $(ls "$scratch/out")" >&2; exit 1; }
[ -f "$console" ] || fail "no lido-console_*.deb"
root=$scratch/root
mkdir -p "$root"
dpkg-deb -x "$server" "$root" || fail "dpkg -x $server"
[ -f "$console" ] && { dpkg-deb -x "$console" "$root" || fail "dpkg -x $console"; }

# --- control data ---
depends=$(dpkg-deb -f "$server" Depends)
for lib in libc6 libssl3 libpugixml1v5 adduser; do
  [[ $depends == *"$lib"* ]] && pass "lido depends on $lib" || fail "lido's Depends lacks $lib: $depends"
done
[[ $depends == *libqt6* ]] && fail "lido (the server) depends on Qt: $depends" || pass "lido needs no Qt"
if [ -f "$console" ]; then
  cdepends=$(dpkg-deb -f "$console" Depends)
  for lib in libqt6core6 libqt6widgets6 libqt6charts6 qt6-qpa-plugins; do
    [[ $cdepends == *"$lib"* ]] && pass "lido-console depends on $lib" || fail "lido-console's Depends lacks $lib: $cdepends"
  done
fi
mkdir -p "$scratch/control"
dpkg-deb -e "$server" "$scratch/control"
for f in postinst prerm postrm; do
  [ "$(stat -c %a "$scratch/control/$f" 2>/dev/null)" = 755 ] && pass "$f is 0755" || fail "maintainer script $f missing or not 0755"
  sh -n "$scratch/control/$f" || fail "$f does not parse"
done
for f in /etc/lido/applicationHost.config /etc/logrotate.d/lido; do
  grep -qx "$f" "$scratch/control/conffiles" && pass "conffile $f" || fail "$f is not a conffile (removal would not keep it)"
done

# --- files and modes ---
check_mode() { # MODE PATH
  local m
  m=$(stat -c %a "$root$2" 2>/dev/null) || { fail "missing: $2"; return; }
  [ "$m" = "$1" ] && pass "$2 ($m)" || fail "$2 has mode $m, not $1"
}
check_mode 755 /usr/sbin/lidod
check_mode 755 /usr/bin/lidoctl
check_mode 755 /usr/libexec/lido/lido-sample-fcgi
check_mode 644 /usr/lib/systemd/system/lido.service
check_mode 644 /usr/lib/sysusers.d/lido.conf
check_mode 644 /usr/lib/tmpfiles.d/lido.conf
check_mode 644 /etc/lido/applicationHost.config
check_mode 644 /etc/logrotate.d/lido
check_mode 644 /usr/share/lido/www/index.html
check_mode 644 /usr/share/lido/sample/applicationHost.config
check_mode 755 /usr/share/lido/sample/www/cgi-bin/hello.sh
check_mode 644 /usr/share/bash-completion/completions/lidoctl
check_mode 644 /usr/share/doc/lido/configuration.md
for page in man8/lidod.8 man1/lidoctl.1 man5/applicationHost.config.5; do check_mode 644 /usr/share/man/$page.gz; done
if [ -f "$console" ]; then
  check_mode 755 /usr/bin/lido
  check_mode 644 /usr/share/man/man1/lido.1.gz
  check_mode 644 /usr/share/applications/org.lidoproject.Lido.desktop
  check_mode 644 /usr/share/metainfo/org.lidoproject.Lido.metainfo.xml
  check_mode 644 /usr/share/icons/hicolor/scalable/apps/org.lidoproject.Lido.svg
  for s in healthy degraded failed; do check_mode 644 /usr/share/icons/hicolor/scalable/status/lido-$s.svg; done
fi
# Nothing of the build or the tests in the packages.
stray=$(cd "$root" && find . -type f \( -name 'tst_*' -o -name '*.a' -o -name '*.o' -o -path '*/include/*' \) | head -3)
[ -z "$stray" ] && pass "no test binaries, archives or headers" || fail "stray files: $stray"
if file "$root/usr/sbin/lidod" | grep -q "not stripped"; then fail "lidod is not stripped"; else pass "binaries stripped"; fi

# --- the unit file ---
unit=$root/usr/lib/systemd/system/lido.service
for key in ExecStartPre ExecStart; do
  line=$(grep "^$key=" "$unit" | head -1)
  prog=$(sed 's/^[^=]*=//; s/ .*//' <<<"$line")
  [ -x "$root$prog" ] && pass "$key runs $prog, which the package installs" || fail "$key runs $prog, which is not in the package"
  conf=$(grep -o -- '--config [^ ]*' <<<"$line" | cut -d' ' -f2)
  [ -f "$root$conf" ] && pass "$key reads $conf, which the package installs" || fail "$key's --config $conf is not in the package"
done
grep -q '^User=lido$' "$unit" && pass "the service runs as lido" || fail "the unit does not run as User=lido"
grep -q '^AmbientCapabilities=.*CAP_NET_BIND_SERVICE' "$unit" && pass "CAP_NET_BIND_SERVICE" || fail "no CAP_NET_BIND_SERVICE in the unit"
grep -q "^u lido " "$root/usr/lib/sysusers.d/lido.conf" && pass "sysusers makes lido" || fail "sysusers.d entry lacks the lido user"
if command -v systemd-analyze >/dev/null; then
  # verify checks the directives; with --root the executables are looked up in the unpacked
  # tree, which has no targets and no /bin/kill of its own (ExecReload's, from procps).
  out=$(systemd-analyze verify --man=no --root="$root" /usr/lib/systemd/system/lido.service 2>&1 |
    grep -v -e "Failed to connect" -e "\.target" -e "/bin/kill is not executable" || true)
  [ -z "$out" ] && pass "systemd-analyze verify" || fail "systemd-analyze verify: $out"
fi

# --- man pages render, with no warning ---
for page in man8/lidod.8 man1/lidoctl.1 man5/applicationHost.config.5 man1/lido.1; do
  f=$root/usr/share/man/$page.gz
  [ -f "$f" ] || continue
  warnings=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
  text=$(MANWIDTH=80 man -l "$f" 2>/dev/null)
  if [ -n "$warnings" ]; then fail "man -l $page: $warnings"
  elif ! grep -q "^NAME" <<<"$text"; then fail "man -l $page shows no NAME section"
  else pass "man -l $page ($(wc -l <<<"$text") lines)"; fi
done
# The configuration page lists the attributes of the schema (tst_reference checks all of them).
zcat "$root/usr/share/man/man5/applicationHost.config.5.gz" >"$scratch/ahc.5"
grep -q "rapidFailProtectionMaxCrashes" "$scratch/ahc.5" && pass "applicationHost.config(5) is the schema's" || fail "applicationHost.config(5) lacks rapidFailProtectionMaxCrashes"

# --- desktop entry and metainfo ---
if [ -f "$console" ]; then
  out=$(desktop-file-validate "$root/usr/share/applications/org.lidoproject.Lido.desktop" 2>&1) && [ -z "$out" ] && pass "desktop-file-validate" || fail "desktop-file-validate: $out"
  out=$(appstreamcli validate --no-net "$root/usr/share/metainfo/org.lidoproject.Lido.metainfo.xml" 2>&1) && pass "appstreamcli validate" || fail "appstreamcli validate: $out"
  grep -q "^Exec=lido$" "$root/usr/share/applications/org.lidoproject.Lido.desktop" && [ -x "$root/usr/bin/lido" ] && pass "the menu entry starts /usr/bin/lido" || fail "desktop Exec does not match /usr/bin/lido"
fi

# --- bash completion completes commands and words ---
if [ -f /usr/share/bash-completion/bash_completion ]; then
  got=$(bash -c 'source /usr/share/bash-completion/bash_completion; source "$1"
    COMP_WORDS=(lidoctl st); COMP_CWORD=1; COMP_LINE="lidoctl st"; COMP_POINT=${#COMP_LINE}; _lidoctl; echo "${COMPREPLY[*]}"
    COMP_WORDS=(lidoctl show f.config ""); COMP_CWORD=3; COMP_LINE="lidoctl show f.config "; COMP_POINT=${#COMP_LINE}; _lidoctl; echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/lidoctl" 2>&1)
  [[ $got == *status*start*stop* || $got == *start*status*stop* ]] && [[ $got == *"pools sites fastcgi handlers"* ]] && pass "completion: $(tr '\n' '/' <<<"$got")" || fail "completion gave: $got"
else
  fail "bash-completion is not installed (scripts/deps.sh installs it)"
fi

# --- the installed engine serves the default configuration from the unpacked tree ---
free_port() { # a port nothing answers on, below the kernel's ephemeral range (32768-60999), where
  local p       # another test's outgoing connections take their local ports
  while :; do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
}
grep -q '127.0.0.1:80:' "$root/etc/lido/applicationHost.config" && pass "the default binding is 127.0.0.1:80" || fail "the default configuration does not bind 127.0.0.1:80"
# A port can still be taken between the probe and the bind (tests run side by side): then again.
for attempt in 1 2 3; do
  port=$(free_port)
  status_port=$(free_port)
  sed -e "s|127.0.0.1:80:|127.0.0.1:$port:|; s|127.0.0.1:8089:|127.0.0.1:$status_port:|" \
      -e "s|\"/usr/share/lido/www\"|\"$root/usr/share/lido/www\"|; s|\"/var/log/lido\"|\"$scratch/log\"|g" \
      "$root/etc/lido/applicationHost.config" >"$scratch/applicationHost.config"
  [ "$attempt" -eq 1 ] && { "$root/usr/sbin/lidod" --check --config "$scratch/applicationHost.config" >/dev/null 2>"$scratch/check.err" && pass "lidod --check accepts the default configuration" || fail "lidod --check: $(cat "$scratch/check.err")"; }
  rm -rf "$scratch/log"
  "$root/usr/sbin/lidod" --config "$scratch/applicationHost.config" --admin-socket "$scratch/admin.sock" --log-dir "$scratch/log" --threads 1 2>"$scratch/lidod.err" &
  pid=$!
  body=
  for _ in $(seq 100); do
    body=$(curl -s --max-time 2 "http://127.0.0.1:$port/") && [ -n "$body" ] && break
    kill -0 "$pid" 2>/dev/null || break # it gave up (the port was taken)
    sleep 0.1
  done
  [ -n "$body" ] && break
  grep -q "Address already in use" "$scratch/lidod.err" || break
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
done
[[ $body == *"Lido is serving."* ]] && pass "the welcome page is served" || fail "the welcome page: got '$body'; lidod said: $(cat "$scratch/lidod.err")"
st=$("$root/usr/bin/lidoctl" --connect "$scratch/admin.sock" status 2>&1)
[[ $st == *Welcome* ]] && pass "lidoctl status lists the Welcome site" || fail "lidoctl status: $st"
# --- logrotate with the packaged rules, run for real on the engine's logs ---
# The copy differs only where this scratch tree must: its folder, root for the lido user, and
# the postrotate's signal sent to this lidod (the packaged one asks systemd, then pgrep).
if command -v logrotate >/dev/null; then
  curl -s -o /dev/null "http://127.0.0.1:$port/?before-rotation"
  for _ in $(seq 50); do grep -q "engine.started" "$scratch/log/lido-events.log" 2>/dev/null && break; sleep 0.1; done
  sed -e "s|/var/log/lido|$scratch/log|g; s|create 0640 lido lido|create 0640 root root|" \
      -e "/^\t\t# The main process only/,/kill -USR1/c\\\t\tkill -USR1 $pid" \
      "$root/etc/logrotate.d/lido" >"$scratch/logrotate.conf"
  if logrotate -f -s "$scratch/logrotate.state" "$scratch/logrotate.conf" 2>"$scratch/logrotate.err"; then
    for _ in $(seq 50); do grep -q "log.reopened" "$scratch/log/lido-events.log" 2>/dev/null && break; sleep 0.1; done
    if [ -f "$scratch/log/lido-events.log.1" ] && grep -q engine.started "$scratch/log/lido-events.log.1" &&
       grep -q "log.reopened" "$scratch/log/lido-events.log"; then
      pass "logrotate rotated lido-events.log and lidod reopened it on SIGUSR1"
    else
      fail "after logrotate: $(ls "$scratch/log"); new log: $(cat "$scratch/log/lido-events.log" 2>&1)"
    fi
  else
    fail "logrotate: $(cat "$scratch/logrotate.err")"
  fi
else
  fail "logrotate is not installed (scripts/deps.sh installs it)"
fi
out=$("$root/usr/bin/lidoctl" validate --elsewhere "$root/usr/share/lido/sample/applicationHost.config" 2>&1) && pass "the installed sample validates" || fail "the installed sample: $out"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
