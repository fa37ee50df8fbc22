//! Components that come and go, as a node's connections, peers and jobs do: copies of one
//! metrics struct add up, a dropped component stops, short-lived instances keep the series
//! bounded, overflow is counted, and a recreated component's counter never goes backwards.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use telemetry::testing::{Snapshot, TestTelemetry};
use telemetry::{
    Callback, Counter, Gauge, Histogram, Metrics, ObservableCounter, ObservableGauge,
    TelemetryClient, Unbounded, UpDownCounter,
};

telemetry::attribute_enum! {
    /// How a connection's request ended.
    pub enum Outcome: "conn.outcome" { Ok => "ok", Failed => "failed" }
}

telemetry::unbounded_attribute! {
    /// A disk's name (as host metrics report devices).
    pub Disk: "conn.disk", limit = 3
}

/// One peer connection's instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "mynode.conn")]
pub struct ConnMetrics {
    /// Requests served, by outcome.
    #[metric(unit = "{request}")]
    pub requests: Counter<u64, (Outcome,)>,
    /// Requests in flight.
    #[metric(unit = "{request}")]
    pub in_flight: UpDownCounter<i64, ()>,
    /// The connection's send window.
    #[metric(unit = "By")]
    pub window: Gauge<u64, ()>,
    /// Time to serve one request.
    #[metric(unit = "s")]
    pub latency: Histogram<f64, ()>,
}

/// A job queue read at each collection.
#[derive(Metrics)]
#[metrics(prefix = "mynode.jobs")]
pub struct JobMetrics {
    /// Jobs waiting.
    #[metric(unit = "{job}")]
    pub waiting: ObservableGauge<u64, ()>,
    /// Jobs ever finished.
    #[metric(unit = "{job}")]
    pub finished: ObservableCounter<u64, ()>,
}

/// Bytes read, by disk, read at each collection.
#[derive(Metrics)]
#[metrics(prefix = "mynode.disk")]
pub struct DiskMetrics {
    /// Bytes read.
    #[metric(unit = "By")]
    pub read: ObservableCounter<u64, (Unbounded<Disk>,)>,
}

fn test_telemetry(retention: Duration) -> TestTelemetry {
    TestTelemetry::with_builder(TelemetryClient::builder("lifecycle").series_retention(retention))
}

fn overflows(snapshot: &Snapshot, metric: &str) -> f64 {
    snapshot
        .value(
            "telemetry.cardinality.overflows",
            &[("telemetry.overflow.metric", metric)],
        )
        .unwrap_or(0.0)
}

#[test]
fn two_live_copies_of_one_struct_add_up() {
    let telemetry = TestTelemetry::new();
    let (a, b) = (
        ConnMetrics::new(telemetry.client()),
        ConnMetrics::new(telemetry.client()),
    );
    a.requests.add(10, (Outcome::Ok,));
    b.requests.add(10, (Outcome::Ok,));
    b.requests.bind((Outcome::Failed,)).add(3);
    a.in_flight.add(2, ());
    b.in_flight.add(-1, ());
    a.window.record(7, ());
    b.window.record(9, ());
    a.latency.record(0.1, ());
    b.latency.record(0.2, ());
    let snapshot = telemetry.collect();
    let requests = "mynode.conn.requests";
    assert_eq!(
        snapshot.u64_value(requests, &[("conn.outcome", "ok")]),
        Some(20)
    );
    assert_eq!(
        snapshot.u64_value(requests, &[("conn.outcome", "failed")]),
        Some(3)
    );
    assert_eq!(snapshot.value("mynode.conn.in_flight", &[]), Some(1.0));
    // One series, the last value set by either copy.
    assert_eq!(snapshot.u64_value("mynode.conn.window", &[]), Some(9));
    assert_eq!(
        snapshot
            .histogram("mynode.conn.latency", &[])
            .unwrap()
            .count,
        2
    );
    // And again: the sums keep adding, collection after collection.
    a.requests.add(1, (Outcome::Ok,));
    let snapshot = telemetry.collect();
    assert_eq!(
        snapshot.u64_value(requests, &[("conn.outcome", "ok")]),
        Some(21)
    );
}

