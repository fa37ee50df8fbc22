//! The RPC component: an HTTP JSON API.
//!
//! | method | path | body / answer |
//! |---|---|---|
//! | `POST` | `/tx` | a [`Transaction`] as JSON → `{"id": hex, "trace_id": hex}` (no `trace_id` when the request was not sampled), or `{"error": ...}` with 400 (malformed), 413 (too large) or 422 (rejected by the mempool) |
//! | `GET` | `/status` | `{"height", "mempool_size", "peers", "included"}` |
//! | `GET` | `/height` | `{"height"}` |

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use telemetry::{Counter, Histogram, Metrics, TraceContext, UpDownCounter};
use tracing::Instrument;

use crate::mempool::{Mempool, Origin};
use crate::p2p::P2p;
use crate::sequencer::Sequencer;
use crate::tx::Transaction;

/// Largest request body accepted, bytes.
pub const MAX_BODY: usize = 64 * 1024;

telemetry::attribute_enum! {
    /// Which RPC method a request called.
    pub enum RpcMethod: "rpc.method" {
        /// Submit a transaction.
        SubmitTransaction => "submit_transaction",
        /// Read node status.
        GetStatus => "get_status",
        /// Read the chain height.
        GetHeight => "get_height",
        /// A path the API does not serve.
        Unknown => "unknown",
    }
}

telemetry::attribute_enum! {
    /// HTTP status class of a response.
    pub enum StatusClass: "http.response.status_class" {
        /// 2xx.
        Success => "2xx",
        /// 4xx.
        ClientError => "4xx",
        /// 5xx.
        ServerError => "5xx",
    }
}

telemetry::attribute_enum! {
    /// Why a request failed.
    pub enum RpcErrorKind: "rpc.error.kind" {
        /// The body was not a valid request.
        Malformed => "malformed",
        /// The mempool refused the transaction.
        Rejected => "rejected",
        /// The body exceeded the size limit.
        TooLarge => "too_large",
        /// No such method.
        NotFound => "not_found",
        /// The node failed internally.
        Internal => "internal",
    }
}

/// RPC instrumentation.
#[derive(Metrics)]
#[metrics(prefix = "node.rpc")]
pub struct RpcMetrics {
    /// RPC requests answered, by method and status class.
    #[metric(unit = "{request}")]
    requests: Counter<u64, (RpcMethod, StatusClass)>,
    /// RPC requests that failed, by method and error kind.
    #[metric(unit = "{request}")]
    errors: Counter<u64, (RpcMethod, RpcErrorKind)>,
    /// Time to answer one RPC request.
    #[metric(name = "request.duration", unit = "s")]
    duration: Histogram<f64, (RpcMethod,)>,
    /// RPC requests being processed.
    #[metric(unit = "{request}")]
    in_flight: UpDownCounter<i64, ()>,
}

impl RpcMetrics {
    fn answered(
        &self,
        method: RpcMethod,
        status: StatusCode,
        error: Option<RpcErrorKind>,
        started: Instant,
    ) {
        let class = match status.as_u16() {
            500.. => StatusClass::ServerError,
            400.. => StatusClass::ClientError,
            _ => StatusClass::Success,
        };
        self.requests.add(1, (method, class));
        if let Some(kind) = error {
            self.errors.add(1, (method, kind));
        }
        self.duration.record_since(started, (method,));
    }
}

/// What the handlers need.
#[derive(Clone)]
pub struct RpcState {
    /// The pool transactions go to.
    pub mempool: Arc<Mempool>,
    /// Gossip for accepted transactions.
    pub p2p: Arc<P2p>,
    /// For status.
    pub sequencer: Arc<Sequencer>,
    /// Instrumentation.
    pub metrics: Arc<RpcMetrics>,
}

/// The API router.
pub fn router(state: RpcState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route("/tx", post(submit_transaction))
        .route("/status", get(status))
        .route("/height", get(height))
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                RpcErrorKind::NotFound,
                "no such method",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(metrics, track))
        .with_state(state)
}

/// Records every request: method, status class, error kind, duration, in-flight; and
/// traces it as an HTTP server span, continuing the caller's trace (`traceparent`).
async fn track(State(metrics): State<Arc<RpcMetrics>>, request: Request, next: Next) -> Response {
    let (method, route) = match (request.method(), request.uri().path()) {
        (&Method::POST, "/tx") => (RpcMethod::SubmitTransaction, Some("/tx")),
        (&Method::GET, "/status") => (RpcMethod::GetStatus, Some("/status")),
        (&Method::GET, "/height") => (RpcMethod::GetHeight, Some("/height")),
        _ => (RpcMethod::Unknown, None),
    };
    let span = server_span(&request, route);
    let started = Instant::now();
    metrics.in_flight.add(1, ());
    let response = next.run(request).instrument(span.clone()).await;
    metrics.in_flight.add(-1, ());
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let kind = response
        .extensions()
        .get::<RpcErrorKind>()
        .copied()
        .or_else(|| match status.as_u16() {
            200..=399 => None,
            404 | 405 => Some(RpcErrorKind::NotFound),
            413 => Some(RpcErrorKind::TooLarge),
            400..=499 => Some(RpcErrorKind::Malformed),
            _ => Some(RpcErrorKind::Internal),
        });
    metrics.answered(method, status, kind, started);
    response
}

/// The HTTP server span of one request (semantic conventions: `{method} {route}`), its
/// parent the caller's `traceparent` when there is one.
fn server_span(request: &Request, route: Option<&'static str>) -> tracing::Span {
    let method = request.method().as_str();
    let span = tracing::info_span!(
        "rpc.request",
        otel.name = match route {
            Some(route) => format!("{method} {route}"),
            None => method.to_owned(),
        },
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        url.scheme = "http",
        http.response.status_code = tracing::field::Empty,
    );
    if let Some(parent) = TraceContext::from_http(request.headers()) {
        parent.set_as_parent_of(&span);
    }
    span
}

fn error(status: StatusCode, kind: RpcErrorKind, message: impl std::fmt::Display) -> Response {
    let mut response = (status, Json(json!({ "error": message.to_string() }))).into_response();
    response.extensions_mut().insert(kind);
    response
}

async fn submit_transaction(State(state): State<RpcState>, body: Bytes) -> Response {
    let tx: Transaction = match serde_json::from_slice(&body) {
        Ok(tx) => tx,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                RpcErrorKind::Malformed,
                format!("malformed transaction: {e}"),
            )
        }
    };
    let id = hex::encode(tx.id());
    match state.mempool.submit(tx.clone(), Origin::Rpc) {
        Ok(()) => {
            state.p2p.gossip_transaction(&tx);
            // The trace to look up in the trace store (absent when not sampled).
            match TraceContext::of(&tracing::Span::current()).trace_id() {
                Some(trace_id) => Json(json!({ "id": id, "trace_id": trace_id })),
                None => Json(json!({ "id": id })),
            }
            .into_response()
        }
        Err(rejection) => {
            tracing::debug!(%id, reason = %rejection, "transaction rejected");
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                RpcErrorKind::Rejected,
                rejection,
            )
        }
    }
}

async fn status(State(state): State<RpcState>) -> Json<serde_json::Value> {
    Json(json!({
        "height": state.sequencer.storage.height(),
        "mempool_size": state.mempool.pending(),
        "peers": state.p2p.peer_count(),
        "included": state.sequencer.included(),
    }))
}

async fn height(State(state): State<RpcState>) -> Json<serde_json::Value> {
    Json(json!({ "height": state.sequencer.storage.height() }))
}
