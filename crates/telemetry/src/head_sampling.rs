//! Head sampling in front of `tracing-opentelemetry`: a trace's fate is decided once, at
//! its root, and the spans of an unsampled trace never reach the OTel layer.
//!
//! `tracing-opentelemetry` builds every span's OpenTelemetry data (attributes, ids, the
//! sampler's call) whether or not the span is sampled: about 0.8 µs a span, most of the
//! layer's cost (docs/performance.md). With a `parentbased_*` sampler the decision is the
//! root's, so the work can stop there:
//!
//! - a root span goes to the OTel layer as a builder (nothing started), marked pending;
//! - the decision is taken at its first use: its first entry, its first child, its
//!   [`TraceContext`](crate::TraceContext), or its close. It is the SDK sampler's (the
//!   configured one): the root is started, with whatever parent was set on it until then
//!   (`OpenTelemetrySpanExt::set_parent` or
//!   [`TraceContext::set_as_parent_of`](crate::TraceContext::set_as_parent_of)), and its
//!   sampled flag is the trace's fate. A remote parent's flag wins, as in any parent-based
//!   sampler;
//! - an unsampled root stops there: the OTel layer sees no more of it, and its descendants
//!   cost one marker each. The marker keeps the trace id and a span id, so that the trace
//!   propagates its decision (`traceparent` flags `00`);
//! - a sampled root and its descendants go through as without head sampling.
//!
//! The decision needs the subscriber's [`Dispatch`]: the layer keeps the one it is
//! registered with, or finds itself in the thread's default. Where neither is at hand (a
//! layer wrapped in a `Vec`, which does not forward `on_register_dispatch`, at a child's
//! creation), the root goes through undecided: the SDK sampler decides it as without head
//! sampling, and only the saving is lost.

use std::any::TypeId;
use std::sync::OnceLock;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
use tracing::dispatcher::WeakDispatch;
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;

/// A root whose fate is not decided yet.
struct Pending;

/// A span whose trace is not sampled: the OTel layer does not see it. Its ids, for the
/// context it propagates.
#[derive(Clone, Copy)]
struct Unsampled {
    trace_id: TraceId,
    span_id: SpanId,
}

impl Unsampled {
    /// The span's context: its ids, not sampled.
    fn span_context(self) -> SpanContext {
        SpanContext::new(
            self.trace_id,
            self.span_id,
            TraceFlags::default(),
            false,
            TraceState::NONE,
        )
    }
}

/// What the propagation helpers reach through the dispatcher (`downcast_ref`): a span's
/// head decision.
pub(crate) struct HeadSamplingHandle {
    unsampled: fn(&Dispatch, &Id) -> Option<SpanContext>,
    marked: fn(&Dispatch, &Id) -> bool,
}

impl HeadSamplingHandle {
    /// The context of span `id` when its trace is not sampled (deciding it now if
    /// pending); `None` when it is sampled.
    pub(crate) fn unsampled(&self, dispatch: &Dispatch, id: &Id) -> Option<SpanContext> {
        (self.unsampled)(dispatch, id)
    }

    /// Whether span `id` is already known to be unsampled (deciding nothing).
    pub(crate) fn marked_unsampled(&self, dispatch: &Dispatch, id: &Id) -> bool {
        (self.marked)(dispatch, id)
    }
}

/// The OTel span layer `inner` behind a head-sampling decision, which is the SDK
/// sampler's at the root.
pub(crate) struct HeadSampled<L> {
    inner: L,
    /// The dispatcher this layer is registered with.
    dispatch: OnceLock<WeakDispatch>,
    handle: HeadSamplingHandle,
}

