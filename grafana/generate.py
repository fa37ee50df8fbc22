#!/usr/bin/env python3
"""Generates grafana/dashboards/*.json from the metric catalog: the dashboards as code.

The catalog is what a node binary prints with `--catalog json` (`telemetry::catalog()`):
every metric it links, with its Prometheus name, kind, unit and attributes. Every metric
gets a default panel for its kind, broken down by its attributes: a rate for a counter,
p50/p95/p99 and a heatmap for a histogram, the value for a gauge or an up-down counter. So
every metric is on a panel by construction, and a new component gets its dashboard without
anyone writing one. Hand-written panels remain only for composite queries (the overview,
ratios, ages of timestamps, the collector's own metrics).

    cargo run -q -p demo-node -- --catalog json > /tmp/catalog.json
    python3 grafana/generate.py --catalog /tmp/catalog.json

`--out DIR` writes elsewhere (the test that the committed JSON is what this produces).
"""
import argparse
import json
import os
import sys

DS = {"type": "prometheus", "uid": "prometheus"}
SEL = 'job=~"$job", instance=~"$instance"'
RATE = "$__rate_interval"
# The dashboards' variables list what every node exports: its resource, on both paths.
INSTANCE_METRIC = "target_info"


# The trace store of the metrics profile (grafana/provisioning/datasources/traces-logs.yml).
TRACES_DS = {"type": "jaeger", "uid": "jaeger"}


def slower_traces_link():
    """A data link from a latency series to the traces slower than the value clicked: the
    Jaeger search of the series' service (its `job`) over the panel's time range. Without
    exemplars (opentelemetry_sdk 0.33 has none) this is how a slow bucket leads to traces."""
    from urllib.parse import quote
    pane = {"a": {"datasource": TRACES_DS["uid"],
                  "queries": [{"refId": "A", "datasource": TRACES_DS, "queryType": "search",
                               "service": "${__field.labels.job}",
                               "minDuration": "${__value.numeric}s", "limit": 20}],
                  "range": {"from": "${__from}", "to": "${__to}"}}}
    # Percent-encode the JSON but keep Grafana's ${...} for it to interpolate.
    encoded = quote(json.dumps(pane, separators=(",", ":")), safe="${}_.:")
    return {"title": "Traces slower than ${__value.text} (Jaeger)",
            "url": "/explore?schemaVersion=1&panes=" + encoded, "targetBlank": False}


def sel(extra=""):
    return "{" + SEL + (", " + extra if extra else "") + "}"


class Board:
    def __init__(self, uid, title, description):
        self.uid, self.title, self.description = uid, title, description
        self.instance_metric = INSTANCE_METRIC
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
        f"time() - max by (instance) (telemetry_export_last_success_seconds{sel()})", "{{instance}} last OTLP export")])
    b.gauge_series("Process memory", "Resident memory of the node process.", "bytes", "process_memory_usage_bytes")
    return b



# Boards that gather several components; any other component gets a board of its own.
GROUPS = [
    ("node-host", "Host", "Host and process resources (OpenTelemetry semantic conventions).",
     ["system", "process"]),
    ("node-telemetry-pipeline", "Telemetry pipeline",
     "Is telemetry flowing? Exports, scrapes, callbacks, dropped data, the collector.",
     ["otel.sdk", "telemetry", "telemetry.host", "telemetry.source"]),
]

# Friendlier titles for the demo node's components (a board without one is titled by its
# component's prefix).
TITLES = {
    "node.rpc": ("RPC", "The HTTP JSON API: request rates, errors, latency, concurrency."),
    "node.mempool": ("Mempool", "Admission, removal and contents of the transaction pool."),
    "node.sequencer": ("Sequencer", "Block production: slots, build time, block contents, inclusion delay."),
    "node.storage": ("Storage", "The append-only block store: write latency, throughput, size, height."),
    "node.prover": ("Prover", "The proving worker pool: jobs, outcomes, durations, queue, idle workers."),
    "node.p2p": ("P2P", "Gossip: messages and bytes by direction and topic, peers, connection failures."),
}


# Observable metrics a host may not have at all, shown as 0 rather than "No data".
ABSENT_AS_ZERO = {"system.paging.usage": "0 on a host without swap."}


def is_timestamp(metric):
    """A Unix time in seconds (`*.last_success`, `*.last_update`): shown as a date, its age
    on a composite panel."""
    return metric["unit"] == "s" and metric["name"].rsplit(".", 1)[-1].startswith("last_")


def value_unit(metric):
    if is_timestamp(metric):
        return "dateTimeAsIso"
    return {"s": "s", "By": "bytes", "1": "percentunit"}.get(metric["unit"], "none")


def rate_unit(metric):
    return {"s": "s", "By": "Bps"}.get(metric["unit"], "ops")


