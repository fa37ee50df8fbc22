//! The span and log pipelines' batching and export, instrumented: a front in each batch
//! processor that keeps the queue bounded (a full queue drops and counts, never blocks),
//! and a wrapper around each OTLP exporter that bounds and counts every export.
//!
//! The SDK's batch processors drop silently when their queue is full. The front here
//! admits a record only while fewer than the queue's capacity are waiting or being
//! exported, so the processor behind it never reaches its own limit, and every drop is
//! counted under the semantic-convention name with `error.type=queue_full`.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::logs::Severity;
use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchLogProcessor, LogBatch, LogExporter, LogProcessor, SdkLogRecord,
};
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use crate::health::{classify, LogLimiter};
use crate::otlp::ExportContext;
use crate::self_telemetry::{ErrorType, ProcessorError, Signal};
use crate::{Counter, ObservableUpDownCounter, UpDownCounter};

/// The records a batch processor holds (queued or being exported), against its capacity.
#[derive(Debug)]
pub(crate) struct Queue {
    signal: Signal,
    held: Arc<AtomicI64>,
    capacity: i64,
    closed: AtomicBool,
    processed: Counter<u64, (Option<ProcessorError>,)>,
    drop_log: LogLimiter,
    /// The queue's size and capacity, observed while the queue lives.
    _gauges: [ObservableUpDownCounter<i64, ()>; 2],
}

impl Queue {
    pub(crate) fn new(
        signal: Signal,
        capacity: usize,
        held: Arc<AtomicI64>,
        processed: Counter<u64, (Option<ProcessorError>,)>,
        gauges: [ObservableUpDownCounter<i64, ()>; 2],
    ) -> Self {
        Self {
            signal,
            held,
            capacity: capacity as i64,
            closed: AtomicBool::new(false),
            processed,
            drop_log: LogLimiter::new(Duration::from_secs(60)),
            _gauges: gauges,
        }
    }

    /// Whether one more record may enter; counts the ones that may not.
    fn admit(&self) -> bool {
        let refused = if self.closed.load(Ordering::Relaxed) {
            ProcessorError::AlreadyShutdown
        } else if self.held.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.held.fetch_sub(1, Ordering::Relaxed);
            ProcessorError::QueueFull
        } else {
            return true;
        };
        self.processed.add(1, (Some(refused),));
        if let Some(held_back) = self.drop_log.permit() {
            // Not exported itself: a full log queue must not feed itself.
            let _suppressed = Context::enter_telemetry_suppressed_scope();
            tracing::warn!(
                signal = self.signal.as_str(),
                reason = refused.as_str(),
                capacity = self.capacity,
                held_back,
                "telemetry record dropped"
            );
        }
        false
    }

    /// `n` records left the queue for the exporter. They are counted as processed before
    /// they stop counting as held, so a record is counted somewhere at every instant; the
    /// release pairs with the queue gauge's acquire, so a collection that reads the queue
    /// empty also reads every processed count that emptied it.
    fn handed_over(&self, n: usize) {
        self.processed.add(n as u64, (None,));
        self.held.fetch_sub(n as i64, Ordering::Release);
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }
}

/// What an export wrapper records: items by exporter and outcome, and the request.
pub(crate) struct ExportRecorder {
    pub(crate) context: ExportContext,
    pub(crate) queue: Arc<Queue>,
    /// Counts `n` items exported, with the failure's type.
    pub(crate) items: Box<dyn Fn(u64, Option<ErrorType>) + Send + Sync>,
    pub(crate) requests: Counter<u64, (Signal, Option<ErrorType>)>,
    pub(crate) failure_log: LogLimiter,
}

impl std::fmt::Debug for ExportRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportRecorder")
            .field("endpoint", &self.context.endpoint)
            .finish()
    }
}

impl ExportRecorder {
    /// Runs one export of `n` records, bounded, and records its outcome.
    async fn export<F>(&self, n: usize, start: impl FnOnce() -> F) -> OTelSdkResult
    where
        F: std::future::Future<Output = OTelSdkResult> + Send,
    {
        self.queue.handed_over(n);
        let (result, _) = self.context.run(start).await;
        let error = result.as_ref().err().map(classify);
        (self.items)(n as u64, error);
        self.requests.add(1, (self.queue.signal, error));
        if let Some(error) = error {
            if let Some(held_back) = self.failure_log.permit() {
                tracing::warn!(
                    signal = self.queue.signal.as_str(),
                    endpoint = %self.context.endpoint,
                    reason = error.as_str(),
                    records = n,
                    held_back,
                    "OTLP export failed; its records are lost"
                );
            }
        }
        result
    }
}

/// The OTLP span exporter, bounded and counted.
#[derive(Debug)]
pub(crate) struct RecordedSpanExporter {
    pub(crate) inner: opentelemetry_otlp::SpanExporter,
    pub(crate) recorder: ExportRecorder,
}

impl SpanExporter for RecordedSpanExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.len();
        self.recorder.export(n, move || self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP log exporter, bounded and counted.
#[derive(Debug)]
pub(crate) struct RecordedLogExporter {
    pub(crate) inner: opentelemetry_otlp::LogExporter,
    pub(crate) recorder: ExportRecorder,
}

impl LogExporter for RecordedLogExporter {
    fn export(
        &self,
        batch: LogBatch<'_>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.iter().count();
        self.recorder.export(n, move || self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The batch span processor behind a bounded, counted front.
#[derive(Debug)]
pub(crate) struct QueuedSpanProcessor {
    pub(crate) inner: BatchSpanProcessor,
    pub(crate) queue: Arc<Queue>,
    pub(crate) started: Counter<u64, ()>,
    pub(crate) live: UpDownCounter<i64, ()>,
}

impl SpanProcessor for QueuedSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.started.add(1, ());
        self.live.add(1, ());
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.live.add(-1, ());
        if self.queue.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.queue.close();
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The batch log processor behind a bounded, counted front.
#[derive(Debug)]
pub(crate) struct QueuedLogProcessor {
    pub(crate) inner: BatchLogProcessor,
    pub(crate) queue: Arc<Queue>,
    pub(crate) created: Counter<u64, ()>,
}

impl LogProcessor for QueuedLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.created.add(1, ());
        if self.queue.admit() {
            self.inner.emit(record, scope);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.queue.close();
        result
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