impl<L> HeadSampled<L> {
    pub(crate) fn new<S>(inner: L) -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        Self {
            inner,
            dispatch: OnceLock::new(),
            handle: HeadSamplingHandle {
                unsampled: unsampled_through::<S, L>,
                marked: marked_through::<S>,
            },
        }
    }

    /// The dispatcher this layer belongs to, if it can be found.
    fn dispatch<S>(&self) -> Option<Dispatch>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        if let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) {
            return Some(dispatch);
        }
        tracing::dispatcher::get_default(|dispatch| {
            dispatch
                .downcast_ref::<Self>()
                .is_some_and(|found| std::ptr::eq(found, self))
                .then(|| dispatch.clone())
        })
    }

    /// The ids of `span`'s trace when it is not sampled, `None` when it is; a pending root
    /// is decided now, by the SDK sampler, through `dispatch` (no lock on the span may be
    /// held). Without a dispatcher, the root goes through undecided.
    fn unsampled<S>(
        &self,
        span: &SpanRef<'_, S>,
        dispatch: impl FnOnce() -> Option<Dispatch>,
    ) -> Option<Unsampled>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        {
            // The common case, decided already: a read lock.
            let extensions = span.extensions();
            if let Some(unsampled) = extensions.get::<Unsampled>() {
                return Some(*unsampled);
            }
            extensions.get::<Pending>()?; // decided sampled, or in a sampled trace
        }
        // Starts the root's OpenTelemetry span: the SDK sampler decides, with the parent
        // set on the span so far. Its extensions must not be locked meanwhile.
        let decided = dispatch()
            .and_then(|dispatch| tracing_opentelemetry::get_otel_context(&span.id(), &dispatch))
            .map(|context| context.span().span_context().clone());
        let mut extensions = span.extensions_mut();
        if let Some(unsampled) = extensions.get_mut::<Unsampled>() {
            return Some(*unsampled); // decided meanwhile, on another thread
        }
        extensions.remove::<Pending>()?;
        let unsampled = decided
            .filter(|context| context.is_valid() && !context.is_sampled())
            .map(|context| Unsampled {
                trace_id: context.trace_id(),
                span_id: context.span_id(),
            })?;
        extensions.insert(unsampled);
        Some(unsampled)
    }

    /// Whether the OTel layer should see this span's callbacks (deciding it if pending).
    fn passes<S>(&self, id: &Id, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        ctx.span(id)
            .is_none_or(|span| self.unsampled(&span, || self.dispatch()).is_none())
    }
}

/// [`HeadSamplingHandle::unsampled`] for subscriber type `S`.
fn unsampled_through<S, L>(dispatch: &Dispatch, id: &Id) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    let layer = dispatch.downcast_ref::<HeadSampled<L>>()?;
    let span = dispatch.downcast_ref::<S>()?.span(id)?;
    layer
        .unsampled(&span, || Some(dispatch.clone()))
        .map(Unsampled::span_context)
}

/// [`HeadSamplingHandle::marked_unsampled`] for subscriber type `S`.
fn marked_through<S>(dispatch: &Dispatch, id: &Id) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    dispatch
        .downcast_ref::<S>()
        .and_then(|subscriber| subscriber.span(id))
        .is_some_and(|span| span.extensions().get::<Unsampled>().is_some())
}

impl<S, L> Layer<S> for HeadSampled<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let parent = if let Some(parent) = attrs.parent() {
            ctx.span(parent)
        } else if attrs.is_contextual() {
            ctx.lookup_current()
        } else {
            None
        };
        // A child's parent is decided now; `None`: a root.
        let parent = parent.map(|p| self.unsampled(&p, || self.dispatch()));
        if let Some(Some(parent)) = parent {
            // In an unsampled trace: a marker with the trace's id and its own span id.
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Unsampled {
                    span_id: RandomIdGenerator::default().new_span_id(),
                    ..parent
                });
            }
            return;
        }
        self.inner.on_new_span(attrs, id, ctx.clone());
        if parent.is_none() {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Pending);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let skip = ctx
            .span(id)
            .is_some_and(|span| span.extensions().get::<Unsampled>().is_some());
        if !skip {
            self.inner.on_record(id, values, ctx);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        if self.passes(id, &ctx) {
            self.inner.on_follows_from(id, follows, ctx);
        }
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.passes(id, &ctx) {
            self.inner.on_enter(id, ctx);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if self.passes(id, &ctx) {
            self.inner.on_exit(id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if self.passes(&id, &ctx) {
            self.inner.on_close(id, ctx);
        }
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<HeadSamplingHandle>() {
            Some(&self.handle as *const HeadSamplingHandle as *const ())
        } else {
            // SAFETY: forwarded to the inner layer, which upholds the contract.
            unsafe { self.inner.downcast_raw(id) }
        }
    }
}