def default_panels(b, metric):
    """The panel(s) of one metric, by its kind."""
    family = metric["prometheus_name"]
    labels = [a["label"] for a in metric["attributes"]]
    by = "instance" + "".join(", " + label for label in labels)
    legend = " ".join(["{{instance}}"] + ["{{%s}}" % label for label in labels])
    title = metric["name"]
    description = f"{metric['description']} (`{family}`, {metric['kind']}, unit `{metric['unit']}`)"
    seeded = metric["closed_series"] is not None
    if metric["kind"] == "histogram":
        unit = value_unit(metric)
        # `job` kept: a duration's data link searches that service's slower traces.
        group = "le, job, " + by
        targets = [
            (f"histogram_quantile({q}, sum by ({group}) (rate({family}_bucket{sel()}[{RATE}])))",
             f"p{int(q * 100)} {legend}")
            for q in (0.5, 0.95, 0.99)
        ]
        # The SDK's own work (its exports, its scrapes) is never traced: no link there.
        own = metric["component"].startswith(("otel.", "telemetry"))
        links = {"links": [slower_traces_link()]} if metric["unit"] == "s" and not own else None
        b.timeseries(title + " (p50, p95, p99)", description, unit, targets, field_extra=links)
        b.heatmap(title + " (distribution)", description, family, unit=unit)
    elif metric["monotonic"]:
        expr = f"sum by ({by}) (rate({family}{sel()}[{RATE}]))"
        if not seeded:
            # Series appear at their first event (unbounded attributes): 0 until then.
            expr += " or on() vector(0)"
        b.timeseries(title + " (per second)", description, rate_unit(metric), [(expr, legend)])
    else:
        agg = "max" if "gauge" in metric["kind"] else "sum"
        expr = f"{agg} by ({by}) ({family}{sel()})"
        if metric["name"] in ABSENT_AS_ZERO:
            expr += " or on() vector(0)"
            description += " " + ABSENT_AS_ZERO[metric["name"]]
        b.timeseries(title, description, value_unit(metric), [(expr, legend)])


def composite_mempool(b):
    pool_source = sel('telemetry_source_name="mempool"')
    b.timeseries("Staleness of the pool gauges", "Seconds since the pool's state last changed; a growing value means the size and usage gauges are stale.", "s", [(
        f"time() - max by (instance) (telemetry_source_last_update_seconds{pool_source})", "{{instance}}")])


def composite_pipeline(b):
    b.row("Composite: ages and error ratios")
    b.timeseries("Seconds since the last successful export", "Grows while exports fail; stale data shows here first.", "s", [(
        f"time() - max by (instance, otel_component_type) (telemetry_export_last_success_seconds{sel()})", "{{instance}} {{otel_component_type}}")])
    failed = sel('error_type!=""')
    b.timeseries("Export failure ratio", "Share of exported data points whose export failed.", "percentunit", [(
        f"sum by (instance) (rate(otel_sdk_exporter_metric_data_point_exported_total{failed}[{RATE}]))"
        f" / (sum by (instance) (rate(otel_sdk_exporter_metric_data_point_exported_total{sel()}[{RATE}])) > 0)"
        " or on() vector(0)", "{{instance}}")])
    b.timeseries("Source staleness", "Seconds since each observed state source last changed.", "s", [(
        f"time() - max by (instance, telemetry_source_name) (telemetry_source_last_update_seconds{sel()})", "{{instance}} {{telemetry_source_name}}")])
    b.row("Collector (metrics profile)")
    coll = 'job="otel-collector"'
    b.timeseries("Collector: points accepted and refused", "Metric points the collector's OTLP receiver accepted, refused (memory limiter) and failed per second.", "ops", [
        (f"sum by (receiver, transport) (rate(otelcol_receiver_accepted_metric_points{{{coll}}}[{RATE}]))", "accepted {{transport}}"),
        (f"sum by (receiver, transport) (rate(otelcol_receiver_refused_metric_points{{{coll}}}[{RATE}]))", "refused {{transport}}"),
        (f"sum by (receiver, transport) (rate(otelcol_receiver_failed_metric_points{{{coll}}}[{RATE}]))", "failed {{transport}}")])
    b.timeseries("Collector: points sent and failed", "Metric points the exporter to Prometheus sent and failed to send per second (failures 0 until the first one).", "ops", [
        (f"sum by (exporter) (rate(otelcol_exporter_sent_metric_points{{{coll}}}[{RATE}]))", "sent {{exporter}}"),
        (f"sum by (exporter) (rate(otelcol_exporter_send_failed_metric_points{{{coll}}}[{RATE}])) or on() vector(0)", "failed {{exporter}}")])
    b.timeseries("Collector: export queue", "Batches waiting in the exporter's queue, against its capacity.", "none", [
        (f"max by (exporter) (otelcol_exporter_queue_size{{{coll}}})", "size {{exporter}}"),
        (f"max by (exporter) (otelcol_exporter_queue_capacity{{{coll}}})", "capacity {{exporter}}")], w=24)


COMPOSITES = {"node-mempool": composite_mempool, "node-telemetry-pipeline": composite_pipeline}


def boards(catalog):
    """The overview, then one board per group or component, in catalog order."""
    result = [overview()]
    by_uid = {}
    for metric in catalog["metrics"]:
        component = metric["component"]
        group = next((g for g in GROUPS if component in g[3]), None)
        if group:
            uid, title, description = group[:3]
        else:
            uid = component.replace(".", "-")
            title, description = TITLES.get(component, (component, f"The metrics of `{component}`."))
        if uid not in by_uid:
            by_uid[uid] = Board(uid, title, description)
            by_uid[uid].current = None
            result.append(by_uid[uid])
        board = by_uid[uid]
        if group and board.current != component:
            board.row(component)
            board.current = component
        default_panels(board, metric)
    for uid, add in COMPOSITES.items():
        if uid in by_uid:
            add(by_uid[uid])
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", required=True, help="the catalog JSON (`demo-node --catalog json`)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards"))
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    with open(a.catalog) as f:
        catalog = json.load(f)
    os.makedirs(a.out, exist_ok=True)
    for board in boards(catalog):
        path = os.path.join(a.out, board.uid + ".json")
        with open(path, "w") as f:
            json.dump(board.json(), f, indent=2, sort_keys=True)
            f.write("\n")
        if not a.quiet:
            print(path, len(board.panels), "panels", file=sys.stderr)


if __name__ == "__main__":
    main()
