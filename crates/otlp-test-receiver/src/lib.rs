//! Real OTLP receivers for tests: gRPC (tonic) and HTTP/protobuf (hyper), plain or TLS,
//! speaking the official protobufs from `opentelemetry-proto`, and helpers that read what
//! arrived. Used by this workspace's tests and
//! usable in a node's own. The constructors panic when they cannot bind a loopback port or
//! parse the given certificate: they are for tests.

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
pub use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
pub use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::number_data_point;
pub use opentelemetry_proto::tonic::metrics::v1::{metric, AggregationTemporality, Metric};
pub use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// One request and its headers.
type Delivery<R> = (R, Vec<(String, String)>);

/// What a receiver got for one signal: each request, with its headers (or, for a sink,
/// only how many).
#[derive(Clone)]
pub struct Received<R = ExportMetricsServiceRequest> {
    inner: Arc<Mutex<Vec<Delivery<R>>>>,
    discarded: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl<R> Default for Received<R> {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            discarded: None,
        }
    }
}

impl<R: Clone> Received<R> {
    /// A store that counts requests and keeps none (for benchmarks).
    fn sink() -> Self {
        Self {
            inner: Arc::default(),
            discarded: Some(Arc::default()),
        }
    }

    fn push(&self, request: R, headers: Vec<(String, String)>) {
        if let Some(count) = &self.discarded {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((request, headers));
    }

    /// Requests received.
    pub fn count(&self) -> usize {
        if let Some(count) = &self.discarded {
            return count.load(std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The latest request.
    pub fn last_request(&self) -> Option<R> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .map(|(r, _)| r.clone())
    }

    /// The latest request's headers.
    pub fn last_headers(&self) -> Vec<(String, String)> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .map(|(_, h)| h.clone())
            .unwrap_or_default()
    }

    /// Every request, oldest first.
    pub fn requests(&self) -> Vec<R> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Waits (bounded) until `n` requests arrived.
    pub fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count() >= n
    }
}

struct GrpcReceiver<R>(Received<R>);

impl<R: Clone> GrpcReceiver<R> {
    fn store(&self, request: tonic::Request<R>) {
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        self.0.push(request.into_inner(), headers);
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcReceiver<ExportMetricsServiceRequest> {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.store(request);
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver<ExportTraceServiceRequest> {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.store(request);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

#[tonic::async_trait]
impl LogsService for GrpcReceiver<ExportLogsServiceRequest> {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        self.store(request);
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// What a receiver got, per signal.
#[derive(Clone, Default)]
struct Stores {
    metrics: Received,
    spans: Received<ExportTraceServiceRequest>,
    logs: Received<ExportLogsServiceRequest>,
}

/// A running receiver of all three signals; stops when dropped.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The metrics it got.
    pub received: Received,
    /// The spans it got.
    pub spans: Received<ExportTraceServiceRequest>,
    /// The log records it got.
    pub logs: Received<ExportLogsServiceRequest>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Receiver {
    fn new(addr: SocketAddr, stores: Stores, runtime: tokio::runtime::Runtime) -> Self {
        Self {
            addr,
            received: stores.metrics,
            spans: stores.spans,
            logs: stores.logs,
            runtime: Some(runtime),
        }
    }

    /// Every span received so far.
    pub fn all_spans(&self) -> Vec<Span> {
        self.spans
            .requests()
            .into_iter()
            .flat_map(|r| r.resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    /// Every log record received so far, with its scope's name (the `tracing` target).
    pub fn logs_by_scope(&self) -> Vec<(String, LogRecord)> {
        self.logs
            .requests()
            .into_iter()
            .flat_map(|r| r.resource_logs)
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| {
                let scope = s.scope.map(|s| s.name).unwrap_or_default();
                s.log_records.into_iter().map(move |l| (scope.clone(), l))
            })
            .collect()
    }

    /// Every log record received so far.
    pub fn all_logs(&self) -> Vec<LogRecord> {
        self.logs
            .requests()
            .into_iter()
            .flat_map(|r| r.resource_logs)
            .flat_map(|r| r.scope_logs)
            .flat_map(|s| s.log_records)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test receiver setup")
}

/// An OTLP/gRPC receiver of metrics, spans and logs on `addr` (use port 0 for a free one).
pub fn grpc_receiver_on(addr: SocketAddr) -> Receiver {
    grpc_receiver_with(addr, Stores::default())
}

/// An OTLP/gRPC receiver on a free loopback port that only counts what it receives: for
/// benchmarks, whose exports would otherwise fill memory.
pub fn grpc_sink() -> Receiver {
    grpc_receiver_with(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Stores {
            metrics: Received::sink(),
            spans: Received::sink(),
            logs: Received::sink(),
        },
    )
}

fn grpc_receiver_with(addr: SocketAddr, stores: Stores) -> Receiver {
    let runtime = runtime();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .expect("test receiver setup");
    let addr = listener.local_addr().expect("receiver address");
    let gzip = tonic::codec::CompressionEncoding::Gzip;
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(
                MetricsServiceServer::new(GrpcReceiver(stores.metrics.clone()))
                    .accept_compressed(gzip),
            )
            .add_service(
                TraceServiceServer::new(GrpcReceiver(stores.spans.clone())).accept_compressed(gzip),
            )
            .add_service(
                LogsServiceServer::new(GrpcReceiver(stores.logs.clone())).accept_compressed(gzip),
            )
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Receiver::new(addr, stores, runtime)
}

/// An OTLP/gRPC receiver on a free loopback port.
pub fn grpc_receiver() -> Receiver {
    grpc_receiver_on(SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// An OTLP/gRPC receiver serving TLS with `certificate` (PEM certificate, PEM key).
pub fn grpc_tls_receiver(certificate: &(String, String)) -> Receiver {
    let runtime = runtime();
    let stores = Stores::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("test receiver setup");
    let addr = listener.local_addr().expect("receiver address");
    let identity = tonic::transport::Identity::from_pem(&certificate.0, &certificate.1);
    let server = tonic::transport::Server::builder()
        .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
        .expect("test receiver setup")
        .add_service(MetricsServiceServer::new(GrpcReceiver(
            stores.metrics.clone(),
        )))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    runtime.spawn(server);
    Receiver::new(addr, stores, runtime)
}

/// An OTLP/HTTP (protobuf) receiver answering `POST /v1/metrics`, `/v1/traces` and
/// `/v1/logs`; gzip bodies accepted.
pub fn http_receiver() -> Receiver {
    http_receiver_with(None)
}

/// The same over TLS with `certificate` (PEM certificate, PEM key).
pub fn http_tls_receiver(certificate: &(String, String)) -> Receiver {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs =
        vec![CertificateDer::from_pem_slice(certificate.0.as_bytes()).expect("PEM certificate")];
    let key = PrivateKeyDer::from_pem_slice(certificate.1.as_bytes()).expect("PEM private key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("test receiver setup")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("test receiver setup");
    http_receiver_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

fn http_receiver_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
    let runtime = runtime();
    let stores = Stores::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("test receiver setup");
    let addr = listener.local_addr().expect("receiver address");
    let store = stores.clone();
    runtime.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_otlp_http(stream, store).await,
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_otlp_http(stream, store).await
                        }
                    }
                }
            });
        }
    });
    Receiver::new(addr, stores, runtime)
}

async fn serve_otlp_http<I>(io: I, store: Stores)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let store = store.clone();
            async move { Ok::<_, Infallible>(answer_otlp_http(request, &store).await) }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

/// Answers one OTLP/HTTP request by its signal's path; 404 off the three paths.
async fn answer_otlp_http(
    request: hyper::Request<hyper::body::Incoming>,
    store: &Stores,
) -> hyper::Response<Full<Bytes>> {
    match request.uri().path() {
        "/v1/metrics" => {
            decode_otlp_http(
                request,
                &store.metrics,
                ExportMetricsServiceResponse::default(),
            )
            .await
        }
        "/v1/traces" => {
            decode_otlp_http(request, &store.spans, ExportTraceServiceResponse::default()).await
        }
        "/v1/logs" => {
            decode_otlp_http(request, &store.logs, ExportLogsServiceResponse::default()).await
        }
        _ => http_status(404),
    }
}

fn http_status(code: u16) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() =
        hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    response
}

/// Decodes one OTLP/HTTP request into `store`: 400 for a body that is not an (optionally
/// gzipped) `R`; `reply` is the answer.
async fn decode_otlp_http<R: Message + Default + Clone>(
    request: hyper::Request<hyper::body::Incoming>,
    store: &Received<R>,
    reply: impl Message,
) -> hyper::Response<Full<Bytes>> {
    let status = http_status;
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let gzip = request
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v == "gzip");
    let Ok(body) = request.into_body().collect().await.map(|b| b.to_bytes()) else {
        return status(400);
    };
    let body = if gzip {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .is_err()
        {
            return status(400);
        }
        Bytes::from(out)
    } else {
        body
    };
    let Ok(decoded) = R::decode(body) else {
        return status(400);
    };
    store.push(decoded, headers);
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply.encode_to_vec())));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-protobuf"),
    );
    response
}

