//! The settings of the span and log pipelines: sampling (`OTEL_TRACES_SAMPLER`,
//! `OTEL_TRACES_SAMPLER_ARG`) and the batch processors (`OTEL_BSP_*`, `OTEL_BLRP_*`).

use std::time::Duration;

use crate::config::{parse_millis, ConfigError};

/// Which spans are recorded and exported (`OTEL_TRACES_SAMPLER`).
///
/// The `parentbased_*` samplers follow the caller's decision when the span has a parent
/// (local, or remote through `traceparent`), and apply their root sampler otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Sampler {
    /// `always_on`: every span.
    AlwaysOn,
    /// `always_off`: no span.
    AlwaysOff,
    /// `traceidratio`: this fraction of traces, chosen by trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on`: the parent's decision, every root (the default).
    #[default]
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: the parent's decision, no root.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: the parent's decision, this fraction of roots.
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    /// The sampling ratio, for the ratio samplers.
    fn ratio(self) -> Option<f64> {
        match self {
            Sampler::TraceIdRatio(r) | Sampler::ParentBasedTraceIdRatio(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the decision is the root's and can be taken there by the head sampler
    /// (`parentbased_traceidratio`, `parentbased_always_off`, `always_off`): the spans of
    /// an unsampled trace then never reach the OTel layer.
    pub(crate) fn decides_at_root(self) -> bool {
        matches!(
            self,
            Sampler::ParentBasedTraceIdRatio(_)
                | Sampler::ParentBasedAlwaysOff
                | Sampler::AlwaysOff
        )
    }

    /// The SDK's sampler: this one. The head sampler takes its decision through it, and
    /// the tracer provider handed to `opentelemetry::global` samples with it.
    pub(crate) fn sdk(self) -> opentelemetry_sdk::trace::Sampler {
        use opentelemetry_sdk::trace::Sampler as Sdk;
        match self {
            Sampler::AlwaysOn => Sdk::AlwaysOn,
            Sampler::AlwaysOff => Sdk::AlwaysOff,
            Sampler::TraceIdRatio(r) => Sdk::TraceIdRatioBased(r),
            Sampler::ParentBasedAlwaysOn => Sdk::ParentBased(Box::new(Sdk::AlwaysOn)),
            Sampler::ParentBasedAlwaysOff => Sdk::ParentBased(Box::new(Sdk::AlwaysOff)),
            Sampler::ParentBasedTraceIdRatio(r) => {
                Sdk::ParentBased(Box::new(Sdk::TraceIdRatioBased(r)))
            }
        }
    }
}

/// A batch processor's settings: how long records wait, how many are queued, how many go
/// in one export, and how long an export may take.
///
/// A record that finds the queue full is dropped and counted
/// (`otel.sdk.processor.span.processed` / `otel.sdk.processor.log.processed` with
/// `error.type=queue_full`); the caller never waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Longest time a record waits before its batch is exported.
    pub schedule_delay: Duration,
    /// Records queued at most.
    pub max_queue_size: usize,
    /// Records in one export at most (not above `max_queue_size`).
    pub max_export_batch_size: usize,
    /// Bound on one export, retries included.
    pub export_timeout: Duration,
}

impl BatchConfig {
    /// The specification's span defaults (`OTEL_BSP_*`): 5 s, 2048, 512, 30 s.
    pub fn spans() -> Self {
        Self {
            schedule_delay: Duration::from_secs(5),
            max_queue_size: 2048,
            max_export_batch_size: 512,
            export_timeout: Duration::from_secs(30),
        }
    }

    /// The specification's log defaults (`OTEL_BLRP_*`): 1 s, 2048, 512, 30 s.
    pub fn logs() -> Self {
        Self {
            schedule_delay: Duration::from_secs(1),
            ..Self::spans()
        }
    }

    /// Reads `<prefix>_SCHEDULE_DELAY`, `_MAX_QUEUE_SIZE`, `_MAX_EXPORT_BATCH_SIZE` and
    /// `_EXPORT_TIMEOUT`.
    fn apply_env(
        &mut self,
        prefix: &str,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let name = |suffix: &str| format!("{prefix}_{suffix}");
        if let Some(v) = var(&name("SCHEDULE_DELAY")) {
            self.schedule_delay = parse_millis(&name("SCHEDULE_DELAY"), &v)?;
        }
        if let Some(v) = var(&name("EXPORT_TIMEOUT")) {
            self.export_timeout = parse_millis(&name("EXPORT_TIMEOUT"), &v)?;
        }
        if let Some(v) = var(&name("MAX_QUEUE_SIZE")) {
            self.max_queue_size = parse_count(&name("MAX_QUEUE_SIZE"), &v)?;
        }
        if let Some(v) = var(&name("MAX_EXPORT_BATCH_SIZE")) {
            self.max_export_batch_size = parse_count(&name("MAX_EXPORT_BATCH_SIZE"), &v)?;
        }
        self.validate(prefix)
    }

    /// Checks the values; `prefix` names them in the error.
    fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let invalid = |suffix: &str, value: String, reason: &str| {
            ConfigError::invalid(&format!("{prefix}_{suffix}"), &value, reason)
        };
        if self.schedule_delay.is_zero() {
            return Err(invalid("SCHEDULE_DELAY", "0".into(), "must be positive"));
        }
        if self.export_timeout.is_zero() {
            return Err(invalid("EXPORT_TIMEOUT", "0".into(), "must be positive"));
        }
        if self.max_queue_size == 0 || self.max_queue_size > MAX_QUEUE {
            return Err(invalid(
                "MAX_QUEUE_SIZE",
                self.max_queue_size.to_string(),
                "must be between 1 and 1048576",
            ));
        }
        if self.max_export_batch_size == 0 || self.max_export_batch_size > self.max_queue_size {
            return Err(invalid(
                "MAX_EXPORT_BATCH_SIZE",
                self.max_export_batch_size.to_string(),
                &format!(
                    "must be between 1 and the queue size ({})",
                    self.max_queue_size
                ),
            ));
        }
        Ok(())
    }
}

