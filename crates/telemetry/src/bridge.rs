//! The Prometheus pull bridge: `GET /metrics` over HTTP/1.1 on the telemetry runtime.
//!
//! Serves what opentelemetry-prometheus collects as `text/plain; version=0.0.4;
//! charset=utf-8` (Prometheus 3 refuses other types), gzip when the client accepts it,
//! optional bearer or basic authentication (the scheme matched case-insensitively, the
//! credentials' SHA-256 digests compared in constant time), and limits on connections,
//! request-head size and the time a client may take to send its head.

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{Encoder, TextEncoder};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::config::{BridgeAuth, PrometheusConfig};
use crate::definition::MetricInfo;
use crate::health::Health;
use crate::self_telemetry::ScrapeOutcome;

/// The content type Prometheus expects for the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Longest a connection may stay open; keeps idle keep-alive connections from holding slots.
const MAX_CONNECTION_AGE: Duration = Duration::from_secs(60);

/// Longest a connection waits for a free slot before it is closed.
const MAX_SLOT_WAIT: Duration = Duration::from_secs(10);

/// Where a scrape's metrics come from.
pub(crate) struct Sources {
    /// What opentelemetry-prometheus collects.
    pub(crate) registry: prometheus::Registry,
    /// Histograms without attributes, served at zero until the SDK exports them (it exports
    /// an attribute-less series only once something was recorded into it).
    pub(crate) plain_histograms: crate::client::PlainHistograms,
}

/// What each request needs.
struct Shared {
    sources: Arc<Sources>,
    credentials: Option<Credentials>,
    health: Arc<Health>,
}

/// A running bridge; stops when dropped or at [`BridgeHandle::stop`].
#[derive(Debug)]
pub(crate) struct BridgeHandle {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl BridgeHandle {
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for BridgeHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts serving `registry` on an already-bound listener.
pub(crate) fn serve(
    listener: std::net::TcpListener,
    config: &PrometheusConfig,
    sources: Sources,
    health: Arc<Health>,
    runtime: &tokio::runtime::Handle,
) -> std::io::Result<BridgeHandle> {
    let local_addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let listener = {
        let _guard = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let shared = Arc::new(Shared {
        sources: Arc::new(sources),
        credentials: config.auth.as_ref().map(Credentials::new),
        health,
    });
    let (stop, stopped) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(config.max_header_bytes);
    runtime.spawn(accept_loop(listener, http, slots, shared, stopped));
    tracing::info!(%local_addr, "Prometheus bridge serving /metrics");
    if config.auth.is_none() && !local_addr.ip().is_loopback() {
        tracing::warn!(
            %local_addr,
            "the Prometheus bridge serves /metrics without authentication beyond this host: set TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE (or bind 127.0.0.1) unless the network is trusted"
        );
    }
    Ok(BridgeHandle { local_addr, stop })
}

async fn accept_loop(
    listener: TcpListener,
    http: hyper::server::conn::http1::Builder,
    slots: Arc<Semaphore>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    // Connections beyond the served ones wait for a slot (bounded in number and time):
    // a burst of scrapes queues instead of failing; a flood is closed.
    let waiting = Arc::new(Semaphore::new(slots.available_permits() * 4));
    let wait_limit = MAX_SLOT_WAIT;
    loop {
        let (stream, peer) = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "Prometheus bridge accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(queued) = waiting.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "Prometheus bridge: too many connections waiting; closing");
            continue; // dropping the stream closes it
        };
        let (slots, shared, http, mut stopped) =
            (slots.clone(), shared.clone(), http.clone(), stopped.clone());
        tokio::spawn(async move {
            let Ok(Ok(permit)) = tokio::time::timeout(wait_limit, slots.acquire_owned()).await
            else {
                tracing::debug!(%peer, "Prometheus bridge: no connection slot in time; closing");
                return;
            };
            drop(queued);
            let connection = http.serve_connection(
                TokioIo::new(stream),
                hyper::service::service_fn(move |request| handle(shared.clone(), request)),
            );
            tokio::select! {
                _ = connection => {}
                _ = tokio::time::sleep(MAX_CONNECTION_AGE) => {}
                _ = stopped.changed() => {}
            }
            drop(permit);
        });
    }
}

/// What a client must present in `Authorization`: the scheme, and the SHA-256 digest of
/// the credentials that follow it. Comparing digests of equal length in constant time
/// reveals neither the credentials nor their length.
struct Credentials {
    scheme: &'static str,
    digest: [u8; 32],
}

impl Credentials {
    fn new(auth: &BridgeAuth) -> Self {
        let (scheme, credentials) = match auth {
            BridgeAuth::Bearer(token) => ("Bearer", token.clone()),
            BridgeAuth::Basic { user, password } => (
                "Basic",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
            ),
        };
        Self {
            scheme,
            digest: Sha256::digest(credentials.as_bytes()).into(),
        }
    }

