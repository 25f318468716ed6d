#!/usr/bin/env bash
# Lido as a target of ../shared/bench (see its README for the contract):
#   ../shared/bench/run.sh --target-script "$PWD/bench/lido-target.sh" --scenarios static,cgi-hello
# Runs lidod ($LIDOD, else this checkout's build/bin/lidod) with a configuration written into
# BENCH_ROOT: one site on 127.0.0.1:BENCH_PORT serving BENCH_DOCROOT, /cgi-bin/hello running
# BENCH_CGI_APP in a pool whose programs run as the bench's run user, no access log.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="${BENCH_LIB:-$HERE/../../shared/bench/lib/target-lib.sh}"
# shellcheck source=/dev/null
. "$LIB"
LIDOD="${LIDOD:-$HERE/../build/bin/lidod}"

do_start() {
  : "${BENCH_CGI_APP:?}" "${BENCH_DOCROOT:?}"
  [ -x "$LIDOD" ] || bench_die "no lidod at $LIDOD (build first, or set LIDOD)"
  bench_prepare_root cgi-bin
  local R="$BENCH_ROOT" user=""
  ln -sf "$BENCH_CGI_APP" "$R/cgi-bin/hello"
  bench_is_root && user="<processModel userName=\"$BENCH_RUN_USER\" />"
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
                    <binding protocol="http" bindingInformation="127.0.0.1:$BENCH_PORT:" />
                </bindings>
                <logFile enabled="false" />
            </site>
        </sites>
    </system.applicationHost>
    <system.webServer>
        <handlers>
            <add name="CGI" path="/cgi-bin/*" verb="*" modules="CgiModule" />
            <add name="StaticFile" path="*" verb="GET,HEAD" modules="StaticFileModule" resourceType="Either" />
        </handlers>
    </system.webServer>
</configuration>
EOF
  bench_spawn lidod "$LIDOD" --config "$R/applicationHost.config"
}
bench_main "$@"
