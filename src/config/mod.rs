//! The plugin configuration: what operators write, its defaults, and the checks that turn
//! it into the settings the filter runs with.
//!
//! Parsing happens in two steps. serde reads the JSON into plain structs that refuse unknown
//! fields and wrong types; then [`Config::try_from`] checks ranges and builds the runtime form
//! (durations parsed, the icon decoded). Either step fails with a [`ConfigError`] naming the
//! field path, so the one log line an operator sees says exactly what to fix.

mod raw;
mod validate;

use std::fmt;
use std::time::Duration;

use raw::RawConfig;

/// A configuration that cannot be used, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted path of the field, such as `query_cache.max_bytes`; empty for the whole document.
    pub field: String,
    pub reason: String,
}

impl ConfigError {
    fn new(field: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

/// The settings the filter runs with, checked and in their runtime form.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub favicon: FaviconConfig,
    pub health: HealthConfig,
    pub query_cache: QueryCacheConfig,
    pub compression: CompressionConfig,
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FaviconConfig {
    pub enabled: bool,
    pub path: String,
    /// The decoded icon; empty means the filter answers `204 No Content`.
    pub body: Vec<u8>,
    pub content_type: String,
    pub max_age_secs: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    pub enabled: bool,
    pub paths: Vec<String>,
    /// How long a 2xx answer is served from cache; zero stores none.
    pub ttl: Duration,
    /// How long any other answer is served from cache; zero stores none.
    pub failure_ttl: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryCacheConfig {
    pub enabled: bool,
    pub prefixes: Vec<String>,
    pub max_entries: usize,
    pub max_bytes: usize,
    pub max_entry_bytes: usize,
    pub default_ttl: Duration,
    pub ignored_query_params: Vec<String>,
    pub sweep_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Brotli,
}

impl Encoding {
    /// The token used in `Accept-Encoding` and `Content-Encoding`.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Brotli => "br",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompressionConfig {
    pub enabled: bool,
    /// Server preference, most preferred first; breaks ties between equal client weights.
    pub encodings: Vec<Encoding>,
    pub gzip_level: u32,
    pub brotli_quality: u32,
    pub min_length: u64,
    /// Lower-cased media types; `type/*` matches every subtype.
    pub content_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    pub prefix: String,
}

impl Config {
    /// Reads the plugin configuration as Envoy hands it over. Missing, empty or
    /// whitespace-only configuration means every default.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Config::try_from(RawConfig::default());
        }

        let document: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ConfigError::new("", e.to_string()))?;
        refuse_arrays_for_sections(&document)?;

        let raw: RawConfig = serde_path_to_error::deserialize(document).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            ConfigError::new(&field, e.inner().to_string())
        })?;

        Config::try_from(raw)
    }

    /// One line for the log at load time, so operators see what is in force.
    pub fn summary(&self) -> String {
        format!(
            "favicon={} health={} ({} paths, ttl={:?}, failure_ttl={:?}) \
             query_cache={} ({} prefixes, {} entries, {} bytes) compression={} ({})",
            on_off(self.favicon.enabled),
            on_off(self.health.enabled),
            self.health.paths.len(),
            self.health.ttl,
            self.health.failure_ttl,
            on_off(self.query_cache.enabled),
            self.query_cache.prefixes.len(),
            self.query_cache.max_entries,
            self.query_cache.max_bytes,
            on_off(self.compression.enabled),
            self.compression
                .encodings
                .iter()
                .map(|e| e.token())
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// serde reads a struct from a JSON array too; a configuration written that way is a
/// mistake, so the document and each section must be objects.
fn refuse_arrays_for_sections(document: &serde_json::Value) -> Result<(), ConfigError> {
    let sections = document
        .as_object()
        .ok_or_else(|| ConfigError::new("", "the configuration must be a JSON object"))?;
    for (name, section) in sections {
        if !section.is_object() {
            return Err(ConfigError::new(name, "must be a JSON object"));
        }
    }
    Ok(())
}

fn on_off(enabled: bool) -> &'static str {
    if enabled {
        "on"
    } else {
        "off"
    }
}

#[cfg(test)]
mod tests;
