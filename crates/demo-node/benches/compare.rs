//! The side-by-side comparison: every case measured in ONE process run, so the ratios hold
//! on a noisy shared machine. Prints a table of ns per operation and ratios, then one line
//! per target: `target <name>: <measured> (goal <op> <value>) PASS|MISS`.
//!
//! `cargo bench -p demo-node --bench compare` (full) or `... -- --quick` (CI).
//! Each timing is the fastest of several rounds: the minimum is what the code costs, the
//! rest is other processes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use telemetry::testing::TestTelemetry;
use telemetry::{Counter, Histogram, Metrics, TelemetryClient, Unbounded};

/// Counts live heap bytes, for the memory targets.
struct CountingAllocator;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

telemetry::attribute_enum! {
    /// Bench method.
    pub enum Method: "bench.method" { Get => "get", Put => "put", Delete => "delete" }
}
telemetry::attribute_enum! {
    /// Bench outcome.
    pub enum Outcome: "bench.outcome" { Ok => "ok", Error => "error" }
}
telemetry::attribute_enum! {
    /// Bench region.
    pub enum Region: "bench.region" { East => "east", West => "west" }
}
telemetry::unbounded_attribute! {
    /// One of many series.
    pub Series: "bench.series", limit = 10_000
}
type Attrs = (Method, Outcome, Region);

/// A component struct, as a node would write it.
#[derive(Metrics)]
#[metrics(prefix = "node.bench")]
struct BenchMetrics {
    /// Requests.
    #[metric(unit = "{request}")]
    requests: Counter<u64, Attrs>,
    /// Latency.
    #[metric(unit = "s")]
    latency: Histogram<f64, Attrs>,
}

/// One metric with many series, for the scrape comparison.
#[derive(Metrics)]
#[metrics(prefix = "node.bench")]
struct ManyMetrics {
    /// Many series.
    #[metric(unit = "{event}")]
    many: Counter<u64, (Unbounded<Series>,)>,
}

/// Eight instruments, for the fixed memory cost of one.
#[derive(Metrics)]
#[metrics(prefix = "node.bench")]
struct MemoryMetrics {
    /// Instrument 0.
    #[metric(unit = "{event}")]
    m0: Counter<u64, Attrs>,
    /// Instrument 1.
    #[metric(unit = "{event}")]
    m1: Counter<u64, Attrs>,
    /// Instrument 2.
    #[metric(unit = "{event}")]
    m2: Counter<u64, Attrs>,
    /// Instrument 3.
    #[metric(unit = "{event}")]
    m3: Counter<u64, Attrs>,
    /// Instrument 4.
    #[metric(unit = "s")]
    m4: Histogram<f64, Attrs>,
    /// Instrument 5.
    #[metric(unit = "s")]
    m5: Histogram<f64, Attrs>,
    /// Instrument 6.
    #[metric(unit = "s")]
    m6: Histogram<f64, Attrs>,
    /// Instrument 7.
    #[metric(unit = "s")]
    m7: Histogram<f64, Attrs>,
}

impl BenchMetrics {
    #[inline]
    fn request_done(&self, method: Method, outcome: Outcome, region: Region) {
        self.requests.add(1, (method, outcome, region));
    }
    #[inline]
    fn request_timed(&self, seconds: f64, method: Method, outcome: Outcome, region: Region) {
        self.latency.record(seconds, (method, outcome, region));
    }
}

#[derive(Clone, Copy)]
struct Settings {
    quick: bool,
    ops: u64,
    rounds: usize,
}

/// A named hot-path case: runs the call `ops` times, with the loop counter as argument.
type Case<'a> = (&'a str, Box<dyn Fn(u64) + 'a>);

/// A case whose loop is compiled around `call` itself, so the call is inlined as it would be
/// in a component and the measurement carries no per-call dispatch of the harness (a
/// `dyn Fn` per call cost some 5 ns here, more than the atomic floor it was added to).
fn case<'a>(name: &'a str, call: impl Fn(u64) + 'a) -> Case<'a> {
    (
        name,
        Box::new(move |ops| {
            for i in 0..ops {
                call(i);
            }
        }),
    )
}

