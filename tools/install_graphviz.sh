#!/bin/sh
# Debian's Graphviz: `dot` lays out the web app's service dependency graph.
set -eu
if command -v dot >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_graphviz.sh: run as root (apt-get install -y graphviz), or the dependency" \
         "graph page says Graphviz is missing" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends graphviz >/dev/null
dot -V
