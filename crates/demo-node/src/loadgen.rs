//! The load generator: submits transactions through the RPC port exactly as an external
//! client would, at a fixed rate. A fixed share of them is invalid on purpose, so every
//! rejection path runs: every 25th has a bad signature, every 40th repeats an earlier one,
//! every 97th is over the size limit.

use std::net::SocketAddr;
use std::time::Duration;

use telemetry::TraceContext;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::tx::Transaction;

/// The `i`-th transaction of sender family `name`.
pub fn transaction(name: &str, i: u64, max_tx_size: usize) -> Transaction {
    let sender = format!("{name}-{}", i % 16);
    if i % 97 == 96 {
        return Transaction::signed(sender, i, "x".repeat(max_tx_size + 1));
    }
    if i % 40 == 39 {
        return transaction(name, i - 1, max_tx_size);
    }
    let payload: String = format!(
        "transfer {} units, memo {}",
        i * 7 % 1000,
        "z".repeat((i % 8 * 48) as usize)
    );
    let mut tx = Transaction::signed(sender, i, payload);
    if i % 25 == 24 {
        tx.signature = hex::encode([0u8; 32]);
    }
    tx
}

/// Submits `rate` transactions per second to `rpc` until cancelled.
pub async fn run(
    rpc: SocketAddr,
    rate: f64,
    name: String,
    max_tx_size: usize,
    cancel: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "load generator cannot build its HTTP client");
            return;
        }
    };
    let url = format!("http://{rpc}/tx");
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0u64.. {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let tx = transaction(&name, i, max_tx_size);
        // An HTTP client span (semantic conventions); its traceparent goes in the request,
        // so the node's server span continues this trace.
        let span = tracing::info_span!(
            parent: None,
            "loadgen.submit",
            otel.name = "POST",
            otel.kind = "client",
            http.request.method = "POST",
            url.full = %url,
            server.address = %rpc.ip(),
            server.port = rpc.port(),
            http.response.status_code = tracing::field::Empty,
        );
        let mut headers = reqwest::header::HeaderMap::new();
        TraceContext::of(&span).inject_http(&mut headers);
        let request = client.post(&url).headers(headers).json(&tx).send();
        // Submit without waiting for the answer, so a slow node does not slow the load down.
        tokio::spawn(
            async move {
                match request.await {
                    Ok(response) => {
                        tracing::Span::current()
                            .record("http.response.status_code", response.status().as_u16());
                    }
                    Err(error) => tracing::debug!(%error, "load generator request failed"),
                }
            }
            .instrument(span),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn invalid_shares_are_fixed() {
        let txs: Vec<_> = (0..1000)
            .map(|i| super::transaction("t", i, 4096))
            .collect();
        // 40 of 1000 have i % 25 == 24; five of those are oversized or repeats instead.
        assert_eq!(txs.iter().filter(|t| !t.verify()).count(), 35);
        // Ten with i % 97 == 96, and one repeat of such a one.
        assert_eq!(txs.iter().filter(|t| t.size() > 4096).count(), 11);
        assert_eq!(txs[39], txs[38]);
    }
}