/// Whether a `tracing` target belongs to a crate on an OTLP exporter's own path (the
/// transport and OpenTelemetry itself), whose records must never be exported: the tests'
/// own list, independent of the SDK's.
pub fn from_export_path(target: &str) -> bool {
    [
        "h2",
        "hyper",
        "tonic",
        "tower",
        "reqwest",
        "rustls",
        "opentelemetry",
        "tracing_opentelemetry",
    ]
    .iter()
    .any(|t| target.starts_with(t))
}

/// The value of attribute `key`, as text.
pub fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    string_attributes(attributes)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A log record's body, as text.
pub fn log_body(record: &LogRecord) -> String {
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// A trace or span id in lowercase hex, as `traceparent` writes it.
pub fn hex_id(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every metric with `name` in a request.
pub fn metrics_named<'a>(
    request: &'a ExportMetricsServiceRequest,
    name: &'a str,
) -> Vec<&'a Metric> {
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .filter(|m| m.name == name)
        .collect()
}

/// Attributes as sorted (key, value) strings.
pub fn string_attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    let mut out: Vec<_> = attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                Some(any_value::Value::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect();
    out.sort();
    out
}

fn matches(attributes: &[KeyValue], wanted: &[(&str, &str)]) -> bool {
    let mut wanted: Vec<(String, String)> = wanted
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    wanted.sort();
    string_attributes(attributes) == wanted
}

