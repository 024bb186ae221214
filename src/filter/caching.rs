//! The cache steps of the request state machine: look up and answer in the request phase,
//! decide to store from the response headers, copy the body as it streams past, store at
//! its end. Decisions come from `crate::cache`; this file only gathers their inputs from
//! the host and applies their answers.

use std::rc::Rc;

use log::debug;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, Bytes};

use crate::cache::entry::{stored_headers, Entry, Hit};
use crate::cache::freshness::{freshness, FreshnessHeaders};
use crate::cache::health::{health_ttl, is_health_request, HealthLookup};
use crate::cache::key::{split_query, vary_matches, vary_names, BaseKey, MethodClass};
use crate::cache::storable::{
    may_serve_authorized, may_store, request_policy, RequestFacts, RequestPolicy, ResponseFacts,
};
use crate::http::cache_control::CacheControl;
use crate::http::list::list_contains;
use crate::metrics::Metric;
use crate::root::epoch_ms;

use super::{EdgeFilter, Phase};

/// Which cache a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Health,
    Query,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Health => "health",
            Kind::Query => "query_cache",
        }
    }
}

/// Where a response would be stored.
#[derive(Debug)]
pub(super) struct Target {
    kind: Kind,
    key: Vec<u8>,
    /// A health probe that refreshes its key for this worker, and must say when done.
    refresh_owner: bool,
}

/// A request sent upstream by a cache that may store the answer.
#[derive(Debug)]
pub(super) struct Forwarded {
    pub(super) target: Target,
    /// False for a query-cache HEAD: its answer has no body, so it is not stored.
    may_store: bool,
    request_has_authorization: bool,
    /// The request's headers, kept for `Vary`: Envoy refuses to read request headers from
    /// response callbacks (the SDK then panics), and `Vary` is only known from the response.
    request_headers: Vec<(String, Bytes)>,
    /// The RFC 9211 `fwd` reason: `miss`, or `request` when the client asked to skip us.
    fwd: &'static str,
}

/// A response being stored: the entry from its headers, the body so far.
#[derive(Debug)]
pub(super) struct Capture {
    target: Target,
    entry: Entry,
    body: Vec<u8>,
}

impl EdgeFilter {
    fn now_ms(&self) -> u64 {
        epoch_ms(self.get_current_time())
    }

    fn request_bytes(&self, name: &str) -> Vec<u8> {
        self.get_http_request_header_bytes(name).unwrap_or_default()
    }

    /// Answers from a cache or arranges to fill one; None when no cache applies.
    pub(super) fn try_cache_request(&mut self) -> Option<Action> {
        let method = self.request_bytes(":method");
        let path = self.request_bytes(":path");

        if is_health_request(&self.shared.config.health, &method, &path) {
            return Some(self.health_request(&method, &path));
        }
        if self.in_query_scope(&method, &path) {
            return Some(self.query_request(&method, &path));
        }
        None
    }

    // ---- health ----

