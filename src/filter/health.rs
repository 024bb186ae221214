//! The health steps of the request state machine: answer a probe from the fixed-TTL cache
//! or send it upstream as this worker's one refresh of its key.

use log::debug;
use proxy_wasm::types::{Action, Bytes};

use crate::cache::entry::{stored_headers, Entry};
use crate::cache::health::{health_ttl, HealthLookup};
use crate::cache::key::{BaseKey, MethodClass};
use crate::http::header_map::HeaderMap;
use crate::metrics::Metric;

use super::caching::{content_length, Forwarded, Kind, Target};
use super::EdgeFilter;

impl EdgeFilter {
    /// Answers a probe from a fresh answer or, while another probe of this worker refreshes
    /// the key, from the last one; otherwise forwards it, as the key's refresh when none is
    /// in flight. HEAD probes may use the GET answer.
    pub(super) fn health_request(
        &mut self,
        request: &HeaderMap,
        method: &[u8],
        path: &[u8],
    ) -> Action {
        let now_ms = self.now_ms();
        let scheme = request.get(":scheme").unwrap_or_default();
        let authority = request.get(":authority").unwrap_or_default();
        let base = BaseKey::for_health(scheme, authority, path);
        let get_key = base.with_class(MethodClass::WithBody);
        let head_key = base.with_class(MethodClass::HeadersOnly);
        let (keys, own_key): (Vec<&[u8]>, &[u8]) = if method == b"HEAD" {
            (vec![&get_key, &head_key], &head_key)
        } else {
            (vec![&get_key], &get_key)
        };

        let lookup = match self.shared.caches.try_borrow_mut() {
            Ok(mut caches) => caches.health.lookup(&keys, own_key, now_ms),
            Err(_) => HealthLookup::Forward { owner: false },
        };

        let (entry, cache_status) = match lookup {
            HealthLookup::Fresh(entry) => (entry, "edge-optimizer; hit"),
            HealthLookup::Refreshing(entry) => (entry, "edge-optimizer; hit; detail=refreshing"),
            HealthLookup::Forward { owner } => {
                debug!(
                    "#{} health miss{}",
                    self.context_id,
                    if owner {
                        ", refreshing"
                    } else {
                        ", joining a refresh"
                    }
                );
                self.shared.metrics.increment(Metric::HealthCacheMisses);
                return self.forward_to_cache(Forwarded {
                    target: Target {
                        kind: Kind::Health,
                        key: own_key.to_vec(),
                        refresh_owner: owner,
                    },
                    may_store: true,
                    request_has_authorization: false,
                    request_headers: Vec::new(),
                    fwd: "miss",
                });
            }
        };

        debug!(
            "#{} health hit status={} age={}s",
            self.context_id,
            entry.status,
            entry.age_secs(now_ms)
        );
        self.shared.metrics.increment(Metric::HealthCacheHits);
        let hit = entry.reply(now_ms, cache_status.to_string(), None);
        self.answer_from_cache(hit, None)
    }

    /// The fixed-TTL rule: any status, for `ttl` or `failure_ttl`, headers not consulted.
    pub(super) fn health_entry(
        &self,
        status: u32,
        raw: &[(String, Bytes)],
        now_ms: u64,
    ) -> Result<Entry, String> {
        let ttl = health_ttl(&self.shared.config.health, status);
        if ttl.is_zero() {
            return Err(format!("ttl for {status} is off"));
        }
        let max_entry_bytes = self.shared.config.query_cache.max_entry_bytes;
        if content_length(raw).is_some_and(|length| length > max_entry_bytes as u64) {
            return Err("larger than max_entry_bytes".to_string());
        }
        let headers = stored_headers(raw).ok_or("a header value is not UTF-8")?;
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);

        Ok(Entry::stored_now(status, headers, now_ms, ttl_ms))
    }
}
