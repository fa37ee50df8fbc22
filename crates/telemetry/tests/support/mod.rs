//! Real OTLP receivers (gRPC with tonic, HTTP/protobuf with hyper) speaking the official
//! protobufs, and helpers to scrape and parse the Prometheus bridge.
#![allow(dead_code, unused_imports)] // each test binary uses part of the support module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub use otlp_test_receiver::*;

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

/// A loopback address nothing listens on (bound once to pick a free port, then released).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
