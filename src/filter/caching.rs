//! The cache steps of the request state machine shared by health and the query cache:
//! which cache a request belongs to, and the response side (decide to store from the
//! headers, copy the body as it streams past, store at its end). The request side of each
//! cache lives in `health.rs` and `query_cache.rs`. Decisions come from `crate::cache`;
//! these files only gather their inputs from the host and apply the answers.

use std::rc::Rc;

use log::debug;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, Bytes};

use crate::cache::entry::{Entry, Hit};
use crate::cache::health::{is_health_request, HealthCache};
use crate::http::header_map::HeaderMap;
use crate::root::epoch_ms;

use super::{EdgeFilter, Phase};

/// Which cache a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Health,
    Query,
    /// An unsafe request whose success makes the query cache's entry stale.
    Invalidation,
    /// A request the query cache's rules keep away from it; its answer only says so.
    Bypass,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Health => "health",
            Kind::Query => "query_cache",
            Kind::Invalidation => "query_cache invalidation",
            Kind::Bypass => "query_cache bypass",
        }
    }
}

/// Where a response would be stored.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) kind: Kind,
    pub(super) key: Vec<u8>,
    /// A health probe that refreshes its key for this worker, and must say when done.
    pub(super) refresh_owner: bool,
}

/// A request sent upstream by a cache that may store the answer.
#[derive(Debug)]
pub(super) struct Forwarded {
    pub(super) target: Target,
    /// False for a query-cache HEAD: its answer has no body, so it is not stored.
    pub(super) may_store: bool,
    pub(super) request_has_authorization: bool,
    /// The request's headers, kept for `Vary`: Envoy refuses to read request headers from
    /// response callbacks (the SDK then panics), and `Vary` is only known from the response.
    pub(super) request_headers: Vec<(String, Bytes)>,
    /// The RFC 9211 `fwd` reason: `miss`, or `request` when the client asked to skip us.
    pub(super) fwd: &'static str,
}

/// A response being stored: the entry from its headers, the body so far.
#[derive(Debug)]
pub(super) struct Capture {
    target: Target,
    entry: Entry,
    body: Vec<u8>,
}

impl EdgeFilter {
    pub(super) fn now_ms(&self) -> u64 {
        epoch_ms(self.get_current_time())
    }

    /// Answers from a cache or arranges to fill one; None when no cache applies.
    pub(super) fn try_cache_request(
        &mut self,
        request: HeaderMap,
        method: &[u8],
        path: &[u8],
    ) -> Option<Action> {
        if is_health_request(&self.shared.config.health, method, path) {
            return Some(self.health_request(&request, method, path));
        }
        if !self.in_query_prefixes(path) {
            return None;
        }
        match method {
            b"GET" | b"HEAD" => Some(self.query_request(request, method, path)),
            b"OPTIONS" | b"TRACE" => None,
            _ => Some(self.invalidate_on_success(&request, path)),
        }
    }

    /// Decides from the upstream's headers whether to store its answer, marks the response
    /// with our `Cache-Status`, and stores headers-only answers at once (no body callback
    /// follows them).
    pub(super) fn cache_response_headers(
        &mut self,
        forwarded: Forwarded,
        status: Option<u32>,
        response: &HeaderMap,
        end_of_stream: bool,
    ) -> Option<Capture> {
        let kind = forwarded.target.kind;
        if kind == Kind::Bypass {
            // RFC 9211: the cache was configured not to handle this request.
            self.add_http_response_header("cache-status", "edge-optimizer; fwd=bypass");
            return None;
        }
        if kind == Kind::Invalidation {
            if status.is_some_and(|s| (200..400).contains(&s)) {
                self.invalidate(&forwarded.target.key);
            }
            return None;
        }
        let now_ms = self.now_ms();
        let raw = response.fields();
        let entry = match (status, kind) {
            (None, _) => Err("no valid :status".to_string()),
            (Some(status), Kind::Health) => self.health_entry(status, raw, now_ms),
            (Some(status), Kind::Query) => self.query_entry(&forwarded, status, raw, now_ms),
            (Some(_), Kind::Invalidation | Kind::Bypass) => Err("nothing to store".to_string()),
        };

        let entry = match entry {
            Ok(entry) => entry,
            Err(reason) => {
                debug!(
                    "#{} {} miss not stored ({reason})",
                    self.context_id,
                    kind.name()
                );
                if kind == Kind::Health {
                    // The old answer must not be served while a later probe refreshes.
                    self.with_health(|health| health.store(forwarded.target.key.clone(), None));
                }
                let cache_status = format!("edge-optimizer; fwd={}", forwarded.fwd);
                self.add_http_response_header("cache-status", &cache_status);
                self.release(&forwarded.target);
                return None;
            }
        };

        debug!(
            "#{} {} miss storing ttl={}s",
            self.context_id,
            kind.name(),
            entry.ttl_secs(now_ms)
        );
        // Headers leave before the body is seen: `stored` is said only when the length is
        // known to fit, since a body of unknown length may still cross max_entry_bytes.
        let stored = if end_of_stream || content_length(raw).is_some() {
            "; stored"
        } else {
            ""
        };
        let cache_status = format!("edge-optimizer; fwd={}{stored}", forwarded.fwd);
        self.add_http_response_header("cache-status", &cache_status);

        let capture = Capture {
            target: forwarded.target,
            entry,
            body: Vec::new(),
        };
        if end_of_stream {
            self.complete_capture(capture);
            return None;
        }
        Some(capture)
    }

