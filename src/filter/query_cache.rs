//! The query cache steps of the request state machine: decide from the request headers
//! whether to look up, answer a fresh hit, and on a miss build the entry to store from the
//! upstream's headers, following RFC 9111.

use log::debug;
use proxy_wasm::types::{Action, Bytes};

use crate::cache::entry::{stored_headers, Entry, Hit};
use crate::cache::freshness::{freshness, FreshnessHeaders};
use crate::cache::key::{split_query, vary_matches, vary_names, BaseKey, MethodClass};
use crate::cache::storable::{
    is_ambiguous_path, may_serve_authorized, may_store, request_policy, RequestFacts,
    RequestPolicy, ResponseFacts, CREDENTIAL_HEADERS, UNKEYED_SHAPING_HEADERS,
};
use crate::http::cache_control::CacheControl;
use crate::http::header_map::HeaderMap;
use crate::http::list::list_contains;
use crate::metrics::Metric;

use super::caching::{content_length, Forwarded, Kind, Target};
use super::EdgeFilter;

impl EdgeFilter {
    /// A path under one of the configured prefixes; the query plays no part.
    pub(super) fn in_query_prefixes(&self, path: &[u8]) -> bool {
        let config = &self.shared.config.query_cache;
        let (path_only, _) = split_query(path);
        config.enabled
            && config
                .prefixes
                .iter()
                .any(|prefix| path_only.starts_with(prefix.as_bytes()))
    }

    /// The key of the GET entry for this request. `X-Forwarded-Proto` is part of it: Envoy
    /// passes a client's value on, and applications build URLs (and redirects) from it.
    fn query_key(&self, request: &HeaderMap, path: &[u8]) -> Vec<u8> {
        let mut key = BaseKey::for_query_cache(
            request.get(":scheme").unwrap_or_default(),
            request.get(":authority").unwrap_or_default(),
            path,
            &self.shared.config.query_cache.ignored_query_params,
        )
        .with_class(MethodClass::WithBody);
        if let Some(proto) = request.get("x-forwarded-proto") {
            key.extend_from_slice(b"\nx-forwarded-proto=");
            key.extend_from_slice(proto);
        }
        key
    }

    /// A successful unsafe request (POST, PUT, DELETE, ...) to a cached URL makes its entry
    /// stale (RFC 9111 section 4.4): the request goes upstream with the entry's key, which
    /// the response headers remove when the status is not an error.
    pub(super) fn invalidate_on_success(&mut self, request: &HeaderMap, path: &[u8]) -> Action {
        let key = self.query_key(request, path);
        self.forward_to_cache(Forwarded {
            target: Target {
                kind: Kind::Invalidation,
                key,
                refresh_owner: false,
            },
            may_store: false,
            request_has_authorization: false,
            request_headers: Vec::new(),
            fwd: "miss",
        })
    }

    fn cache_request_facts(request: &HeaderMap, path: &[u8]) -> RequestFacts {
        let text = |name: &str| request.text(name);
        let has = |name: &str| request.has(name);
        let cache_control = text("cache-control");
        let pragma = text("pragma");
        RequestFacts {
            cache_control: CacheControl::parse(cache_control.as_deref()),
            pragma_no_cache: list_contains(pragma.as_deref(), "no-cache"),
            has_cookie: has("cookie"),
            has_range: has("range"),
            has_shaping_header: UNKEYED_SHAPING_HEADERS.iter().any(|name| has(name)),
            has_credential_header: CREDENTIAL_HEADERS.iter().any(|name| has(name)),
            has_ambiguous_path: is_ambiguous_path(split_query(path).0),
        }
    }

    /// Applies the request rules (RFC 9111 section 5.2.1), answers a fresh hit from the
    /// request phase, or forwards the request and arranges to store its answer.
    pub(super) fn query_request(
        &mut self,
        request: HeaderMap,
        method: &[u8],
        path: &[u8],
    ) -> Action {
        let policy = request_policy(&Self::cache_request_facts(&request, path));
        if let RequestPolicy::Bypass(reason) = policy {
            debug!("#{} query_cache bypass ({reason})", self.context_id);
            return self.forward_to_cache(Forwarded {
                target: Target {
                    kind: Kind::Bypass,
                    key: Vec::new(),
                    refresh_owner: false,
                },
                may_store: false,
                request_has_authorization: false,
                request_headers: Vec::new(),
                fwd: "bypass",
            });
        }

        let now_ms = self.now_ms();
        let key = self.query_key(&request, path);
        let has_authorization = request.has("authorization");

        if policy == RequestPolicy::Lookup {
            if let Some(hit) = self.query_lookup(&key, now_ms, &request) {
                debug!("#{} query_cache hit status={}", self.context_id, hit.status);
                self.shared.metrics.increment(Metric::QueryCacheHits);
                return self.answer_from_cache(hit, Some(&key));
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
            request.into_fields()
        } else {
            Vec::new()
        };
        self.forward_to_cache(Forwarded {
            target: Target {
                kind: Kind::Query,
                key,
                refresh_owner: false,
            },
            may_store,
            request_has_authorization: has_authorization,
            request_headers,
            fwd,
        })
    }

    /// A fresh entry this request may be answered with. Stale entries met on the way are
    /// removed, and the gauges follow.
    fn query_lookup(&self, key: &[u8], now_ms: u64, request: &HeaderMap) -> Option<Hit> {
        let has_authorization = request.has("authorization");
        let mut caches = self.shared.caches.try_borrow_mut().ok()?;
        let (entry, change) = caches.query.get_fresh(key, now_ms);

        let hit = entry
            .filter(|e| !has_authorization || e.serves_authorized)
            .filter(|e| {
                vary_matches(&e.vary, e.is_identity(), |name| {
                    request.get(name).map(<[u8]>::to_vec)
                })
            })
            .map(|e| {
                let status = format!("edge-optimizer; hit; ttl={}", e.ttl_secs(now_ms));
                let if_none_match = request.text("if-none-match");
                e.reply(now_ms, status, if_none_match.as_deref())
            });

        drop(caches);
        self.shared.record_query_change(change);
        hit
    }

    /// HTTP caching rules: RFC 9111 storability and freshness.
    pub(super) fn query_entry(
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
            initial_age_secs: fresh.initial_age_secs,
            vary,
            serves_authorized: may_serve_authorized(&facts.cache_control),
            ..Entry::stored_now(status, headers, now_ms, ttl_ms)
        })
    }
}
