#!/bin/sh
# Installs Debian's Prometheus Alertmanager for the end-to-end ingest test, when it is missing.
# Safe to repeat; does nothing when the binary is already on PATH.
set -eu
if command -v prometheus-alertmanager >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus-alertmanager >/dev/null \
    || { $SUDO apt-get -o DPkg::Lock::Timeout=600 update >/dev/null && \
         $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus-alertmanager >/dev/null; }
command -v prometheus-alertmanager >/dev/null
