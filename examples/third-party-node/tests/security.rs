//! What a node gets from the SDK's security from outside its workspace: the bridge fails
//! closed on an empty token file, takes the token from the environment for an address set
//! in code (a `--metrics-addr` flag), matches the auth scheme in any case, and no secret
//! shows in `Debug`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};

use telemetry::{OtlpConfig, TelemetryClient};

/// A file holding `contents` under the system temp dir, unique to this test process.
fn secret_file(name: &str, contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("third-party-node-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// The environment holding only `TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE=path`.
fn token_file_env(path: &Path) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        (name == "TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE").then(|| path.display().to_string())
    }
}

/// The status of `GET /metrics` sending `authorization`, if any.
fn scrape_status(addr: SocketAddr, authorization: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    let header = authorization
        .map(|value| format!("Authorization: {value}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: t\r\n{header}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn an_empty_token_file_is_refused_naming_the_variable() {
    let empty = secret_file("empty-token", "\n");
    let error = TelemetryClient::builder("third-party-node")
        .with_env_from(token_file_env(&empty))
        .map(|builder| builder.prometheus("127.0.0.1:0".parse().unwrap()))
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "invalid TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE={:?}: the file is empty: write the \
             secret into it, or unset TELEMETRY_PROMETHEUS_BEARER_TOKEN_FILE",
            empty.display().to_string()
        )
    );
    std::fs::remove_file(empty).unwrap();
}

#[test]
fn the_token_from_the_environment_guards_a_bridge_set_in_code_in_any_scheme_case() {
    let token = secret_file("token", "n0de-t0ken\n");
    let client = TelemetryClient::builder("third-party-node")
        .with_env_from(token_file_env(&token))
        .unwrap()
        .prometheus("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let addr = client.prometheus_addr().unwrap();
    for (authorization, expected) in [
        (Some("bearer n0de-t0ken"), 200),
        (Some("Bearer n0de-t0ken"), 200),
        (Some("BEARER n0de-t0ken"), 200),
        (Some("Bearer n0de-t0ke"), 401),
        (Some("Bearer N0DE-T0KEN"), 401),
        (None, 401),
    ] {
        assert_eq!(
            scrape_status(addr, authorization),
            expected,
            "{authorization:?}"
        );
    }
    client.shutdown().unwrap();
    std::fs::remove_file(token).unwrap();
}

#[test]
fn debug_shows_no_secret() {
    let mut otlp = OtlpConfig::grpc("https://node:pa55word@collector:4317/?tenant_key=k3y");
    otlp.headers = vec![("authorization".into(), "Bearer t0psecret".into())];
    let shown = format!("{otlp:?}");
    for secret in ["pa55word", "k3y", "t0psecret"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("https://<redacted>@collector:4317/?<redacted>"),
        "{shown}"
    );
    assert!(shown.contains("authorization: <redacted>"), "{shown}");
}