    /// Whether the `Authorization` header value `given` grants access: `<scheme> <credentials>`
    /// with the scheme in any case (RFC 7235) and one or more spaces after it.
    fn admit(&self, given: &[u8]) -> bool {
        let (scheme, credentials) = match given.iter().position(|&b| b == b' ') {
            Some(space) => (&given[..space], given[space..].trim_ascii_start()),
            None => (given, &[][..]),
        };
        let digest: [u8; 32] = Sha256::digest(credentials).into();
        // The scheme is public; the digests are compared whatever it is.
        let credentials_match = bool::from(digest.ct_eq(&self.digest));
        scheme.eq_ignore_ascii_case(self.scheme.as_bytes()) && credentials_match
    }
}

/// Whether the bridge configured with `auth` admits a request whose `Authorization` header
/// is `header`: what the bridge decides, exposed for the fuzz target.
#[doc(hidden)]
pub fn admits(auth: &BridgeAuth, header: &[u8]) -> bool {
    Credentials::new(auth).admit(header)
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let started = Instant::now();
    if request.uri().path() != "/metrics" {
        shared.health.scrape_served(ScrapeOutcome::NotFound, None);
        return Ok(plain(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        ));
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        shared
            .health
            .scrape_served(ScrapeOutcome::MethodNotAllowed, None);
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    if let Some(credentials) = &shared.credentials {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !credentials.admit(given) {
            shared
                .health
                .scrape_served(ScrapeOutcome::Unauthorized, None);
            let mut response = plain(StatusCode::UNAUTHORIZED, "unauthorized\n");
            let challenge = format!("{} realm=\"metrics\"", credentials.scheme);
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
            return Ok(response);
        }
    }
    let gzip = accepts_gzip(request.headers());
    let head_only = request.method() == Method::HEAD;
    let sources = shared.sources.clone();
    // Collection runs every observable callback and encoding is CPU work: keep both off
    // the runtime's worker.
    let encoded = tokio::task::spawn_blocking(move || encode(&sources, gzip)).await;
    let (outcome, response) = match encoded {
        Ok(Ok(body)) => {
            let mut response = Response::new(Full::new(if head_only {
                Bytes::new()
            } else {
                body.into()
            }));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            if gzip {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            (ScrapeOutcome::Ok, response)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "Prometheus bridge could not encode metrics");
            (
                ScrapeOutcome::Error,
                plain(StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n"),
            )
        }
        Err(error) => {
            tracing::warn!(%error, "Prometheus bridge collection task failed");
            (
                ScrapeOutcome::Error,
                plain(StatusCode::INTERNAL_SERVER_ERROR, "collection failed\n"),
            )
        }
    };
    shared
        .health
        .scrape_served(outcome, Some(started.elapsed()));
    Ok(response)
}

/// Gathers and encodes the metrics, gzipped when asked.
fn encode(
    sources: &Sources,
    gzip: bool,
) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let mut families = sources.registry.gather();
    let plain = sources
        .plain_histograms
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    for info in plain {
        let name = info.prometheus_name();
        if let Err(at) = families.binary_search_by(|f| f.name().cmp(&name)) {
            families.insert(at, empty_histogram(info, name));
        }
    }
    let mut text = Vec::with_capacity(64 * 1024);
    TextEncoder::new().encode(&families, &mut text)?;
    if !gzip {
        return Ok(text);
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(&text)?;
    Ok(encoder.finish()?)
}

/// The family of histogram `info` before its first observation: every bucket, the sum and
/// the count at zero, as the SDK exports it after the first one (less that observation).
fn empty_histogram(info: &MetricInfo, name: String) -> prometheus::proto::MetricFamily {
    use prometheus::proto::{Bucket, Histogram, Metric, MetricFamily, MetricType};
    let mut histogram = Histogram::default();
    histogram.set_bucket(
        info.buckets
            .unwrap_or_default()
            .iter()
            .map(|bound| {
                let mut bucket = Bucket::default();
                bucket.set_upper_bound(*bound);
                bucket
            })
            .collect(),
    );
    let mut metric = Metric::default();
    metric.set_histogram(histogram);
    let mut family = MetricFamily::default();
    family.set_name(name);
    family.set_help(info.description.to_owned());
    family.set_field_type(MetricType::HISTOGRAM);
    family.mut_metric().push(metric);
    family
}

/// Whether `Accept-Encoding` lists gzip with a non-zero quality.
fn accepts_gzip(headers: &hyper::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|value| {
            value.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let coding = parts.next().unwrap_or_default();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.trim().parse::<f32>().ok())
                        == Some(0.0)
                });
                (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
            })
        })
}

fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        let cases = [
            ("gzip", true),
            ("deflate, gzip;q=0.5", true),
            ("gzip;q=0", false),
            ("gzip;q=0.0", false),
            ("identity", false),
            ("*", true),
            ("br", false),
        ];
        for (value, expected) in cases {
            let mut headers = hyper::HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            assert_eq!(accepts_gzip(&headers), expected, "{value}");
        }
        assert!(!accepts_gzip(&hyper::HeaderMap::new()));
    }
}
