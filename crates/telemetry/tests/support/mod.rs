//! Real OTLP receivers (gRPC with tonic, HTTP/protobuf with hyper) speaking the official
//! protobufs, and helpers to scrape and parse the Prometheus bridge.
#![allow(dead_code)] // each test binary uses part of the support module

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use prost::Message;

/// One request and its headers.
type Delivery = (ExportMetricsServiceRequest, Vec<(String, String)>);

/// What a receiver got: each request, with its headers.
#[derive(Clone, Default)]
pub struct Received {
    inner: Arc<Mutex<Vec<Delivery>>>,
}

impl Received {
    fn push(&self, request: ExportMetricsServiceRequest, headers: Vec<(String, String)>) {
        self.inner.lock().unwrap().push((request, headers));
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().len()
    }

    pub fn last_request(&self) -> Option<ExportMetricsServiceRequest> {
        self.inner.lock().unwrap().last().map(|(r, _)| r.clone())
    }

    pub fn last_headers(&self) -> Vec<(String, String)> {
        self.inner
            .lock()
            .unwrap()
            .last()
            .map(|(_, h)| h.clone())
            .unwrap_or_default()
    }

    /// Every request, oldest first.
    pub fn requests(&self) -> Vec<ExportMetricsServiceRequest> {
        self.inner
            .lock()
            .unwrap()
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

struct GrpcReceiver(Received);

#[tonic::async_trait]
impl MetricsService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let headers = request
            .metadata()
            .clone()
            .into_headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        self.0.push(request.into_inner(), headers);
        Ok(tonic::Response::new(ExportMetricsServiceResponse {
            partial_success: None,
        }))
    }
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Received,
    runtime: Option<tokio::runtime::Runtime>,
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
        .unwrap()
}

/// An OTLP/gRPC receiver on `addr` (use port 0 for a free one).
pub fn grpc_receiver_on(addr: SocketAddr) -> Receiver {
    let runtime = runtime();
    let received = Received::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let service = MetricsServiceServer::new(GrpcReceiver(received.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    Receiver {
        addr,
        received,
        runtime: Some(runtime),
    }
}

pub fn grpc_receiver() -> Receiver {
    grpc_receiver_on("127.0.0.1:0".parse().unwrap())
}

/// A private CA and a server certificate it issued for 127.0.0.1:
/// (CA certificate PEM, server certificate PEM, server key PEM).
pub struct TestCertificates {
    pub ca: String,
    pub server: (String, String),
}

pub fn test_certificates() -> TestCertificates {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "telemetry test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut server_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    // A subject distinct from the CA's, or verifiers take the leaf for a self-signed root.
    server_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "telemetry test receiver");
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    TestCertificates {
        ca: ca.pem(),
        server: (server.pem(), server_key.serialize_pem()),
    }
}

/// An OTLP/gRPC receiver serving TLS with `certificate`.
pub fn grpc_tls_receiver(certificate: &(String, String)) -> Receiver {
    let runtime = runtime();
    let received = Received::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let identity = tonic::transport::Identity::from_pem(&certificate.0, &certificate.1);
    let server = tonic::transport::Server::builder()
        .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
        .unwrap()
        .add_service(MetricsServiceServer::new(GrpcReceiver(received.clone())))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    runtime.spawn(server);
    Receiver {
        addr,
        received,
        runtime: Some(runtime),
    }
}

/// An OTLP/HTTP (protobuf) receiver answering `POST /v1/metrics`; gzip bodies accepted.
pub fn http_receiver() -> Receiver {
    http_receiver_with(None)
}

/// The same over TLS with `certificate`.
pub fn http_tls_receiver(certificate: &(String, String)) -> Receiver {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(certificate.0.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(certificate.1.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    http_receiver_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

fn http_receiver_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
    let runtime = runtime();
    let received = Received::default();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let store = received.clone();
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
    Receiver {
        addr,
        received,
        runtime: Some(runtime),
    }
}

async fn serve_otlp_http<I>(io: I, store: Received)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let store = store.clone();
            async move {
                let headers: Vec<(String, String)> = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let path = request.uri().path().to_owned();
                let gzip = request
                    .headers()
                    .get("content-encoding")
                    .is_some_and(|v| v == "gzip");
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let body = if gzip {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_end(&mut out)
                        .unwrap();
                    Bytes::from(out)
                } else {
                    body
                };
                let response = if path != "/v1/metrics" {
                    hyper::Response::builder()
                        .status(404)
                        .body(Full::new(Bytes::new()))
                        .unwrap()
                } else {
                    store.push(ExportMetricsServiceRequest::decode(body).unwrap(), headers);
                    let reply = ExportMetricsServiceResponse {
                        partial_success: None,
                    }
                    .encode_to_vec();
                    hyper::Response::builder()
                        .header("content-type", "application/x-protobuf")
                        .body(Full::new(Bytes::from(reply)))
                        .unwrap()
                };
                Ok::<_, Infallible>(response)
            }
        });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
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

/// A raw HTTP/1.1 request to the bridge; returns (status, headers, body).
pub fn http_get(addr: SocketAddr, request_head: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request_head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

/// `GET /metrics` and the body as text.
pub fn scrape(addr: SocketAddr) -> String {
    let (status, _, body) = http_get(
        addr,
        "GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    String::from_utf8(body).unwrap()
}

/// A sample's value in parsed exposition text.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    scrape.samples.iter().find_map(|s| {
        if s.metric != name {
            return None;
        }
        if !labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)) {
            return None;
        }
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        }
    })
}