#[test]
fn two_live_copies_of_an_observable_add_up_and_a_dropped_callback_never_runs_again() {
    let telemetry = TestTelemetry::new();
    let calls = Arc::new(AtomicU64::new(0));
    let copy = |waiting: u64, finished: u64| {
        let counted = calls.clone();
        JobMetrics::new(
            telemetry.client(),
            JobMetricsCallbacks {
                waiting: Callback::new(move |o| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    o.observe(waiting, ())
                }),
                finished: Callback::new(move |o| o.observe(finished, ())),
            },
        )
    };
    let first = copy(3, 100);
    let second = copy(4, 50);
    let snapshot = telemetry.collect();
    assert_eq!(snapshot.u64_value("mynode.jobs.finished", &[]), Some(150));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    drop(second);
    let snapshot = telemetry.collect();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the dropped copy's callback ran"
    );
    // A monotonic sum never goes down (under delta temporality the SDK would subtract in
    // u64): what the dropped copy counted stays counted. A gauge shows what is left.
    assert_eq!(snapshot.u64_value("mynode.jobs.finished", &[]), Some(150));
    assert_eq!(snapshot.u64_value("mynode.jobs.waiting", &[]), Some(3));
    drop(first);
    let snapshot = telemetry.collect();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "a dropped callback ran");
    assert_eq!(snapshot.u64_value("mynode.jobs.waiting", &[]), None);
}

#[test]
fn a_dropped_component_is_reported_once_more_then_forgotten() {
    let telemetry = test_telemetry(Duration::ZERO);
    let conn = ConnMetrics::new_instance(telemetry.client(), "peer-1");
    conn.requests.add(5, (Outcome::Ok,));
    let series = [("conn.outcome", "ok"), ("component.instance", "peer-1")];
    drop(conn);
    // Its last increments are not lost: the next collection reads them...
    let snapshot = telemetry.collect();
    assert_eq!(snapshot.u64_value("mynode.conn.requests", &series), Some(5));
    // ...and, the retention being over, the one after has no series of it.
    let snapshot = telemetry.collect();
    assert_eq!(
        snapshot.attribute_sets("mynode.conn.requests"),
        Vec::<Vec<_>>::new()
    );
}

#[test]
fn a_component_recreated_within_the_retention_continues_its_counters() {
    let telemetry = test_telemetry(Duration::from_secs(3600));
    let series = [("conn.outcome", "ok"), ("component.instance", "peer-1")];
    let mut seen = Vec::new();
    for _ in 0..3 {
        let conn = ConnMetrics::new_instance(telemetry.client(), "peer-1");
        conn.requests.add(5, (Outcome::Ok,));
        drop(conn);
        seen.push(
            telemetry
                .collect()
                .u64_value("mynode.conn.requests", &series),
        );
    }
    assert_eq!(seen, [Some(5), Some(10), Some(15)]);
}

#[test]
fn two_thousand_short_lived_instances_keep_the_series_bounded_and_lose_nothing() {
    let telemetry = TestTelemetry::new();
    for peer in 0..2000 {
        let conn = ConnMetrics::new_instance(telemetry.client(), format!("peer-{peer}"));
        conn.requests.add(1, (Outcome::Ok,));
        if peer % 100 == 0 {
            telemetry.collect();
        }
    }
    let snapshot = telemetry.collect();
    let limit = ConnMetrics::DEFINITIONS[0].cardinality_limit;
    let sets = snapshot.attribute_sets("mynode.conn.requests");
    assert!(
        sets.len() <= limit + 1,
        "{} series, limit {limit} plus the overflow series",
        sets.len()
    );
    let overflow = [("otel.metric.overflow", "true")];
    assert!(sets.contains(&vec![("otel.metric.overflow".into(), "true".into())]));
    // Every request is in some series: the instances' own or the overflow.
    let total: f64 = sets
        .iter()
        .map(|set| {
            let attributes: Vec<(&str, &str)> =
                set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            snapshot.value("mynode.conn.requests", &attributes).unwrap()
        })
        .sum();
    assert_eq!(total, 2000.0);
    assert!(snapshot.value("mynode.conn.requests", &overflow).unwrap() > 0.0);
    // And the overflow is counted.
    assert!(overflows(&snapshot, "mynode.conn.requests") >= 1996.0);
    // The histogram's instances past the limit land in the SDK's overflow series: counted.
    assert!(overflows(&snapshot, "mynode.conn.latency") >= 1996.0);
    let latency_sets = snapshot.attribute_sets("mynode.conn.latency");
    assert!(latency_sets.len() <= ConnMetrics::DEFINITIONS[3].cardinality_limit + 1);
}

