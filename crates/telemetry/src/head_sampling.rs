//! Head sampling in front of `tracing-opentelemetry`: a trace's fate is decided once, at
//! its root, and the spans of an unsampled trace never reach the OTel layer.
//!
//! `tracing-opentelemetry` builds every span's OpenTelemetry data (attributes, ids, the
//! sampler's call) whether or not the span is sampled: about 0.8 µs a span, most of the
//! layer's cost (docs/performance.md). With a `parentbased_*` sampler the decision is the
//! root's, so it can be taken before that work:
//!
//! - a root span goes to the OTel layer as a builder (nothing started), marked pending;
//! - the decision is taken at its first use: its first entry, its first child, its
//!   [`TraceContext`](crate::TraceContext), or its close. A remote parent given before that
//!   ([`TraceContext::set_as_parent_of`](crate::TraceContext::set_as_parent_of)) decides
//!   by its sampled flag; otherwise the ratio does;
//! - an unsampled root stops there: the OTel layer never starts it (its builder is dropped
//!   with the span), and its descendants cost one marker each;
//! - a sampled root and its descendants go through as without head sampling.

use std::any::TypeId;
use std::cell::Cell;

use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;

/// A root whose fate is not decided yet; the remote parent's sampled flag, if one was given.
struct Pending {
    remote: Option<bool>,
}

/// A span whose trace is not sampled: the OTel layer does not see it.
struct Unsampled;

/// What the propagation helpers reach through the dispatcher (`downcast_ref`): the
/// decision of a span, and a remote parent's flag.
pub(crate) struct HeadSamplingHandle {
    decide: fn(&Dispatch, &Id) -> bool,
    remote: fn(&Dispatch, &Id, bool),
}

impl HeadSamplingHandle {
    /// Whether the trace of span `id` is sampled (deciding it now if pending).
    pub(crate) fn sampled(&self, dispatch: &Dispatch, id: &Id) -> bool {
        (self.decide)(dispatch, id)
    }

    /// Records that span `id` continues a remote parent whose sampled flag is `sampled`.
    pub(crate) fn remote_parent(&self, dispatch: &Dispatch, id: &Id, sampled: bool) {
        (self.remote)(dispatch, id, sampled)
    }
}

/// The OTel span layer `inner` behind a head-sampling decision at `ratio` of the roots.
pub(crate) struct HeadSampled<L> {
    inner: L,
    ratio: f64,
    handle: HeadSamplingHandle,
}

impl<L> HeadSampled<L> {
    pub(crate) fn new<S>(inner: L, ratio: f64) -> Self
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        Self {
            inner,
            ratio,
            handle: HeadSamplingHandle {
                decide: decide_through::<S, L>,
                remote: remote_through::<S>,
            },
        }
    }

    /// Decides a pending span: its remote parent's flag, or the ratio.
    fn decide_span<S>(&self, span: &SpanRef<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        {
            // The common case, decided already: a read lock.
            let extensions = span.extensions();
            if extensions.get::<Unsampled>().is_some() {
                return false;
            }
            if extensions.get::<Pending>().is_none() {
                return true;
            }
        }
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<Unsampled>().is_some() {
            return false;
        }
        let Some(pending) = extensions.remove::<Pending>() else {
            return true; // decided sampled, or a descendant of a sampled root
        };
        let sampled = pending.remote.unwrap_or_else(|| random_unit() < self.ratio);
        if !sampled {
            extensions.insert(Unsampled);
        }
        sampled
    }

    /// Whether the OTel layer should see this span's callbacks (deciding it if pending).
    fn passes<S>(&self, id: &Id, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        ctx.span(id).is_none_or(|span| self.decide_span(&span))
    }
}

/// [`HeadSamplingHandle::sampled`] for subscriber type `S`.
fn decide_through<S, L>(dispatch: &Dispatch, id: &Id) -> bool
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    let (Some(subscriber), Some(layer)) = (
        dispatch.downcast_ref::<S>(),
        dispatch.downcast_ref::<HeadSampled<L>>(),
    ) else {
        return true;
    };
    subscriber
        .span(id)
        .is_none_or(|span| layer.decide_span(&span))
}

/// [`HeadSamplingHandle::remote_parent`] for subscriber type `S`.
fn remote_through<S>(dispatch: &Dispatch, id: &Id, sampled: bool)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let Some(span) = dispatch.downcast_ref::<S>().and_then(|s| s.span(id)) else {
        return;
    };
    let mut extensions = span.extensions_mut();
    if let Some(pending) = extensions.get_mut::<Pending>() {
        pending.remote = Some(sampled);
    }
}

/// A uniform number in [0, 1) from a per-thread xorshift generator.
fn random_unit() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// A nonzero seed that differs between threads and runs.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(&hasher as *const _ as usize);
    hasher.finish() | 1
}

impl<S, L> Layer<S> for HeadSampled<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
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
        let sampled_parent = parent.map(|p| self.decide_span(&p));
        if sampled_parent == Some(false) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Unsampled);
            }
            return;
        }
        self.inner.on_new_span(attrs, id, ctx.clone());
        if sampled_parent.is_none() {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Pending { remote: None });
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
