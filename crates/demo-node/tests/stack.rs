//! The metrics stack checked with the real tools: Docker Compose (validation; no engine
//! here), the OpenTelemetry Collector core, Prometheus 3.5 and promtool, and the offline
//! Grafana checks; then end to end: a real Prometheus scrapes a running demo node and a real
//! collector, and every dashboard query and alert expression is evaluated through its API.
//!
//! The tools come from `scripts/install-tools.sh` (their paths in COMPOSE, OTELCOL,
//! OTLP_NAMES, PROMETHEUS3, PROMETHEUS_OTLP, PROMTOOL3, TOOLS_PY; `scripts/test.sh` sets
//! them). Without one a test is skipped, visibly (`otlp_test_receiver::tool`), except under
//! CI, where a missing tool fails it.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use otlp_test_receiver::{note, tool};
use support::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

fn services(compose: &Path, profile: Option<&str>) -> Vec<String> {
    let mut command = Command::new(compose);
    command.arg("-f").arg(repo().join("docker-compose.yml"));
    if let Some(profile) = profile {
        command.args(["--profile", profile]);
    }
    let mut names: Vec<String> = run(command.args(["config", "--services"]))
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn compose_file_validates_with_real_compose() {
    let Some(compose) = tool("COMPOSE") else {
        return;
    };
    let file = repo().join("docker-compose.yml");
    run(Command::new(&compose)
        .arg("-f")
        .arg(&file)
        .args(["config", "-q"]));
    assert_eq!(services(&compose, None), ["demo-node", "demo-node-2"]);
    assert_eq!(
        services(&compose, Some("metrics")),
        [
            "demo-node",
            "demo-node-2",
            "grafana",
            "jaeger",
            "loki",
            "otel-collector",
            "prometheus"
        ]
    );
    assert_eq!(
        services(&compose, Some("scrape")),
        ["demo-node", "demo-node-2", "grafana", "prometheus-scrape"]
    );
    let resolved = run(Command::new(&compose).arg("-f").arg(&file).args([
        "--profile",
        "metrics",
        "--profile",
        "scrape",
        "config",
    ]));
    for image in resolved
        .lines()
        .filter_map(|l| l.trim().strip_prefix("image: "))
    {
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            !tag.is_empty() && tag != "latest",
            "image {image} is not pinned to a version"
        );
    }
    assert!(
        !resolved.contains("GF_SECURITY_ADMIN_PASSWORD: admin"),
        "a Grafana password is hard-coded"
    );
}

#[test]
fn collector_configs_validate_with_the_real_collector() {
    let Some(otelcol) = tool("OTELCOL") else {
        return;
    };
    for config in ["config.yaml", "agent.yaml", "gateway.yaml"] {
        run(Command::new(&otelcol).arg("validate").arg(format!(
            "--config={}",
            repo().join("otel-collector").join(config).display()
        )));
    }
}

#[test]
fn prometheus_configs_and_alert_rules_pass_promtool() {
    let Some(promtool) = tool("PROMTOOL3") else {
        return;
    };
    let root = repo();
    for config in [
        "prometheus/prometheus.yml",
        "prometheus/prometheus-scrape.yml",
    ] {
        run(Command::new(&promtool)
            .args(["check", "config", "--syntax-only"])
            .arg(root.join(config)));
    }
    run(Command::new(&promtool)
        .args(["check", "rules"])
        .arg(root.join("prometheus/rules/node.yml")));
    let tested = run(Command::new(&promtool)
        .args(["test", "rules"])
        .arg(root.join("prometheus/tests/alerts.test.yml")));
    assert!(tested.contains("SUCCESS"), "{tested}");
}

/// The OTLP data type a catalog metric is exported as, in the terms of Prometheus'
/// translator (`scripts/otlp-names`).
fn otlp_type(metric: &serde_json::Value) -> &'static str {
    match (
        metric["kind"].as_str().unwrap(),
        metric["monotonic"].as_bool().unwrap(),
    ) {
        ("histogram", _) => "histogram",
        (_, true) => "monotonic_counter",
        ("gauge" | "observable gauge", _) => "gauge",
        _ => "non_monotonic_counter",
    }
}