/// The largest queue accepted: a bound on the memory a stalled collector can cost.
const MAX_QUEUE: usize = 1 << 20;

/// Sampling and the batch processors of the span and log pipelines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracingConfig {
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: Sampler,
    /// `OTEL_BSP_*`.
    pub spans: BatchConfig,
    /// `OTEL_BLRP_*`.
    pub logs: BatchConfig,
}

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            sampler: Sampler::default(),
            spans: BatchConfig::spans(),
            logs: BatchConfig::logs(),
        }
    }
}

impl TracingConfig {
    /// Overrides the settings with the environment's.
    pub(crate) fn apply_env(
        &mut self,
        var: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        let arg = var("OTEL_TRACES_SAMPLER_ARG");
        let ratio = || match &arg {
            None => Ok(1.0),
            Some(v) => parse_ratio("OTEL_TRACES_SAMPLER_ARG", v),
        };
        if let Some(v) = var("OTEL_TRACES_SAMPLER") {
            self.sampler = match v.trim().to_ascii_lowercase().as_str() {
                "always_on" => Sampler::AlwaysOn,
                "always_off" => Sampler::AlwaysOff,
                "traceidratio" => Sampler::TraceIdRatio(ratio()?),
                "parentbased_always_on" => Sampler::ParentBasedAlwaysOn,
                "parentbased_always_off" => Sampler::ParentBasedAlwaysOff,
                "parentbased_traceidratio" => Sampler::ParentBasedTraceIdRatio(ratio()?),
                _ => {
                    return Err(ConfigError::invalid(
                        "OTEL_TRACES_SAMPLER",
                        &v,
                        "expected always_on, always_off, traceidratio, parentbased_always_on, \
                         parentbased_always_off or parentbased_traceidratio",
                    ))
                }
            };
        } else if let Some(v) = &arg {
            // An argument without a sampler applies to a ratio sampler set from code.
            self.sampler = match self.sampler {
                Sampler::TraceIdRatio(_) => {
                    Sampler::TraceIdRatio(parse_ratio("OTEL_TRACES_SAMPLER_ARG", v)?)
                }
                Sampler::ParentBasedTraceIdRatio(_) => {
                    Sampler::ParentBasedTraceIdRatio(parse_ratio("OTEL_TRACES_SAMPLER_ARG", v)?)
                }
                other => other,
            };
        }
        self.spans.apply_env("OTEL_BSP", var)?;
        self.logs.apply_env("OTEL_BLRP", var)
    }

    /// Checks values set from code the way the environment's are checked.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(ratio) = self.sampler.ratio() {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(ConfigError::invalid(
                    "tracing.sampler",
                    &ratio.to_string(),
                    "the ratio must be between 0 and 1",
                ));
            }
        }
        self.spans.validate("OTEL_BSP")?;
        self.logs.validate("OTEL_BLRP")
    }
}

fn parse_ratio(variable: &str, value: &str) -> Result<f64, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(ConfigError::invalid(
            variable,
            value,
            "expected a number between 0 and 1",
        )),
    }
}

fn parse_count(variable: &str, value: &str) -> Result<usize, ConfigError> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| ConfigError::invalid(variable, value, "expected a whole number"))
}
