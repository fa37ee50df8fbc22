//! [`TelemetryClient`]: the handle every component receives, and its builder.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Stream, Temporality};

use crate::bridge::{self, BridgeHandle};
use crate::config::{
    redact_endpoint, ConfigError, EnvBridgeAuth, OtlpConfig, PrometheusConfig, TelemetryConfig,
};
use crate::definition::{InstrumentKind, MetricInfo};
use crate::errors::{BuildError, FlushError, ShutdownError};
use crate::health::{ExportStatus, Freshness, FreshnessRegistry, Health};
use crate::meter::ComponentMeter;
use crate::otlp::{ExportContext, InstrumentedExporter};
use crate::resource;
use crate::series::SeriesRegistry;
use crate::tracing_pipeline::{SignalCall, TracingPipeline};

/// The telemetry handle a node hands to its components. Cheap to clone.
///
/// Built from code with [`TelemetryClient::builder`] or from the environment with
/// [`TelemetryBuilder::with_env`]. With no exporter configured, or `OTEL_SDK_DISABLED=true`,
/// it is the no-op client: instruments it creates hold nothing and a call is one branch.
/// No process-global state is touched unless [`TelemetryClient::install_global`] is called.
/// Components receive it and create their [`Metrics`](crate::Metrics) struct from it.
///
/// ```
/// let client = telemetry::TelemetryClient::builder("my-node")
///     .prometheus("127.0.0.1:0".parse().unwrap())
///     .build()
///     .expect("valid configuration");
/// assert!(client.is_enabled());
/// let addr = client.prometheus_addr().unwrap();
/// client.shutdown().unwrap();
/// # let _ = addr;
/// ```
#[derive(Clone, Default)]
pub struct TelemetryClient {
    pipeline: Option<Arc<Pipeline>>,
}

impl std::fmt::Debug for TelemetryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryClient")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

/// Cardinality limit per metric name, read by the provider's view at instrument creation.
pub(crate) type Limits = Arc<RwLock<HashMap<&'static str, usize>>>;

/// Histograms without attributes created on this client: the SDK exports their series only
/// once recorded into, so the bridge adds them at zero until then.
pub(crate) type PlainHistograms = Arc<Mutex<Vec<&'static MetricInfo>>>;

/// What components need from a live pipeline when they create instruments.
pub(crate) struct Shared {
    pub(crate) health: Arc<Health>,
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    /// Cardinality limit per metric name, read by the provider's view at instrument creation.
    pub(crate) limits: Limits,
    pub(crate) plain_histograms: PlainHistograms,
    /// The series every copy of a metric shares ([`crate::series`]).
    pub(crate) series: Arc<SeriesRegistry>,
    /// The temporality of the only reader, when it is the OTLP reader (no bridge, no test
    /// reader): the SDK then forgets a delta metric's attribute sets at each export.
    pub(crate) only_reader: Option<Temporality>,
}

impl Shared {
    /// Whether every reader forgets the attribute sets of a synchronous `kind` at each
    /// collection (the SDK's delta temporality for it).
    pub(crate) fn forgets(&self, kind: InstrumentKind) -> bool {
        match self.only_reader {
            Some(Temporality::Delta) => !matches!(kind, InstrumentKind::UpDownCounter),
            Some(Temporality::LowMemory) => {
                matches!(kind, InstrumentKind::Counter | InstrumentKind::Histogram)
            }
            _ => false,
        }
    }

    /// Whether `TELEMETRY_INCLUDE_METRICS` / `TELEMETRY_EXCLUDE_METRICS` let `name` through.
    pub(crate) fn records(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| name.starts_with(p.as_str())))
            && !self.exclude.iter().any(|p| name.starts_with(p.as_str()))
    }
}

struct Pipeline {
    provider: SdkMeterProvider,
    tracing: TracingPipeline,
    shared: Arc<Shared>,
    freshness: FreshnessRegistry,
    bridge: Option<BridgeHandle>,
    runtime: Mutex<TelemetryRuntime>,
    shutdown_timeout: Duration,
    shutdown_result: Mutex<Option<Result<(), ShutdownError>>>,
}

