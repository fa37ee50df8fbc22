//! Spans and log records: the tracer and logger providers beside the meter provider (same
//! resource, runtime and OTLP settings), and the `tracing` layer that feeds them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_otlp::{ExporterBuildError, LogExporter, SpanExporter};
use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tokio::runtime::Handle;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::Identity;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use crate::config::{OtlpConfig, Protocol, TelemetryConfig};
use crate::errors::BuildError;
use crate::head_sampling::HeadSampled;
use crate::health::LogLimiter;
use crate::meter::ComponentMeter;
use crate::otlp::{self, ExportContext};
use crate::self_telemetry::{
    ErrorType, LogExporterType, LogMetrics, LogMetricsCallbacks, ProcessorError, Signal,
    SignalExportMetrics, SpanExporterType, SpanMetrics, SpanMetricsCallbacks,
};
use crate::signal_export::{
    ExportRecorder, Queue, QueuedLogProcessor, QueuedSpanProcessor, RecordedLogExporter,
    RecordedSpanExporter,
};
use crate::tracing_config::BatchConfig;
use crate::{Callback, Counter, Metrics, ObservableUpDownCounter};

/// The crates on the export path. Their spans and events are never exported: exporting
/// them would export the logs of the export itself, without end (opentelemetry-rust #761).
const EXPORT_PATH_CRATES: &[&str] = &[
    "h2",
    "hyper",
    "reqwest",
    "rustls",
    "tonic",
    "tower",
    "opentelemetry",
    "tracing_opentelemetry",
];

/// Whether `target` (a module path) belongs to a crate on the export path: the crate
/// itself or one of its family (`hyper_util`, `opentelemetry_sdk`, `tonic_health`).
pub(crate) fn on_export_path(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    EXPORT_PATH_CRATES.iter().any(|name| {
        krate == *name
            || krate
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('_'))
    })
}

/// The span and log providers of a client, each present when its signal is exported.
#[derive(Debug, Clone, Default)]
pub(crate) struct TracingPipeline {
    tracer: Option<(SdkTracerProvider, SdkTracer)>,
    logger: Option<SdkLoggerProvider>,
    /// Whether the head sampler decides at the root (the sampler's decision is the root's).
    head_sampled: bool,
}

impl TracingPipeline {
    /// Builds the providers `config` asks for, their instruments on `meter`.
    pub(crate) fn build(
        config: &TelemetryConfig,
        resource: &Resource,
        runtime: &Handle,
        meter: &ComponentMeter,
    ) -> Result<Self, BuildError> {
        if config.traces.is_none() && config.logs.is_none() {
            return Ok(Self::default());
        }
        let exports = SignalExportMetrics::register(meter, ()).exports;
        let signal = |signal, otlp, batch| SignalBuild {
            signal,
            otlp,
            batch,
            runtime,
            exports: &exports,
        };
        let tracer = match &config.traces {
            None => None,
            Some(otlp) => {
                let provider = tracer_provider(
                    signal(Signal::Traces, otlp, config.tracing.spans),
                    config.tracing.sampler.sdk(),
                    resource,
                    meter,
                )?;
                let tracer = provider.tracer_with_scope(
                    InstrumentationScope::builder("telemetry")
                        .with_version(env!("CARGO_PKG_VERSION"))
                        .build(),
                );
                Some((provider, tracer))
            }
        };
        let logger = match &config.logs {
            None => None,
            Some(otlp) => Some(logger_provider(
                signal(Signal::Logs, otlp, config.tracing.logs),
                resource,
                meter,
            )?),
        };
        Ok(Self {
            tracer,
            logger,
            head_sampled: config.tracing.sampler.decides_at_root(),
        })
    }