/// The names the bridge serves (`family_name`, checked against the live bridge in
/// `node.rs` and `prometheus_bridge.rs`) are the names Prometheus' own OTLP translation
/// (github.com/prometheus/otlptranslator, UnderscoreEscapingWithSuffixes) gives the same
/// metrics, for every metric and every attribute key of the registry: dashboards and alerts
/// see one set of series whichever path the data took.
#[test]
fn bridge_names_equal_prometheus_otlp_translation() {
    let Some(otlp_names) = tool("OTLP_NAMES") else {
        return;
    };
    let catalog = catalog_json();
    let metrics = catalog["metrics"].as_array().unwrap();
    let mut keys: Vec<&str> = metrics
        .iter()
        .flat_map(|m| m["attributes"].as_array().unwrap())
        .map(|a| a["key"].as_str().unwrap())
        .chain([telemetry::NODE_ROLE_KEY, telemetry::COMPONENT_INSTANCE_KEY])
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let input = serde_json::json!({
        "metrics": metrics.iter().map(|m| serde_json::json!({
            "name": m["name"], "unit": m["unit"], "type": otlp_type(m),
        })).collect::<Vec<_>>(),
        "labels": keys,
    });
    let mut child = Command::new(otlp_names)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        input.to_string().as_bytes(),
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "otlp-names failed");
    let translated: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    let mut differ = Vec::new();
    for m in metrics {
        let (name, ours) = (m["name"].as_str().unwrap(), &m["prometheus_name"]);
        let theirs = &translated["metrics"][name];
        if ours != theirs {
            differ.push(format!("{name}: bridge {ours}, Prometheus OTLP {theirs}"));
        }
        for a in m["attributes"].as_array().unwrap() {
            let key = a["key"].as_str().unwrap();
            if a["label"] != translated["labels"][key] {
                differ.push(format!(
                    "attribute {key}: bridge {}, Prometheus OTLP {}",
                    a["label"], translated["labels"][key]
                ));
            }
        }
    }
    assert!(differ.is_empty(), "names differ:\n{}", differ.join("\n"));
    assert!(
        metrics.len() >= 60 && keys.len() > 20,
        "{} metrics, {} keys",
        metrics.len(),
        keys.len()
    );
}

/// The demo node's catalog, as it prints it (`--catalog json`).
fn catalog_json() -> serde_json::Value {
    serde_json::from_str(&catalog("json")).unwrap()
}

/// The catalog in a file, for the Python tools.
fn catalog_file(dir: &Path) -> PathBuf {
    let path = dir.join("catalog.json");
    std::fs::write(&path, catalog("json")).unwrap();
    path
}

