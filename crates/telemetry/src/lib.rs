//! # coinjecture-telemetry
//!
//! One init call for every binary: structured logs on stderr, as JSON lines (the default for
//! operators and log shippers) or as human-readable text. The filter follows `RUST_LOG` syntax
//! (`info`, `coinjecture_crypto_core=debug,info`).
//!
//! Prometheus metrics and OpenTelemetry export join this crate with the node (see the README's
//! roadmap); the API stays one call.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

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

/// Errors setting up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log format {0:?} is not one of json, text")]
    Format(String),
    #[error("log level {level:?} is invalid: {reason}")]
    Filter { level: String, reason: String },
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Installs the global logger. `level` is a `RUST_LOG`-style filter; `RUST_LOG`, when set,
/// takes precedence so operators can raise verbosity without editing configs.
pub fn init(format: LogFormat, level: &str) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.is_empty() => EnvFilter::try_new(&env)
            .map_err(|e| TelemetryError::Filter { level: env.clone(), reason: e.to_string() })?,
        _ => EnvFilter::try_new(level)
            .map_err(|e| TelemetryError::Filter { level: level.into(), reason: e.to_string() })?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_unknown_ones_are_named() {
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        assert_eq!("xml".parse::<LogFormat>().unwrap_err().to_string(), "log format \"xml\" is not one of json, text");
    }
}
