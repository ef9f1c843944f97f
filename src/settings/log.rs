//! The `[log]` section: what is logged and how.
//!
//! Variables: `APP__LOG__LEVEL` (a `tracing` filter such as `info` or
//! `million=debug,info`; `RUST_LOG` wins when set), `APP__LOG__FORMAT`
//! (`pretty` or `json`).

use serde::{Deserialize, Serialize};

/// Logging configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Default filter when `RUST_LOG` is not set.
    pub level: String,
    /// Human-readable lines or one JSON object per line.
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}
