//! [`ComponentMeter`]: a component's scope, from which its metrics struct creates its
//! instruments (used by the code `#[derive(Metrics)]` generates).

use std::sync::Arc;

use opentelemetry::metrics::Meter;
use opentelemetry::KeyValue;

use crate::attributes::AttributeSet;
use crate::client::{Limits, Shared};
use crate::definition::{InstrumentKind, MetricInfo};
use crate::instruments::{Instrument, SyncKind};
use crate::observable::{self, ObservableKind, Observation, ObserveFn};
use crate::series::SeriesRegistry;

/// A component's meter, named after its metrics struct's prefix.
#[doc(hidden)]
#[derive(Clone)]
pub struct ComponentMeter {
    live: Option<LiveMeter>,
}

#[derive(Clone)]
struct LiveMeter {
    meter: Meter,
    instance: Option<KeyValue>,
    /// The node's pipeline; `None` for the pipeline's own meter, created before it.
    shared: Option<Arc<Shared>>,
    limits: Limits,
    /// The series every copy of a metric on this client shares.
    series: Arc<SeriesRegistry>,
}

impl std::fmt::Debug for ComponentMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentMeter")
            .field("enabled", &self.live.is_some())
            .finish()
    }
}

impl ComponentMeter {
    pub(crate) fn disabled() -> Self {
        Self { live: None }
    }

    pub(crate) fn new(meter: Meter, instance: Option<KeyValue>, shared: Arc<Shared>) -> Self {
        Self {
            live: Some(LiveMeter {
                meter,
                instance,
                limits: shared.limits.clone(),
                series: shared.series.clone(),
                shared: Some(shared),
            }),
        }
    }

    /// The pipeline's own meter: not filtered by the include/exclude lists, and its
    /// instruments count no drops (they record durations and counts the pipeline measures).
    pub(crate) fn pipeline(meter: Meter, limits: Limits, series: Arc<SeriesRegistry>) -> Self {
        Self {
            live: Some(LiveMeter {
                meter,
                instance: None,
                shared: None,
                limits,
                series,
            }),
        }
    }

    /// The live meter, if `info` is to be recorded; registers the metric's cardinality limit
    /// for the provider's view first.
    ///
    /// Inside an observable callback the SDK holds its pipeline's lock, and registering an
    /// instrument would wait for it forever: a metric created there is refused (it records
    /// nothing), with an error logged.
    fn admit(&self, info: &'static MetricInfo) -> Option<&LiveMeter> {
        let live = self.live.as_ref()?;
        if live.shared.as_ref().is_some_and(|s| !s.records(info.name)) {
            return None;
        }
        if observable::in_callback() {
            tracing::error!(
                metric = info.name,
                "metrics created inside an observable callback are refused (the collection holds the SDK's lock): this one records nothing; create it outside the callback"
            );
            return None;
        }
        live.limits
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(info.name, info.cardinality_limit);
        Some(live)
    }

    /// Creates the synchronous instrument `info` describes.
    pub(crate) fn instrument<K: SyncKind, A: AttributeSet>(
        &self,
        info: &'static MetricInfo,
    ) -> Instrument<K, A> {
        match self.admit(info) {
            None => Instrument::disabled(),
            Some(live) => {
                if let Some(shared) = &live.shared {
                    if info.kind == InstrumentKind::Histogram
                        && info.attributes.is_empty()
                        && live.instance.is_none()
                    {
                        let mut plain = shared
                            .plain_histograms
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        if !plain.iter().any(|known| known.name == info.name) {
                            plain.push(info);
                        }
                    }
                }
                let health = live.shared.as_ref().map(|s| s.health.clone());
                let drops = health
                    .as_ref()
                    .filter(|_| K::VALUE_TYPE == crate::ValueType::F64)
                    .map(|h| h.drops());
                let forgets = live.shared.as_ref().is_some_and(|s| s.forgets(info.kind));
                Instrument::new(
                    &live.series,
                    &live.meter,
                    info,
                    live.instance.clone(),
                    drops,
                    health,
                    forgets,
                )
            }
        }
    }

    /// Registers an observable instrument whose `callback` reports values at each
    /// collection. A panic in `callback` is caught, counted and logged.
    pub(crate) fn observe<K, A>(
        &self,
        info: &'static MetricInfo,
        callback: ObserveFn<K::Value, A>,
    ) -> Observation
    where
        K: ObservableKind,
        A: AttributeSet,
    {
        match self.admit(info) {
            None => Observation::disabled(),
            Some(live) => observable::register::<K, A, _>(
                &live.series,
                &live.meter,
                info,
                live.instance.clone(),
                live.shared.as_ref().map(|s| s.health.clone()),
                callback,
            ),
        }
    }
}
