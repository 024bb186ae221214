//! Step one of reading the configuration: the JSON document as operators write it, with
//! every default. serde refuses unknown fields and wrong types here; ranges are checked in
//! `validate`.

use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawConfig {
    pub(super) favicon: RawFavicon,
    pub(super) health: RawHealth,
    pub(super) query_cache: RawQueryCache,
    pub(super) compression: RawCompression,
    pub(super) metrics: RawMetrics,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFavicon {
    pub(super) enabled: bool,
    pub(super) path: String,
    pub(super) body_base64: String,
    pub(super) content_type: String,
    pub(super) max_age: i64,
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
pub(super) struct RawHealth {
    pub(super) enabled: bool,
    pub(super) paths: Vec<String>,
    pub(super) ttl: String,
    pub(super) failure_ttl: String,
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
pub(super) struct RawQueryCache {
    pub(super) enabled: bool,
    pub(super) prefixes: Vec<String>,
    pub(super) max_entries: i64,
    pub(super) max_bytes: i64,
    pub(super) max_entry_bytes: i64,
    pub(super) default_ttl: String,
    pub(super) ignored_query_params: Vec<String>,
    pub(super) sweep_interval: String,
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
pub(super) struct RawCompression {
    pub(super) enabled: bool,
    pub(super) encodings: Vec<String>,
    pub(super) gzip_level: i64,
    pub(super) brotli_quality: i64,
    pub(super) min_length: i64,
    pub(super) content_types: Vec<String>,
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
pub(super) struct RawMetrics {
    pub(super) prefix: String,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            prefix: "edge_".to_string(),
        }
    }
}
