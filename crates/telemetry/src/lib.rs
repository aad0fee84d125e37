//! # coinjecture-telemetry
//!
//! One init call for every binary: structured logs on stderr, as JSON lines (the default for
//! operators and log shippers) or as human-readable text, and optionally OpenTelemetry traces
//! exported over OTLP/gRPC to a collector ([`Traces`]). The log filter follows `RUST_LOG`
//! syntax (`info`, `coinjecture_crypto_core=debug,info`).
//!
//! ## Traces
//!
//! `tracing` spans at `info` and above from COINjecture's own crates (targets starting with
//! `coinjecture`) become OpenTelemetry spans, whatever the log level; other crates' spans stay
//! out of the trace. They are batched (the SDK's `OTEL_BSP_*` variables apply, e.g.
//! `OTEL_BSP_SCHEDULE_DELAY=200`) and exported with `service.name` and a `coinjecture.network`
//! resource attribute. [`Telemetry::shutdown`] (or dropping it) flushes what is queued.
//!
//! Trace context crosses process boundaries as W3C `traceparent`/`tracestate` headers:
//! [`inject_current_context`] writes the current span's context (the gRPC client side) and
//! [`set_remote_parent`] makes a span the child of a received one (the server side).
//! `coinjecture-proto` wires both into every gRPC client and server, so no service does it by
//! hand.

use std::marker::PhantomData;
use std::str::FromStr;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, span context).
    #[default]
    Json,
    /// Human-readable text.
    Text,
}

impl FromStr for LogFormat {
    type Err = TelemetryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "text" | "pretty" | "console" => Ok(Self::Text),
            other => Err(TelemetryError::Format(other.to_string())),
        }
    }
}

/// Where traces go and what the exporting process is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traces {
    /// The collector's OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`.
    pub endpoint: String,
    /// `service.name` of the spans: the service (`ledger`, `consensus`, …) or `coinjectured`.
    pub service_name: String,
    /// The network label (`A`, `B`), exported as the resource attribute `coinjecture.network`.
    pub network: Option<String>,
}

/// Errors setting up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log format {0:?} is not one of json, text")]
    Format(String),
    #[error("log level {level:?} is invalid: {reason}")]
    Filter { level: String, reason: String },
    /// `EnvFilter` refuses the filter (or a span directive of it).
    #[error("log level {level:?} is invalid: {source}")]
    FilterSyntax {
        level: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed")]
    AlreadyInstalled,
    #[error("otel.endpoint {endpoint:?}: the OTLP exporter must be started inside the Tokio runtime")]
    OutsideRuntime { endpoint: String },
    #[error("otel.endpoint {endpoint:?}: {source}")]
    Exporter {
        endpoint: String,
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// What [`init`] installed. Keep it for the life of the process; [`Telemetry::shutdown`] (or
/// drop) flushes queued spans to the collector.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported (an OTLP endpoint was configured).
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every queued span and stops the exporter. Call it inside the Tokio runtime's
    /// lifetime (the exporter's connection lives on it), but not from one of its worker threads.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "flushing traces on shutdown failed");
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Checks a log filter (`RUST_LOG` syntax) strictly: every comma-separated directive is a level
/// (`off`, `error`, `warn`, `info`, `debug`, `trace`), or `TARGET=LEVEL`, or a bare `TARGET`, where
/// a target is a Rust module path (`coinjecture_api::rest`); span filters (`[span{field}]`) are
/// left to `EnvFilter`. `EnvFilter` itself reads `bogus!!` as a target that never logs, so a
/// mistyped level silences the node; [`init`] refuses what this refuses.
pub fn check_filter(level: &str) -> Result<(), TelemetryError> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let bad = |reason: String| TelemetryError::Filter { level: level.to_string(), reason };
    let is_target = |t: &str| {
        !t.is_empty()
            && t.split("::").all(|part| {
                part.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
    };
    if level.trim().is_empty() {
        return Err(bad("empty (use e.g. info)".into()));
    }
    for directive in level.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if directive.contains('[') {
            EnvFilter::try_new(directive)
                .map_err(|source| TelemetryError::FilterSyntax { level: level.to_string(), source })?;
            continue;
        }
        let (target, lvl) = match directive.split_once('=') {
            Some((target, lvl)) => (Some(target), lvl),
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => (None, directive),
            None => (Some(directive), "trace"),
        };
        if let Some(target) = target
            && !is_target(target)
        {
            let what = if target == directive { String::new() } else { format!("{directive:?}: ") };
            return Err(bad(format!("{what}{target:?} is neither a level ({}) nor a module path", LEVELS.join(", "))));
        }
        if !LEVELS.contains(&lvl.to_ascii_lowercase().as_str()) {
            return Err(bad(format!("{directive:?}: {lvl:?} is not a level ({})", LEVELS.join(", "))));
        }
    }
    Ok(())
}

/// Installs the global logger and, with `traces`, the OTLP span exporter. `level` is a
/// `RUST_LOG`-style filter; `RUST_LOG`, when set, takes precedence so operators can raise
/// verbosity without editing configs. With `traces`, call it inside a Tokio runtime (the gRPC
/// exporter's connection is spawned on it).
pub fn init(format: LogFormat, level: &str, traces: Option<Traces>) -> Result<Telemetry, TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => {
            EnvFilter::try_new(&env).map_err(|source| TelemetryError::FilterSyntax { level: env.clone(), source })?
        }
        _ => {
            check_filter(level)?;
            EnvFilter::try_new(level).map_err(|source| TelemetryError::FilterSyntax { level: level.into(), source })?
        }
    };
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter).boxed(),
    };
    let provider = traces.map(exporter).transpose()?;
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("coinjecture"))
            .with_filter(Targets::new().with_target("coinjecture", tracing::Level::INFO))
    });
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry().with(logs).with(spans).try_init().map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok(Telemetry { provider })
}

