#!/usr/bin/env bash
# The project's test command: installs the real tools the tests use (cached under
# ~/.cache/node-telemetry-tools; the first run downloads about 750 MB and builds the
# collector and Prometheus with its OTLP receiver, about 7 minutes on 2 cores), then runs
# every test of the workspace and of examples/third-party-node, and lists any test skipped
# for a missing tool.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/install-tools.sh)"
export PROMETHEUS3 PROMETHEUS_OTLP PROMTOOL3 COMPOSE OTELCOL OTLP_NAMES TOOLS_PY
# Tests note what they measured, and any skip for a missing tool, here; the summary below
# prints it (cargo hides a passing test's output, so a skip would otherwise look like a pass).
TELEMETRY_TEST_NOTES=$(mktemp)
export TELEMETRY_TEST_NOTES
trap 'rm -f "$TELEMETRY_TEST_NOTES"' EXIT
cargo test --workspace --locked "$@"
# A node crate outside this workspace, adopting the SDK by path as any other node would.
CARGO_TARGET_DIR="$PWD/target" cargo test --locked --manifest-path examples/third-party-node/Cargo.toml "$@"
# One that depends on the SDK under another name (`node_telemetry`).
CARGO_TARGET_DIR="$PWD/target" cargo test --locked --manifest-path examples/renamed-dependency/Cargo.toml "$@"
echo "== notes from the tests"
sed 's/^/  /' "$TELEMETRY_TEST_NOTES"
echo "skipped for a missing tool: $(grep -c '^SKIPPED' "$TELEMETRY_TEST_NOTES" || true) test(s)"