impl TelemetryClient {
    /// A builder for a client whose `service.name` is `service_name`.
    pub fn builder(service_name: impl Into<String>) -> TelemetryBuilder {
        TelemetryBuilder::from_config(TelemetryConfig::new(service_name))
    }

    /// The no-op client.
    pub fn disabled() -> Self {
        Self { pipeline: None }
    }

    /// Whether anything is recorded.
    pub fn is_enabled(&self) -> bool {
        self.pipeline.is_some()
    }

    /// The meter of the component `name` (a metrics struct's prefix), its series marked
    /// with `component.instance=<instance>` when given.
    pub(crate) fn meter(&self, name: &'static str, instance: Option<String>) -> ComponentMeter {
        match &self.pipeline {
            None => ComponentMeter::disabled(),
            Some(pipeline) => ComponentMeter::new(
                pipeline.provider.meter_with_scope(scope(name)),
                instance.map(|i| KeyValue::new(crate::COMPONENT_INSTANCE_KEY, i)),
                pipeline.shared.clone(),
            ),
        }
    }

    /// A state source whose last update is exported as
    /// `telemetry.source.last_update{telemetry.source.name=<name>}`.
    pub fn freshness(&self, name: &str) -> Freshness {
        match &self.pipeline {
            None => Freshness::default(),
            Some(pipeline) => pipeline.freshness.source(name),
        }
    }

    /// The address the Prometheus bridge listens on, if it runs.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.pipeline
            .as_ref()?
            .bridge
            .as_ref()
            .map(BridgeHandle::local_addr)
    }

    /// The push pipeline's state: attempts, failures, time of the last success.
    pub fn export_status(&self) -> ExportStatus {
        self.pipeline
            .as_ref()
            .map(|p| p.shared.health.export_status())
            .unwrap_or_default()
    }

    /// Collects and pushes metrics, spans and log records now (blocks until the exports
    /// finished or failed).
    pub fn force_flush(&self) -> Result<(), FlushError> {
        match &self.pipeline {
            None => Ok(()),
            Some(pipeline) => {
                let provider = pipeline.provider.clone();
                let metrics = Box::new(move || provider.force_flush());
                let signals = pipeline.tracing.flushes();
                finish_signals(pipeline.shutdown_timeout, signals, metrics).map_err(|error| {
                    match error {
                        Bounded::Timeout(timeout) => FlushError::Timeout(timeout),
                        Bounded::Sdk(message) => FlushError::Sdk(message),
                    }
                })
            }
        }
    }

    /// Installs this client's providers as the OpenTelemetry global meter and tracer
    /// providers, for libraries that use `opentelemetry::global`; the tracer provider samples
    /// with the configured sampler. Opt-in; nothing is global otherwise.
    pub fn install_global(&self) {
        if let Some(pipeline) = &self.pipeline {
            opentelemetry::global::set_meter_provider(pipeline.provider.clone());
            if let Some(tracer) = pipeline.tracing.tracer_provider() {
                opentelemetry::global::set_tracer_provider(tracer.clone());
            }
        }
    }

    /// The `tracing` layer that carries spans and log events to OTLP, over the client's
    /// configuration (`OTEL_TRACES_*`, `OTEL_LOGS_*`, sampling, batching).
    ///
    /// - Spans become OpenTelemetry spans; events become OpenTelemetry log records, with
    ///   the trace and span id of the span they were written in.
    /// - The spans and events of the export path (hyper, h2, tonic, tower, reqwest,
    ///   rustls, opentelemetry) are never exported, whatever the subscriber's filter lets
    ///   through: exporting them would feed the export with its own logs.
    /// - On the no-op client, or with both signals off, it is `tracing-subscriber`'s
    ///   `Identity` layer: it does nothing, and leaves the other layers' filters alone.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let client = telemetry::TelemetryClient::builder("my-node").build()?;
    /// let subscriber = tracing_subscriber::registry().with(client.tracing_layer());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     let _span = tracing::info_span!("block.produce", block.height = 7).entered();
    ///     tracing::info!("block sealed"); // a log record, inside the block's trace
    /// });
    /// # Ok::<(), telemetry::BuildError>(())
    /// ```
    pub fn tracing_layer<S>(&self) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        match &self.pipeline {
            Some(pipeline) => pipeline.tracing.layer(),
            None => Box::new(tracing_subscriber::layer::Identity::new()),
        }
    }

    /// Flushes the last data and stops exporting, within the shutdown timeout.
    ///
    /// Idempotent (later calls return the first call's result) and safe from synchronous
    /// code and from any tokio runtime flavour: the flush runs on its own thread. Dropping
    /// the last clone of the client shuts down too.
    pub fn shutdown(&self) -> Result<(), ShutdownError> {
        match &self.pipeline {
            None => Ok(()),
            Some(pipeline) => pipeline.shutdown(),
        }
    }
}