    /// The layer that carries spans and events to the providers it has.
    pub(crate) fn layer<S>(&self) -> Box<dyn Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        // No `Option`s: an `Option::None` (or an empty `Vec`) beside a filtered layer
        // turns the filtered one off (tracing-subscriber 0.3.23); `Identity` is neutral.
        // Nor a `Vec`: it does not forward `on_register_dispatch`, which the head sampler
        // needs; `and_then` does.
        let spans = self.tracer.as_ref().map(|(_, tracer)| {
            let otel = tracing_opentelemetry::layer()
                .with_tracer(tracer.clone())
                .with_tracked_inactivity(false);
            let spans = filter_fn(|meta| meta.is_span() && !on_export_path(meta.target()));
            let layer: Box<dyn Layer<S> + Send + Sync> = if self.head_sampled {
                Box::new(HeadSampled::new::<S>(otel).with_filter(spans))
            } else {
                Box::new(otel.with_filter(spans))
            };
            layer
        });
        let logs = self.logger.as_ref().map(|provider| {
            let layer: Box<dyn Layer<S> + Send + Sync> = Box::new(
                OpenTelemetryTracingBridge::new(provider).with_filter(filter_fn(|meta| {
                    meta.is_event() && !on_export_path(meta.target())
                })),
            );
            layer
        });
        match (spans, logs) {
            (Some(spans), Some(logs)) => Box::new(spans.and_then(logs)),
            (Some(layer), None) | (None, Some(layer)) => layer,
            (None, None) => Box::new(Identity::new()),
        }
    }

    /// The tracer provider, for `opentelemetry::global`.
    pub(crate) fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.tracer.as_ref().map(|(provider, _)| provider)
    }

    /// One call per provider present, flushing its signal.
    pub(crate) fn flushes(&self) -> Vec<SignalCall> {
        self.calls(
            |spans| Box::new(move || spans.force_flush()),
            |logs| Box::new(move || logs.force_flush()),
        )
    }

    /// One call per provider present, shutting its signal down within `timeout`.
    pub(crate) fn shutdowns(&self, timeout: Duration) -> Vec<SignalCall> {
        self.calls(
            |spans| Box::new(move || spans.shutdown_with_timeout(timeout)),
            |logs| Box::new(move || logs.shutdown_with_timeout(timeout)),
        )
    }

    /// `spans` and `logs` applied to the providers present, spans first.
    fn calls(
        &self,
        spans: impl FnOnce(SdkTracerProvider) -> SignalCall,
        logs: impl FnOnce(SdkLoggerProvider) -> SignalCall,
    ) -> Vec<SignalCall> {
        let spans = self
            .tracer
            .as_ref()
            .map(|(provider, _)| spans(provider.clone()));
        let logs = self.logger.clone().map(logs);
        spans.into_iter().chain(logs).collect()
    }
}

/// A call that finishes one signal's provider (a flush or a shutdown), run on its own
/// thread.
pub(crate) type SignalCall = Box<dyn FnOnce() -> opentelemetry_sdk::error::OTelSdkResult + Send>;

/// A queue's fill level and capacity, for the observable queue gauges.
fn queue_gauges(capacity: usize) -> (Arc<AtomicI64>, Callback<i64, ()>, Callback<i64, ()>) {
    let held = Arc::new(AtomicI64::new(0));
    let observed = held.clone();
    (
        held,
        Callback::new(move |o| o.observe(observed.load(Ordering::Acquire).max(0), ())),
        Callback::new(move |o| o.observe(capacity as i64, ())),
    )
}

/// What both signals' pipelines are built from.
struct SignalBuild<'a> {
    signal: Signal,
    otlp: &'a OtlpConfig,
    batch: BatchConfig,
    runtime: &'a Handle,
    exports: &'a Counter<u64, (Signal, Option<ErrorType>)>,
}

impl SignalBuild<'_> {
    /// The signal's bounded queue, and the recorder its exporter reports to.
    fn queue_and_recorder(
        &self,
        held: Arc<AtomicI64>,
        processed: Counter<u64, (Option<ProcessorError>,)>,
        gauges: [ObservableUpDownCounter<i64, ()>; 2],
        items: Box<dyn Fn(u64, Option<ErrorType>) + Send + Sync>,
    ) -> (Arc<Queue>, ExportRecorder) {
        let queue = Arc::new(Queue::new(
            self.signal,
            self.batch.max_queue_size,
            held,
            processed,
            gauges,
        ));
        let recorder = ExportRecorder {
            context: ExportContext::new(
                &self.otlp.endpoint,
                self.batch.export_timeout,
                self.runtime.clone(),
            ),
            queue: queue.clone(),
            items,
            requests: self.exports.clone(),
            failure_log: LogLimiter::new(Duration::from_secs(60)),
        };
        (queue, recorder)
    }

    /// Builds the OTLP exporter (within the telemetry runtime: tonic's channel needs it)
    /// with `grpc` or `http`, whichever the protocol is.
    fn exporter<E, K>(
        &self,
        grpc: impl FnOnce() -> Result<(Result<E, ExporterBuildError>, K), BuildError>,
        http: impl FnOnce() -> Result<(Result<E, ExporterBuildError>, K), BuildError>,
    ) -> Result<(E, K), BuildError> {
        let _guard = self.runtime.enter();
        let (built, kind) = match self.otlp.protocol {
            Protocol::Grpc => grpc()?,
            Protocol::HttpProtobuf => http()?,
        };
        let exporter = built.map_err(|e| BuildError::Exporter {
            endpoint: self.otlp.endpoint.clone(),
            reason: e.to_string(),
        })?;
        Ok((exporter, kind))
    }
}

