//! Step two of reading the configuration: ranges, cross-field rules and the runtime form
//! (durations parsed, the icon decoded), each failure naming its field.

use std::time::Duration;

use crate::base64;
use crate::duration::parse_duration;

use super::raw::{RawCompression, RawConfig, RawFavicon, RawHealth, RawMetrics, RawQueryCache};
use super::{
    CompressionConfig, Config, ConfigError, Encoding, FaviconConfig, HealthConfig, MetricsConfig,
    QueryCacheConfig,
};

/// The largest favicon the filter keeps in memory on every worker.
const MAX_FAVICON_BYTES: usize = 64 * 1024;
const MAX_FAVICON_AGE_SECS: u64 = 365 * 24 * 3600;
const MAX_HEALTH_TTL: Duration = Duration::from_secs(3600);
const MAX_DEFAULT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const MIN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
const MAX_SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

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
        if raw.enabled && raw.prefixes.is_empty() {
            return Err(ConfigError::new(
                "query_cache.prefixes",
                "needs at least one prefix while the query cache is enabled",
            ));
        }
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
            format!(
                "{text:?} is out of range, expected {} to {}",
                as_written(min),
                as_written(max)
            ),
        ));
    }
    Ok(duration)
}

/// A duration the way the configuration writes them (`0s`, `30d` as `720h`, `1h`).
fn as_written(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        0 => "0s".to_string(),
        m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
        m if m % 60_000 == 0 => format!("{}m", m / 60_000),
        m if m % 1000 == 0 => format!("{}s", m / 1000),
        m => format!("{m}ms"),
    }
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