impl Pipeline {
    fn shutdown(&self) -> Result<(), ShutdownError> {
        let mut done = self
            .shutdown_result
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(result) = done.as_ref() {
            return result.clone();
        }
        let provider = self.provider.clone();
        let metrics = Box::new(move || provider.shutdown());
        // The providers' own deadline comes a second after ours: a stalled signal is then
        // always our timeout, never the SDK's error text racing it to the same instant.
        let signals = self
            .tracing
            .shutdowns(self.shutdown_timeout + Duration::from_secs(1));
        let result =
            finish_signals(self.shutdown_timeout, signals, metrics).map_err(|error| match error {
                Bounded::Timeout(timeout) => ShutdownError::Timeout(timeout),
                Bounded::Sdk(message) => ShutdownError::Sdk(message),
            });
        if let Some(bridge) = &self.bridge {
            bridge.stop();
        }
        self.runtime
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shut_down();
        match &result {
            Ok(()) => tracing::debug!("telemetry shut down"),
            Err(error) => tracing::warn!(%error, "telemetry shutdown incomplete"),
        }
        *done = Some(result.clone());
        result
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// The telemetry runtime (`telemetry-io`). Dropped, it shuts down in the background: a
/// runtime's own drop blocks, which tokio refuses with a panic inside an async context, where
/// an error of `build()` under `#[tokio::main]` drops it.
struct TelemetryRuntime {
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TelemetryRuntime {
    /// Starts the one-worker runtime.
    fn start() -> Result<Self, BuildError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("telemetry-io")
            .enable_all()
            .build()
            .map_err(BuildError::Runtime)?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// A handle to spawn on the runtime and enter it.
    fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Stops the runtime without waiting for its tasks (idempotent).
    fn shut_down(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for TelemetryRuntime {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// The instrumentation scope of component `name`.
fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// How a bounded SDK call failed.
enum Bounded {
    Timeout(Duration),
    Sdk(String),
}

/// Finishes every signal (flush or shutdown), each on its own thread and within its own
/// deadline, so that a stalled collector costs no other signal its last export: the SDK's
/// own calls ignore their timeout, and calling them from a current-thread runtime can
/// deadlock. Spans and logs (`signals`) start at once and have the whole `timeout`. The
/// metrics wait for them at most half of it, so that their last export counts the others'
/// when those collectors answer, and have at least the other half to themselves.
fn finish_signals(
    timeout: Duration,
    signals: Vec<SignalCall>,
    metrics: SignalCall,
) -> Result<(), Bounded> {
    let started = Instant::now();
    let (grace, deadline) = (started + timeout / 2, started + timeout);
    let running = signals
        .into_iter()
        .map(spawn_call)
        .collect::<Result<Vec<_>, _>>()?;
    let mut finished: Vec<_> = running.iter().map(|call| call.wait(grace)).collect();
    let metrics = spawn_call(metrics)?.wait(deadline);
    for (call, result) in running.iter().zip(&mut finished) {
        if result.is_none() {
            *result = call.wait(deadline);
        }
    }
    finished
        .into_iter()
        .chain([metrics])
        .try_for_each(|result| match result {
            None => Err(Bounded::Timeout(timeout)),
            Some(Ok(()) | Err(OTelSdkError::AlreadyShutdown)) => Ok(()),
            Some(Err(error)) => Err(Bounded::Sdk(error.to_string())),
        })
}

/// A signal's call running on its own thread.
struct Running(std::sync::mpsc::Receiver<OTelSdkResult>);

impl Running {
    /// The call's result, if it finishes by `until` (a panicked call is an error).
    fn wait(&self, until: Instant) -> Option<OTelSdkResult> {
        match self
            .0
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            Ok(result) => Some(result),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Err(OTelSdkError::InternalFailure(
                "the call panicked".into(),
            ))),
        }
    }
}

/// Starts `call` on its own thread.
fn spawn_call(call: SignalCall) -> Result<Running, Bounded> {
    let (done, wait) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("telemetry-shutdown".into())
        .spawn(move || {
            let _ = done.send(call());
        })
        .map_err(|error| Bounded::Sdk(format!("cannot start the shutdown thread: {error}")))?;
    Ok(Running(wait))
}

/// Builds a [`TelemetryClient`] from code, optionally overridden by the environment.
#[derive(Debug)]
#[must_use = "a builder does nothing until build() is called"]
pub struct TelemetryBuilder {
    config: TelemetryConfig,
    series_retention: Option<Duration>,
    /// Bridge credentials from the environment: they apply to the bridge whether its address
    /// comes from the environment or from code (set before or after `with_env`).
    env_bridge_auth: Option<EnvBridgeAuth>,
    #[cfg(feature = "testing")]
    reader: Option<crate::testing::SharedReader>,
}

impl TelemetryBuilder {
    /// Starts from a complete configuration.
    pub fn from_config(config: TelemetryConfig) -> Self {
        Self {
            config,
            series_retention: None,
            env_bridge_auth: None,
            #[cfg(feature = "testing")]
            reader: None,
        }
    }

    /// Overrides what the process environment sets (the OpenTelemetry SDK variables and
    /// `TELEMETRY_*`); an invalid value is an error naming the variable. The bridge
    /// credentials (`TELEMETRY_PROMETHEUS_BEARER_TOKEN[_FILE]`,
    /// `TELEMETRY_PROMETHEUS_BASIC_AUTH`) apply to the bridge wherever its address comes
    /// from: `TELEMETRY_PROMETHEUS_ADDR`, or [`TelemetryBuilder::prometheus`] before or after
    /// this call; with no bridge at all, [`TelemetryBuilder::build`] refuses them.
    pub fn with_env(self) -> Result<Self, ConfigError> {
        self.with_env_from(|name| std::env::var(name).ok())
    }

    /// Like [`TelemetryBuilder::with_env`], reading variables through `lookup`.
    pub fn with_env_from(
        mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        self.env_bridge_auth = self.config.apply_env_but_bridge_auth(lookup)?;
        self.apply_env_bridge_auth();
        Ok(self)
    }

    /// Puts the environment's bridge credentials, if any, on the bridge, if any: the
    /// environment overrides code.
    fn apply_env_bridge_auth(&mut self) {
        if let (Some(env), Some(prometheus)) = (&self.env_bridge_auth, &mut self.config.prometheus)
        {
            prometheus.auth = Some(env.auth.clone());
        }
    }

    /// Sets `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.config.service_version = Some(version.into());
        self
    }

    /// Sets `service.instance.id` (otherwise a random UUID, stable for the process).
    pub fn service_instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.service_instance_id = Some(id.into());
        self
    }

    /// Sets the `node.role` resource attribute (e.g. `sequencer`, `prover`).
    pub fn node_role(mut self, role: impl Into<String>) -> Self {
        self.config.node_role = Some(role.into());
        self
    }

    /// Pushes metrics over OTLP as `otlp` says.
    pub fn otlp(mut self, otlp: OtlpConfig) -> Self {
        self.config.otlp = Some(otlp);
        self
    }

    /// Pushes spans over OTLP as `otlp` says (for HTTP, the full URL ending `/v1/traces`).
    /// They come from [`TelemetryClient::tracing_layer`].
    pub fn traces(mut self, otlp: OtlpConfig) -> Self {
        self.config.traces = Some(otlp);
        self
    }

    /// Pushes log records over OTLP as `otlp` says (for HTTP, the full URL ending
    /// `/v1/logs`). They come from [`TelemetryClient::tracing_layer`].
    pub fn logs(mut self, otlp: OtlpConfig) -> Self {
        self.config.logs = Some(otlp);
        self
    }

    /// Sets sampling and the span and log batch processors.
    pub fn tracing(mut self, tracing: crate::TracingConfig) -> Self {
        self.config.tracing = tracing;
        self
    }

    /// Serves the Prometheus bridge on `listen` with default limits, and the credentials the
    /// environment sets (see [`TelemetryBuilder::with_env`]), if any.
    pub fn prometheus(self, listen: SocketAddr) -> Self {
        self.prometheus_config(PrometheusConfig::new(listen))
    }

    /// Serves the Prometheus bridge as `prometheus` says; credentials the environment sets
    /// (see [`TelemetryBuilder::with_env`]) replace its `auth`.
    pub fn prometheus_config(mut self, prometheus: PrometheusConfig) -> Self {
        self.config.prometheus = Some(prometheus);
        self.apply_env_bridge_auth();
        self
    }

    /// Serves no Prometheus bridge, whatever `TELEMETRY_PROMETHEUS_ADDR` or earlier calls
    /// set (bridge credentials from the environment are then an error naming their
    /// variable, as with no bridge).
    pub fn no_prometheus(mut self) -> Self {
        self.config.prometheus = None;
        self
    }

    /// Sets the OTLP export interval.
    pub fn export_interval(mut self, interval: Duration) -> Self {
        self.config.export_interval = interval;
        self
    }

    /// Bounds one whole export, retries included.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.config.export_timeout = timeout;
        self
    }

    /// How long the series of a component instance whose last metrics struct was dropped
    /// stay reported (with their final values) before they are forgotten; a struct of the
    /// same instance created within it continues them. Default: the export interval, at
    /// least 60 s (so the next push and any scrape up to a minute apart read the final
    /// values). They are always reported by at least one collection after the drop.
    pub fn series_retention(mut self, retention: Duration) -> Self {
        self.series_retention = Some(retention);
        self
    }

    /// Bounds [`TelemetryClient::shutdown`].
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Disables the client (as `OTEL_SDK_DISABLED=true` does) when `disabled`.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.config.disabled = disabled;
        self
    }

