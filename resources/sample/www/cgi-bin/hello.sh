#!/bin/sh
# Lido sample CGI script.
#
# Request data is only ever printed as data (printf '%s'), never evaluated
# or passed to another command.

printf 'Content-Type: text/plain\n'
printf '\n'
printf '%s\n' "Hello from a CGI shell script, served by Lido!"
printf '\n'
printf '%s\n' "REQUEST_METHOD  = ${REQUEST_METHOD-}"
printf '%s\n' "QUERY_STRING    = ${QUERY_STRING-}"
printf '%s\n' "SCRIPT_NAME     = ${SCRIPT_NAME-}"
printf '%s\n' "PATH_INFO       = ${PATH_INFO-}"
printf '%s\n' "SERVER_NAME     = ${SERVER_NAME-}"
printf '%s\n' "SERVER_PORT     = ${SERVER_PORT-}"
printf '%s\n' "SERVER_PROTOCOL = ${SERVER_PROTOCOL-}"
printf '%s\n' "SERVER_SOFTWARE = ${SERVER_SOFTWARE-}"
printf '%s\n' "REMOTE_ADDR     = ${REMOTE_ADDR-}"
printf '%s\n' "process id      = $$"
