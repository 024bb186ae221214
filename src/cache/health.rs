//! Health-check caching: a fixed TTL per outcome, whatever the upstream's cache headers
//! say, and at most one probe per key in flight to the upstream from this worker.
//!
//! Probes ask "is the upstream alive right now?", and the answer is shared by every prober,
//! so `Cache-Control: no-store` from an application that never meant to be cached is
//! ignored here on purpose. A failure is kept only for `failure_ttl`, so a transient error
//! never outlives itself by more than that.
//!
//! TODO: honour Envoy's admin `/healthcheck/fail`; a module cannot read that state, so
//! operators who drain with it put Envoy's `health_check` filter first.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::HealthConfig;

use super::entry::Entry;
use super::store::Store;

/// Health paths are few, but the query is part of the key; these bounds keep a client that
/// varies the query from growing the worker's memory.
const MAX_HEALTH_ENTRIES: usize = 64;
const MAX_HEALTH_BYTES: usize = 4 * 1024 * 1024;

/// A refresh not finished after this long is presumed lost (Envoy's default route timeout
/// is 15 s), so a stuck marker can never pin an old answer forever.
const REFRESH_TIMEOUT_MS: u64 = 15_000;

/// Whether this request is a health probe: GET or HEAD to exactly one of the configured
/// paths, the query ignored for matching.
pub fn is_health_request(config: &HealthConfig, method: &[u8], path_and_query: &[u8]) -> bool {
    let (path, _) = super::key::split_query(path_and_query);
    config.enabled
        && (method == b"GET" || method == b"HEAD")
        && config.paths.iter().any(|p| p.as_bytes() == path)
}

/// How long a health answer with this status is served from cache; zero means not stored.
pub fn health_ttl(config: &HealthConfig, status: u32) -> Duration {
    if (200..300).contains(&status) {
        config.ttl
    } else {
        config.failure_ttl
    }
}

/// What the cache can do for a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthLookup {
    /// A fresh entry: answer with it.
    Fresh(Entry),
    /// Another probe is refreshing this key; answer with the last entry, however old.
    Refreshing(Entry),
    /// Go upstream. `owner` is true when this probe is the one refreshing the key and
    /// must call [`HealthCache::finish`] when its answer is in.
    Forward { owner: bool },
}

/// One worker's health answers and the keys being refreshed.
pub struct HealthCache {
    store: Store,
    /// Keys being refreshed, with when the refresh began.
    in_flight: HashMap<Vec<u8>, u64>,
}

impl HealthCache {
    pub fn new(max_entry_bytes: usize) -> HealthCache {
        // Room for at least one answer of the largest body allowed, with its headers.
        let max_bytes = MAX_HEALTH_BYTES.max(max_entry_bytes.saturating_add(64 * 1024));
        HealthCache {
            store: Store::new(MAX_HEALTH_ENTRIES, max_bytes),
            in_flight: HashMap::new(),
        }
    }

    /// Looks `keys` up in order (a HEAD probe may use the GET entry first); if none is
    /// fresh, either joins a refresh in flight for `own_key` or starts one.
    pub fn lookup(&mut self, keys: &[&[u8]], own_key: &[u8], now_ms: u64) -> HealthLookup {
        for key in keys {
            if let Some(entry) = self.store.get_any(key) {
                if entry.is_fresh(now_ms) {
                    return HealthLookup::Fresh(entry.clone());
                }
            }
        }

        let refreshing = self
            .in_flight
            .get(own_key)
            .is_some_and(|started| now_ms.saturating_sub(*started) < REFRESH_TIMEOUT_MS);
        if refreshing {
            for key in keys {
                if let Some(entry) = self.store.get_any(key) {
                    return HealthLookup::Refreshing(entry.clone());
                }
            }
            return HealthLookup::Forward { owner: false };
        }

        self.in_flight.insert(own_key.to_vec(), now_ms);
        HealthLookup::Forward { owner: true }
    }

    /// Keeps a fresh answer, or, when its side of the TTL is off, forgets the old one so
    /// it is not served while a later refresh is in flight.
    pub fn store(&mut self, key: Vec<u8>, entry: Option<Entry>) -> bool {
        match entry {
            Some(entry) => self.store.insert(key, entry).stored,
            None => {
                self.store.remove(&key);
                false
            }
        }
    }

