#!/usr/bin/env bash
# The long soak: the demo node under load (100 tx/s), pushing OTLP every second to a real
# receiver and scraped every second, for SOAK_SECS seconds (default 600, or the first
# argument). Passes when resident memory stays within 10% after a warm-up third and no
# export failed. CI runs the same test for 30 s inside `cargo test`.
# usage: bash scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECS=${1:-${SOAK_SECS:-600}} \
  cargo test --release --locked -p demo-node --test soak -- --nocapture
