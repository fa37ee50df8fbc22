//! The real binary on ephemeral ports: the metrics it reports through the bridge and over
//! OTLP agree with the work that was done.

mod support;

use std::time::Duration;

use otlp_test_receiver::{grpc_receiver, point_value};
use support::*;

const SUBMITS: &str = "node_rpc_requests_total";

#[test]
fn metrics_agree_with_the_work_done() {
    let receiver = grpc_receiver();
    let endpoint = format!("http://{}", receiver.addr);
    let node = Node::start(
        &["--no-load", "--slot", "300ms"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
        ],
    );

    // 50 valid, 5 with a bad signature, 5 repeats, 2 malformed bodies.
    let mut codes = Vec::new();
    for i in 0..50 {
        codes.push(node.post("/tx", &signed_tx("tester", i, &format!("payment {i}"))));
    }
    for i in 0..5 {
        let mut tx: serde_json::Value =
            serde_json::from_str(&signed_tx("tester", 100 + i, "forged")).unwrap();
        tx["signature"] = serde_json::Value::String("00".repeat(32));
        codes.push(node.post("/tx", &tx.to_string()));
    }
    for i in 0..5 {
        codes.push(node.post("/tx", &signed_tx("tester", i, &format!("payment {i}"))));
    }
    codes.push(node.post("/tx", "{not json"));
    codes.push(node.post("/tx", "{\"sender\": 1}"));
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 50, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 422).count(), 10, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 400).count(), 2, "{codes:?}");
    assert_eq!(node.get("/nowhere").0, 404);

    // Wait until every accepted transaction is in a block.
    assert!(eventually(Duration::from_secs(30), || node
        .scrape()
        .sum("node_sequencer_included_total", &[])
        == 50.0));
    let m = node.scrape();
    let submitted = m.sum(SUBMITS, &[("rpc_method", "submit_transaction")]);
    let accepted = m.sum(
        "node_mempool_admissions_total",
        &[("mempool_origin", "rpc"), ("mempool_outcome", "accepted")],
    );
    let rejected: f64 = ["duplicate", "invalid_signature", "too_large"]
        .iter()
        .map(|o| {
            m.sum(
                "node_mempool_admissions_total",
                &[("mempool_origin", "rpc"), ("mempool_outcome", o)],
            )
        })
        .sum();
    let malformed = m.sum(
        "node_rpc_errors_total",
        &[
            ("rpc_method", "submit_transaction"),
            ("rpc_error_kind", "malformed"),
        ],
    );
    assert_eq!(submitted, 62.0);
    assert_eq!((accepted, rejected, malformed), (50.0, 10.0, 2.0));
    assert_eq!(
        submitted,
        accepted + rejected + malformed,
        "submitted = accepted + rejected (+ unparseable)"
    );
    assert_eq!(
        m.sum(
            "node_rpc_errors_total",
            &[
                ("rpc_method", "submit_transaction"),
                ("rpc_error_kind", "rejected")
            ]
        ),
        10.0
    );
    assert_eq!(
        m.sum(
            SUBMITS,
            &[
                ("rpc_method", "unknown"),
                ("http_response_status_class", "4xx")
            ]
        ),
        1.0
    );
    assert!(m.sum("node_sequencer_included_total", &[]) <= accepted);
    assert_eq!(m.sum("node_mempool_size", &[]), 0.0);
    assert_eq!(m.sum("node_rpc_in_flight", &[]), 0.0);

    // Blocks built = height, at one scrape: slots that built a block (with or without
    // transactions) against the stored height and the block histogram. The node goes on
    // building empty blocks, and one collection reads these metrics one after another: a
    // block written between two reads is in some and not yet in others. So they are
    // compared on a scrape taken between two slots (a bounded wait for one where they
    // agree; metrics that never agree fail it).
    let built = |m: &Exposition| {
        m.sum(
            "node_sequencer_slots_total",
            &[("sequencer_slot_outcome", "built")],
        ) + m.sum(
            "node_sequencer_slots_total",
            &[("sequencer_slot_outcome", "empty")],
        )
    };
    let agree = |m: &Exposition| {
        let built = built(m);
        [
            m.sum("node_storage_height", &[]),
            m.sum("node_sequencer_block_transactions_count", &[]),
        ] == [built, built]
            && m.sum("node_storage_written_bytes_total", &[])
                == m.sum("node_storage_disk_usage_bytes", &[])
    };
    let mut m = m;
    let mut last = String::new();
    assert!(
        eventually(Duration::from_secs(30), || {
            m = node.scrape();
            last = format!(
                "built {}, height {}, histogram {}, written {}, on disk {}",
                built(&m),
                m.sum("node_storage_height", &[]),
                m.sum("node_sequencer_block_transactions_count", &[]),
                m.sum("node_storage_written_bytes_total", &[]),
                m.sum("node_storage_disk_usage_bytes", &[])
            );
            agree(&m)
        }),
        "no scrape in 30 s where the blocks' metrics agree; the last: {last}"
    );
    assert_eq!(m.sum("node_sequencer_block_transactions_sum", &[]), 50.0);
    assert_eq!(
        m.sum("node_sequencer_inclusion_delay_seconds_count", &[]),
        50.0
    );
    // Storage wrote what is on disk (compared above); host metrics are on by default.
    assert!(m.sum("node_storage_written_bytes_total", &[]) > 0.0);
    assert!(m.sum("process_memory_usage_bytes", &[]) > 0.0);
    assert!(
        m.sum(
            "telemetry_source_last_update_seconds",
            &[("telemetry_source_name", "mempool")]
        ) > 0.0
    );

    // Never a metric defined but not recorded: every registered metric is on the bridge,
    // except series that exist only once their event happened.
    let only_on_event = [
        "telemetry.callback.failures",     // no callback panicked
        "telemetry.cardinality.overflows", // no limit reached
        "system.paging.usage",             // only where swap exists
        "system.network.io", // loopback is excluded; a host may have no other interface
        "system.network.errors",
        "system.network.packet.dropped",
        "system.disk.io", // only where block devices are visible
        "system.disk.operations",
    ];
    // Utilizations need two host refreshes, the last-success gauge one export.
    let settled = eventually(Duration::from_secs(30), || {
        let text = node.scrape().1;
        text.contains("telemetry_export_last_success_seconds{")
            && text.contains("system_cpu_utilization_ratio{")
    });
    assert!(settled);
    let exposition = node.scrape().1;
    let catalog: serde_json::Value = serde_json::from_str(&catalog("json")).unwrap();
    for info in catalog["metrics"].as_array().unwrap() {
        let family = info["prometheus_name"].as_str().unwrap();
        if !only_on_event.contains(&info["name"].as_str().unwrap()) {
            assert!(
                exposition.contains(&format!("# TYPE {family} ")),
                "{family} is never recorded by the demo node"
            );
        }
    }

    // SIGTERM: a clean exit, and the final flush reaches the OTLP receiver.
    let height = node.terminate_cleanly();
    let last = receiver
        .received
        .last_request()
        .expect("OTLP exports arrived");
    assert_eq!(
        point_value(&last, "node.sequencer.included", &[]),
        Some(50.0)
    );
    assert_eq!(point_value(&last, "node.storage.height", &[]), Some(height));
    let slots = |outcome| {
        point_value(
            &last,
            "node.sequencer.slots",
            &[("sequencer.slot.outcome", outcome)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(
        slots("built") + slots("empty"),
        height,
        "blocks built = height at the final flush"
    );
    assert_eq!(
        point_value(
            &last,
            "node.mempool.admissions",
            &[("mempool.origin", "rpc"), ("mempool.outcome", "accepted")]
        ),
        Some(50.0)
    );
}

#[test]
fn two_peered_nodes_gossip_and_agree() {
    let b = Node::start(&["--no-load", "--slot", "200ms"], &[]);
    let peer = b.p2p.to_string();
    let a = Node::start(&["--no-load", "--slot", "200ms", "--peer", &peer], &[]);
    assert!(eventually(Duration::from_secs(30), || a
        .scrape()
        .sum("node_p2p_peers", &[])
        == 1.0
        && b.scrape().sum("node_p2p_peers", &[]) == 1.0));
    for i in 0..20 {
        assert_eq!(a.post("/tx", &signed_tx("gossip", i, "hello peers")), 200);
    }
    let tx_sent = |n: &Node| {
        n.scrape().sum(
            "node_p2p_messages_total",
            &[
                ("network_io_direction", "transmit"),
                ("p2p_topic", "transaction"),
            ],
        )
    };
    let tx_received = |n: &Node| {
        n.scrape().sum(
            "node_p2p_messages_total",
            &[
                ("network_io_direction", "receive"),
                ("p2p_topic", "transaction"),
            ],
        )
    };
    assert!(eventually(Duration::from_secs(30), || tx_sent(&a) == 20.0
        && tx_received(&b) == 20.0));
    let gossiped = b.scrape().sum(
        "node_mempool_admissions_total",
        &[
            ("mempool_origin", "gossip"),
            ("mempool_outcome", "accepted"),
        ],
    );
    assert_eq!(gossiped, 20.0);

    // Blocks flow both ways; messages sent by one equal those received by the other (the
    // counters move every slot, so compare until two scrapes agree).
    let agree = |from: &Node, to: &Node| {
        eventually(Duration::from_secs(30), || {
            let sent = from.scrape().sum(
                "node_p2p_messages_total",
                &[("network_io_direction", "transmit")],
            );
            let received = to.scrape().sum(
                "node_p2p_messages_total",
                &[("network_io_direction", "receive")],
            );
            sent > 20.0 && sent == received
        })
    };
    assert!(agree(&a, &b), "messages sent by A != received by B");
    assert!(agree(&b, &a), "messages sent by B != received by A");
    let bytes_sent = a.scrape().sum(
        "node_p2p_traffic_bytes_total",
        &[
            ("network_io_direction", "transmit"),
            ("p2p_topic", "transaction"),
        ],
    );
    let bytes_received = b.scrape().sum(
        "node_p2p_traffic_bytes_total",
        &[
            ("network_io_direction", "receive"),
            ("p2p_topic", "transaction"),
        ],
    );
    assert_eq!(bytes_sent, bytes_received);

    // Two nodes on one machine: distinct service.instance.id.
    let (ia, ib) = (
        a.scrape().target_info("service_instance_id"),
        b.scrape().target_info("service_instance_id"),
    );
    assert!(ia.is_some() && ia != ib, "{ia:?} vs {ib:?}");

    // Alone again: B sees its peer leave.
    let (status, _) = a.terminate();
    assert!(status.success());
    assert!(eventually(Duration::from_secs(30), || b
        .scrape()
        .sum("node_p2p_peers", &[])
        == 0.0));
}

#[test]
fn the_load_generator_keeps_a_fresh_node_busy_and_sigterm_flushes_under_load() {
    let receiver = grpc_receiver();
    let endpoint = format!("http://{}", receiver.addr);
    let node = Node::start(
        &["--slot", "250ms", "--load-rate", "40"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_METRIC_EXPORT_INTERVAL", "60000"),
        ],
    );
    // Every 25th generated transaction has a bad signature: after 60 inclusions at least
    // one has been rejected.
    let busy = eventually(Duration::from_secs(60), || {
        let m = node.scrape();
        m.sum("node_sequencer_included_total", &[]) >= 60.0
            && m.sum(
                "node_mempool_admissions_total",
                &[("mempool_outcome", "invalid_signature")],
            ) >= 1.0
            && m.sum(
                "node_prover_jobs_total",
                &[("prover_job_outcome", "proved")],
            ) >= 1.0
            && m.sum(
                "node_rpc_request_duration_seconds_count",
                &[("rpc_method", "submit_transaction")],
            ) >= 60.0
    });
    assert!(
        busy,
        "the node did not get busy on its own:\n{}",
        node.scrape().1
    );
    // SIGTERM under load, long before the 60 s export interval: the final flush carries the
    // last interval's data.
    assert_eq!(receiver.received.count(), 0);
    let height = node.terminate_cleanly();
    let last = receiver
        .received
        .last_request()
        .expect("the final flush arrived");
    assert_eq!(point_value(&last, "node.storage.height", &[]), Some(height));
    assert!(point_value(&last, "node.sequencer.included", &[]).unwrap() >= 60.0);
}

#[test]
fn bad_options_exit_non_zero_with_one_line() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_demo-node"));
        command
            .env("DEMO_RPC_ADDR", "127.0.0.1:0")
            .env("DEMO_P2P_ADDR", "127.0.0.1:0");
        command
            .env("TELEMETRY_PROMETHEUS_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn");
        command.args(args).args(["--run-for", "1s"]);
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    for (args, env, code, needle) in [
        (&["--slot", "soon"][..], &[][..], Some(2), "--slot"),
        (&["--load-rate", "0"][..], &[][..], Some(2), "--load-rate"),
        (&["--peer", "nowhere"][..], &[][..], Some(2), "--peer"),
        (&["--frobnicate"][..], &[][..], Some(2), "--frobnicate"),
        (
            &[][..],
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ][..],
            Some(1),
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ),
        // A bad value from a variable names the variable, not only the flag it maps to.
        (&[][..], &[("DEMO_PROVERS", "0")][..], Some(2), "DEMO_PROVERS"),
        (
            &[][..],
            &[("TELEMETRY_PROMETHEUS_ADDR", "999.1.1.1:99999")][..],
            Some(2),
            "invalid value '999.1.1.1:99999' for TELEMETRY_PROMETHEUS_ADDR (the variable of --metrics-addr)",
        ),
        (
            &[][..],
            &[("TELEMETRY_HOST_METRICS_GROUPS", "gpu")][..],
            Some(1),
            "TELEMETRY_HOST_METRICS_GROUPS",
        ),
        // A `*` inside a pattern whose value ends in a multi-byte character (the check
        // once sliced inside the character and the node exited 101).
        (
            &[][..],
            &[("TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS", "/mnt/*café")][..],
            Some(1),
            "TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS",
        ),
    ] {
        let (got, stderr) = run(args, env);
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(got, code, "{args:?} {env:?}: {stderr}");
        assert_eq!(lines.len(), 1, "{args:?} {env:?}: {stderr}");
        assert!(
            lines[0].contains(needle) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (got, stderr) = run(&["--rpc-addr", &addr], &[]);
    assert_eq!(got, Some(1), "{stderr}");
    assert!(stderr.contains("rpc") && stderr.contains(&addr), "{stderr}");
}

/// A mount point named with a multi-byte character is a valid pattern: the node runs (it
/// once panicked, exit code 101, slicing inside the `é`).
#[test]
fn a_pattern_ending_in_a_multibyte_character_is_accepted() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_demo-node"))
        .args(["--alone", "--no-load", "--run-for", "1s"])
        .args(["--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .env("TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS", "/mnt/café")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A host-metrics value that is not UTF-8 is an error naming its variable (it was ignored:
/// the node ran with the default exclusions).
#[cfg(unix)]
#[test]
fn a_host_metrics_value_that_is_not_utf8_is_refused_by_name() {
    use std::os::unix::ffi::OsStrExt;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_demo-node"))
        .args(["--alone", "--no-load", "--run-for", "1s"])
        .args(["--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .env(
            "TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS",
            std::ffi::OsStr::from_bytes(b"/mnt/caf\xe9"),
        )
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("TELEMETRY_HOST_METRICS_EXCLUDE_MOUNTPOINTS") && stderr.contains("UTF-8"),
        "{stderr}"
    );
}

#[test]
fn help_documents_every_option_with_its_variable() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_demo-node"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for variable in [
        "DEMO_RPC_ADDR",
        "DEMO_P2P_ADDR",
        "DEMO_PEERS",
        "TELEMETRY_PROMETHEUS_ADDR",
        "DEMO_NO_METRICS_BRIDGE",
        "DEMO_NO_TELEMETRY",
        "DEMO_NO_HOST_METRICS",
        "DEMO_DATA_DIR",
        "DEMO_SLOT",
        "DEMO_MAX_BLOCK_TXS",
        "DEMO_MEMPOOL_CAPACITY",
        "DEMO_MAX_TX_SIZE",
        "DEMO_PROVERS",
        "DEMO_PROVER_WORK",
        "DEMO_LOAD_RATE",
        "DEMO_NO_LOAD",
        "DEMO_NODE_ROLE",
        "DEMO_RUN_FOR",
        "DEMO_SUMMARY_EVERY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        assert!(
            help.contains(variable),
            "--help does not mention {variable}"
        );
    }
}

/// The README's main job: with no --peer the node starts a local peer, so p2p does real
/// work (one peer, gossip both ways); a clean stop stops the peer and removes its data.
#[test]
fn without_peers_the_node_gossips_with_its_local_peer() {
    let node = Node::start_with_local_peer(&["--slot", "300ms", "--load-rate", "40"]);
    let gossiping = eventually(Duration::from_secs(30), || {
        let m = node.scrape();
        m.sum("node_p2p_peers", &[]) == 1.0
            && m.sum(
                "node_p2p_messages_total",
                &[
                    ("network_io_direction", "receive"),
                    ("p2p_topic", "transaction"),
                ],
            ) > 0.0
            && m.sum(
                "node_p2p_messages_total",
                &[("network_io_direction", "receive"), ("p2p_topic", "block")],
            ) > 0.0
            && m.sum(
                "node_mempool_admissions_total",
                &[
                    ("mempool_origin", "gossip"),
                    ("mempool_outcome", "accepted"),
                ],
            ) > 0.0
    });
    assert!(
        gossiping,
        "no gossip with the local peer:\n{}",
        node.scrape().1
    );
    let peer_pid = node
        .local_peer_pid()
        .expect("the node printed its local peer");
    assert!(std::path::Path::new(&format!("/proc/{peer_pid}")).exists());
    node.terminate_cleanly();
    assert!(
        !std::path::Path::new(&format!("/proc/{peer_pid}")).exists(),
        "the local peer outlived the node"
    );
}

/// `--metrics-addr` with `TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE` (and no
/// `TELEMETRY_PROMETHEUS_ADDR`): the node starts, and its bridge requires the token.
#[test]
fn a_token_file_guards_the_bridge_at_metrics_addr() {
    let token = std::env::temp_dir().join(format!("demo-node-token-{}", std::process::id()));
    std::fs::write(&token, "n0de-t0ken\n").unwrap();
    let node = Node::start(
        &["--no-load", "--no-host-metrics"],
        &[(
            "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE",
            token.to_str().unwrap(),
        )],
    );
    let status = |authorization: &str| {
        request(
            node.metrics,
            &format!(
                "GET /metrics HTTP/1.1\r\nHost: node\r\n{authorization}Connection: close\r\n\r\n"
            ),
        )
        .0
    };
    assert_eq!(status(""), 401);
    assert_eq!(status("Authorization: Bearer wrong\r\n"), 401);
    assert_eq!(status("Authorization: bearer n0de-t0ken\r\n"), 200);
    std::fs::remove_file(token).unwrap();
}

/// Whether `pid` is a live process (a zombie has exited: only its entry is left).
#[cfg(target_os = "linux")]
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the parenthesised command name, which may hold spaces.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        !matches!(state, Some("Z" | "X") | None)
    })
}

