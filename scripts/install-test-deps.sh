#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: promtool (Debian's prometheus package).
# Idempotent; safe to run on a fresh machine or a developer's.
set -euo pipefail
if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -n 1
