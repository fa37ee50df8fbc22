#!/usr/bin/env bash
# The fleet harness: N demo nodes, a collector agent per host (otel-collector/agent.yaml),
# one gateway (otel-collector/gateway.yaml) and Prometheus with its OTLP receiver, on this
# machine; prints `fleet KEY: VALUE` lines and exits 0 only if every expected series arrived
# and nothing was lost. Everything it starts it stops by PID; its files go when it succeeds.
# usage: bash scripts/fleet.sh [--nodes N] [--seconds S] [--outage T] [--export-interval SECONDS]
#        (see docs/scaling.md; the tools come from scripts/install-tools.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/install-tools.sh)"
cargo build --quiet --locked -p demo-node
exec python3 scripts/fleet.py --node target/debug/demo-node --otelcol "$OTELCOL" \
  --prometheus "$PROMETHEUS_OTLP" "$@"
