//! [`TraceContext`]: a span's W3C trace context, carried across process boundaries (the
//! node's own protocols as a `traceparent` string, HTTP as headers) and used for span
//! links.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::head_sampling::HeadSamplingHandle;

/// Whether `span`'s trace is sampled as far as the head sampler knows (deciding a pending
/// root now); true without a head sampler.
fn head_sampled(span: &tracing::Span) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        dispatch
            .downcast_ref::<HeadSamplingHandle>()
            .is_none_or(|head| head.sampled(dispatch, id))
    })
    .unwrap_or(true)
}

/// The W3C trace context (`traceparent`, `tracestate`) of a span.
///
/// Taken from a local span with [`TraceContext::of`], or from the wire with
/// [`TraceContext::from_traceparent`] / [`TraceContext::from_http`]; given to a new span as
/// its parent ([`TraceContext::set_as_parent_of`]) or as a link
/// ([`TraceContext::link_from`]). Without [`TelemetryClient::tracing_layer`] installed
/// (or with the span not sampled) it is empty: [`TraceContext::traceparent`] is `None`
/// and the other calls do nothing.
///
/// ```
/// use telemetry::TraceContext;
///
/// // The sender writes the traceparent of its span into the message ...
/// let sent = TraceContext::of(&tracing::Span::current()).traceparent();
/// // ... the receiver makes it the parent of its span, before entering it.
/// let span = tracing::info_span!("gossip.receive");
/// if let Some(parent) = sent.as_deref().and_then(TraceContext::from_traceparent) {
///     parent.set_as_parent_of(&span);
/// }
/// let _entered = span.entered();
/// ```
///
/// [`TelemetryClient::tracing_layer`]: crate::TelemetryClient::tracing_layer
#[derive(Debug, Clone)]
pub struct TraceContext {
    context: opentelemetry::Context,
}

impl TraceContext {
    /// The context of `span`. Starts the span's OpenTelemetry side: set its parent first.
    /// Empty when the span's trace is not sampled.
    pub fn of(span: &tracing::Span) -> Self {
        if !head_sampled(span) {
            return Self {
                context: opentelemetry::Context::new(),
            };
        }
        Self {
            context: span.context(),
        }
    }

    /// Parses a `traceparent` value; `None` when it is not a valid W3C trace context.
    pub fn from_traceparent(traceparent: &str) -> Option<Self> {
        let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
        Self::extracted(TraceContextPropagator::new().extract(&carrier))
    }

    /// The context HTTP `headers` carry (`traceparent`, `tracestate`), if valid.
    pub fn from_http(headers: &http::HeaderMap) -> Option<Self> {
        Self::extracted(
            TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers)),
        )
    }

    fn extracted(context: opentelemetry::Context) -> Option<Self> {
        context
            .span()
            .span_context()
            .is_valid()
            .then_some(Self { context })
    }

    /// Whether there is a trace to continue or link to.
    pub fn is_valid(&self) -> bool {
        self.context.span().span_context().is_valid()
    }

    /// The trace id, 32 lowercase hex digits (what trace stores search by).
    pub fn trace_id(&self) -> Option<String> {
        self.is_valid()
            .then(|| self.context.span().span_context().trace_id().to_string())
    }

    /// The `traceparent` value for a message of the node's own protocol.
    pub fn traceparent(&self) -> Option<String> {
        let mut carrier = HashMap::new();
        TraceContextPropagator::new().inject_context(&self.context, &mut carrier);
        carrier.remove("traceparent")
    }

    /// Writes `traceparent` (and `tracestate`) into outgoing HTTP `headers`.
    pub fn inject_http(&self, headers: &mut http::HeaderMap) {
        TraceContextPropagator::new().inject_context(
            &self.context,
            &mut opentelemetry_http::HeaderInjector(headers),
        );
    }

    /// Makes this context the parent of `span`, which must not have been entered (or
    /// otherwise started) yet; returns whether it took effect.
    pub fn set_as_parent_of(&self, span: &tracing::Span) -> bool {
        if !self.is_valid() {
            return false;
        }
        // A head sampler follows the remote parent's decision.
        let sampled = self.context.span().span_context().is_sampled();
        span.with_subscriber(|(id, dispatch)| {
            if let Some(head) = dispatch.downcast_ref::<HeadSamplingHandle>() {
                head.remote_parent(dispatch, id, sampled);
            }
        });
        head_sampled(span) && span.set_parent(self.context.clone()).is_ok()
    }

    /// Adds a link from `span` to this context (an OpenTelemetry span link: "`span` was
    /// caused by, or works on, what this context traced").
    pub fn link_from(&self, span: &tracing::Span) {
        if self.is_valid() && head_sampled(span) {
            span.add_link(self.context.span().span_context().clone());
        }
    }
}
