#!/usr/bin/env bash
# Install Debian's chromium for the Playwright browser tests (tests/web/test_browser.py).
# Idempotent: does nothing when /usr/bin/chromium already exists. Installs nothing else.
set -u

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-browser.sh: error: must run as root (or have sudo) to apt-get install chromium" >&2
        exit 1
    fi
else
    SUDO=
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! $SUDO apt-get update -qq >"$log" 2>&1; then
    echo "install-browser.sh: error: apt-get update failed: $(tail -n 1 "$log")" >&2
    exit 1
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium >"$log" 2>&1; then
    echo "install-browser.sh: error: apt-get install chromium failed: $(tail -n 1 "$log")" >&2
    exit 1
fi
if [ ! -x "$CHROMIUM" ]; then
    echo "install-browser.sh: error: chromium package installed but $CHROMIUM is missing" >&2
    exit 1
fi
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