/// Fastest ns per call of each case. Rounds go through all cases in turn, so a change in
/// the machine's load or clock affects every case alike.
fn ns_per_op(s: &Settings, cases: &[Case<'_>]) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; cases.len()];
    for (_, run) in cases {
        run(s.ops / 10); // warm up
    }
    for _ in 0..s.rounds {
        for (slot, (_, run)) in best.iter_mut().zip(cases) {
            let started = Instant::now();
            run(s.ops);
            *slot = slot.min(started.elapsed().as_nanos() as f64 / s.ops as f64);
        }
    }
    best
}

/// Fastest wall time of `f` over the rounds, in ms.
fn best_ms(rounds: usize, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// Total operations per second of two threads running `f` `ops` times each (best round).
fn two_threads(s: &Settings, f: impl Fn() + Sync) -> f64 {
    (0..s.rounds)
        .map(|_| {
            let started = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..2 {
                    scope.spawn(|| {
                        for _ in 0..s.ops {
                            f();
                        }
                    });
                }
            });
            2.0 * s.ops as f64 / started.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

struct Report {
    rows: Vec<(String, String)>,
    targets: Vec<String>,
}

impl Report {
    fn row(&mut self, name: &str, value: String) {
        println!("{name:<62} {value}");
        self.rows.push((name.to_owned(), value));
    }
    fn target(&mut self, name: &str, measured: f64, at_most: bool, goal: f64) {
        let pass = if at_most {
            measured <= goal
        } else {
            measured >= goal
        };
        let op = if at_most { "<=" } else { ">=" };
        self.targets.push(format!(
            "target {name}: {measured:.3} (goal {op} {goal}) {}",
            if pass { "PASS" } else { "MISS" }
        ));
    }
}

fn otel_provider() -> SdkMeterProvider {
    SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build()
}

fn hot_path(s: &Settings, r: &mut Report) {
    let kit = TestTelemetry::new();
    let metrics = BenchMetrics::new(kit.client());
    let off = BenchMetrics::new(&TelemetryClient::disabled());
    let provider = otel_provider();
    let meter = provider.meter("peer");
    let otel_counter = meter.u64_counter("peer.requests").build();
    let otel_histogram = meter.f64_histogram("peer.latency").build();
    let attrs = [
        KeyValue::new("bench.method", "put"),
        KeyValue::new("bench.outcome", "ok"),
        KeyValue::new("bench.region", "east"),
    ];
    let reordered = [attrs[2].clone(), attrs[0].clone(), attrs[1].clone()];
    let otel_bound = otel_counter.bind(&attrs);
    let otel_bound_histogram = otel_histogram.bind(&attrs);
    let prom_counters = prometheus::IntCounterVec::new(
        prometheus::Opts::new("peer_requests", "r"),
        &["m", "o", "r"],
    )
    .unwrap();
    let prom_counter = prom_counters.with_label_values(&["put", "ok", "east"]);
    let prom_histograms = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("peer_latency", "l"),
        &["m", "o", "r"],
    )
    .unwrap();
    let prom_histogram = prom_histograms.with_label_values(&["get", "error", "west"]);
    let pc_family = prometheus_client::metrics::family::Family::<
        Vec<(String, String)>,
        prometheus_client::metrics::counter::Counter,
    >::default();
    let pc_counter = pc_family
        .get_or_create(&vec![("m".into(), "put".into())])
        .clone();
    let floor_cell = AtomicU64::new(0);
    let typed_bound = metrics
        .requests
        .bind((Method::Put, Outcome::Ok, Region::East));

    let region = |i: u64| {
        if i & 1 == 0 {
            Region::East
        } else {
            Region::West
        }
    };
    let cases: [Case<'_>; 13] = [
        case("AtomicU64::fetch_add (the floor)", |i| {
            floor_cell.fetch_add(black_box(i) & 1, Ordering::Relaxed);
        }),
        case(
            "typed counter add, 3 enum attributes, component struct",
            |i| metrics.request_done(black_box(Method::Put), Outcome::Ok, region(i)),
        ),
        case("typed counter add on the disabled client", |i| {
            off.request_done(black_box(Method::Put), Outcome::Ok, region(i))
        }),
        case("OTel Counter::add, 3 attributes, reused slice", |i| {
            otel_counter.add(black_box(i) & 1, &attrs)
        }),
        case("OTel Counter::add, 3 attributes, other key order", |i| {
            otel_counter.add(black_box(i) & 1, &reordered)
        }),
        case("OTel bound counter add", |i| {
            otel_bound.add(black_box(i) & 1)
        }),
        case("typed histogram record, 3 enum attributes", |i| {
            metrics.request_timed(
                black_box(i) as f64 * 1e-9,
                Method::Get,
                Outcome::Error,
                region(i),
            )
        }),
        case("OTel Histogram::record, 3 attributes", |i| {
            otel_histogram.record(black_box(i) as f64 * 1e-9, &attrs)
        }),
        case("OTel bound histogram record", |i| {
            otel_bound_histogram.record(black_box(i) as f64 * 1e-9)
        }),
        case("prometheus pre-bound IntCounter::inc_by", |i| {
            prom_counter.inc_by(black_box(i) & 1)
        }),
        case("prometheus pre-bound Histogram::observe", |i| {
            prom_histogram.observe(black_box(i) as f64 * 1e-9)
        }),
        case("prometheus-client pre-bound Counter::inc_by", |i| {
            pc_counter.inc_by(black_box(i) & 1);
        }),
        case("typed bound counter add (Counter::bind)", |i| {
            typed_bound.add(black_box(i) & 1)
        }),
    ];
    let ns = ns_per_op(s, &cases);
    let [floor, typed, noop, unbound, _, _, typed_histogram, _, _, prom_inc, prom_observe, _, bound] =
        ns[..]
    else {
        unreachable!()
    };

    println!(
        "\n== hot path, single thread (ns per call, fastest of {} interleaved rounds of {} calls)",
        s.rounds, s.ops
    );
    for ((name, _), ns) in cases.iter().zip(&ns) {
        r.row(name, format!("{ns:8.2} ns  ({:5.2}x floor)", ns / floor));
    }
    r.target("counter", typed / floor, true, 1.3);
    r.target("bound-vs-prometheus", bound / prom_inc, true, 1.1);
    r.target("histogram", typed_histogram / prom_observe, true, 2.0);
    r.target("noop", noop / floor, true, 1.0);
    r.target("vs-unbound", unbound / typed, false, 20.0);

    let typed_mt = two_threads(s, || {
        metrics.request_done(Method::Put, Outcome::Ok, Region::East)
    });
    let prom_mt = two_threads(s, || prom_counter.inc());
    let bound_mt = two_threads(s, || otel_bound.add(1));
    let unbound_mt = two_threads(s, || otel_counter.add(1, &attrs));
    println!(
        "\n== two threads on one counter (total M ops/s, best of {} rounds)",
        s.rounds
    );
    for (name, ops) in [
        ("typed counter", typed_mt),
        ("prometheus pre-bound IntCounter", prom_mt),
        ("OTel bound counter", bound_mt),
        ("OTel unbound counter, 3 attributes", unbound_mt),
    ] {
        r.row(name, format!("{:8.1} M ops/s", ops / 1e6));
    }
    r.target("contended", typed_mt / prom_mt, false, 0.5);
}

fn http_get(addr: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: b\r\n\r\n").unwrap();
    let mut body = Vec::new();
    stream.read_to_end(&mut body).unwrap();
    body
}

fn scrape(s: &Settings, r: &mut Report) {
    const SERIES: usize = 10_000;
    let client = TelemetryClient::builder("bench")
        .prometheus("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let many = ManyMetrics::new(&client).many;
    for i in 0..SERIES {
        many.add(i as u64 + 1, (Unbounded::new(format!("series-{i}")),));
    }
    let addr = client.prometheus_addr().unwrap();
    let rounds = if s.quick { 3 } else { 10 };
    let ours = best_ms(rounds, || {
        black_box(http_get(addr, "/metrics"));
    });

    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .scope_info_enabled(false)
        .build()
        .unwrap();
    let provider = SdkMeterProvider::builder()
        .with_view(|i: &opentelemetry_sdk::metrics::Instrument| {
            (i.name() == "node.bench.many")
                .then(|| {
                    opentelemetry_sdk::metrics::Stream::builder()
                        .with_cardinality_limit(SERIES)
                        .build()
                        .ok()
                })
                .flatten()
        })
        .with_reader(exporter)
        .build();
    let raw = provider
        .meter("bench")
        .u64_counter("node.bench.many")
        .with_unit("{event}")
        .build();
    for i in 0..SERIES {
        raw.add(
            i as u64 + 1,
            &[KeyValue::new("bench.series", format!("series-{i}"))],
        );
    }
    let raw_ms = best_ms(rounds, || {
        let mut out = Vec::new();
        prometheus::Encoder::encode(
            &prometheus::TextEncoder::new(),
            &registry.gather(),
            &mut out,
        )
        .unwrap();
        black_box(out);
    });

    let mut pc_registry = prometheus_client::registry::Registry::default();
    let family = prometheus_client::metrics::family::Family::<
        Vec<(String, String)>,
        prometheus_client::metrics::counter::Counter,
    >::default();
    pc_registry.register("node_bench_many", "Many series", family.clone());
    for i in 0..SERIES {
        family
            .get_or_create(&vec![("bench_series".into(), format!("series-{i}"))])
            .inc_by(i as u64 + 1);
    }
    let pc_ms = best_ms(rounds, || {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &pc_registry).unwrap();
        black_box(out);
    });
    println!("\n== scrape of {SERIES} series (ms, fastest of {rounds})");
    r.row(
        "bridge: HTTP GET /metrics (collect + encode + HTTP)",
        format!("{ours:8.2} ms"),
    );
    r.row(
        "raw opentelemetry-prometheus gather + TextEncoder",
        format!("{raw_ms:8.2} ms"),
    );
    r.row("prometheus-client text encoder", format!("{pc_ms:8.2} ms"));
    r.row(
        "bridge / prometheus-client",
        format!("{:8.2}x", ours / pc_ms),
    );
    r.target("scrape", ours / raw_ms, true, 1.1);
    client.shutdown().unwrap();
}

fn memory(r: &mut Report) {
    // Fixed heap per typed instrument, one reader: 8 instruments (4 counters, 4 histograms),
    // 12 attribute combinations each, after a collection has built the reader's state.
    let kit = TestTelemetry::new();
    kit.collect();
    let before = live_bytes();
    let m = MemoryMetrics::new(kit.client());
    let counters = [&m.m0, &m.m1, &m.m2, &m.m3];
    let histograms = [&m.m4, &m.m5, &m.m6, &m.m7];
    for c in &counters {
        c.add(1, (Method::Get, Outcome::Ok, Region::East));
    }
    for h in &histograms {
        h.record(0.1, (Method::Get, Outcome::Ok, Region::East));
    }
    drop(kit.collect());
    let per_instrument = (live_bytes() - before) as f64 / 8.0 / 1024.0;

    let before = live_bytes();
    let many = ManyMetrics::new(kit.client()).many;
    for i in 0..10_000 {
        many.add(1, (Unbounded::new(format!("series-{i}")),));
    }
    drop(kit.collect());
    let per_series = (live_bytes() - before) as f64 / 10_000.0;
    println!("\n== memory (live heap, counting allocator)");
    r.row(
        "per typed instrument (12 series, one reader)",
        format!("{per_instrument:8.2} KiB"),
    );
    r.row(
        "per series (unbounded attribute, 10,000 series)",
        format!("{per_series:8.1} B"),
    );
    r.target("instrument-memory", per_instrument, true, 16.0);
    r.target("series-memory", per_series, true, 250.0);
    drop((counters, histograms, many));
}

fn host(s: &Settings, r: &mut Report) {
    let rounds = if s.quick { 5 } else { 20 };
    let mut sampler =
        host_metrics::Sampler::new(host_metrics::HostMetricsConfig::default()).unwrap();
    sampler.refresh();
    let ours = best_ms(rounds, || {
        black_box(sampler.refresh());
    });
    let naive = best_ms(rounds.min(5), || {
        let mut system = sysinfo::System::new_all().unwrap();
        system.refresh_all();
        black_box(system);
    });

    // Two readers (in-memory + bridge) against one: refresh work per collection cycle.
    let refresh_per_cycle = |with_bridge: bool| {
        let mut builder = TelemetryClient::builder("bench");
        if with_bridge {
            builder = builder.prometheus("127.0.0.1:0".parse().unwrap());
        }
        let kit = TestTelemetry::with_builder(builder);
        let config = host_metrics::HostMetricsConfig {
            min_interval: Duration::from_millis(200),
            ..Default::default()
        };
        let _host = host_metrics::HostMetrics::register(kit.client(), config);
        let cycles = if s.quick { 3 } else { 8 };
        for _ in 0..cycles {
            kit.collect();
            if let Some(addr) = kit.client().prometheus_addr() {
                http_get(addr, "/metrics");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let refreshes = kit
            .collect()
            .histogram("telemetry.host.refresh.duration", &[])
            .unwrap();
        println!(
            "  ({} refreshes in {cycles} cycles, bridge {with_bridge})",
            refreshes.count
        );
        refreshes.sum / cycles as f64
    };
    let one = refresh_per_cycle(false);
    let two = refresh_per_cycle(true);
    println!("\n== host metrics");
    r.row(
        "one refresh, every group (wall time of a single thread)",
        format!("{ours:8.3} ms"),
    );
    r.row(
        "sysinfo System::new_all() + refresh_all()",
        format!("{naive:8.3} ms"),
    );
    r.row(
        "refresh time per cycle, one reader",
        format!("{:8.3} ms", one * 1e3),
    );
    r.row(
        "refresh time per cycle, in-memory reader + bridge",
        format!("{:8.3} ms", two * 1e3),
    );
    r.target("host-cycle", ours / naive, true, 0.2);
    r.target("host-two-readers", two / one, true, 1.2);
}

/// A demo node process (its RPC and bridge addresses); stopped when dropped, and its block
/// store removed.
struct NodeProcess {
    child: Child,
    rpc: SocketAddr,
    metrics: Option<SocketAddr>,
    data: std::path::PathBuf,
}

impl Drop for NodeProcess {
    /// Stops the node as an operator does, with SIGTERM, so that it stops its local peer
    /// too (no leftover keeps the machine busy during the later rounds); killed only if it
    /// has not exited within 30 s.
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Ok(Some(_)) | Err(_) => break,
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// What the benchmarked node exports.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// `--no-telemetry`.
    Off,
    /// The bridge (scraped every second) and host metrics.
    Metrics,
    /// Also metrics, spans and logs over OTLP to a sink, with this sampler and argument.
    AllSignals(SocketAddr, (&'static str, &'static str)),
}

/// The sampling docs/tracing.md recommends for nodes at moderate rates (measured here at
/// saturation, where it misses the goal).
const RECOMMENDED_SAMPLER: (&str, &str) = ("parentbased_traceidratio", "0.1");
/// The SDK's default: every trace.
const DEFAULT_SAMPLER: (&str, &str) = ("parentbased_always_on", "1");

fn start_node(mode: Mode) -> NodeProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo-node"));
    command.args([
        "--rpc-addr",
        "127.0.0.1:0",
        "--p2p-addr",
        "127.0.0.1:0",
        "--metrics-addr",
        "127.0.0.1:0",
        "--no-load",
    ]);
    command.args([
        "--slot",
        "500ms",
        "--summary-every",
        "1h",
        "--mempool-capacity",
        "1000000",
        "--max-block-txs",
        "100000",
    ]);
    match mode {
        Mode::Off => {
            command.arg("--no-telemetry");
        }
        Mode::Metrics => {}
        Mode::AllSignals(sink, (sampler, arg)) => {
            command
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{sink}"))
                .env("OTEL_METRIC_EXPORT_INTERVAL", "5000")
                .env("OTEL_TRACES_SAMPLER", sampler)
                .env("OTEL_TRACES_SAMPLER_ARG", arg);
        }
    }
    // Extra variables for the node (e.g. to find where a cost comes from).
    if let Ok(extra) = std::env::var("BENCH_NODE_ENV") {
        for (k, v) in extra.split(',').filter_map(|kv| kv.split_once('=')) {
            command.env(k, v);
        }
    }
    // info: the node's spans are info spans, and its log records info and up.
    let mut child = command
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let field = |prefix: &str| {
        line.split(prefix)
            .nth(1)?
            .split(['/', ' '])
            .next()?
            .parse()
            .ok()
    };
    let (rpc, metrics) = (field("rpc=http://").unwrap(), field("metrics=http://"));
    let data = line.trim_end().rsplit_once(" data=").unwrap().1.into();
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    NodeProcess {
        child,
        rpc,
        metrics,
        data,
    }
}

/// Accepted transactions per second with two clients submitting as fast as they can; a
/// node with a bridge is scraped every second meanwhile, so collection (host metrics
/// included) is part of what is measured.
fn saturate(node: &NodeProcess, seconds: f64, base: u64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    std::thread::scope(|scope| {
        if let Some(metrics) = node.metrics {
            let stop = stop.clone();
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    black_box(http_get(metrics, "/metrics"));
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        }
        for worker in 0..2u64 {
            let (stop, accepted) = (stop.clone(), accepted.clone());
            scope.spawn(move || {
                let mut nonce = base + worker * 1_000_000_000;
                while !stop.load(Ordering::Relaxed) {
                    nonce += 1;
                    let body = serde_json::to_string(&demo_node::tx::Transaction::signed("bench", nonce, "saturate")).unwrap();
                    let Ok(mut stream) = TcpStream::connect(node.rpc) else { continue };
                    let _ = write!(stream, "POST /tx HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    let mut response = [0u8; 12];
                    if stream.read_exact(&mut response).is_ok() && &response[9..12] == b"200" {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_secs_f64(seconds));
        stop.store(true, Ordering::Relaxed);
        // Read now: the scraper may still be asleep for up to a second.
        accepted.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    })
}

/// The registry under an info filter.
type Filtered = tracing_subscriber::layer::Layered<
    tracing_subscriber::filter::LevelFilter,
    tracing_subscriber::Registry,
>;
/// A node's `tracing` subscriber without telemetry: the filtered registry and a fmt layer
/// (writing to nowhere).
type PlainSubscriber = tracing_subscriber::layer::Layered<
    tracing_subscriber::fmt::Layer<
        Filtered,
        tracing_subscriber::fmt::format::DefaultFields,
        tracing_subscriber::fmt::format::Format,
        fn() -> std::io::Sink,
    >,
    Filtered,
>;
/// What `TelemetryClient::tracing_layer` gives for that subscriber.
type TelemetryLayer = Box<dyn tracing_subscriber::Layer<PlainSubscriber> + Send + Sync>;

/// A node's subscriber, plus `layer` when given; without it, plain `tracing`.
fn dispatch_with(layer: Option<TelemetryLayer>) -> tracing::Dispatch {
    use tracing_subscriber::layer::SubscriberExt;
    let plain: PlainSubscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink as fn() -> std::io::Sink));
    match layer {
        None => tracing::Dispatch::new(plain),
        Some(layer) => tracing::Dispatch::new(plain.with(layer)),
    }
}

/// A case running `call` under `dispatch`; inside an entered root span when `in_root`, so
/// that the spans `call` makes are children (what a node's spans mostly are).
fn traced<'a>(
    name: &'a str,
    dispatch: tracing::Dispatch,
    in_root: bool,
    call: impl Fn(u64) + 'a,
) -> Case<'a> {
    (
        name,
        Box::new(move |ops| {
            tracing::dispatcher::with_default(&dispatch, || {
                let _root = in_root.then(|| tracing::info_span!("bench.root").entered());
                for i in 0..ops {
                    call(i);
                }
            })
        }),
    )
}

/// A client pushing spans and logs to `sink` with `sampler`.
fn traced_client(
    sink: &otlp_test_receiver::Receiver,
    sampler: telemetry::Sampler,
) -> TelemetryClient {
    let otlp = telemetry::OtlpConfig::grpc(format!("http://{}", sink.addr));
    TelemetryClient::builder("bench")
        .traces(otlp.clone())
        .logs(otlp)
        .tracing(telemetry::TracingConfig {
            sampler,
            ..telemetry::TracingConfig::default()
        })
        .build()
        .unwrap()
}

/// Span enter/exit and an info event, with the OTel layer (sampled, unsampled, the no-op
/// client's) against plain `tracing` without it.
fn spans(s: &Settings, r: &mut Report) {
    let sink = otlp_test_receiver::grpc_sink();
    let sampled = traced_client(&sink, telemetry::Sampler::AlwaysOn);
    let unsampled = traced_client(&sink, telemetry::Sampler::AlwaysOff);
    let disabled = TelemetryClient::disabled();
    let span = |i: u64| {
        let _span = tracing::info_span!("bench.span", i).entered();
    };
    let event = |i: u64| tracing::info!(i, "bench event");
    let cases = [
        traced(
            "span, plain tracing (fmt layer, info filter)",
            dispatch_with(None),
            true,
            span,
        ),
        traced(
            "span, no-op client's layer",
            dispatch_with(Some(disabled.tracing_layer())),
            true,
            span,
        ),
        traced(
            "span in an unsampled trace (head sampling)",
            dispatch_with(Some(unsampled.tracing_layer())),
            true,
            span,
        ),
        traced(
            "span in a sampled trace, exported",
            dispatch_with(Some(sampled.tracing_layer())),
            true,
            span,
        ),
        traced(
            "root span, unsampled (decided at its first entry)",
            dispatch_with(Some(unsampled.tracing_layer())),
            false,
            span,
        ),
        traced(
            "event, plain tracing (fmt layer to a sink)",
            dispatch_with(None),
            false,
            event,
        ),
        traced(
            "event, OTel log layer",
            dispatch_with(Some(sampled.tracing_layer())),
            false,
            event,
        ),
    ];
    // Fewer operations: a sampled span is microseconds, and the queue drops beyond 2048.
    let s = Settings {
        ops: s.ops / 20,
        ..*s
    };
    let ns = ns_per_op(&s, &cases);
    println!(
        "\n== spans and log events (ns per call, best of {} rounds)",
        s.rounds
    );
    for ((name, _), ns) in cases.iter().zip(&ns) {
        r.row(name, format!("{ns:8.1}"));
    }
    r.row(
        "  span, no-op layer / plain",
        format!("{:8.2}", ns[1] / ns[0]),
    );
    r.row(
        "  span in an unsampled trace / plain",
        format!("{:8.2}", ns[2] / ns[0]),
    );
    r.row(
        "  span in a sampled trace / plain",
        format!("{:8.2}", ns[3] / ns[0]),
    );
    r.row(
        "  unsampled root span / plain",
        format!("{:8.2}", ns[4] / ns[0]),
    );
    r.row(
        "  event, log layer / plain",
        format!("{:8.2}", ns[6] / ns[5]),
    );
    r.target("span-noop-layer", ns[1] / ns[0], true, 1.1);
    let _ = (sampled.shutdown(), unsampled.shutdown());
}

fn node_overhead(s: &Settings, r: &mut Report) {
    let (seconds, rounds) = if s.quick { (2.0, 2) } else { (8.0, 3) };
    let sink = otlp_test_receiver::grpc_sink();
    let modes = [
        Mode::Metrics,
        Mode::Off,
        Mode::AllSignals(sink.addr, RECOMMENDED_SAMPLER),
        Mode::AllSignals(sink.addr, DEFAULT_SAMPLER),
    ];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for round in 0..rounds {
        // Rotate which goes first, so drift on the machine affects all alike.
        for k in 0..modes.len() {
            let i = (k + round) % modes.len();
            let node = start_node(modes[i]);
            std::thread::sleep(Duration::from_millis(300));
            rates[i].push(saturate(
                &node,
                seconds,
                ((round * modes.len() + i) as u64) << 40,
            ));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (on, off, all, every) = (
        median(&rates[0]),
        median(&rates[1]),
        median(&rates[2]),
        median(&rates[3]),
    );
    // Run-to-run noise: the spread of the telemetry-off rounds around their median.
    let spread = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
        (hi - lo) / median(v)
    };
    let noise = spread(&rates[1]);
    println!("\n== demo node saturated ({rounds} rounds of {seconds} s each way, median)");
    r.row(
        "accepted tx/s, telemetry on (bridge scraped every 1 s, host metrics)",
        format!("{on:8.0}"),
    );
    r.row(
        &format!(
            "accepted tx/s, all three signals over OTLP ({}={})",
            RECOMMENDED_SAMPLER.0, RECOMMENDED_SAMPLER.1
        ),
        format!("{all:8.0}"),
    );
    r.row(
        &format!(
            "accepted tx/s, all three signals, every trace ({}={})",
            DEFAULT_SAMPLER.0, DEFAULT_SAMPLER.1
        ),
        format!("{every:8.0}"),
    );
    r.row("accepted tx/s, telemetry off", format!("{off:8.0}"));
    r.row(
        "  run-to-run noise (spread of the off rounds)",
        format!("{:7.1}%", noise * 100.0),
    );
    r.row(
        "  spans exported to the sink (requests)",
        format!("{:8}", sink.spans.count()),
    );
    r.target("node-overhead", on / off, false, 0.99);
    r.target(
        "node-overhead-all-signals",
        all / off,
        false,
        1.0 - noise.max(0.01),
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick") || std::env::var_os("QUICK").is_some();
    let s = Settings {
        quick,
        ops: if quick { 2_000_000 } else { 20_000_000 },
        rounds: if quick { 3 } else { 7 },
    };
    let mut r = Report {
        rows: Vec::new(),
        targets: Vec::new(),
    };
    println!(
        "compare ({} mode) on {} CPUs",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    // `--only <section>` runs one section (hot-path, scrape, memory, host, spans, node).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let runs = |section: &str| only.is_none_or(|o| o == section);
    if runs("hot-path") {
        hot_path(&s, &mut r);
    }
    if runs("scrape") {
        scrape(&s, &mut r);
    }
    if runs("memory") {
        memory(&mut r);
    }
    if runs("host") {
        host(&s, &mut r);
    }
    if runs("spans") {
        spans(&s, &mut r);
    }
    if runs("node") {
        node_overhead(&s, &mut r);
    }
    println!();
    for line in &r.targets {
        println!("{line}");
    }
}
