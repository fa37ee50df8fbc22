#!/usr/bin/env bash
# Installs the real tools the stack checks use, into $TOOLS (~/.cache/node-telemetry-tools):
#   Prometheus + promtool 3.5 (Debian sid, unpacked), Prometheus 3.5.3 WITH its OTLP receiver
#   (built offline from Debian sid's sources: ~380 MB download, 4-5 min on 2 cores, binary kept),
#   Docker Compose v2 (Debian sid, unpacked), the OpenTelemetry Collector core (built offline from
#   Debian sid's Go source packages: ~305 MB download, 1-2 min build), otlp-names (Prometheus'
#   OTLP name translation, github.com/prometheus/otlptranslator, built the same way), and a Python venv with
#   PyYAML and grafana-foundation-sdk. Prints the paths as shell assignments for `eval`.
# usage: eval "$(bash scripts/install-tools.sh)"
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/tools.sh"
{
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  # Only the archive keyring is installed system-wide (it verifies Debian sid's index);
  # everything else is unpacked under $TOOLS, no service installed or enabled.
  if ! dpkg -s debian-archive-keyring >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends debian-archive-keyring >/dev/null
  fi
  suite_update sid

  PROM3=$TOOLS/prom3/root/usr/bin/prometheus
  [ -x "$TOOLS/prom3/root/usr/bin/promtool" ] || suite_extract sid "$TOOLS/prom3" prometheus promtool

  PROM_OTLP=$TOOLS/prom-otlp/prometheus
  [ -x "$PROM_OTLP" ] || prom_otlp_build "$PROM_OTLP"

  COMPOSE=$TOOLS/compose2/root/usr/libexec/docker/cli-plugins/docker-compose
  [ -x "$COMPOSE" ] || suite_extract sid "$TOOLS/compose2" docker-compose

  OTELCOL=$TOOLS/otelcol/otelcol-core
  [ -x "$OTELCOL" ] || go_build "$OTELCOL" "$HERE/otelcol-core" golang-opentelemetry-collector-dev

  OTLP_NAMES=$TOOLS/otlp-names/otlp-names
  [ -x "$OTLP_NAMES" ] || go_build "$OTLP_NAMES" "$HERE/otlp-names" golang-github-prometheus-otlptranslator-dev

  ensure_venv pyyaml grafana-foundation-sdk
} >&2
echo "PROMETHEUS3=$PROM3"
echo "PROMTOOL3=$TOOLS/prom3/root/usr/bin/promtool"
echo "PROMETHEUS_OTLP=$PROM_OTLP"
echo "COMPOSE=$COMPOSE"
echo "OTELCOL=$OTELCOL"
echo "OTLP_NAMES=$OTLP_NAMES"
echo "TOOLS_PY=$TOOLS/venv/bin/python"
