#!/bin/sh
# Installs Debian's Prometheus for `promtool`, which checks the alert rules shipped in
# docs/operations.md. Safe to repeat; does nothing when promtool is already on PATH.
set -eu
if command -v promtool >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus >/dev/null \
    || { $SUDO apt-get -o DPkg::Lock::Timeout=600 update >/dev/null && \
         $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus >/dev/null; }
command -v promtool >/dev/null
