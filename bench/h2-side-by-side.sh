#!/usr/bin/env bash
# HTTP/2 side by side (../shared/bench has no h2 scenario: its client is wrk, HTTP/1.1 only):
# h2load against h2o and lighttpd (../shared/bench's targets with BENCH_TLS=1: both speak h2 by
# ALPN with their defaults), nginx (its target has no `http2` on the listener, so this script
# starts nginx with the same static settings plus `http2`) and Lido (bench/lido-target.sh), all
# on 127.0.0.1 with the same self-signed P-256 certificate, serving the bench's 100-byte
# hello.txt. Targets alternate within each repeat (A B C D A B C D ...). Reports req/s and the
# server's CPU per request (utime+stime of the target's processes over the measured seconds).
#   bench/h2-side-by-side.sh                      # 3 repeats of 8 s, 32 connections x 10 streams
#   REPEAT=1 DURATION=5 TARGETS="h2o lido" bench/h2-side-by-side.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHARED="${BENCH_SHARED:-$HERE/../../shared/bench}"
REPEAT="${REPEAT:-3}" DURATION="${DURATION:-8}" WARMUP="${WARMUP:-2}"
CLIENTS="${CLIENTS:-32}" STREAMS="${STREAMS:-10}" TARGETS="${TARGETS:-h2o lighttpd nginx lido}"
command -v h2load >/dev/null || { echo "h2-side-by-side: h2load is missing (apt-get install nghttp2-client)" >&2; exit 1; }

work="$(mktemp -d /tmp/lido-h2bench.XXXXXX)"
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tls" "$work/bin"
cp -r "$SHARED/www" "$work/www"
chmod -R a+rX "$work/www"
make -s -C "$SHARED/apps" OUT="$work/bin" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
cat "$work/tls/cert.pem" "$work/tls/key.pem" >"$work/tls/both.pem"
chmod a+r "$work/tls/"*.pem

# nginx with h2: the shared target's static settings, `http2` on the TLS listener.
cat >"$work/nginx-h2.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
. "$SHARED/lib/target-lib.sh"
do_start() {
  bench_prepare_root tmp
  local R="\$BENCH_ROOT" user_line=""
  bench_is_root && user_line="user \$BENCH_RUN_USER \$BENCH_RUN_GROUP;"
  cat >"\$R/nginx.conf" <<CONF
\$user_line
worker_processes 2;
pid \$R/nginx.pid.run;
error_log \$R/error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    access_log off; server_tokens off; sendfile on; tcp_nopush on; keepalive_requests 100000000; # h2load does not reconnect
    open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s;
    client_body_temp_path \$R/tmp/body; fastcgi_temp_path \$R/tmp/fastcgi; proxy_temp_path \$R/tmp/proxy;
    uwsgi_temp_path \$R/tmp/uwsgi; scgi_temp_path \$R/tmp/scgi;
    server {
        listen 127.0.0.1:\$BENCH_PORT ssl http2;
        ssl_certificate \$BENCH_TLS_CERT; ssl_certificate_key \$BENCH_TLS_KEY;
        ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m;
        root \$BENCH_DOCROOT;
    }
}
CONF
  bench_spawn nginx /usr/sbin/nginx -c "\$R/nginx.conf" -g "daemon off;"
}
bench_main "\$@"
EOF
chmod +x "$work/nginx-h2.sh"

script_of() {
  case "$1" in
  h2o | lighttpd) echo "$SHARED/targets/$1.sh" ;;
  nginx) echo "$work/nginx-h2.sh" ;;
  lido) echo "$HERE/lido-target.sh" ;;
  *) echo "h2-side-by-side: unknown target $1" >&2; exit 1 ;;
  esac
}

# CPU ticks (utime+stime) of every process in the sessions of the target's recorded pids.
server_ticks() {
  local sids
  sids="$(for p in $(cat "$1"/*.pid 2>/dev/null); do ps -o sid= -p "$p" 2>/dev/null; done | tr -d ' ' | sort -u | tr '\n' ' ')"
  [ -n "$sids" ] || { echo 0; return; }
  ps -e -o sid=,pid= | awk -v s="$sids" 'BEGIN { n = split(s, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 } want[$1] { print $2 }' |
    while read -r pid; do cat "/proc/$pid/stat" 2>/dev/null; done |
    awk '{ c = index($0, ") "); split(substr($0, c + 2), r, " "); t += r[12] + r[13] } END { print t + 0 }'
}

port=$((20000 + RANDOM % 20000))
hz="$(getconf CLK_TCK)"
results="$work/results.tsv"
: >"$results"
echo "h2load -t1 -c$CLIENTS -m$STREAMS -D$DURATION, https://127.0.0.1/hello.txt (100 B), $REPEAT repeats; targets: $TARGETS"
for rep in $(seq 1 "$REPEAT"); do
  for t in $TARGETS; do
    root="$work/root-$t-$rep"
    env=(BENCH_PORT="$port" BENCH_ROOT="$root" BENCH_DOCROOT="$work/www" BENCH_FCGI_APP="$work/bin/fcgi-hello"
         BENCH_FCGI_INSTANCES=4 BENCH_CGI_APP="$work/bin/cgi-hello" BENCH_SCENARIO=h2-static BENCH_TLS=1
         BENCH_TLS_CERT="$work/tls/cert.pem" BENCH_TLS_KEY="$work/tls/key.pem" BENCH_TLS_PEM="$work/tls/both.pem")
    s="$(script_of "$t")"
    if ! env "${env[@]}" "$s" start >"$work/start-$t.log" 2>&1; then
      echo "  $t: START-FAILED ($(tail -1 "$work/start-$t.log"))"
      continue
    fi
    url="https://127.0.0.1:$port/hello.txt"
    h2load -t1 -c"$CLIENTS" -m"$STREAMS" -D"$WARMUP" "$url" >/dev/null 2>&1 || true
    before="$(server_ticks "$root")"
    out="$(h2load -t1 -c"$CLIENTS" -m"$STREAMS" -D"$DURATION" "$url" 2>&1 || true)"
    after="$(server_ticks "$root")"
    env "${env[@]}" "$s" stop >/dev/null 2>&1 || true
    rps="$(sed -n 's/^finished in [0-9.]*s, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")"
    done_="$(sed -n 's/^requests: .* \([0-9]*\) done, \([0-9]*\) succeeded.*/\2/p' <<<"$out")"
    proto="$(sed -n 's/^Application protocol: //p' <<<"$out")"
    us="$(awk -v a="$before" -v b="$after" -v n="${done_:-0}" -v hz="$hz" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "-" }')"
    printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$rep" "${rps:-0}" "$us" "${proto:-?}" >>"$results"
    printf '  rep %s %-9s %10.0f req/s  %s us server CPU/request  (%s)\n' "$rep" "$t" "${rps:-0}" "$us" "${proto:-?}"
  done
done
echo "median over repeats:"
for t in $TARGETS; do
  rps="$(awk -v t="$t" -F'\t' '$1 == t { print $3 }' "$results" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')"
  us="$(awk -v t="$t" -F'\t' '$1 == t { print $4 }' "$results" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')"
  [ -n "$rps" ] && printf '  %-9s %10.0f req/s  %6s us server CPU/request\n' "$t" "$rps" "$us"
done
