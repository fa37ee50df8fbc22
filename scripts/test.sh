#!/usr/bin/env bash
# The project's test command: installs the real tools the tests use (cached under
# ~/.cache/node-telemetry-tools; the first run downloads about 350 MB and builds the
# collector in 1-2 minutes), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/install-tools.sh)"
export PROMETHEUS3 PROMTOOL3 COMPOSE OTELCOL OTLP_NAMES TOOLS_PY
cargo test --workspace --locked "$@"
# A node crate outside this workspace, adopting the SDK by path as any other node would.
CARGO_TARGET_DIR="$PWD/target" cargo test --locked --manifest-path examples/third-party-node/Cargo.toml "$@"