fn tracer_provider(
    build: SignalBuild<'_>,
    sampler: opentelemetry_sdk::trace::Sampler,
    resource: &Resource,
    meter: &ComponentMeter,
) -> Result<SdkTracerProvider, BuildError> {
    let (held, queue_size, queue_capacity) = queue_gauges(build.batch.max_queue_size);
    let metrics = SpanMetrics::register(
        meter,
        SpanMetricsCallbacks {
            queue_size,
            queue_capacity,
        },
    );
    let otlp = build.otlp;
    let (inner, kind) = build.exporter(
        || {
            Ok((
                otlp::grpc(SpanExporter::builder().with_tonic(), otlp)?.build(),
                SpanExporterType::OtlpGrpc,
            ))
        },
        || {
            Ok((
                otlp::http(SpanExporter::builder().with_http(), otlp)?.build(),
                SpanExporterType::OtlpHttp,
            ))
        },
    )?;
    let exported = metrics.exported.clone();
    let (queue, recorder) = build.queue_and_recorder(
        held,
        metrics.processed.clone(),
        [metrics.queue_size, metrics.queue_capacity],
        Box::new(move |n, error| exported.add(n, (kind, error))),
    );
    let batch = build.batch;
    let processor = BatchSpanProcessor::builder(RecordedSpanExporter { inner, recorder })
        .with_batch_config(
            opentelemetry_sdk::trace::BatchConfigBuilder::default()
                .with_max_queue_size(batch.max_queue_size)
                .with_max_export_batch_size(batch.max_export_batch_size)
                .with_scheduled_delay(batch.schedule_delay)
                .build(),
        )
        .build();
    Ok(SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(sampler)
        .with_span_processor(QueuedSpanProcessor {
            inner: processor,
            queue,
            started: metrics.started,
            live: metrics.live,
        })
        .build())
}

fn logger_provider(
    build: SignalBuild<'_>,
    resource: &Resource,
    meter: &ComponentMeter,
) -> Result<SdkLoggerProvider, BuildError> {
    let (held, queue_size, queue_capacity) = queue_gauges(build.batch.max_queue_size);
    let metrics = LogMetrics::register(
        meter,
        LogMetricsCallbacks {
            queue_size,
            queue_capacity,
        },
    );
    let otlp = build.otlp;
    let (inner, kind) = build.exporter(
        || {
            Ok((
                otlp::grpc(LogExporter::builder().with_tonic(), otlp)?.build(),
                LogExporterType::OtlpGrpc,
            ))
        },
        || {
            Ok((
                otlp::http(LogExporter::builder().with_http(), otlp)?.build(),
                LogExporterType::OtlpHttp,
            ))
        },
    )?;
    let exported = metrics.exported.clone();
    let (queue, recorder) = build.queue_and_recorder(
        held,
        metrics.processed.clone(),
        [metrics.queue_size, metrics.queue_capacity],
        Box::new(move |n, error| exported.add(n, (kind, error))),
    );
    let batch = build.batch;
    let processor = BatchLogProcessor::builder(RecordedLogExporter { inner, recorder })
        .with_batch_config(
            opentelemetry_sdk::logs::BatchConfigBuilder::default()
                .with_max_queue_size(batch.max_queue_size)
                .with_max_export_batch_size(batch.max_export_batch_size)
                .with_scheduled_delay(batch.schedule_delay)
                .build(),
        )
        .build();
    Ok(SdkLoggerProvider::builder()
        .with_resource(resource.clone())
        .with_log_processor(QueuedLogProcessor {
            inner: processor,
            queue,
            created: metrics.created,
        })
        .build())
}