    /// Ends the refresh of `key` started by [`HealthCache::lookup`].
    pub fn finish(&mut self, key: &[u8]) {
        self.in_flight.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::config::Config;

    fn config() -> HealthConfig {
        let json = r#"{"health": {"paths": ["/health", "/ready"], "ttl": "2s",
                                  "failure_ttl": "1s"}}"#;
        Config::from_json(json.as_bytes()).unwrap().health
    }

    fn entry(expires_at_ms: u64) -> Entry {
        Entry {
            status: 200,
            headers: Vec::new(),
            body: Rc::from(&b"ok"[..]),
            stored_at_ms: 0,
            expires_at_ms,
            initial_age_secs: 0,
            vary: Vec::new(),
            serves_authorized: true,
            variants: Vec::new(),
        }
    }

    #[test]
    fn which_requests_are_health_probes() {
        // One line per rule: method, path, a probe?
        let cases = [
            ("GET", "/health", true),
            ("HEAD", "/health", true),
            ("GET", "/health?full=1", true),
            ("GET", "/ready", true),
            ("POST", "/health", false),
            ("GET", "/healthz", false),
            ("GET", "/health/db", false),
            ("GET", "/Health", false),
            ("GET", "/api/health", false),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                is_health_request(&config(), method.as_bytes(), path.as_bytes()),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn success_and_failure_have_their_own_ttl() {
        // One line per rule: status, TTL.
        let cases = [
            (200, Duration::from_secs(2)),
            (204, Duration::from_secs(2)),
            (299, Duration::from_secs(2)),
            (301, Duration::from_secs(1)),
            (404, Duration::from_secs(1)),
            (503, Duration::from_secs(1)),
        ];
        for (status, ttl) in cases {
            assert_eq!(health_ttl(&config(), status), ttl, "{status}");
        }
    }

    #[test]
    fn one_probe_refreshes_while_the_others_get_the_last_answer() {
        let mut cache = HealthCache::new(1024);
        let key: &[u8] = b"G /health";

        assert_eq!(
            cache.lookup(&[key], key, 0),
            HealthLookup::Forward { owner: true }
        );
        assert_eq!(
            cache.lookup(&[key], key, 0),
            HealthLookup::Forward { owner: false }
        );

        cache.store(key.to_vec(), Some(entry(1000)));
        cache.finish(key);
        assert!(matches!(
            cache.lookup(&[key], key, 999),
            HealthLookup::Fresh(_)
        ));

        assert_eq!(
            cache.lookup(&[key], key, 1000),
            HealthLookup::Forward { owner: true }
        );
        assert!(matches!(
            cache.lookup(&[key], key, 5000),
            HealthLookup::Refreshing(_)
        ));
    }

    #[test]
    fn a_refresh_that_never_ends_is_taken_over() {
        let mut cache = HealthCache::new(1024);
        let key: &[u8] = b"G /health";
        cache.lookup(&[key], key, 0);

        assert_eq!(
            cache.lookup(&[key], key, REFRESH_TIMEOUT_MS),
            HealthLookup::Forward { owner: true }
        );
    }

    #[test]
    fn an_answer_not_kept_removes_the_old_one() {
        let mut cache = HealthCache::new(1024);
        let key: &[u8] = b"G /health";
        cache.store(key.to_vec(), Some(entry(1000)));

        cache.lookup(&[key], key, 2000);
        cache.store(key.to_vec(), None);

        assert_eq!(
            cache.lookup(&[key], key, 2000),
            HealthLookup::Forward { owner: false }
        );
    }

    #[test]
    fn head_probes_may_use_the_get_answer() {
        let mut cache = HealthCache::new(1024);
        let get: &[u8] = b"G /health";
        let head: &[u8] = b"H /health";
        cache.store(get.to_vec(), Some(entry(1000)));

        assert!(matches!(
            cache.lookup(&[get, head], head, 10),
            HealthLookup::Fresh(_)
        ));
    }
}