    /// The configuration as it stands.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// Adds an in-memory reader (the test kit's).
    #[cfg(feature = "testing")]
    pub(crate) fn reader(mut self, reader: crate::testing::SharedReader) -> Self {
        self.reader = Some(reader);
        self
    }

    /// Checks the metric catalog linked into this binary, validates the configuration,
    /// binds the bridge's address, builds the exporters and starts the pipeline. Returns the
    /// no-op client when nothing would be exported. A catalog conflict is an error even
    /// then: it is a defect of the binary, not of its configuration.
    pub fn build(self) -> Result<TelemetryClient, BuildError> {
        crate::catalog::catalog().check()?;
        let config = self.config;
        config.validate()?;
        if let (Some(env), None, false) =
            (&self.env_bridge_auth, &config.prometheus, config.disabled)
        {
            // Credentials nothing would require: the user meant to protect a bridge.
            return Err(env.without_bridge().into());
        }
        #[cfg(feature = "testing")]
        let has_reader = self.reader.is_some();
        #[cfg(not(feature = "testing"))]
        let has_reader = false;
        let exports_nothing = config.otlp.is_none()
            && config.traces.is_none()
            && config.logs.is_none()
            && config.prometheus.is_none()
            && !has_reader;
        if config.disabled || exports_nothing {
            tracing::info!(
                disabled = config.disabled,
                "telemetry is off (no exporter configured)"
            );
            return Ok(TelemetryClient::disabled());
        }
        // Bind first: an address that is taken is a configuration error, reported now.
        let listener = match &config.prometheus {
            Some(prometheus) => Some(std::net::TcpListener::bind(prometheus.listen).map_err(
                |source| BuildError::Bind {
                    variable: "TELEMETRY_PROMETHEUS_ADDR".into(),
                    addr: prometheus.listen,
                    source,
                },
            )?),
            None => None,
        };
        let runtime = TelemetryRuntime::start()?;

        let limits: Limits = Arc::default();
        let view_limits = limits.clone();
        let resource = resource::build(&config);
        let mut builder = SdkMeterProvider::builder()
            .with_resource(resource.clone())
            .with_view(move |instrument: &opentelemetry_sdk::metrics::Instrument| {
                let limit = *view_limits.read().ok()?.get(instrument.name())?;
                Stream::builder().with_cardinality_limit(limit).build().ok()
            });

        let registry = prometheus::Registry::new();
        if config.prometheus.is_some() {
            let exporter = opentelemetry_prometheus::exporter()
                .with_registry(registry.clone())
                .scope_info_enabled(false)
                .build()
                .map_err(|e| BuildError::Exporter {
                    endpoint: "prometheus bridge".into(),
                    reason: e.to_string(),
                })?;
            builder = builder.with_reader(exporter);
        }
        #[cfg(feature = "testing")]
        let test_reader = match self.reader {
            Some(reader) => {
                builder = builder.with_reader(reader);
                true
            }
            None => false,
        };
        #[cfg(not(feature = "testing"))]
        let test_reader = false;
        let other_reader = config.prometheus.is_some() || test_reader;
        // The exporter records into the pipeline's health, whose instruments come from the
        // provider the exporter's reader is part of: it receives the health once built.
        let health_cell: Arc<OnceLock<Arc<Health>>> = Arc::default();
        if let Some(otlp) = &config.otlp {
            let exporter = InstrumentedExporter::build(
                otlp,
                ExportContext::new(
                    &otlp.endpoint,
                    config.export_timeout,
                    runtime.handle().clone(),
                ),
                health_cell.clone(),
            )?;
            builder = builder.with_reader(
                PeriodicReader::builder(exporter)
                    .with_interval(config.export_interval)
                    .build(),
            );
            tracing::info!(
                endpoint = %redact_endpoint(&otlp.endpoint),
                protocol = ?otlp.protocol,
                interval = ?config.export_interval,
                "OTLP push configured; the collector's reachability shows at the first export"
            );
        }
        let provider = builder.build();

        let retention = self
            .series_retention
            .unwrap_or(config.export_interval.max(Duration::from_secs(60)));
        let own_meter = ComponentMeter::pipeline(
            provider.meter_with_scope(scope("telemetry")),
            limits.clone(),
            Arc::new(SeriesRegistry::new(retention, None, config.otlp.is_some())),
        );
        let health = Arc::new(Health::new(&own_meter));
        let tracing = TracingPipeline::build(&config, &resource, runtime.handle(), &own_meter)?;
        for (signal, otlp) in [("traces", &config.traces), ("logs", &config.logs)] {
            if let Some(otlp) = otlp {
                tracing::info!(signal, endpoint = %redact_endpoint(&otlp.endpoint), protocol = ?otlp.protocol, "OTLP push configured");
            }
        }
        let _ = health_cell.set(health.clone());
        let plain_histograms = PlainHistograms::default();
        let bridge = match (listener, &config.prometheus) {
            (Some(listener), Some(prometheus)) => Some(
                bridge::serve(
                    listener,
                    prometheus,
                    bridge::Sources {
                        registry,
                        plain_histograms: plain_histograms.clone(),
                    },
                    health.clone(),
                    runtime.handle(),
                )
                .map_err(|source| BuildError::Bind {
                    variable: "TELEMETRY_PROMETHEUS_ADDR".into(),
                    addr: prometheus.listen,
                    source,
                })?,
            ),
            _ => None,
        };
        let only_reader = match &config.otlp {
            Some(otlp) if !other_reader => Some(otlp.temporality),
            _ => None,
        };
        let shared = Arc::new(Shared {
            only_reader,
            series: Arc::new(SeriesRegistry::new(
                retention,
                Some(health.clone()),
                config.otlp.is_some(),
            )),
            health,
            include: config.include_metrics.clone(),
            exclude: config.exclude_metrics.clone(),
            limits,
            plain_histograms,
        });
        let freshness = FreshnessRegistry::new(&ComponentMeter::new(
            provider.meter_with_scope(scope("telemetry.source")),
            None,
            shared.clone(),
        ));
        Ok(TelemetryClient {
            pipeline: Some(Arc::new(Pipeline {
                provider,
                tracing,
                shared,
                freshness,
                bridge,
                runtime: Mutex::new(runtime),
                shutdown_timeout: config.shutdown_timeout,
                shutdown_result: Mutex::new(None),
            })),
        })
    }
}