fn exporter(traces: Traces) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::OutsideRuntime { endpoint: traces.endpoint });
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(traces.endpoint.clone())
        .build()
        .map_err(|source| TelemetryError::Exporter { endpoint: traces.endpoint.clone(), source })?;
    let mut resource = opentelemetry_sdk::Resource::builder().with_service_name(traces.service_name.clone());
    if let Some(network) = &traces.network {
        resource = resource.with_attribute(opentelemetry::KeyValue::new("coinjecture.network", network.clone()));
    }
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
}

/// Writes the current span's W3C trace context (`traceparent`, `tracestate`) through `set`.
/// Writes nothing when no trace is being recorded.
pub fn inject_current_context(set: impl FnMut(&'static str, String)) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut FnInjector(set));
}

/// Makes `span` a child of the remote span whose W3C trace context `header` returns (by
/// header name, lower-case); no-op without a valid `traceparent` or when traces are off.
pub fn set_remote_parent<'a>(span: &tracing::Span, header: impl Fn(&str) -> Option<&'a str>) {
    if header("traceparent").is_none() {
        return;
    }
    let context = TraceContextPropagator::new().extract(&FnExtractor(header, PhantomData));
    // Fails only when no OpenTelemetry layer is installed: then there is nothing to link.
    let _ = span.set_parent(context);
}

struct FnInjector<F>(F);

impl<F: FnMut(&'static str, String)> Injector for FnInjector<F> {
    fn set(&mut self, key: &str, value: String) {
        // The W3C propagator only writes these two.
        let key = match key {
            "traceparent" => "traceparent",
            "tracestate" => "tracestate",
            _ => return,
        };
        (self.0)(key, value);
    }
}

struct FnExtractor<'a, F>(F, PhantomData<&'a str>);

impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for FnExtractor<'a, F> {
    fn get(&self, key: &str) -> Option<&str> {
        (self.0)(key)
    }
    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters_that_would_silence_the_node_are_refused() {
        for good in ["info", "WARN", "coinjecture_api=debug,info", "coinjecture_api::rest=trace", "tower", "off"] {
            check_filter(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in ["bogus!!", "", "info,coinjecture_api=loud", "=info", "debug=", "a b"] {
            assert!(check_filter(bad).is_err(), "{bad:?} passed");
        }
        let err = check_filter("bogus!!").unwrap_err().to_string();
        assert!(
            err.ends_with(
                "is invalid: \"bogus!!\" is neither a level (off, error, warn, info, debug, trace) nor a module path"
            ),
            "{err}"
        );
    }

    #[test]
    fn formats_parse_and_unknown_ones_are_named() {
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        assert_eq!("xml".parse::<LogFormat>().unwrap_err().to_string(), "log format \"xml\" is not one of json, text");
    }

    #[test]
    fn without_a_recorded_trace_nothing_is_injected() {
        let mut written = Vec::new();
        inject_current_context(|k, v| written.push((k, v)));
        assert!(written.is_empty(), "{written:?}");
    }

    #[test]
    fn the_exporter_needs_the_runtime_and_says_so() {
        let traces = Traces { endpoint: "http://127.0.0.1:4317".into(), service_name: "test".into(), network: None };
        let e = exporter(traces).unwrap_err().to_string();
        assert!(e.starts_with("otel.endpoint \"http://127.0.0.1:4317\": ") && e.contains("Tokio runtime"), "{e}");
    }
}
