#!/usr/bin/env bash
# Lido as a target of ../shared/bench (see its README for the contract):
#   ../shared/bench/run.sh --target-script "$PWD/bench/lido-target.sh"
# Runs lidod ($LIDOD, else this checkout's build/bin/lidod) with a configuration written into
# BENCH_ROOT: one site on 127.0.0.1:BENCH_PORT serving BENCH_DOCROOT, /cgi-bin/hello running
# BENCH_CGI_APP, /fcgi/* a FastCGI pool of BENCH_FCGI_APP and *.php a pool of BENCH_PHP, each
# with BENCH_FCGI_INSTANCES instances, programs running as the bench's run user, no access log.
# With BENCH_TLS (the tls-* scenarios) the binding is https with BENCH_TLS_CERT and BENCH_TLS_KEY.
# LIDO_BENCH_REWRITE=wordpress adds WordPress's standard IIS rule (not a file, not a folder ->
# index.php), run on every request, to measure what URL Rewrite costs. LIDO_BENCH_THREADS=N runs
# lidod with --threads N (bench/lido-2threads-target.sh: 2). LIDO_BENCH_SCHEDULING=Normal runs the
# FastCGI instances under the kernel's default policy instead of SCHED_BATCH
# (bench/lido-normal-scheduling-target.sh).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="${BENCH_LIB:-$HERE/../../shared/bench/lib/target-lib.sh}"
# shellcheck source=/dev/null
. "$LIB"
LIDOD="${LIDOD:-$HERE/../build/bin/lidod}"

do_start() {
  : "${BENCH_CGI_APP:?}" "${BENCH_DOCROOT:?}" "${BENCH_FCGI_APP:?}"
  [ -x "$LIDOD" ] || bench_die "no lidod at $LIDOD (build first, or set LIDOD)"
  bench_prepare_root cgi-bin
  local R="$BENCH_ROOT" user=""
  ln -sf "$BENCH_CGI_APP" "$R/cgi-bin/hello"
  bench_is_root && user="<processModel userName=\"$BENCH_RUN_USER\" />"
  local rewrite=""
  if [ "${LIDO_BENCH_REWRITE:-}" = "wordpress" ]; then
    rewrite='<rewrite><rules><rule name="WordPress: Main Rule" stopProcessing="true"><match url=".*" />
            <conditions logicalGrouping="MatchAll">
              <add input="{REQUEST_FILENAME}" matchType="IsFile" negate="true" />
              <add input="{REQUEST_FILENAME}" matchType="IsDirectory" negate="true" />
            </conditions><action type="Rewrite" url="index.php" /></rule></rules></rewrite>'
  fi
  # tls-* scenarios: TLS only on BENCH_PORT with the bench's certificate and key.
  local binding="<binding protocol=\"http\" bindingInformation=\"127.0.0.1:$BENCH_PORT:\" />"
  if [ -n "${BENCH_TLS:-}" ]; then
    binding="<binding protocol=\"https\" bindingInformation=\"127.0.0.1:$BENCH_PORT:\" certificateFile=\"$BENCH_TLS_CERT\" certificateKeyFile=\"$BENCH_TLS_KEY\" />"
  fi
  local n="${BENCH_FCGI_INSTANCES:-4}" php_app="" php_handler="" sched=""
  [ -n "${LIDO_BENCH_SCHEDULING:-}" ] && sched="schedulingPolicy=\"$LIDO_BENCH_SCHEDULING\""
  if [ -n "${BENCH_PHP:-}" ]; then
    php_app="<application fullPath=\"$BENCH_PHP\" maxInstances=\"$n\" instanceMaxRequests=\"10000000\" $sched>
                <environmentVariables>
                    <environmentVariable name=\"PHP_FCGI_CHILDREN\" value=\"0\" />
                    <environmentVariable name=\"PHP_FCGI_MAX_REQUESTS\" value=\"0\" />
                </environmentVariables>
            </application>"
    php_handler="<add name=\"PHP\" path=\"*.php\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"$BENCH_PHP\" resourceType=\"File\" />"
  fi
  cat >"$R/applicationHost.config" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.applicationHost>
        <applicationPools>
            <add name="bench">$user</add>
        </applicationPools>
        <sites>
            <site name="bench" id="1">
                <application path="/" applicationPool="bench">
                    <virtualDirectory path="/" physicalPath="$BENCH_DOCROOT" />
                    <virtualDirectory path="/cgi-bin" physicalPath="$R/cgi-bin" />
                </application>
                <bindings>
                    $binding
                </bindings>
                <logFile enabled="false" />
            </site>
        </sites>
    </system.applicationHost>
    <system.webServer>
        $rewrite
        <fastCgi>
            <application fullPath="$BENCH_FCGI_APP" maxInstances="$n" instanceMaxRequests="10000000" $sched />
            $php_app
        </fastCgi>
        <handlers>
            $php_handler
            <add name="FastCGI" path="/fcgi/*" verb="*" modules="FastCgiModule" scriptProcessor="$BENCH_FCGI_APP" />
            <add name="CGI" path="/cgi-bin/*" verb="*" modules="CgiModule" />
            <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule" resourceType="Either" />
        </handlers>
    </system.webServer>
</configuration>
EOF
  bench_spawn lidod "$LIDOD" --config "$R/applicationHost.config" ${LIDO_BENCH_THREADS:+--threads "$LIDO_BENCH_THREADS"}
}
bench_main "$@"
