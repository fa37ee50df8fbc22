#!/usr/bin/env python3
"""Offline checks of the Grafana dashboards, provisioning and alert rules (no Grafana server).

usage: check_dashboards.py --promtool PATH --provisioning DIR --catalog CATALOG.json
                           --rules RULES.yml... --dashboards DASHBOARD.json...

- JSON shape: uid, title, schemaVersion, unique panel ids, gridPos within 24 columns;
- every dashboard round-trips through grafana-foundation-sdk's models (unknown keys warn);
- every panel has a description, a unit and a datasource that provisioning defines;
  every dashboard has an `instance` variable;
- every PromQL target and alert expression parses (promtool check rules);
- every metric a panel or rule references is in the catalog (`demo-node --catalog json`: its
  Prometheus name, plus _bucket/_sum/_count of histograms) or is one of the collector's or
  Prometheus' own (otelcol_*, up, target_info); every catalog metric is on at least one
  panel (the generator guarantees it; this checks the generator).
Exits 1 on errors; unknown model keys are warnings.
"""
import argparse, json, os, re, subprocess, sys, tempfile

import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

ap = argparse.ArgumentParser()
ap.add_argument("--promtool", default="promtool")
ap.add_argument("--provisioning", required=True)
ap.add_argument("--catalog", required=True)
ap.add_argument("--rules", nargs="+", required=True)
ap.add_argument("--dashboards", nargs="+", required=True)
a = ap.parse_args()
errors, warns = [], []

PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets", "histogram_quantile",
    "histogram_count", "histogram_sum", "histogram_fraction", "time", "timestamp", "vector", "scalar", "abs",
    "absent", "absent_over_time", "ceil", "floor", "round", "clamp", "clamp_min", "clamp_max", "label_replace",
    "label_join", "sort", "sort_desc", "max_over_time", "min_over_time", "avg_over_time", "sum_over_time",
    "count_over_time", "last_over_time", "present_over_time", "quantile_over_time", "predict_linear", "exp", "ln",
    "log2", "log10", "sqrt", "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
    "group_left", "group_right", "inf", "nan", "le", "x",
}
EXTERNAL = re.compile(r"^(otelcol_[a-z0-9_]+|up|target_info)$")


def subst(expr):
    e = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    e = re.sub(r"\$\{(\w+)(:\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", "x", e)
    return e


def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', subst(expr))
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b\d+(\.\d+)?(e[+-]?\d+)?\b", " ", e)
    return {n for n in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e) if n not in PROMQL_WORDS}


registry = [{"family": m["prometheus_name"], "kind": m["kind"]} for m in json.load(open(a.catalog))["metrics"]]
known = set()
for m in registry:
    known.add(m["family"])
    if m["kind"] == "histogram":
        known.update(m["family"] + s for s in ("_bucket", "_sum", "_count"))

ds_uids = set()
for root, _, files in os.walk(a.provisioning):
    for f in files:
        if not f.endswith((".yml", ".yaml")):
            continue
        p = os.path.join(root, f)
        doc = yaml.safe_load(open(p)) or {}
        if "apiVersion" not in doc:
            errors.append(f"{p}: missing apiVersion")
        for d in doc.get("datasources", []) or []:
            for k in ("name", "type", "uid"):
                if k not in d:
                    errors.append(f"{p}: datasource missing {k}")
            ds_uids.add(d.get("uid"))
        for pr in doc.get("providers", []) or []:
            if not (pr.get("options") or {}).get("path"):
                errors.append(f"{p}: provider {pr.get('name')} missing options.path")

KNOWN_EXTRA = {"builtIn", "definition", "iteration", "__inputs", "__requires", "__elements", "gnetId"}


def dropped(orig, rt, path=""):
    out = []
    if isinstance(orig, dict) and isinstance(rt, dict):
        for k, v in orig.items():
            if v is None or k in KNOWN_EXTRA:
                continue
            if k not in rt:
                out.append(f"{path}.{k}")
            else:
                out += dropped(v, rt[k], f"{path}.{k}")
    elif isinstance(orig, list) and isinstance(rt, list):
        for i, (o, r) in enumerate(zip(orig, rt)):
            out += dropped(o, r, f"{path}[{i}]")
    return out