fn dashboards() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("grafana/dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn dashboards_and_rules_pass_the_offline_checks() {
    let (Some(python), Some(promtool)) = (tool("TOOLS_PY"), tool("PROMTOOL3")) else {
        return;
    };
    let root = repo();
    let dir = scratch("offline");
    let out = run(Command::new(python)
        .arg(root.join("scripts/check_dashboards.py"))
        .arg("--promtool")
        .arg(promtool)
        .arg("--provisioning")
        .arg(root.join("grafana/provisioning"))
        .arg("--catalog")
        .arg(catalog_file(&dir))
        .arg("--rules")
        .arg(root.join("prometheus/rules/node.yml"))
        .arg("--dashboards")
        .args(dashboards()));
    assert!(
        out.contains(" 0 error(s)") && out.contains(" 0 warning(s)"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn dashboards_are_what_the_generator_makes_from_the_catalog() {
    let dir = scratch("generated");
    run(Command::new("python3")
        .arg(repo().join("grafana/generate.py"))
        .arg("--quiet")
        .arg("--catalog")
        .arg(catalog_file(&dir))
        .arg("--out")
        .arg(dir.join("dashboards")));
    let generated: Vec<_> = std::fs::read_dir(dir.join("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(generated.len(), dashboards().len(), "{generated:?}");
    for committed in dashboards() {
        let made = dir.join("dashboards").join(committed.file_name().unwrap());
        assert!(
            std::fs::read_to_string(made).ok() == std::fs::read_to_string(&committed).ok(),
            "{} is out of date: see grafana/generate.py",
            committed.display()
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_metrics_reference_is_what_the_catalog_renders() {
    let rendered = catalog("markdown");
    let committed = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    assert!(
        rendered == committed,
        "docs/metrics.md is out of date: cargo run -p demo-node -- --catalog markdown > docs/metrics.md"
    );
}

/// Writes a collector config into `dir`: OTLP/gRPC in on `otlp_port`, then `exporters` and
/// `pipelines` (YAML flow maps), the collector's own metrics off.
fn collector_config(dir: &Path, otlp_port: u16, exporters: &str, pipelines: &str) -> PathBuf {
    let config = dir.join("collector.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers: {{otlp: {{protocols: {{grpc: {{endpoint: 127.0.0.1:{otlp_port}}}}}}}}}\n\
             exporters: {exporters}\n\
             service:\n  telemetry: {{metrics: {{level: none}}}}\n  pipelines: {pipelines}\n"
        ),
    )
    .unwrap();
    config
}

/// A child process killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &Path, name: &str, command: &mut Command) -> Process {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    Process(
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// A Prometheus HTTP API query; returns the result array (panics on an API error).
fn query(prometheus: SocketAddr, expr: &str) -> Vec<serde_json::Value> {
    let encoded =
        percent_encoding::utf8_percent_encode(expr, percent_encoding::NON_ALPHANUMERIC).to_string();
    let (status, body) = request(
        prometheus,
        &format!(
            "GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: p\r\nConnection: close\r\n\r\n"
        ),
    );
    let value: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(
        (status, value["status"].as_str()),
        (200, Some("success")),
        "{expr}: {body}"
    );
    value["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Grafana's variables as the dashboards use them: every job and instance, a 30 s window.
fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "30s")
        .replace("$job", ".*")
        .replace("$instance", ".*")
}

/// `text` with `from` replaced by `to`; panics when `from` is not there (a config that
/// changed under the test).
fn rewrite(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` is no longer in the config");
    text.replace(from, to)
}

/// A Prometheus started on `config` and waited for (bounded).
fn start_prometheus(
    dir: &Path,
    name: &str,
    binary: &Path,
    config: &str,
    extra: &[&str],
) -> (Process, SocketAddr) {
    let port = free_port();
    let file = dir.join(format!("{name}.yml"));
    std::fs::write(&file, config).unwrap();
    let process = spawn(
        dir,
        name,
        Command::new(binary)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join(format!("{name}-data")).display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra),
    );
    let api: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let ready = eventually(Duration::from_secs(60), || {
        std::net::TcpStream::connect(api).is_ok()
            && request(
                api,
                "GET /-/ready HTTP/1.0\r\nHost: p\r\nConnection: close\r\n\r\n",
            )
            .0 == 200
    });
    assert!(ready, "{name} did not start; logs in {}", dir.display());
    (process, api)
}

/// Every panel and variable query of every dashboard, Grafana's variables substituted:
/// (queries evaluated, those that returned nothing).
fn panels_without_data(api: SocketAddr) -> (usize, Vec<String>) {
    let mut empty = Vec::new();
    let mut evaluated = 0;
    for file in dashboards() {
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for variable in dashboard["templating"]["list"].as_array().unwrap() {
            // label_values(metric{...}, label): the metric must carry that label.
            let definition = variable["definition"].as_str().unwrap();
            let inner = definition
                .trim_start_matches("label_values(")
                .trim_end_matches(')');
            let (metric, label) = inner.rsplit_once(", ").unwrap();
            let expr = substitute(&format!("count by ({label}) ({metric})"));
            evaluated += 1;
            if query(api, &expr).is_empty() {
                empty.push(format!("{name}: variable {}: {expr}", variable["name"]));
            }
        }
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = substitute(target["expr"].as_str().unwrap());
                evaluated += 1;
                if query(api, &expr).is_empty() {
                    empty.push(format!("{name}: {}: {expr}", panel["title"]));
                }
            }
        }
    }
    (evaluated, empty)
}

/// Every rule Prometheus loaded, asserted to evaluate with health `ok`; returns how many.
fn rules_evaluated(api: SocketAddr) -> usize {
    let (_, rules) = request(
        api,
        "GET /api/v1/rules HTTP/1.0\r\nHost: p\r\nConnection: close\r\n\r\n",
    );
    let rules: serde_json::Value = serde_json::from_str(&rules).unwrap();
    let mut evaluated = 0;
    for group in rules["data"]["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            evaluated += 1;
            query(api, rule["query"].as_str().unwrap());
            assert_eq!(
                rule["health"], "ok",
                "{}: {}",
                rule["name"], rule["lastError"]
            );
        }
    }
    evaluated
}

/// The label sets (job, instance, node_role) of the nodes' series, as sorted strings.
fn node_label_sets(api: SocketAddr) -> Vec<String> {
    let mut sets: Vec<String> = query(
        api,
        "count by (job, instance, node_role) (node_storage_height)",
    )
    .iter()
    .map(|r| {
        let m = &r["metric"];
        format!(
            "job={} instance={} node_role={}",
            m["job"], m["instance"], m["node_role"]
        )
    })
    .collect();
    sets.sort();
    sets
}

/// The metric names a bridge serves (histograms as their _bucket, _sum and _count).
fn bridge_names(exposition: &Exposition) -> std::collections::BTreeSet<String> {
    exposition
        .1
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

/// The real metrics topology from the repository's own files: two peered demo nodes push
/// OTLP to the core collector running `otel-collector/config.yaml`, which writes into a
/// real Prometheus 3.5 with its OTLP receiver running `prometheus/prometheus.yml` and
/// `prometheus/rules/` (the metrics profile); a second Prometheus runs
/// `prometheus/prometheus-scrape.yml` against the same nodes' bridges (the scrape
/// profile). Only host names, ports and intervals are rewritten (the staleness alert's
/// timing too, so it fires within the test). Then: every panel query returns data, every
/// rule evaluates, the names equal a node's bridge's, job/instance/node_role are identical
/// on both paths, and killing a node fires the staleness alert in Prometheus' own
/// evaluation.
#[test]
fn real_topology_two_nodes_through_the_collector_into_prometheus() {
    let (Some(prometheus_otlp), Some(prometheus), Some(otelcol)) = (
        tool("PROMETHEUS_OTLP"),
        tool("PROMETHEUS3"),
        tool("OTELCOL"),
    ) else {
        return;
    };
    let root = repo();
    let dir = scratch("topology");
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    let (grpc, http, collector_metrics) = (free_port(), free_port(), free_port());

    // The rules, with the staleness alert's window shortened from 180 s to 10 s.
    std::fs::create_dir_all(dir.join("rules")).unwrap();
    let rules = rewrite(
        &rewrite(
            &read("prometheus/rules/node.yml"),
            "[30m:1m])) > 180",
            "[30m:1s])) > 10",
        ),
        "for: 1m",
        "for: 5s",
    );
    std::fs::write(dir.join("rules/node.yml"), rules).unwrap();
    let rules_glob = format!("{}/rules/*.yml", dir.display());
    let fast = |config: String| {
        rewrite(
            &rewrite(&config, "scrape_interval: 15s", "scrape_interval: 1s"),
            "evaluation_interval: 15s",
            "evaluation_interval: 1s",
        )
    };

    // Metrics profile: Prometheus with its OTLP receiver, scraping the collector.
    let otlp_config = fast(rewrite(
        &rewrite(
            &read("prometheus/prometheus.yml"),
            "/etc/prometheus/rules/*.yml",
            &rules_glob,
        ),
        "otel-collector:8888",
        &format!("127.0.0.1:{collector_metrics}"),
    ));
    let (_prometheus_otlp, metrics_api) = start_prometheus(
        &dir,
        "prometheus-otlp",
        &prometheus_otlp,
        &otlp_config,
        &["--web.enable-otlp-receiver"],
    );
    let collector_config = [
        ("0.0.0.0:4317", format!("127.0.0.1:{grpc}")),
        ("0.0.0.0:4318", format!("127.0.0.1:{http}")),
        (
            "http://prometheus:9090/api/v1/otlp",
            format!("http://{metrics_api}/api/v1/otlp"),
        ),
        ("host: 0.0.0.0", "host: 127.0.0.1".to_owned()),
        ("port: 8888", format!("port: {collector_metrics}")),
        ("timeout: 2s", "timeout: 500ms".to_owned()),
    ]
    .iter()
    .fold(read("otel-collector/config.yaml"), |config, (from, to)| {
        rewrite(&config, from, to)
    });
    let collector_file = dir.join("collector.yaml");
    std::fs::write(&collector_file, collector_config).unwrap();
    let _collector = spawn(
        &dir,
        "collector",
        Command::new(&otelcol).arg(format!("--config={}", collector_file.display())),
    );

    // Two peered nodes (B dials A: one connection), each with its bridge address as
    // service.instance.id.
    let p2p_a = free_port();
    let (bridge_a, bridge_b) = (free_port(), free_port());
    let start = |peer: Option<u16>, bridge: u16| {
        let peer = peer.map(|port| format!("127.0.0.1:{port}"));
        let p2p = format!("127.0.0.1:{}", if peer.is_some() { 0 } else { p2p_a });
        let bridge = format!("127.0.0.1:{bridge}");
        let mut args = vec![
            "--p2p-addr",
            &p2p,
            "--metrics-addr",
            &bridge,
            "--slot",
            "500ms",
            "--load-rate",
            "20",
        ];
        if let Some(peer) = &peer {
            args.extend(["--peer", peer]);
        }
        Node::start(
            &args,
            &[
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    &format!("http://127.0.0.1:{grpc}"),
                ),
                ("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    &format!("service.instance.id={bridge}"),
                ),
                ("TELEMETRY_HOST_METRICS_MIN_INTERVAL", "500"),
            ],
        )
    };
    let node_a = start(None, bridge_a);
    let node_b = start(Some(p2p_a), bridge_b);

    // Scrape profile: the repository's scrape config against the same two bridges.
    std::fs::write(dir.join("bridge_token"), "").unwrap();
    let scrape_config = fast(rewrite(
        &rewrite(
            &rewrite(
                &read("prometheus/prometheus-scrape.yml"),
                "/etc/prometheus/rules/*.yml",
                &rules_glob,
            ),
            "/run/secrets/bridge_token",
            &dir.join("bridge_token").display().to_string(),
        ),
        r#"["demo-node:9464", "demo-node-2:9464"]"#,
        &format!(r#"["127.0.0.1:{bridge_a}", "127.0.0.1:{bridge_b}"]"#),
    ));
    let (_prometheus_scrape, scrape_api) =
        start_prometheus(&dir, "prometheus-scrape", &prometheus, &scrape_config, &[]);

    let both_arrived = eventually(Duration::from_secs(90), || {
        node_label_sets(metrics_api).len() == 2
            && node_label_sets(scrape_api).len() == 2
            && query(metrics_api, "up{job=\"otel-collector\"} == 1").len() == 1
            && query(metrics_api, "node_p2p_peers == 1").len() == 2
    });
    assert!(
        both_arrived,
        "the nodes' data did not arrive through the collector; logs in {}",
        dir.display()
    );
    // A few intervals of real work: rates, quantiles and utilizations need them.
    std::thread::sleep(Duration::from_secs(20));

    let (evaluated, empty) = panels_without_data(metrics_api);
    assert!(
        empty.is_empty(),
        "{} of {evaluated} panel queries returned no data:\n{}",
        empty.len(),
        empty.join("\n")
    );
    let (rules_otlp, rules_scrape) = (rules_evaluated(metrics_api), rules_evaluated(scrape_api));
    assert_eq!((rules_otlp, rules_scrape), (14, 14));
    note(&format!(
        "stack (metrics profile, real collector and Prometheus OTLP receiver): {} of {evaluated} panel queries returned data; {rules_otlp} rules evaluated (and {rules_scrape} on the scrape profile)",
        evaluated - empty.len()
    ));

    // The same labels on both paths, and the same names as a node's bridge.
    assert_eq!(node_label_sets(metrics_api), node_label_sets(scrape_api));
    let mut expected: Vec<String> = [bridge_a, bridge_b]
        .iter()
        .map(|port| {
            format!("job=\"demo-node\" instance=\"127.0.0.1:{port}\" node_role=\"sequencer\"")
        })
        .collect();
    expected.sort();
    assert_eq!(node_label_sets(metrics_api), expected);
    let ours = bridge_names(&node_a.scrape());
    let (_, names) = request(
        metrics_api,
        &format!(
            "GET /api/v1/label/__name__/values?match[]={} HTTP/1.0\r\nHost: p\r\nConnection: close\r\n\r\n",
            percent_encoding::utf8_percent_encode(
                &format!("{{instance=\"127.0.0.1:{bridge_a}\"}}"),
                percent_encoding::NON_ALPHANUMERIC
            )
        ),
    );
    let names: serde_json::Value = serde_json::from_str(&names).unwrap();
    // ALERTS and ALERTS_FOR_STATE are Prometheus' own record of the rules' states.
    let theirs: std::collections::BTreeSet<String> = names["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .filter(|n| !n.starts_with("ALERTS"))
        .collect();
    assert_eq!(
        ours.symmetric_difference(&theirs).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "names on the bridge and through OTLP differ"
    );

    // A healthy pair: no node alert is even pending, on either path. (Host alerts may be,
    // on a busy machine: they are about the host, which is shared here.)
    for api in [metrics_api, scrape_api] {
        for alert in [
            "NodeDown",
            "NodeTelemetryStale",
            "BlockProductionStalled",
            "RpcErrorRatioHigh",
            "NoP2pPeers",
            "TelemetryExportFailing",
            "ObservableCallbackFailing",
        ] {
            let active = query(api, &format!("ALERTS{{alertname=\"{alert}\"}}"));
            assert!(
                active.is_empty(),
                "{alert} active on healthy nodes: {active:?}"
            );
        }
    }

    // Kill node B: its pushed data stops, and the staleness alert fires for it.
    drop(node_b);
    let stale = format!(
        "ALERTS{{alertname=\"NodeTelemetryStale\", alertstate=\"firing\", instance=\"127.0.0.1:{bridge_b}\"}}"
    );
    assert!(
        eventually(Duration::from_secs(90), || query(metrics_api, &stale).len()
            == 1),
        "NodeTelemetryStale did not fire for the killed node"
    );
    assert!(
        query(
            metrics_api,
            &format!(
                "ALERTS{{alertname=\"NodeTelemetryStale\", instance=\"127.0.0.1:{bridge_a}\"}}"
            )
        )
        .is_empty(),
        "the live node is reported stale"
    );
    let (status, _) = node_a.terminate();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(dir);
}

/// The outage test's instrument.
#[derive(telemetry::Metrics)]
#[metrics(prefix = "node.stacktest")]
struct OutageMetrics {
    /// Events recorded through the outage.
    #[metric(unit = "{event}")]
    events: telemetry::Counter<u64, ()>,
}

/// The real collector killed and restarted between a node and its receiver: after
/// recovery the receiver's cumulative value equals exactly the events recorded.
#[test]
fn real_collector_killed_and_restarted_loses_nothing() {
    let Some(otelcol) = tool("OTELCOL") else {
        return;
    };
    let dir = scratch("outage");
    let receiver = otlp_test_receiver::grpc_receiver();
    let otlp_port = free_port();
    let config = collector_config(
        &dir,
        otlp_port,
        &format!(
            "{{otlp_grpc: {{endpoint: 'http://{}', tls: {{insecure: true}}}}}}",
            receiver.addr
        ),
        "{metrics: {receivers: [otlp], exporters: [otlp_grpc]}}",
    );
    let start_collector = || {
        spawn(
            &dir,
            "collector",
            Command::new(&otelcol).arg(format!("--config={}", config.display())),
        )
    };
    let mut collector = Some(start_collector());

    let client = telemetry::TelemetryClient::builder("outage")
        .otlp(telemetry::OtlpConfig {
            timeout: Duration::from_millis(500),
            ..telemetry::OtlpConfig::grpc(format!("http://127.0.0.1:{otlp_port}"))
        })
        .export_interval(Duration::from_millis(300))
        .export_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let events = OutageMetrics::new(&client).events;
    let recorded = std::sync::atomic::AtomicU64::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                events.add(1, ());
                recorded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        assert!(
            receiver.received.wait_for(2, Duration::from_secs(60)),
            "nothing went through the collector"
        );
        drop(collector.take()); // killed
        let failures = client.export_status().failures;
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            client.export_status().failures > failures,
            "the outage is not visible"
        );
        collector = Some(start_collector());
        let before = receiver.received.count();
        assert!(
            receiver
                .received
                .wait_for(before + 2, Duration::from_secs(60)),
            "nothing after the restart"
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    client.force_flush().unwrap();
    let total = recorded.load(std::sync::atomic::Ordering::Relaxed) as f64;
    assert!(
        eventually(Duration::from_secs(30), || {
            receiver
                .received
                .last_request()
                .and_then(|r| otlp_test_receiver::point_value(&r, "node.stacktest.events", &[]))
                == Some(total)
        }),
        "the receiver's total differs from the {total} events recorded"
    );
    client.shutdown().unwrap();
    drop(collector);
    let _ = std::fs::remove_dir_all(dir);
}

/// Spans and log records from the demo binary through the real core collector: its
/// `debug` exporter (verbosity detailed) prints every span and log record it received.
#[test]
fn demo_spans_and_logs_through_the_real_collector() {
    let Some(otelcol) = tool("OTELCOL") else {
        return;
    };
    let dir = scratch("collector-traces");
    let otlp_port = free_port();
    let config = collector_config(
        &dir,
        otlp_port,
        "{debug: {verbosity: detailed}, nop: {}}",
        "{traces: {receivers: [otlp], exporters: [debug]}, \
         logs: {receivers: [otlp], exporters: [debug]}, \
         metrics: {receivers: [otlp], exporters: [nop]}}",
    );
    let collector = spawn(
        &dir,
        "collector",
        Command::new(&otelcol).arg(format!("--config={}", config.display())),
    );
    let endpoint = format!("http://127.0.0.1:{otlp_port}");
    let node = Node::start(
        &["--no-load", "--slot", "500ms"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "200"),
            ("RUST_LOG", "info"),
        ],
    );
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let tx = signed_tx("collector", 1, "through the collector");
    let (status, _) = support::request(
        node.rpc,
        &format!(
            "POST /tx HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n\
             traceparent: 00-{trace}-b7ad6b7169203331-01\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{tx}",
            tx.len()
        ),
    );
    assert_eq!(status, 200);
    let printed = || std::fs::read_to_string(dir.join("collector.log")).unwrap_or_default();
    let wanted = [
        "Name           : POST /tx".to_owned(),
        format!("Trace ID       : {trace}"),
        "Parent ID      : b7ad6b7169203331".to_owned(),
        "Name           : mempool.admit".to_owned(),
        "Name           : publish transaction".to_owned(),
        "Name           : block.produce".to_owned(),
        format!("SpanLink #0\n     -> Trace ID: {trace}"),
        "Name           : storage.write".to_owned(),
        "Body: Str(summary)".to_owned(),
    ];
    let arrived = eventually(Duration::from_secs(60), || {
        let text = printed();
        wanted.iter().all(|w| text.contains(w.as_str()))
    });
    let text = printed();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !text.contains(w.as_str()))
        .collect();
    assert!(
        arrived,
        "the collector did not print {missing:?}:\n{}",
        &text[text.len().saturating_sub(4000)..]
    );
    otlp_test_receiver::note(&format!(
        "real collector (debug exporter): {} spans and {} log records printed from one demo node",
        text.matches("\nSpan #").count(),
        text.matches("\nLogRecord #").count()
    ));
    node.terminate_cleanly();
    drop(collector);
    let _ = std::fs::remove_dir_all(dir);
}

/// The fleet harness's short form (`scripts/fleet.py`, run by `scripts/fleet.sh`): three
/// nodes, two agents, one gateway killed for 10 s mid-run, Prometheus with its OTLP
/// receiver. Every expected series arrives, every node keeps its own series, and nothing
/// is lost across the outage.
#[test]
fn a_small_fleet_through_agents_and_a_gateway_loses_nothing_across_an_outage() {
    let (Some(prometheus_otlp), Some(otelcol)) = (tool("PROMETHEUS_OTLP"), tool("OTELCOL")) else {
        return;
    };
    let output = Command::new("python3")
        .arg(repo().join("scripts/fleet.py"))
        .args(["--node", env!("CARGO_BIN_EXE_demo-node")])
        .arg("--otelcol")
        .arg(otelcol)
        .arg("--prometheus")
        .arg(prometheus_otlp)
        .args(["--nodes", "3", "--seconds", "40", "--outage", "10"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let measure = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("fleet {key}: ")))
            .unwrap_or_else(|| panic!("no `fleet {key}` line in:\n{stdout}"))
            .to_owned()
    };
    let expected: u64 = measure("series_expected").parse().unwrap();
    assert!(expected > 3 * 500, "{stdout}");
    assert_eq!(measure("series_in_prometheus"), measure("series_expected"));
    assert_eq!(measure("distinct_instances"), "3");
    assert_eq!(measure("lost_after_gateway_outage"), "0.0");
    assert!(measure("e2e_delay_samples").parse::<u32>().unwrap() > 0);
    note(&format!(
        "fleet (3 nodes, 2 agents, gateway down 10 s): {} of {expected} series in Prometheus, lost {}, p99 delay {} s",
        measure("series_in_prometheus"),
        measure("lost_after_gateway_outage"),
        measure("e2e_delay_seconds_p99")
    ));
}