    fn health_request(&mut self, method: &[u8], path: &[u8]) -> Action {
        let now_ms = self.now_ms();
        let scheme = self.request_bytes(":scheme");
        let base = BaseKey::for_health(&scheme, &self.request_bytes(":authority"), path);
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
                self.phase = Phase::Forwarded(Forwarded {
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
                return Action::Continue;
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
        self.answer_from_cache(hit)
    }

    /// The fixed-TTL rule: any status, for `ttl` or `failure_ttl`, headers not consulted.
    fn health_entry(
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

        Ok(Entry {
            status,
            headers,
            body: Rc::from(Vec::new()),
            stored_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            initial_age_secs: 0,
            vary: Vec::new(),
            serves_authorized: true,
            variants: Vec::new(),
        })
    }

    // ---- query cache ----

    fn in_query_scope(&self, method: &[u8], path: &[u8]) -> bool {
        let config = &self.shared.config.query_cache;
        let (path_only, _) = split_query(path);
        config.enabled
            && (method == b"GET" || method == b"HEAD")
            && config
                .prefixes
                .iter()
                .any(|prefix| path_only.starts_with(prefix.as_bytes()))
    }

    fn request_facts(&self) -> RequestFacts {
        let text = |name: &str| self.request_header(name);
        let has = |name: &str| self.get_http_request_header_bytes(name).is_some();
        let cache_control = text("cache-control");
        let pragma = text("pragma");
        RequestFacts {
            cache_control: CacheControl::parse(cache_control.as_deref()),
            pragma_no_cache: list_contains(pragma.as_deref(), "no-cache"),
            has_cookie: has("cookie"),
            has_range: has("range"),
            has_forwarded_host: has("x-forwarded-host") || has("forwarded"),
        }
    }

    fn query_request(&mut self, method: &[u8], path: &[u8]) -> Action {
        let policy = request_policy(&self.request_facts());
        if let RequestPolicy::Bypass(reason) = policy {
            debug!("#{} query_cache bypass ({reason})", self.context_id);
            self.phase = Phase::PassingThrough;
            return Action::Continue;
        }

        let now_ms = self.now_ms();
        let key = BaseKey::for_query_cache(
            &self.request_bytes(":scheme"),
            &self.request_bytes(":authority"),
            path,
            &self.shared.config.query_cache.ignored_query_params,
        )
        .with_class(MethodClass::WithBody);
        let has_authorization = self
            .get_http_request_header_bytes("authorization")
            .is_some();

        if policy == RequestPolicy::Lookup {
            if let Some(hit) = self.query_lookup(&key, now_ms, has_authorization) {
                debug!("#{} query_cache hit status={}", self.context_id, hit.status);
                self.shared.metrics.increment(Metric::QueryCacheHits);
                return self.answer_from_cache(hit);
            }
        }

        let fwd = if policy == RequestPolicy::Refresh {
            "request"
        } else {
            "miss"
        };
        // TODO: merge concurrent misses for one key; a worker has no host call to park a
        // request until another's fetch ends, so each miss goes upstream.
        debug!("#{} query_cache miss (fwd={fwd})", self.context_id);
        self.shared.metrics.increment(Metric::QueryCacheMisses);
        let may_store = method == b"GET";
        let request_headers = if may_store {
            self.get_http_request_headers_bytes()
        } else {
            Vec::new()
        };
        self.phase = Phase::Forwarded(Forwarded {
            target: Target {
                kind: Kind::Query,
                key,
                refresh_owner: false,
            },
            may_store,
            request_has_authorization: has_authorization,
            request_headers,
            fwd,
        });
        Action::Continue
    }

    /// A fresh entry this request may be answered with. Stale entries met on the way are
    /// removed, and the gauges follow.
    fn query_lookup(&self, key: &[u8], now_ms: u64, has_authorization: bool) -> Option<Hit> {
        let mut caches = self.shared.caches.try_borrow_mut().ok()?;
        let (entry, change) = caches.query.get_fresh(key, now_ms);

        let hit = entry
            .filter(|e| !has_authorization || e.serves_authorized)
            .filter(|e| {
                vary_matches(&e.vary, e.is_identity(), |name| {
                    self.get_http_request_header_bytes(name)
                })
            })
            .map(|e| {
                let status = format!("edge-optimizer; hit; ttl={}", e.ttl_secs(now_ms));
                let if_none_match = self.request_header("if-none-match");
                e.reply(now_ms, status, if_none_match.as_deref())
            });

        drop(caches);
        self.shared.record_query_change(change);
        hit
    }

    /// HTTP caching rules: RFC 9111 storability and freshness.
    fn query_entry(
        &self,
        forwarded: &Forwarded,
        status: u32,
        raw: &[(String, Bytes)],
        now_ms: u64,
    ) -> Result<Entry, String> {
        if !forwarded.may_store {
            return Err("HEAD answers are not stored".to_string());
        }
        let config = &self.shared.config.query_cache;
        let values = |name: &str| -> Vec<String> {
            raw.iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                .collect()
        };
        let first = |name: &str| values(name).into_iter().next();

        let cache_control_lines = values("cache-control");
        let cache_control = CacheControl::parse(cache_control_lines.iter().map(String::as_str));
        let (date, expires, age) = (first("date"), first("expires"), first("age"));
        let default_ttl_ms = u64::try_from(config.default_ttl.as_millis()).unwrap_or(u64::MAX);
        let fresh = freshness(
            &cache_control,
            FreshnessHeaders {
                date: date.as_deref(),
                expires: expires.as_deref(),
                age: age.as_deref(),
            },
            now_ms / 1000,
            default_ttl_ms,
        );
        let vary_lines = values("vary");
        let vary = vary_names(vary_lines.iter().map(String::as_str));

        let facts = ResponseFacts {
            status,
            cache_control,
            has_set_cookie: !values("set-cookie").is_empty(),
            vary_star: vary.is_none(),
            freshness: fresh,
            content_length: content_length(raw),
            request_has_authorization: forwarded.request_has_authorization,
        };
        let ttl_ms = may_store(&facts, config.max_entry_bytes).map_err(|r| format!("{r:?}"))?;
        let headers = stored_headers(raw).ok_or("a header value is not UTF-8")?;
        let vary = vary
            .unwrap_or_default()
            .into_iter()
            .map(|name| {
                let value = forwarded
                    .request_headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                    .map(|(_, v)| v.clone());
                (name, value)
            })
            .collect();

        Ok(Entry {
            status,
            headers,
            body: Rc::from(Vec::new()),
            stored_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            initial_age_secs: fresh.initial_age_secs,
            vary,
            serves_authorized: may_serve_authorized(&facts.cache_control),
            variants: Vec::new(),
        })
    }

    // ---- both: the response side ----

    /// Decides from the upstream's headers whether to store its answer, marks the response
    /// with our `Cache-Status`, and stores headers-only answers at once (no body callback
    /// follows them).
    pub(super) fn cache_response_headers(
        &mut self,
        forwarded: Forwarded,
        status: Option<u32>,
        end_of_stream: bool,
    ) -> Phase {
        let now_ms = self.now_ms();
        let raw = self.get_http_response_headers_bytes();
        let kind = forwarded.target.kind;
        let entry = match (status, kind) {
            (None, _) => Err("no valid :status".to_string()),
            (Some(status), Kind::Health) => self.health_entry(status, &raw, now_ms),
            (Some(status), Kind::Query) => self.query_entry(&forwarded, status, &raw, now_ms),
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
                return Phase::PassingThrough;
            }
        };

        debug!(
            "#{} {} miss storing ttl={}s",
            self.context_id,
            kind.name(),
            entry.ttl_secs(now_ms)
        );
        // TODO: a chunked body that crosses max_entry_bytes later is not stored although
        // this already said so; headers leave before the body is seen.
        let cache_status = format!("edge-optimizer; fwd={}; stored", forwarded.fwd);
        self.add_http_response_header("cache-status", &cache_status);

        let capture = Capture {
            target: forwarded.target,
            entry,
            body: Vec::new(),
        };
        if end_of_stream {
            self.complete_capture(capture);
            return Phase::PassingThrough;
        }
        Phase::Capturing(capture)
    }

    /// Copies one chunk. Past `max_entry_bytes` it stops copying and lets the rest pass
    /// untouched: the body is never paused or buffered, which past Envoy's buffer limit
    /// would turn the response into a 500.
    pub(super) fn cache_response_body(
        &mut self,
        mut capture: Capture,
        body_size: usize,
        end_of_stream: bool,
    ) -> Phase {
        if body_size > 0 {
            let limit = self.shared.config.query_cache.max_entry_bytes;
            if capture.body.len().saturating_add(body_size) > limit {
                self.give_up_capture(capture, "body larger than max_entry_bytes");
                return Phase::PassingThrough;
            }
            match self.get_http_response_body(0, body_size) {
                Some(chunk) => capture.body.extend_from_slice(&chunk),
                None => {
                    self.give_up_capture(capture, "body chunk unreadable");
                    return Phase::PassingThrough;
                }
            }
        }

        if end_of_stream {
            self.complete_capture(capture);
            return Phase::PassingThrough;
        }
        Phase::Capturing(capture)
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

    /// Ends a health refresh this request owns, so the next probe may refresh again.
    pub(super) fn release(&self, target: &Target) {
        if target.kind == Kind::Health && target.refresh_owner {
            self.with_health(|health| health.finish(&target.key));
        }
    }

    fn with_health<R>(&self, f: impl FnOnce(&mut crate::cache::health::HealthCache) -> R) {
        if let Ok(mut caches) = self.shared.caches.try_borrow_mut() {
            f(&mut caches.health);
        }
    }

    /// Answers with a cache hit; like every local reply, the last host call of the request
    /// phase. Hits leave in identity coding for now.
    ///
    /// TODO: compress hits for clients that accept it once `src/compress` lands: pick the
    /// coding from the request's Accept-Encoding, serve `Entry::variant` when kept, else
    /// encode the body and keep it with `Store::add_variant` (moving the gauges by the
    /// returned change), and add `Content-Encoding` and `Vary: Accept-Encoding`.
    fn answer_from_cache(&mut self, hit: Hit) -> Action {
        self.send_local_reply(hit.status, &hit.headers, &hit.body)
    }
}

fn content_length(raw: &[(String, Bytes)]) -> Option<u64> {
    let (_, value) = raw
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?;
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}
