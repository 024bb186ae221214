//! The plugin configuration: what operators write, its defaults, and the checks that turn
//! it into the settings the filter runs with.
//!
//! Parsing happens in two steps. serde reads the JSON into plain structs that refuse unknown
//! fields and wrong types; then [`Config::try_from`] checks ranges and builds the runtime form
//! (durations parsed, the icon decoded). Either step fails with a [`ConfigError`] naming the
//! field path, so the one log line an operator sees says exactly what to fix.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::base64;
use crate::duration::parse_duration;

/// The largest favicon the filter keeps in memory on every worker.
const MAX_FAVICON_BYTES: usize = 64 * 1024;
const MAX_FAVICON_AGE_SECS: u64 = 365 * 24 * 3600;
const MAX_HEALTH_TTL: Duration = Duration::from_secs(3600);
const MAX_DEFAULT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

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

// ---- step one: the JSON document as written ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawConfig {
    favicon: RawFavicon,
    health: RawHealth,
    query_cache: RawQueryCache,
    compression: RawCompression,
    metrics: RawMetrics,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawFavicon {
    enabled: bool,
    path: String,
    body_base64: String,
    content_type: String,
    max_age: i64,
}

impl Default for RawFavicon {
    fn default() -> Self {
        RawFavicon {
            enabled: true,
            path: "/favicon.ico".to_string(),
            body_base64: String::new(),
            content_type: "image/x-icon".to_string(),
            max_age: 86400,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawHealth {
    enabled: bool,
    paths: Vec<String>,
    ttl: String,
    failure_ttl: String,
}

impl Default for RawHealth {
    fn default() -> Self {
        RawHealth {
            enabled: true,
            paths: vec!["/health".to_string()],
            ttl: "5s".to_string(),
            failure_ttl: "1s".to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawQueryCache {
    enabled: bool,
    prefixes: Vec<String>,
    max_entries: i64,
    max_bytes: i64,
    max_entry_bytes: i64,
    default_ttl: String,
    ignored_query_params: Vec<String>,
    sweep_interval: String,
}

impl Default for RawQueryCache {
    fn default() -> Self {
        RawQueryCache {
            enabled: true,
            prefixes: vec!["/api/".to_string()],
            max_entries: 1000,
            max_bytes: 64 * 1024 * 1024,
            max_entry_bytes: 1024 * 1024,
            default_ttl: "1h".to_string(),
            ignored_query_params: [
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
                "gclid",
                "fbclid",
            ]
            .iter()
            .map(|p| p.to_string())
            .collect(),
            sweep_interval: "5m".to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawCompression {
    enabled: bool,
    encodings: Vec<String>,
    gzip_level: i64,
    brotli_quality: i64,
    min_length: i64,
    content_types: Vec<String>,
}

impl Default for RawCompression {
    fn default() -> Self {
        RawCompression {
            enabled: true,
            encodings: vec!["gzip".to_string()],
            gzip_level: 6,
            brotli_quality: 5,
            min_length: 1024,
            content_types: [
                "text/*",
                "application/json",
                "application/javascript",
                "application/xml",
                "application/xhtml+xml",
                "application/manifest+json",
                "image/svg+xml",
            ]
            .iter()
            .map(|t| t.to_string())
            .collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMetrics {
    prefix: String,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            prefix: "edge_".to_string(),
        }
    }
}

// ---- step two: ranges and runtime form ----

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, Self::Error> {
        let query_cache = QueryCacheConfig::try_from(raw.query_cache)?;
        Ok(Config {
            favicon: FaviconConfig::try_from(raw.favicon)?,
            health: HealthConfig::try_from(raw.health)?,
            query_cache,
            compression: CompressionConfig::try_from(raw.compression)?,
            metrics: MetricsConfig::try_from(raw.metrics)?,
        })
    }
}

impl TryFrom<RawFavicon> for FaviconConfig {
    type Error = ConfigError;

    fn try_from(raw: RawFavicon) -> Result<Self, Self::Error> {
        check_path("favicon.path", &raw.path)?;

        let body = base64::decode(raw.body_base64.trim())
            .map_err(|reason| ConfigError::new("favicon.body_base64", reason))?;
        if body.len() > MAX_FAVICON_BYTES {
            return Err(ConfigError::new(
                "favicon.body_base64",
                format!(
                    "the icon is {} bytes, at most {MAX_FAVICON_BYTES}",
                    body.len()
                ),
            ));
        }

        if !is_header_value(&raw.content_type) || raw.content_type.trim().is_empty() {
            return Err(ConfigError::new(
                "favicon.content_type",
                "must be a non-empty header value",
            ));
        }

        let max_age_secs = in_range("favicon.max_age", raw.max_age, 0, MAX_FAVICON_AGE_SECS)?;

        Ok(FaviconConfig {
            enabled: raw.enabled,
            path: raw.path,
            body,
            content_type: raw.content_type,
            max_age_secs,
        })
    }
}

impl TryFrom<RawHealth> for HealthConfig {
    type Error = ConfigError;

    fn try_from(raw: RawHealth) -> Result<Self, Self::Error> {
        if raw.enabled && raw.paths.is_empty() {
            return Err(ConfigError::new(
                "health.paths",
                "needs at least one path while health caching is enabled",
            ));
        }
        for (i, path) in raw.paths.iter().enumerate() {
            check_path(&format!("health.paths[{i}]"), path)?;
        }

        let ttl = duration_in_range("health.ttl", &raw.ttl, Duration::ZERO, MAX_HEALTH_TTL)?;
        let failure_ttl = duration_in_range(
            "health.failure_ttl",
            &raw.failure_ttl,
            Duration::ZERO,
            MAX_HEALTH_TTL,
        )?;

        Ok(HealthConfig {
            enabled: raw.enabled,
            paths: raw.paths,
            ttl,
            failure_ttl,
        })
    }
}

impl TryFrom<RawQueryCache> for QueryCacheConfig {
    type Error = ConfigError;

    fn try_from(raw: RawQueryCache) -> Result<Self, Self::Error> {
        for (i, prefix) in raw.prefixes.iter().enumerate() {
            check_path(&format!("query_cache.prefixes[{i}]"), prefix)?;
        }

        let max_entries = in_range(
            "query_cache.max_entries",
            raw.max_entries,
            1,
            u32::MAX as u64,
        )?;
        let max_bytes = in_range("query_cache.max_bytes", raw.max_bytes, 1, u32::MAX as u64)?;
        let max_entry_bytes = in_range(
            "query_cache.max_entry_bytes",
            raw.max_entry_bytes,
            1,
            max_bytes,
        )?;

        let default_ttl = duration_in_range(
            "query_cache.default_ttl",
            &raw.default_ttl,
            Duration::ZERO,
            MAX_DEFAULT_TTL,
        )?;
        let sweep_interval = duration_in_range(
            "query_cache.sweep_interval",
            &raw.sweep_interval,
            MIN_SWEEP_INTERVAL,
            MAX_SWEEP_INTERVAL,
        )?;

        for (i, name) in raw.ignored_query_params.iter().enumerate() {
            if name.is_empty() || name.contains('&') {
                return Err(ConfigError::new(
                    &format!("query_cache.ignored_query_params[{i}]"),
                    "must be a non-empty parameter name without '&'",
                ));
            }
        }

        Ok(QueryCacheConfig {
            enabled: raw.enabled,
            prefixes: raw.prefixes,
            max_entries: max_entries as usize,
            max_bytes: max_bytes as usize,
            max_entry_bytes: max_entry_bytes as usize,
            default_ttl,
            ignored_query_params: raw.ignored_query_params,
            sweep_interval,
        })
    }
}

impl TryFrom<RawCompression> for CompressionConfig {
    type Error = ConfigError;

    fn try_from(raw: RawCompression) -> Result<Self, Self::Error> {
        if raw.encodings.is_empty() {
            return Err(ConfigError::new(
                "compression.encodings",
                "needs at least one of \"gzip\", \"br\"",
            ));
        }
        let mut encodings = Vec::new();
        for (i, name) in raw.encodings.iter().enumerate() {
            let field = format!("compression.encodings[{i}]");
            let encoding = match name.as_str() {
                "gzip" => Encoding::Gzip,
                "br" => Encoding::Brotli,
                other => {
                    return Err(ConfigError::new(
                        &field,
                        format!("unknown encoding {other:?}, expected \"gzip\" or \"br\""),
                    ))
                }
            };
            if encodings.contains(&encoding) {
                return Err(ConfigError::new(
                    &field,
                    format!("{name:?} is listed twice"),
                ));
            }
            encodings.push(encoding);
        }

        let gzip_level = in_range("compression.gzip_level", raw.gzip_level, 1, 9)?;
        let brotli_quality = in_range("compression.brotli_quality", raw.brotli_quality, 0, 11)?;
        let min_length = in_range("compression.min_length", raw.min_length, 0, i64::MAX as u64)?;

        if raw.content_types.is_empty() {
            return Err(ConfigError::new(
                "compression.content_types",
                "needs at least one media type",
            ));
        }
        let mut content_types = Vec::new();
        for (i, media_type) in raw.content_types.iter().enumerate() {
            let media_type = media_type.trim().to_ascii_lowercase();
            if !is_media_range(&media_type) {
                return Err(ConfigError::new(
                    &format!("compression.content_types[{i}]"),
                    format!(
                        "{media_type:?} is not a media type such as \"text/html\" or \"text/*\""
                    ),
                ));
            }
            content_types.push(media_type);
        }

        Ok(CompressionConfig {
            enabled: raw.enabled,
            encodings,
            gzip_level: gzip_level as u32,
            brotli_quality: brotli_quality as u32,
            min_length,
            content_types,
        })
    }
}

impl TryFrom<RawMetrics> for MetricsConfig {
    type Error = ConfigError;

    fn try_from(raw: RawMetrics) -> Result<Self, Self::Error> {
        if !raw
            .prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(ConfigError::new(
                "metrics.prefix",
                format!("{:?} may hold only a-z and '_'", raw.prefix),
            ));
        }
        Ok(MetricsConfig { prefix: raw.prefix })
    }
}

fn in_range(field: &str, value: i64, min: u64, max: u64) -> Result<u64, ConfigError> {
    match u64::try_from(value) {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(ConfigError::new(
            field,
            format!("{value} is out of range, expected {min} to {max}"),
        )),
    }
}

fn duration_in_range(
    field: &str,
    text: &str,
    min: Duration,
    max: Duration,
) -> Result<Duration, ConfigError> {
    let duration = parse_duration(text).map_err(|reason| ConfigError::new(field, reason))?;
    if duration < min || duration > max {
        return Err(ConfigError::new(
            field,
            format!("{text:?} is out of range, expected {min:?} to {max:?}"),
        ));
    }
    Ok(duration)
}

fn check_path(field: &str, path: &str) -> Result<(), ConfigError> {
    let printable = path.bytes().all(|b| b.is_ascii_graphic());
    if !path.starts_with('/') || !printable || path.contains('?') || path.contains('#') {
        return Err(ConfigError::new(
            field,
            format!("{path:?} must start with '/' and hold no spaces, '?' or '#'"),
        ));
    }
    Ok(())
}

fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

fn is_media_range(media_type: &str) -> bool {
    let is_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match media_type.split_once('/') {
        Some((kind, "*")) => is_token(kind),
        Some((kind, subtype)) => is_token(kind) && is_token(subtype),
        None => false,
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
