#!/bin/sh
# The image's one entry point: the first argument picks the role.
#   web              the web app with the API mounted (port ONCALL_WEB_PORT, default 3000)
#   api | worker | reconcile | db | validate | apply | ...   any `oncall` command
set -eu

if [ "${1:-}" = "web" ]; then
    shift
    port="${ONCALL_WEB_PORT:-3000}"
    exec oncall web --host 0.0.0.0 --port "$port" "$@"
fi
exec oncall "$@"