#[test]
fn observed_sets_past_the_limit_fold_into_a_counted_overflow_and_keep_their_series() {
    let telemetry = TestTelemetry::new();
    let disks = Arc::new(std::sync::Mutex::new(vec![
        ("sda", 1u64),
        ("sdb", 2),
        ("sdc", 3),
        ("sdd", 4),
        ("sde", 5),
    ]));
    let read = disks.clone();
    let _metrics = DiskMetrics::new(
        telemetry.client(),
        DiskMetricsCallbacks {
            read: Callback::new(move |o| {
                for (disk, bytes) in read.lock().unwrap().iter() {
                    o.observe(*bytes, (Unbounded::new(*disk),));
                }
            }),
        },
    );
    let names = |snapshot: &Snapshot| {
        let mut names: Vec<String> = snapshot
            .attribute_sets("mynode.disk.read")
            .into_iter()
            .map(|set| set[0].1.clone())
            .collect();
        names.sort();
        names
    };
    let snapshot = telemetry.collect();
    assert_eq!(names(&snapshot), ["sda", "sdb", "sdc", "true"]);
    let overflow = [("otel.metric.overflow", "true")];
    assert_eq!(snapshot.u64_value("mynode.disk.read", &overflow), Some(9));
    assert_eq!(overflows(&snapshot, "mynode.disk.read"), 2.0);
    // The order of observation changes; the sets holding series do not.
    disks.lock().unwrap().reverse();
    let snapshot = telemetry.collect();
    assert_eq!(names(&snapshot), ["sda", "sdb", "sdc", "true"]);
    // A set no longer observed gives its series up; the sets in the overflow series of a
    // monotonic sum stay there while observed (their history is never counted twice), and
    // the overflow series never goes down when one of them leaves.
    disks
        .lock()
        .unwrap()
        .retain(|(disk, _)| !["sdb", "sdd"].contains(disk));
    let snapshot = telemetry.collect();
    assert_eq!(names(&snapshot), ["sda", "sdc", "true"]);
    assert_eq!(snapshot.u64_value("mynode.disk.read", &overflow), Some(9));
    // A newcomer takes the freed series.
    disks.lock().unwrap().push(("sdf", 6));
    let snapshot = telemetry.collect();
    assert_eq!(names(&snapshot), ["sda", "sdc", "sdf", "true"]);
    assert_eq!(snapshot.u64_value("mynode.disk.read", &overflow), Some(9));
}

#[test]
fn a_struct_created_inside_a_callback_is_refused_not_a_deadlock() {
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let telemetry = TestTelemetry::new();
        let client = telemetry.client().clone();
        let created = Arc::new(AtomicU64::new(0));
        let enabled = created.clone();
        let _jobs = JobMetrics::new(
            telemetry.client(),
            JobMetricsCallbacks {
                waiting: Callback::new(move |o| {
                    let conn = ConnMetrics::new(&client);
                    enabled.store(conn.requests.is_enabled() as u64 + 1, Ordering::SeqCst);
                    o.observe(1, ())
                }),
                finished: Callback::none(),
            },
        );
        let snapshot = telemetry.collect();
        done.send((
            snapshot.u64_value("mynode.jobs.waiting", &[]),
            created.load(Ordering::SeqCst),
        ))
        .unwrap();
    });
    let (waiting, created) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the collection deadlocked");
    assert_eq!(waiting, Some(1));
    assert_eq!(
        created, 1,
        "created inside the callback, and refused (disabled)"
    );
}
