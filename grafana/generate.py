#!/usr/bin/env python3
"""Generates grafana/dashboards/*.json: the dashboards as code.

Each dashboard is a list of panels built from a few helpers, so every panel has a unit, a
description, the instance variable, counters as rates and histograms as quantiles and
heatmaps. `python3 grafana/generate.py` rewrites the JSON; a test fails when the committed
JSON differs from what this script produces, and another when a registered metric is on no
panel.
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "prometheus"}
SEL = 'job=~"$job", instance=~"$instance"'
RATE = "$__rate_interval"


def sel(extra=""):
    return "{" + SEL + (", " + extra if extra else "") + "}"


class Board:
    def __init__(self, uid, title, description, instance_metric="node_storage_height"):
        self.uid, self.title, self.description = uid, title, description
        self.instance_metric = instance_metric
        self.panels, self.x, self.y, self.row_h = [], 0, 0, 0

    def _place(self, w, h):
        if self.x + w > 24:
            self.x, self.y = 0, self.y + self.row_h
            self.row_h = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        self.x, self.y = 0, self.y + self.row_h
        self.row_h = 0
        self.panels.append({"id": len(self.panels) + 1, "type": "row", "title": title, "collapsed": False,
                            "gridPos": self._place(24, 1), "panels": []})
        self.x, self.y, self.row_h = 0, self.y + 1, 0

    def panel(self, kind, title, description, unit, targets, w=12, h=8, options=None, field_extra=None):
        targets = [t if isinstance(t, dict) else {"expr": t[0], "legendFormat": t[1]} for t in targets]
        for i, t in enumerate(targets):
            t["refId"] = chr(ord("A") + i)
            t["datasource"] = DS
        defaults = {"unit": unit}
        defaults.update(field_extra or {})
        p = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": targets,
        }
        if options:
            p["options"] = options
        self.panels.append(p)

    def timeseries(self, title, description, unit, targets, **kw):
        self.panel("timeseries", title, description, unit, targets,
                   options={"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}, **kw)

    def stat(self, title, description, unit, expr, w=6, h=4):
        self.panel("stat", title, description, unit, [(expr, "{{instance}}")], w=w, h=h,
                   options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "value", "graphMode": "area"})

    def rate(self, title, description, unit, metric, by, extra="", **kw):
        legend = " ".join("{{%s}}" % b for b in by) or "{{instance}}"
        expr = f"sum by (instance{''.join(', ' + b for b in by)}) (rate({metric}{sel(extra)}[{RATE}]))"
        self.timeseries(title, description, unit, [(expr, "{{instance}} " + legend if by else legend)], **kw)

    def quantiles(self, title, description, histogram, by=(), unit="s", **kw):
        group = "le, instance" + "".join(", " + b for b in by)
        legend = " ".join("{{%s}}" % b for b in by)
        targets = [
            (f"histogram_quantile({q}, sum by ({group}) (rate({histogram}_bucket{sel()}[{RATE}])))",
             f"p{int(q * 100)} {{{{instance}}}} {legend}".strip())
            for q in (0.5, 0.95, 0.99)
        ]
        self.timeseries(title, description, unit, targets, **kw)

    def heatmap(self, title, description, histogram, unit="s", w=12, h=8):
        expr = f"sum by (le) (increase({histogram}_bucket{sel()}[{RATE}]))"
        self.panel("heatmap", title, description, unit,
                   [{"expr": expr, "legendFormat": "{{le}}", "format": "heatmap"}], w=w, h=h,
                   options={"calculate": False, "yAxis": {"unit": unit},
                            "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges"}})

    def gauge_series(self, title, description, unit, metric, by=(), extra="", agg="max", **kw):
        legend = " ".join("{{%s}}" % b for b in by)
        expr = f"{agg} by (instance{''.join(', ' + b for b in by)}) ({metric}{sel(extra)})"
        self.timeseries(title, description, unit, [(expr, ("{{instance}} " + legend).strip())], **kw)

    def json(self):
        variables = [
            {"name": "job", "label": "Job", "type": "query", "datasource": DS,
             "query": {"query": f"label_values({self.instance_metric}, job)", "refId": "job"},
             "definition": f"label_values({self.instance_metric}, job)",
             "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
             "current": {"selected": True, "text": ["All"], "value": ["$__all"]}},
            {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
             "query": {"query": f'label_values({self.instance_metric}{{job=~"$job"}}, instance)', "refId": "instance"},
             "definition": f'label_values({self.instance_metric}{{job=~"$job"}}, instance)',
             "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
             "current": {"selected": True, "text": ["All"], "value": ["$__all"]}},
        ]
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["node-telemetry"],
            "timezone": "browser",
            "schemaVersion": 41,
            "version": 1,
            "editable": False,
            "graphTooltip": 1,
            "refresh": "30s",
            "time": {"from": "now-1h", "to": "now"},
            "templating": {"list": variables},
            "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["node-telemetry"], "asDropdown": True, "title": "Node telemetry"}],
            "panels": self.panels,
        }


def overview():
    b = Board("node-overview", "Node overview", "One node at a glance: chain, throughput, pool, peers, errors, telemetry health.")
    b.stat("Height", "Height of the last stored block.", "none", f"max by (instance) (node_storage_height{sel()})")
    b.stat("Included tx/s", "Transactions included in blocks per second.", "reqps",
           f"sum by (instance) (rate(node_sequencer_included_total{sel()}[{RATE}]))")
    b.stat("Mempool", "Transactions waiting in the mempool.", "none", f"max by (instance) (node_mempool_size{sel()})")
    b.stat("Peers", "Peers connected.", "none", f"max by (instance) (node_p2p_peers{sel()})")
    b.rate("Slots by outcome", "Slots per second: blocks with transactions, empty blocks, missed slots.", "ops",
           "node_sequencer_slots_total", ["sequencer_slot_outcome"])
    server_errors = sel('http_response_status_class="5xx"')
    b.timeseries("RPC error ratio", "Share of RPC answers that were server errors (5xx).", "percentunit", [(
        f"sum by (instance) (rate(node_rpc_requests_total{server_errors}[{RATE}]))"
        f" / sum by (instance) (rate(node_rpc_requests_total{sel()}[{RATE}]))", "{{instance}}")])
    b.timeseries("Seconds since the last export or scrape", "Age of the newest telemetry: time since the last successful OTLP export (push mode).", "s", [(
        f"time() - max by (instance) (node_telemetry_export_last_success_seconds{sel()})", "{{instance}} last OTLP export")])
    b.gauge_series("Process memory", "Resident memory of the node process.", "bytes", "process_memory_usage_bytes")
    return b


def rpc():
    b = Board("node-rpc", "RPC", "The HTTP JSON API: request rates, errors, latency, concurrency.")
    b.rate("Requests by method and status", "RPC answers per second, by method and HTTP status class.", "reqps",
           "node_rpc_requests_total", ["rpc_method", "http_response_status_class"])
    b.rate("Errors by kind", "Failed RPC requests per second, by method and error kind.", "reqps",
           "node_rpc_errors_total", ["rpc_method", "rpc_error_kind"])
    b.quantiles("Latency by method", "p50, p95 and p99 time to answer, by method.", "node_rpc_request_duration_seconds", by=["rpc_method"])
    b.heatmap("Latency distribution", "All RPC requests' answer times.", "node_rpc_request_duration_seconds")
    b.gauge_series("In flight", "Requests being processed.", "none", "node_rpc_in_flight", agg="sum")
    return b


def mempool():
    b = Board("node-mempool", "Mempool", "Admission, removal and contents of the transaction pool.")
    b.rate("Admissions", "Transactions offered per second, by origin and outcome.", "ops",
           "node_mempool_admissions_total", ["mempool_origin", "mempool_outcome"])
    b.rate("Removals", "Transactions leaving the pool per second: included or evicted.", "ops",
           "node_mempool_removals_total", ["mempool_removal_reason"])
    b.gauge_series("Size", "Transactions waiting.", "none", "node_mempool_size")
    b.gauge_series("Usage", "Bytes of the waiting transactions.", "bytes", "node_mempool_usage_bytes")
    b.quantiles("Validation time", "Time to validate one transaction (size, signature, duplicate).", "node_mempool_validation_duration_seconds")
    pool_source = sel('telemetry_source="mempool"')
    b.timeseries("Staleness of the pool gauges", "Seconds since the pool's state last changed; a growing value means the size and usage gauges are stale.", "s", [(
        f"time() - max by (instance) (node_telemetry_source_last_update_seconds{pool_source})", "{{instance}}")])
    return b


def sequencer():
    b = Board("node-sequencer", "Sequencer", "Block production: slots, build time, block contents, inclusion delay.")
    b.rate("Slots by outcome", "Slots per second: built, empty or missed.", "ops", "node_sequencer_slots_total", ["sequencer_slot_outcome"])
    b.rate("Included transactions", "Transactions included in blocks per second.", "ops", "node_sequencer_included_total", [])
    b.quantiles("Block build time", "Time to take transactions and compute the merkle root.", "node_sequencer_block_build_duration_seconds")
    b.quantiles("Transactions per block", "p50, p95, p99 of transactions per block.", "node_sequencer_block_transactions", unit="none")
    b.quantiles("Block size", "p50, p95, p99 of transaction bytes per block.", "node_sequencer_block_size_bytes", unit="bytes")
    b.quantiles("Inclusion delay", "Time from a transaction's arrival in the mempool to its block.", "node_sequencer_inclusion_delay_seconds")
    b.heatmap("Inclusion delay distribution", "Every included transaction's wait.", "node_sequencer_inclusion_delay_seconds", w=24)
    return b


def storage():
    b = Board("node-storage", "Storage", "The append-only block store: write latency, throughput, size, height.")
    b.quantiles("Write latency", "Time to append and sync one block.", "node_storage_write_duration_seconds")
    b.heatmap("Write latency distribution", "Every block write.", "node_storage_write_duration_seconds")
    b.rate("Write throughput", "Bytes appended per second.", "Bps", "node_storage_written_bytes_total", [])
    b.gauge_series("Size on disk", "Size of the block file.", "bytes", "node_storage_disk_usage_bytes")
    b.gauge_series("Height", "Height of the last stored block.", "none", "node_storage_height", w=24)
    return b


def prover():
    b = Board("node-prover", "Prover", "The proving worker pool: jobs, outcomes, durations, queue, idle workers.")
    b.rate("Jobs by type and outcome", "Proving jobs finished per second.", "ops", "node_prover_jobs_total", ["prover_job_type", "prover_job_outcome"])
    b.quantiles("Job duration", "p50, p95, p99 proving time by job type.", "node_prover_job_duration_seconds", by=["prover_job_type"])
    b.gauge_series("Queue depth", "Jobs waiting for a worker.", "none", "node_prover_queue_depth")
    b.gauge_series("Idle workers", "Workers waiting for a job.", "none", "node_prover_workers_idle", agg="sum")
    b.heatmap("Job duration distribution", "Every proving job.", "node_prover_job_duration_seconds", w=24)
    return b


def p2p():
    b = Board("node-p2p", "P2P", "Gossip: messages and bytes by direction and topic, peers, connection failures.")
    b.rate("Messages", "Gossip messages per second, by direction and topic.", "ops", "node_p2p_messages_total", ["network_io_direction", "p2p_topic"])
    b.rate("Traffic", "Gossip bytes per second on the wire, by direction and topic.", "Bps", "node_p2p_traffic_bytes_total", ["network_io_direction", "p2p_topic"])
    b.gauge_series("Peers", "Peers connected.", "none", "node_p2p_peers", agg="sum")
    b.rate("Connection failures", "Failed connection attempts and broken connections per second, by reason.", "ops",
           "node_p2p_connection_failures_total", ["p2p_failure_reason"])
    return b


def host():
    b = Board("node-host", "Host", "Host and process resources (OpenTelemetry semantic conventions).", instance_metric="process_memory_usage_bytes")
    b.row("CPU")
    b.gauge_series("CPU utilization by mode", "Fraction of all CPUs' time per mode.", "percentunit", "system_cpu_utilization_ratio", by=["cpu_mode"])
    b.rate("CPU time by mode", "CPU seconds per second (summed over CPUs), by mode.", "s", "system_cpu_time_seconds_total", ["cpu_mode"])
    b.gauge_series("Logical CPUs", "Logical CPUs available.", "none", "system_cpu_logical_count", w=24, h=5)
    b.row("Memory")
    b.gauge_series("Memory by state", "Bytes by state: used, free, buffers, cached.", "bytes", "system_memory_usage_bytes", by=["system_memory_state"])
    b.gauge_series("Memory utilization", "Fraction of total memory by state.", "percentunit", "system_memory_utilization_ratio", by=["system_memory_state"])
    b.gauge_series("Memory limit", "Total memory.", "bytes", "system_memory_limit_bytes")
    b.timeseries("Swap", "Swap by state; 0 on a host without swap.", "bytes", [(
        f"max by (instance, system_paging_state) (system_paging_usage_bytes{sel()}) or on() vector(0)", "{{instance}} {{system_paging_state}}")])
    b.row("Disk and filesystems")
    b.rate("Disk throughput", "Bytes per second by device and direction.", "Bps", "system_disk_io_bytes_total", ["system_device", "disk_io_direction"])
    b.rate("Disk operations", "Operations per second by device and direction.", "iops", "system_disk_operations_total", ["system_device", "disk_io_direction"])
    b.gauge_series("Filesystem usage", "Bytes by mount point and state.", "bytes", "system_filesystem_usage_bytes", by=["system_filesystem_mountpoint", "system_filesystem_state"])
    b.gauge_series("Filesystem utilization", "Fraction used by mount point.", "percentunit", "system_filesystem_utilization_ratio",
                   by=["system_filesystem_mountpoint"], extra='system_filesystem_state="used"')
    b.row("Network")
    b.rate("Network throughput", "Bytes per second by interface and direction.", "Bps", "system_network_io_bytes_total", ["network_interface_name", "network_io_direction"])
    b.rate("Network errors", "Errors per second by interface and direction.", "ops", "system_network_errors_total", ["network_interface_name", "network_io_direction"])
    b.rate("Packets dropped", "Dropped packets per second by interface and direction.", "pps", "system_network_packet_dropped_total", ["network_interface_name", "network_io_direction"])
    b.gauge_series("Uptime", "Host uptime.", "s", "system_uptime_seconds")
    b.row("Node process")
    b.rate("Process CPU time", "CPU seconds per second used by the node, by mode.", "s", "process_cpu_time_seconds_total", ["cpu_mode"])
    b.gauge_series("Process CPU utilization", "Fraction of the available CPUs used by the node, by mode.", "percentunit", "process_cpu_utilization_ratio", by=["cpu_mode"])
    b.gauge_series("Process memory", "Resident memory of the node.", "bytes", "process_memory_usage_bytes")
    b.gauge_series("Process virtual memory", "Virtual memory of the node.", "bytes", "process_memory_virtual_bytes")
    b.gauge_series("Threads", "Threads of the node process.", "none", "process_thread_count")
    b.gauge_series("File descriptors", "Open file descriptors of the node process.", "none", "process_unix_file_descriptor_count")
    b.rate("Process disk I/O", "Bytes per second the node read from and wrote to storage.", "Bps", "process_disk_io_bytes_total", ["disk_io_direction"])
    b.gauge_series("Process uptime", "Seconds since the node started.", "s", "process_uptime_seconds")
    return b


def pipeline():
    b = Board("node-telemetry-pipeline", "Telemetry pipeline", "Is telemetry flowing? Exports, scrapes, callbacks, dropped data, the collector.")
    b.row("Node: push and pull")
    b.rate("Export attempts", "OTLP export attempts per second.", "ops", "node_telemetry_export_attempts_total", ["telemetry_exporter"])
    b.rate("Export failures by reason", "Failed exports per second: timeout, unavailable, rejected, shutdown, other.", "ops",
           "node_telemetry_export_failures_total", ["telemetry_exporter", "telemetry_failure_reason"])
    b.quantiles("Export duration", "Time one export took.", "node_telemetry_export_duration_seconds", by=["telemetry_exporter"])
    b.timeseries("Seconds since the last successful export", "Grows while exports fail; stale data shows here first.", "s", [(
        f"time() - max by (instance, telemetry_exporter) (node_telemetry_export_last_success_seconds{sel()})", "{{instance}} {{telemetry_exporter}}")])
    b.rate("Scrapes by outcome", "Requests answered by the bridge per second.", "reqps", "node_telemetry_scrapes_total", ["telemetry_scrape_outcome"])
    b.quantiles("Scrape duration", "Time to collect and encode one scrape.", "node_telemetry_scrape_duration_seconds")
    b.row("Node: data quality")
    b.timeseries("Callback failures", "Observable callbacks that panicked per second, by metric (0 when none ever failed).", "ops", [(
        f"sum by (instance, telemetry_callback_metric) (rate(node_telemetry_callback_failures_total{sel()}[{RATE}])) or on() vector(0)",
        "{{instance}} {{telemetry_callback_metric}}")])
    b.rate("Dropped measurements", "Invalid measurements dropped per second, by reason.", "ops", "node_telemetry_measurements_dropped_total", ["telemetry_drop_reason"])
    b.timeseries("Cardinality overflows", "Measurements per second folded into a metric's otel.metric.overflow series because its cardinality limit was reached (0 when none ever was).", "ops", [(
        f"sum by (instance, telemetry_overflow_metric) (rate(node_telemetry_cardinality_overflows_total{sel()}[{RATE}])) or on() vector(0)",
        "{{instance}} {{telemetry_overflow_metric}}")])
    b.timeseries("Source staleness", "Seconds since each observed state source last changed.", "s", [(
        f"time() - max by (instance, telemetry_source) (node_telemetry_source_last_update_seconds{sel()})", "{{instance}} {{telemetry_source}}")])
    b.quantiles("Host metrics refresh", "Time one host-metrics refresh took.", "node_telemetry_host_refresh_duration_seconds")
    b.row("Collector (metrics profile)")
    coll = 'job="otel-collector"'
    b.timeseries("Collector: points accepted and refused", "Metric points the collector's OTLP receiver accepted, refused (memory limiter) and failed per second.", "ops", [
        (f"sum by (receiver, transport) (rate(otelcol_receiver_accepted_metric_points{{{coll}}}[{RATE}]))", "accepted {{transport}}"),
        (f"sum by (receiver, transport) (rate(otelcol_receiver_refused_metric_points{{{coll}}}[{RATE}]))", "refused {{transport}}"),
        (f"sum by (receiver, transport) (rate(otelcol_receiver_failed_metric_points{{{coll}}}[{RATE}]))", "failed {{transport}}")])
    b.timeseries("Collector: points sent and failed", "Metric points the exporter to Prometheus sent and failed to send per second.", "ops", [
        (f"sum by (exporter) (rate(otelcol_exporter_sent_metric_points{{{coll}}}[{RATE}]))", "sent {{exporter}}"),
        (f"sum by (exporter) (rate(otelcol_exporter_send_failed_metric_points{{{coll}}}[{RATE}]))", "failed {{exporter}}")])
    b.timeseries("Collector: export queue", "Batches waiting in the exporter's queue, against its capacity.", "none", [
        (f"max by (exporter) (otelcol_exporter_queue_size{{{coll}}})", "size {{exporter}}"),
        (f"max by (exporter) (otelcol_exporter_queue_capacity{{{coll}}})", "capacity {{exporter}}")], w=24)
    return b


BOARDS = [overview, rpc, mempool, sequencer, storage, prover, p2p, host, pipeline]


def main():
    # `--out DIR` writes elsewhere (the check that the committed JSON is up to date).
    out = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--out" else \
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards")
    os.makedirs(out, exist_ok=True)
    for make in BOARDS:
        board = make()
        path = os.path.join(out, board.uid + ".json")
        with open(path, "w") as f:
            json.dump(board.json(), f, indent=2, sort_keys=True)
            f.write("\n")
        print(path, len(board.panels), "panels", file=sys.stderr)


if __name__ == "__main__":
    main()