/// The value of a sum or gauge point with exactly `attributes` (as f64).
pub fn point_value(
    request: &ExportMetricsServiceRequest,
    name: &str,
    attributes: &[(&str, &str)],
) -> Option<f64> {
    metrics_named(request, name).into_iter().find_map(|m| {
        let points = match m.data.as_ref()? {
            metric::Data::Sum(s) => &s.data_points,
            metric::Data::Gauge(g) => &g.data_points,
            _ => return None,
        };
        points
            .iter()
            .find(|p| matches(&p.attributes, attributes))
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(i)) => i as f64,
                Some(number_data_point::Value::AsDouble(d)) => d,
                None => f64::NAN,
            })
    })
}

/// Resource attribute of the first resource in a request.
pub fn resource_attribute(request: &ExportMetricsServiceRequest, key: &str) -> Option<String> {
    let resource = request.resource_metrics.first()?.resource.as_ref()?;
    string_attributes(&resource.attributes)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Adds `line` to the test command's summary: the file named by `TELEMETRY_TEST_NOTES`
/// (`scripts/test.sh` sets it and prints it at the end; cargo hides a passing test's own
/// output). Printed to stderr as well.
pub fn note(line: &str) {
    eprintln!("{line}");
    if let Some(notes) = std::env::var_os("TELEMETRY_TEST_NOTES") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(notes)
        {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The real third-party tool whose path `scripts/install-tools.sh` exports in variable
/// `var` (PROMTOOL3, OTELCOL, ...), or `None` when it is not set: the calling test then
/// returns early, skipped, and says so in the test command's summary ([`note`]). Under
/// `CI` a missing tool fails the test instead.
pub fn tool(var: &str) -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(path.into());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{var} is not set: run scripts/test.sh, which installs the tools"
    );
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    note(&format!(
        "SKIPPED {test}: {var} not set (scripts/test.sh installs the tools)"
    ));
    None
}