    /// Copies one chunk. Past `max_entry_bytes` it stops copying and lets the rest pass
    /// untouched: the body is never paused or buffered, which past Envoy's buffer limit
    /// would turn the response into a 500.
    pub(super) fn cache_response_body(
        &mut self,
        mut capture: Capture,
        chunk: &[u8],
        body_size: usize,
        end_of_stream: bool,
    ) -> Option<Capture> {
        if body_size > 0 {
            let limit = self.shared.config.query_cache.max_entry_bytes;
            if capture.body.len().saturating_add(body_size) > limit {
                self.give_up_capture(capture, "body larger than max_entry_bytes");
                return None;
            }
            if chunk.len() != body_size {
                self.give_up_capture(capture, "body chunk unreadable");
                return None;
            }
            capture.body.extend_from_slice(chunk);
        }

        if end_of_stream {
            self.complete_capture(capture);
            return None;
        }
        Some(capture)
    }

    fn complete_capture(&mut self, capture: Capture) {
        let Capture {
            target,
            mut entry,
            body,
        } = capture;
        entry.body = Rc::from(body);
        debug!(
            "#{} {} stored {} body bytes",
            self.context_id,
            target.kind.name(),
            entry.body.len()
        );

        match target.kind {
            Kind::Health => {
                self.with_health(|health| health.store(target.key.clone(), Some(entry)));
            }
            Kind::Query => {
                let change = match self.shared.caches.try_borrow_mut() {
                    Ok(mut caches) => caches.query.insert(target.key.clone(), entry),
                    Err(_) => Default::default(),
                };
                self.shared.record_query_change(change);
            }
            Kind::Invalidation | Kind::Bypass => {}
        }
        self.release(&target);
    }

    pub(super) fn give_up_capture(&mut self, capture: Capture, reason: &str) {
        debug!(
            "#{} {} not stored ({reason})",
            self.context_id,
            capture.target.kind.name()
        );
        self.release(&capture.target);
    }

    /// Removes the query cache's entry under `key`, moving the gauges.
    fn invalidate(&self, key: &[u8]) {
        let change = match self.shared.caches.try_borrow_mut() {
            Ok(mut caches) => caches.query.remove(key),
            Err(_) => Default::default(),
        };
        if change.entries != 0 {
            debug!("#{} query_cache entry invalidated", self.context_id);
        }
        self.shared.record_query_change(change);
    }

    /// Ends a health refresh this request owns, so the next probe may refresh again.
    pub(super) fn release(&self, target: &Target) {
        if target.kind == Kind::Health && target.refresh_owner {
            self.with_health(|health| health.finish(&target.key));
        }
    }

    pub(super) fn with_health<R>(&self, f: impl FnOnce(&mut HealthCache) -> R) {
        if let Ok(mut caches) = self.shared.caches.try_borrow_mut() {
            f(&mut caches.health);
        }
    }

    /// Answers with a cache hit; like every local reply, the last host call of the request
    /// phase. Query-cache hits are compressed as an upstream response would be (health
    /// answers never are); `key` finds the entry whose compressed form is kept.
    pub(super) fn answer_from_cache(&mut self, hit: Hit, key: Option<&[u8]>) -> Action {
        let hit = match (&self.phase, key) {
            (
                Phase::Forwarded {
                    coding: Some(coding),
                    ..
                },
                Some(key),
            ) => self.compress_hit(key, hit, coding),
            _ => hit,
        };
        self.send_local_reply(hit.status, &hit.headers, &hit.body)
    }

    /// Sends the request upstream with a place to store its answer. Health probes keep
    /// their identity coding: their answers are tiny and replayed as stored.
    pub(super) fn forward_to_cache(&mut self, forwarded: Forwarded) -> Action {
        let coding = match self.take_phase() {
            Phase::Forwarded { coding, .. } if forwarded.target.kind != Kind::Health => coding,
            _ => None,
        };
        self.phase = Phase::Forwarded {
            coding,
            cache: Some(forwarded),
        };
        Action::Continue
    }
}

pub(super) fn content_length(raw: &[(String, Bytes)]) -> Option<u64> {
    let (_, value) = raw
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?;
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}
