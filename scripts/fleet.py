#!/usr/bin/env python3
"""The fleet harness: N real demo nodes, a collector agent per "host", one gateway, and a real
Prometheus with its OTLP receiver, all on this machine; then the measures, one line each,
`fleet KEY: VALUE`. Exits 0 only if every expected series arrived, no two nodes' series
collapsed into one, and nothing was lost across the gateway outage.

Run through scripts/fleet.sh (it installs the tools and builds the node). Uses only the
repository's own configs: otel-collector/agent.yaml, otel-collector/gateway.yaml (addresses
by environment) and prometheus/prometheus.yml (addresses and intervals rewritten).
"""
import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The counter compared across the outage: slots with a block (built or empty), whose final
# value each node prints when it stops (its height).
HEIGHT = 'sum by (instance) (node_sequencer_slots_total{sequencer_slot_outcome=~"built|empty"})'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def query(api, expr):
    body = json.loads(http_get(f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def wait_for(what, check, limit, fatal=True):
    """Polls `check` until it holds; at the limit, exits (or, not `fatal`, returns False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # not up yet
            pass
        time.sleep(0.5)
    if fatal:
        raise SystemExit(f"fleet: timed out waiting for {what}")
    print(f"fleet: {what} did not happen within {limit} s", file=sys.stderr)
    return False


class Fleet:
    """Every process the harness starts, stopped by PID at the end."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        self.procs[name] = (proc, argv, env)
        return proc

    def stop(self, name, sig=signal.SIGTERM, wait=30):
        proc = self.procs[name][0]
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(wait)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def restart(self, name):
        _, argv, env = self.procs[name]
        return self.start(name, argv, env)

    def stop_all(self):
        for name in list(self.procs):
            self.stop(name, wait=10)


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def exposition_series(text):
    """Series (name and labels) a bridge serves, one per sample line."""
    return [line.split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")]


def main():
    ap = argparse.ArgumentParser(description="Runs a fleet of demo nodes through agents and a gateway.")
    ap.add_argument("--nodes", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=90, help="how long the fleet runs before the final checks")
    ap.add_argument("--outage", type=int, default=0, help="seconds the gateway is down, mid-run")
    ap.add_argument("--nodes-per-agent", type=int, default=3)
    ap.add_argument("--export-interval", type=float, default=5.0, help="the nodes' OTLP export interval, s")
    ap.add_argument("--node", required=True, help="the demo-node binary")
    ap.add_argument("--otelcol", required=True)
    ap.add_argument("--prometheus", required=True, help="Prometheus with its OTLP receiver")
    a = ap.parse_args()
    if a.nodes < 1 or a.seconds < 10 or a.outage < 0 or a.outage >= a.seconds:
        raise SystemExit("fleet: need --nodes >= 1, --seconds >= 10 and 0 <= --outage < --seconds")

    tmp = tempfile.mkdtemp(prefix="fleet-")
    fleet = Fleet(tmp)
    ok = False
    try:
        ok = run(a, fleet, tmp)
    finally:
        fleet.stop_all()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"fleet: logs kept in {tmp}", file=sys.stderr)
    sys.exit(0 if ok else 1)


def run(a, fleet, tmp):
    agents = max(2, math.ceil(a.nodes / a.nodes_per_agent))
    prom_port, gw_grpc, gw_metrics = free_port(), free_port(), free_port()
    api = f"http://127.0.0.1:{prom_port}"

    # Prometheus: the repository's config, addresses and intervals rewritten; it scrapes the
    # gateway's own metrics as it scrapes the collector's in the compose stack.
    config = open(os.path.join(ROOT, "prometheus/prometheus.yml")).read()
    for old, new in [("otel-collector:8888", f"127.0.0.1:{gw_metrics}"),
                     ("scrape_interval: 15s", "scrape_interval: 5s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 5s"),
                     ("/etc/prometheus/rules/*.yml", os.path.join(ROOT, "prometheus/rules/*.yml"))]:
        assert old in config, f"{old} is no longer in prometheus/prometheus.yml"
        config = config.replace(old, new)
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(config)
    prometheus = fleet.start("prometheus", [
        a.prometheus, "--web.enable-otlp-receiver", f"--config.file={tmp}/prometheus.yml",
        f"--storage.tsdb.path={tmp}/prometheus-data", f"--web.listen-address=127.0.0.1:{prom_port}"])
    wait_for("Prometheus", lambda: http_get(f"{api}/-/ready") is not None, 60)

    gateway_env = {"GATEWAY_OTLP_GRPC": f"127.0.0.1:{gw_grpc}",
                   "GATEWAY_STORE_ENDPOINT": f"{api}/api/v1/otlp",
                   "GATEWAY_METRICS_HOST": "127.0.0.1", "GATEWAY_METRICS_PORT": str(gw_metrics),
                   "GATEWAY_LOG_LEVEL": "warn"}
    gateway_argv = [a.otelcol, f"--config={ROOT}/otel-collector/gateway.yaml"]
    fleet.start("gateway", gateway_argv, gateway_env)
    wait_for("the gateway", lambda: socket.create_connection(("127.0.0.1", gw_grpc), 1).close() is None, 60)

    agent_ports = []
    for i in range(agents):
        grpc, http, metrics = free_port(), free_port(), free_port()
        fleet.start(f"agent-{i}", [a.otelcol, f"--config={ROOT}/otel-collector/agent.yaml"], {
            "AGENT_OTLP_GRPC": f"127.0.0.1:{grpc}", "AGENT_OTLP_HTTP": f"127.0.0.1:{http}",
            "AGENT_GATEWAY_ENDPOINT": f"127.0.0.1:{gw_grpc}", "AGENT_METRICS_PORT": str(metrics),
            "AGENT_LOG_LEVEL": "warn"})
        agent_ports.append(grpc)
    for i, port in enumerate(agent_ports):
        wait_for(f"agent {i}", lambda: socket.create_connection(("127.0.0.1", port), 1).close() is None, 60)

    # The nodes: low load so that many fit on 2 cores; each pushes to its host's agent, with
    # an explicit service.instance.id (docs/scaling.md), and serves its bridge for the counts.
    bridges = {}
    for i in range(a.nodes):
        instance, bridge = f"fleet-node-{i}", free_port()
        fleet.start(instance, [
            a.node, "--alone", "--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0",
            "--metrics-addr", f"127.0.0.1:{bridge}", "--slot", "2s", "--load-rate", "2",
            "--provers", "1", "--prover-work", "200", "--summary-every", "1h",
            "--data-dir", os.path.join(tmp, instance)], {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{agent_ports[i % agents]}",
            "OTEL_METRIC_EXPORT_INTERVAL": str(int(a.export_interval * 1000)),
            # A metrics harness: the agents run metrics pipelines only.
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_RESOURCE_ATTRIBUTES": f"service.instance.id={instance}",
            "TELEMETRY_HOST_METRICS_MIN_INTERVAL": "1000", "RUST_LOG": "warn"})
        bridges[instance] = f"http://127.0.0.1:{bridge}/metrics"
    for instance, url in bridges.items():
        wait_for(f"{instance}'s bridge", lambda: http_get(url), 60)
    wait_for("every node's data in Prometheus",
             lambda: len(query(api, "count by (instance) (target_info{job=\"demo-node\"})")) == a.nodes, 120)

    # Run; mid-run the gateway goes away for --outage seconds. Meanwhile, sample the delay
    # from a node's new height to that height being queryable.
    started = time.monotonic()
    # The gateway's sent-points counter restarts with it: count before and after the outage.
    gw_points = -gateway_points(gw_metrics)
    samples_start = prometheus_samples(api)
    delays, outage_done = [], a.outage == 0
    outage_at = started + (a.seconds - a.outage) / 2
    delay_state = {}
    while time.monotonic() - started < a.seconds:
        now = time.monotonic()
        if not outage_done and now >= outage_at:
            gw_points += gateway_points(gw_metrics)
            fleet.stop("gateway", signal.SIGKILL)
            print(f"fleet: gateway killed for {a.outage} s", file=sys.stderr)
            time.sleep(a.outage)
            fleet.restart("gateway")
            wait_for("the gateway's restart", lambda: gateway_points(gw_metrics) >= 0, 60)
            outage_done = True
            # A delay that spans the outage measures the outage: start afresh.
            delay_state.clear()
            continue
        sample_delay(bridges, api, delay_state, delays)
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    gw_points += gateway_points(gw_metrics)
    samples = prometheus_samples(api) - samples_start

    # Expected series: what the nodes' bridges serve, now (they keep running).
    expected = {i: len(exposition_series(http_get(u))) for i, u in bridges.items()}
    settled = wait_for("the series counts to match the bridges'",
                       lambda: series_by_instance(api) == expected, 90, fatal=False)
    in_prometheus = series_by_instance(api)
    if not settled:
        explain_difference(api, bridges)

    measures_at = {name: proc for name, (proc, _, _) in fleet.procs.items()}
    collector_cpu = {n: cpu_seconds(p.pid) for n, p in measures_at.items() if n.startswith(("agent", "gateway"))}
    collector_rss = {n: rss_mib(p.pid) for n, p in measures_at.items() if n.startswith(("agent", "gateway"))}
    prometheus_rss = rss_mib(prometheus.pid)

    # Stop the nodes (their final flush goes through agent and gateway), then compare each
    # node's final height with Prometheus'.
    final = {}
    for instance in bridges:
        fleet.stop(instance)
        line = [l for l in open(os.path.join(tmp, instance + ".log")) if "stopped after" in l]
        final[instance] = float(line[-1].split()[-1]) if line else math.nan
    def stored():
        return {r["metric"]["instance"]: float(r["value"][1]) for r in query(api, HEIGHT)}
    wait_for("the final values to arrive", lambda: all(stored().get(i) == v for i, v in final.items()), 90)
    in_store = stored()
    lost = sum(v - in_store.get(i, 0.0) for i, v in final.items())

    series_expected, series_in = sum(expected.values()), sum(in_prometheus.values())
    collapsed = [i for i in expected if in_prometheus.get(i) != expected[i]]
    delays.sort()
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else math.nan
    fmt = lambda d: " ".join(f"{k}={v:.2f}" for k, v in sorted(d.items()))
    for key, value in [
        ("nodes", a.nodes),
        ("agents", agents),
        ("export_interval_seconds", a.export_interval),
        ("run_seconds", round(elapsed, 1)),
        ("series_expected", series_expected),
        ("series_in_prometheus", series_in),
        ("series_per_node", round(series_expected / a.nodes, 1)),
        ("distinct_instances", len(in_prometheus)),
        ("points_per_second", round(gw_points / elapsed, 1)),
        ("samples_per_second", round(samples / elapsed, 1)),
        ("collector_cpu_seconds", fmt(collector_cpu)),
        ("collector_rss_mib", fmt(collector_rss)),
        ("prometheus_rss_mib", round(prometheus_rss, 1)),
        ("e2e_delay_seconds_p99", round(p99, 2)),
        ("e2e_delay_samples", len(delays)),
        ("outage_seconds", a.outage),
        ("lost_after_gateway_outage", lost),
    ]:
        print(f"fleet {key}: {value}")
    if collapsed:
        print(f"fleet: series differ for {collapsed}: expected {expected}, in Prometheus {in_prometheus}", file=sys.stderr)
    return series_in == series_expected and not collapsed and lost == 0 and len(in_prometheus) == a.nodes


def explain_difference(api, bridges):
    """Prints, for the first node whose series differ, the metric names whose counts differ."""
    for instance, url in bridges.items():
        ours = {}
        for series in exposition_series(http_get(url)):
            name = series.split("{")[0]
            ours[name] = ours.get(name, 0) + 1
        theirs = {r["metric"]["__name__"]: int(r["value"][1]) for r in
                  query(api, f'count by (__name__) ({{instance="{instance}", {RULE_SERIES}}})')}
        differ = {n: (ours.get(n), theirs.get(n)) for n in set(ours) | set(theirs) if ours.get(n) != theirs.get(n)}
        if differ:
            print(f"fleet: {instance}: series (bridge, Prometheus) differ for {differ}", file=sys.stderr)
            return


# The series Prometheus' own rules write with the nodes' labels (a pending HostCpuHigh on a
# busy machine, BlockProductionStalled before a second push): not the nodes' data.
RULE_SERIES = '__name__!~"ALERTS|ALERTS_FOR_STATE"'


def series_by_instance(api):
    return {r["metric"]["instance"]: int(r["value"][1])
            for r in query(api, 'count by (instance) ({job="demo-node", instance=~"fleet-node-.*", '
                                + RULE_SERIES + '})')}


def prometheus_samples(api):
    """Samples Prometheus has appended to its head block so far (its own /metrics)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in http_get(f"{api}/metrics").splitlines()
               if line.startswith("prometheus_tsdb_head_samples_appended_total"))


def gateway_points(port):
    """Metric points the gateway has sent to the store so far."""
    total = 0.0
    for line in http_get(f"http://127.0.0.1:{port}/metrics").splitlines():
        if line.startswith("otelcol_exporter_sent_metric_points"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def sample_delay(bridges, api, state, delays):
    """The delay from a node's new height appearing on its bridge (polled every 0.5 s, so
    within about 0.5 s of being recorded) to Prometheus answering a query with it. One
    height at a time per node; a height already there at the first look is not measured."""
    now = time.monotonic()
    for instance, url in bridges.items():
        node = state.setdefault(instance, {"seen": None, "pending": None})
        for line in http_get(url).splitlines():
            if line.startswith("node_storage_height "):
                height = float(line.split()[1])
                if node["seen"] is None:
                    node["seen"] = (height, None)  # when it was recorded is unknown
                elif node["seen"][0] != height:
                    node["seen"] = (height, now)
        seen_height, seen_at = node["seen"]
        if node["pending"] is None and seen_at is not None:
            node["pending"] = node["seen"]
        if node["pending"] is None:
            continue
        height, since = node["pending"]
        if query(api, f'node_storage_height{{instance="{instance}"}} >= {height}'):
            delays.append(time.monotonic() - since)
            node["pending"] = None
            if seen_height == height:
                node["seen"] = (seen_height, None)  # measured: wait for the next one


if __name__ == "__main__":
    main()
