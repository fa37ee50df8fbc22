//! Runs block sync for a few seconds with the Prometheus bridge on (the address in
//! `TELEMETRY_PROMETHEUS_ADDR`, default 127.0.0.1:9465), or prints the metrics reference
//! with `--reference`.

use third_party_node::{Block, BlockSync, SyncSource};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().any(|a| a == "--reference") {
        let catalog = telemetry::catalog();
        catalog.check()?;
        print!("{}", catalog.markdown());
        return Ok(());
    }
    let mut builder = telemetry::TelemetryClient::builder("third-party-node").with_env()?;
    if builder.config().prometheus.is_none() && builder.config().otlp.is_none() {
        builder = builder.prometheus("127.0.0.1:9465".parse()?);
    }
    let client = builder.build()?;
    if let Some(addr) = client.prometheus_addr() {
        println!("third-party-node: metrics at http://{addr}/metrics");
    }
    let mut sync = BlockSync::new(&client);
    for height in 1..=30 {
        let block = Block {
            height,
            valid: true,
        };
        sync.receive(block, SyncSource::Peer);
        if height % 5 == 0 {
            sync.receive(block, SyncSource::Checkpoint); // already applied: stale
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    println!("third-party-node: head at {}", sync.head());
    client.shutdown()?;
    Ok(())
}
