//! Every metric the filter reports, named once, and the helpers that change them.
//!
//! Each worker VM defines the metrics when it is configured; Envoy maps the same name from
//! every worker onto one stat, so values change only by increments, never by setting a
//! per-worker total. Envoy keeps them as `wasmcustom.<name>` and prints them at
//! `/stats/prometheus` as `<name>`.

use log::warn;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// A metric the filter reports. The discriminant indexes [`Metrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    HttpRequests,
    HttpResponses1xx,
    HttpResponses2xx,
    HttpResponses3xx,
    HttpResponses4xx,
    HttpResponses5xx,
    RequestDuration,
    FaviconResponses,
    HealthCacheHits,
    HealthCacheMisses,
    QueryCacheHits,
    QueryCacheMisses,
    QueryCacheStores,
    QueryCacheEvictions,
    QueryCacheEntries,
    QueryCacheBytes,
    CompressionResponses,
    CompressionBytesIn,
    CompressionBytesOut,
}

/// Name (without the configured prefix) and kind of every metric, in [`Metric`] order.
pub const METRICS: [(Metric, &str, MetricType); 19] = [
    (
        Metric::HttpRequests,
        "http_requests_total",
        MetricType::Counter,
    ),
    (
        Metric::HttpResponses1xx,
        "http_responses_total.status_class.1xx",
        MetricType::Counter,
    ),
    (
        Metric::HttpResponses2xx,
        "http_responses_total.status_class.2xx",
        MetricType::Counter,
    ),
    (
        Metric::HttpResponses3xx,
        "http_responses_total.status_class.3xx",
        MetricType::Counter,
    ),
    (
        Metric::HttpResponses4xx,
        "http_responses_total.status_class.4xx",
        MetricType::Counter,
    ),
    (
        Metric::HttpResponses5xx,
        "http_responses_total.status_class.5xx",
        MetricType::Counter,
    ),
    (
        Metric::RequestDuration,
        "http_request_duration_microseconds",
        MetricType::Histogram,
    ),
    (
        Metric::FaviconResponses,
        "favicon_responses_total",
        MetricType::Counter,
    ),
    (
        Metric::HealthCacheHits,
        "health_cache_hits_total",
        MetricType::Counter,
    ),
    (
        Metric::HealthCacheMisses,
        "health_cache_misses_total",
        MetricType::Counter,
    ),
    (
        Metric::QueryCacheHits,
        "query_cache_hits_total",
        MetricType::Counter,
    ),
    (
        Metric::QueryCacheMisses,
        "query_cache_misses_total",
        MetricType::Counter,
    ),
    (
        Metric::QueryCacheStores,
        "query_cache_stores_total",
        MetricType::Counter,
    ),
    (
        Metric::QueryCacheEvictions,
        "query_cache_evictions_total",
        MetricType::Counter,
    ),
    (
        Metric::QueryCacheEntries,
        "query_cache_entries",
        MetricType::Gauge,
    ),
    (
        Metric::QueryCacheBytes,
        "query_cache_bytes",
        MetricType::Gauge,
    ),
    (
        Metric::CompressionResponses,
        "compression_responses_total",
        MetricType::Counter,
    ),
    (
        Metric::CompressionBytesIn,
        "compression_bytes_in_total",
        MetricType::Counter,
    ),
    (
        Metric::CompressionBytesOut,
        "compression_bytes_out_total",
        MetricType::Counter,
    ),
];

/// The response counter for a status code's class, if the code has one.
pub fn status_class_metric(status: u32) -> Option<Metric> {
    match status / 100 {
        1 => Some(Metric::HttpResponses1xx),
        2 => Some(Metric::HttpResponses2xx),
        3 => Some(Metric::HttpResponses3xx),
        4 => Some(Metric::HttpResponses4xx),
        5 => Some(Metric::HttpResponses5xx),
        _ => None,
    }
}

/// This VM's ids for every metric. A metric the host refused to define has no id and is
/// silently not reported (the refusal is logged once, at definition).
pub struct Metrics {
    ids: Vec<Option<u32>>,
}

impl Metrics {
    /// Defines every metric under `prefix`. Called once per configuration of a VM, never
    /// per request: defining is a lookup by name in the host.
    pub fn define(prefix: &str) -> Metrics {
        let ids = METRICS
            .iter()
            .map(|(_, name, kind)| {
                let full_name = format!("{prefix}{name}");
                match hostcalls::define_metric(*kind, &full_name) {
                    Ok(id) => Some(id),
                    Err(status) => {
                        warn!("metric {full_name} could not be defined ({status:?}); not reported");
                        None
                    }
                }
            })
            .collect();
        Metrics { ids }
    }

    /// Adds `by` to a counter or gauge (gauges may go down).
    pub fn add(&self, metric: Metric, by: i64) {
        if by == 0 {
            return;
        }
        if let Some(id) = self.id(metric) {
            let _ = hostcalls::increment_metric(id, by);
        }
    }

    pub fn increment(&self, metric: Metric) {
        self.add(metric, 1);
    }

    /// Records one observation in a histogram.
    pub fn record(&self, metric: Metric, value: u64) {
        if let Some(id) = self.id(metric) {
            let _ = hostcalls::record_metric(id, value);
        }
    }

    fn id(&self, metric: Metric) -> Option<u32> {
        self.ids.get(metric as usize).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_enum_order() {
        for (index, (metric, _, _)) in METRICS.iter().enumerate() {
            assert_eq!(*metric as usize, index, "{metric:?}");
        }
    }

    #[test]
    fn counters_end_in_total_and_others_do_not() {
        for (metric, name, kind) in METRICS {
            let base = name.split('.').next().unwrap();
            let is_counter = matches!(kind, MetricType::Counter);
            assert_eq!(base.ends_with("_total"), is_counter, "{metric:?} {name}");
        }
    }

    #[test]
    fn status_codes_map_to_their_class() {
        let cases = [
            (100, Some(Metric::HttpResponses1xx)),
            (200, Some(Metric::HttpResponses2xx)),
            (304, Some(Metric::HttpResponses3xx)),
            (404, Some(Metric::HttpResponses4xx)),
            (503, Some(Metric::HttpResponses5xx)),
            (599, Some(Metric::HttpResponses5xx)),
            (0, None),
            (600, None),
        ];
        for (status, expected) in cases {
            assert_eq!(status_class_metric(status), expected, "{status}");
        }
    }
}
