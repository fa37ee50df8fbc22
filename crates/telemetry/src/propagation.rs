//! [`TraceContext`]: a span's W3C trace context, carried across process boundaries (the
//! node's own protocols as a `traceparent` string, HTTP as headers) and used for span
//! links.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::head_sampling::HeadSamplingHandle;

/// The context of `span` when the head sampler knows its trace is not sampled (deciding a
/// pending root now); `None` when it is sampled, or without a head sampler.
fn head_unsampled(span: &tracing::Span) -> Option<SpanContext> {
    span.with_subscriber(|(id, dispatch)| {
        dispatch
            .downcast_ref::<HeadSamplingHandle>()
            .and_then(|head| head.unsampled(dispatch, id))
    })
    .flatten()
}

/// Whether `span` is known to be in an unsampled trace, without deciding anything.
fn marked_unsampled(span: &tracing::Span) -> bool {
    span.with_subscriber(|(id, dispatch)| {
        dispatch
            .downcast_ref::<HeadSamplingHandle>()
            .is_some_and(|head| head.marked_unsampled(dispatch, id))
    })
    .unwrap_or(false)
}

/// The W3C trace context (`traceparent`, `tracestate`) of a span.
///
/// Taken from a local span with [`TraceContext::of`], or from the wire with
/// [`TraceContext::from_traceparent`] / [`TraceContext::from_http`]; given to a new span as
/// its parent ([`TraceContext::set_as_parent_of`]) or as a link
/// ([`TraceContext::link_from`]). The context of a span whose trace is not sampled carries
/// that decision: its `traceparent` ends in flags `00`, so the next service does not sample
/// the trace again. Without [`TelemetryClient::tracing_layer`] installed it is empty:
/// [`TraceContext::traceparent`] is `None` and the other calls do nothing.
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
    /// The context of `span`. Starts the span's OpenTelemetry side (and takes the head
    /// sampling decision of a root): set its parent first. Not sampled, it still carries
    /// the trace id and a span id, with flags `00`.
    pub fn of(span: &tracing::Span) -> Self {
        let context = match head_unsampled(span) {
            Some(unsampled) => opentelemetry::Context::new().with_remote_span_context(unsampled),
            None => span.context(),
        };
        Self { context }
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

    /// The trace id of a sampled trace, 32 lowercase hex digits (what trace stores search
    /// by); `None` when there is no trace or it is not sampled (the store has nothing).
    pub fn trace_id(&self) -> Option<String> {
        let span = self.context.span();
        let context = span.span_context();
        (context.is_valid() && context.is_sampled()).then(|| context.trace_id().to_string())
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
    /// otherwise started) yet; returns whether it took effect. Its sampled flag decides
    /// whether `span`'s trace is sampled (as `OpenTelemetrySpanExt::set_parent` does).
    pub fn set_as_parent_of(&self, span: &tracing::Span) -> bool {
        // A span in an unsampled local trace has no OpenTelemetry side to take a parent.
        self.is_valid() && !marked_unsampled(span) && span.set_parent(self.context.clone()).is_ok()
    }

    /// Adds a link from `span` to this context (an OpenTelemetry span link: "`span` was
    /// caused by, or works on, what this context traced").
    pub fn link_from(&self, span: &tracing::Span) {
        if self.is_valid() {
            span.add_link(self.context.span().span_context().clone());
        }
    }
}