/// A node killed without its shutdown path (SIGKILL, as a crash or `Child::kill` does)
/// takes its local peer with it: within 5 s no process of the peer remains (it once kept
/// running, producing blocks, forever).
#[cfg(target_os = "linux")]
#[test]
fn a_killed_node_leaves_no_local_peer() {
    let mut node = Node::start_with_local_peer(&["--slot", "300ms", "--no-load"]);
    let printed = node
        .local_peer_pid()
        .expect("the node printed its local peer");
    // The kernel's view: the node's only child is the peer it printed.
    let children: Vec<u32> = std::fs::read_dir(format!("/proc/{}/task", node.pid()))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .map(|pid| pid.parse::<u32>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(children, [printed], "the node's children");
    assert!(running(printed));

    node.kill();
    assert!(
        eventually(Duration::from_secs(5), || !running(printed)),
        "the local peer (pid {printed}) outlived its SIGKILLed node by 5 s"
    );
}

/// The second route by which a local peer stops with its node: `--until-stdin-closes`
/// stops the node cleanly when its standard input (the pipe its parent holds) closes.
#[test]
fn a_node_until_stdin_closes_stops_when_it_closes() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_demo-node"))
        .args([
            "--alone",
            "--no-load",
            "--no-telemetry",
            "--no-metrics-bridge",
        ])
        .arg("--until-stdin-closes")
        .args(["--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.starts_with("demo-node listening:"), "{line}");
    // Still running while the pipe is open.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "stopped with stdin open"
    );

    drop(child.stdin.take());
    let mut status = None;
    assert!(
        eventually(Duration::from_secs(15), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
        "still running 15 s after its standard input closed"
    );
    assert!(status.unwrap().success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(rest.contains("standard input closed"), "{rest}");
}

/// `--no-metrics-bridge` turns the bridge off even when `TELEMETRY_PROMETHEUS_ADDR` is set
/// (the image sets it): it used to be served anyway, on every interface when the image's
/// `0.0.0.0:9464` applied.
#[test]
fn no_metrics_bridge_overrides_the_environment() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = port.local_addr().unwrap();
    drop(port);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_demo-node"))
        .args([
            "--alone",
            "--no-load",
            "--no-host-metrics",
            "--no-metrics-bridge",
        ])
        .args(["--rpc-addr", "127.0.0.1:0", "--p2p-addr", "127.0.0.1:0"])
        .env("TELEMETRY_PROMETHEUS_ADDR", addr.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let refused = std::net::TcpStream::connect(addr).is_err();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("metrics=(OTLP push only)"), "{line}");
    assert!(refused, "something answers on {addr}");
}