exprs, on_panels, uids = [], set(), set()
for f in a.dashboards:
    try:
        d = json.load(open(f))
    except Exception as ex:
        errors.append(f"{f}: invalid JSON: {ex}")
        continue
    for k in ("title", "uid", "panels", "schemaVersion"):
        if k not in d:
            errors.append(f"{f}: missing {k}")
    if d.get("uid") in uids:
        errors.append(f"{f}: duplicate dashboard uid {d.get('uid')}")
    uids.add(d.get("uid"))
    variables = {v.get("name") for v in (d.get("templating") or {}).get("list", [])}
    if "instance" not in variables:
        errors.append(f"{f}: no instance variable")
    ids = set()
    for p in d.get("panels", []):
        pid = p.get("id")
        if pid in ids:
            errors.append(f"{f}: duplicate panel id {pid}")
        ids.add(pid)
        g = p.get("gridPos") or {}
        if not g:
            errors.append(f"{f}: panel {pid} has no gridPos")
        elif g.get("x", 0) + g.get("w", 0) > 24:
            errors.append(f"{f}: panel {pid} gridPos exceeds 24 columns")
        if p.get("type") == "row":
            continue
        if not p.get("description"):
            errors.append(f"{f}: panel {pid} ({p.get('title')}) has no description")
        if not ((p.get("fieldConfig") or {}).get("defaults") or {}).get("unit"):
            errors.append(f"{f}: panel {pid} ({p.get('title')}) has no unit")
        for t in p.get("targets", []) or []:
            ds = t.get("datasource", p.get("datasource")) or {}
            if ds.get("uid") not in ds_uids:
                errors.append(f"{f}: panel {pid} datasource uid {ds.get('uid')!r} not provisioned")
            if "expr" in t:
                exprs.append((f"{f}: panel {pid} ({p.get('title')})", t["expr"]))
                on_panels.update(metric_names(t["expr"]))
    try:
        rt = json.loads(JSONEncoder(sort_keys=True).encode(Dashboard.from_json(d)))
        for k in dropped(d, rt):
            warns.append(f"{f}: key not in Grafana's dashboard model: {k}")
    except Exception as ex:
        errors.append(f"{f}: grafana_foundation_sdk could not load it: {ex!r}")

for f in a.rules:
    for g in (yaml.safe_load(open(f)) or {}).get("groups", []):
        for r in g.get("rules", []):
            name = r.get("alert") or r.get("record")
            exprs.append((f"{f}: {name}", r["expr"]))
            if r.get("alert") and not {"summary", "runbook"} <= set((r.get("annotations") or {}).keys()):
                errors.append(f"{f}: alert {name} needs a summary and a runbook annotation")

for where, e in exprs:
    for n in metric_names(e):
        if n not in known and not EXTERNAL.match(n):
            errors.append(f"{where}: references {n}, which no registered metric produces")

bases = {n[: -len(s)] if n.endswith(s) and n[: -len(s)] in known else n for n in on_panels for s in ("_bucket", "_sum", "_count")}
on_panels |= bases
for m in registry:
    if m["family"] not in on_panels:
        errors.append(f"registered metric {m['family']} is on no dashboard panel")

rules = {"groups": [{"name": "exprs", "rules": [{"record": f"check:expr_{i}", "expr": subst(e)} for i, (_, e) in enumerate(exprs)]}]}
with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as tf:
    yaml.safe_dump(rules, tf)
r = subprocess.run([a.promtool, "check", "rules", tf.name], capture_output=True, text=True)
os.unlink(tf.name)
if r.returncode != 0:
    for line in (r.stdout + r.stderr).splitlines():
        m = re.search(r'"check:expr_(\d+)": could not parse expression: (.*)', line)
        if m:
            where, e = exprs[int(m.group(1))]
            errors.append(f"{where}: bad PromQL: {m.group(2)} expr={e!r}")
    if not any("bad PromQL" in e for e in errors):
        errors.append("promtool failed: " + (r.stdout + r.stderr).strip())

for w in warns:
    print("WARN ", w)
for e in errors:
    print("ERROR", e)
print(f"checked {len(a.dashboards)} dashboards, {len(exprs)} expressions, {len(registry)} registered metrics: "
      f"{len(errors)} error(s), {len(warns)} warning(s)")
sys.exit(1 if errors else 0)
