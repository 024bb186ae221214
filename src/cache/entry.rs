//! A stored response and the answer the filter builds from it.

use std::rc::Rc;

use crate::http::etag::if_none_match_matches;
use crate::http::list::split_list;

use super::key::VaryValues;

/// One stored response. Bodies are reference-counted so that serving a hit copies no
/// bytes while the cache stays borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub status: u32,
    /// What [`stored_headers`] kept of the upstream's headers.
    pub headers: Vec<(String, String)>,
    /// The identity body (or the upstream's coding, see `identity_body`).
    pub body: Rc<[u8]>,
    pub stored_at_ms: u64,
    /// The entry is fresh while the clock is before this.
    pub expires_at_ms: u64,
    /// The upstream's `Age` on arrival, added to our own time in cache.
    pub initial_age_secs: u64,
    /// The request header values the response was selected by (its `Vary`).
    pub vary: VaryValues,
    /// Whether a request carrying `Authorization` may be answered with it.
    pub serves_authorized: bool,
    /// Encoded forms of the body kept beside it, so a hit need not compress again. The
    /// first compressed hit adds one through `Store::add_variant`, which counts its bytes.
    pub variants: Vec<Variant>,
}

/// The body in one content coding (`gzip`, `br`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub coding: &'static str,
    pub body: Rc<[u8]>,
}

impl Entry {
    /// A response stored now for `ttl_ms`, body still to come, no `Vary`, no upstream age,
    /// usable for requests with `Authorization`; callers override what their rules say.
    pub fn stored_now(
        status: u32,
        headers: Vec<(String, String)>,
        now_ms: u64,
        ttl_ms: u64,
    ) -> Entry {
        Entry {
            status,
            headers,
            body: Rc::from(Vec::new()),
            stored_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            initial_age_secs: 0,
            vary: Vec::new(),
            serves_authorized: true,
            variants: Vec::new(),
        }
    }

    /// What the entry costs against the byte budget, not counting its key.
    pub fn size_bytes(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        let vary: usize = self
            .vary
            .iter()
            .map(|(n, v)| n.len() + v.as_ref().map_or(0, Vec::len))
            .sum();
        let variants: usize = self.variants.iter().map(|v| v.body.len()).sum();
        headers + vary + variants + self.body.len()
    }

    pub fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at_ms
    }

    /// RFC 9111 section 4.2.3: the upstream's age plus our resident time, whole seconds.
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        self.initial_age_secs + now_ms.saturating_sub(self.stored_at_ms) / 1000
    }

    /// Whole seconds of freshness left, for `Cache-Status: ttl=`; negative once stale.
    pub fn ttl_secs(&self, now_ms: u64) -> i64 {
        let expires = i128::from(self.expires_at_ms);
        let left_ms = expires - i128::from(now_ms);
        i64::try_from(left_ms.div_euclid(1000)).unwrap_or(0)
    }

    /// Whether the body is in no content coding, so any client can take it.
    pub fn is_identity(&self) -> bool {
        self.header("content-encoding")
            .is_none_or(|v| v.trim().eq_ignore_ascii_case("identity"))
    }

    /// The body kept in `coding`, if any.
    pub fn variant(&self, coding: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.coding == coding)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The answer for a hit: the stored status, headers and body, plus exactly one `Age`
    /// and our `Cache-Status` member (RFC 9211). A matching `If-None-Match` gets `304`
    /// with only the headers section 15.4.5 of RFC 9110 keeps, and no body.
    pub fn reply(&self, now_ms: u64, cache_status: String, if_none_match: Option<&str>) -> Hit {
        let not_modified = match (if_none_match, self.header("etag")) {
            (Some(wanted), Some(etag)) => if_none_match_matches(wanted, etag),
            _ => false,
        };

        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| !not_modified || KEPT_BY_304.contains(&name.as_str()))
            .cloned()
            .collect();
        headers.push(("age".to_string(), self.age_secs(now_ms).to_string()));
        headers.push(("cache-status".to_string(), cache_status));

        if not_modified {
            return Hit {
                status: 304,
                headers,
                body: Rc::from(Vec::new()),
                content_type: self.header("content-type").map(str::to_string),
            };
        }
        Hit {
            status: self.status,
            headers,
            body: Rc::clone(&self.body),
            content_type: self.header("content-type").map(str::to_string),
        }
    }
}

/// Headers a `304 Not Modified` repeats from the full response.
const KEPT_BY_304: [&str; 6] = [
    "cache-control",
    "content-location",
    "date",
    "etag",
    "expires",
    "vary",
];

/// A local reply built from an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Rc<[u8]>,
    /// The stored answer's `Content-Type`, which a `304` does not repeat but whose
    /// compression decision (hence its `ETag` and `Vary`) depends on.
    pub content_type: Option<String>,
}

/// Hop-by-hop fields (RFC 9110 section 7.6.1) belong to one connection, never to a
/// stored response.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Fields the cache drops for its own reasons: the cookie belongs to one client; `Age`,
/// `Cache-Status` and `Content-Length` are recomputed on every hit (and Envoy sets the
/// length of a local reply itself); `x-envoy-*` describe the original upstream exchange.
const NOT_STORED: [&str; 4] = ["set-cookie", "age", "cache-status", "content-length"];

/// The response headers worth storing, names lower-cased and repeated fields joined into
/// one comma-separated line (RFC 9110 section 5.3; `Set-Cookie`, the exception, is never
/// stored). None when a kept value is not UTF-8: such entries are simply not stored.
pub fn stored_headers(headers: &[(String, Vec<u8>)]) -> Option<Vec<(String, String)>> {
    let connection_named: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| {
            let text = String::from_utf8_lossy(value).into_owned();
            split_list(&text)
                .into_iter()
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>()
        })
        .collect();

    let mut kept: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let dropped = name.starts_with(':')
            || name.starts_with("x-envoy-")
            || HOP_BY_HOP.contains(&name.as_str())
            || NOT_STORED.contains(&name.as_str())
            || connection_named.contains(&name);
        if dropped {
            continue;
        }
        let value = std::str::from_utf8(value).ok()?.trim().to_string();
        match kept.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            None => kept.push((name, value)),
        }
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(headers: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    fn entry(headers: &[(&str, &str)], body: &str) -> Entry {
        Entry {
            status: 200,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Rc::from(body.as_bytes()),
            stored_at_ms: 10_000,
            expires_at_ms: 70_000,
            initial_age_secs: 5,
            vary: Vec::new(),
            serves_authorized: false,
            variants: Vec::new(),
        }
    }

    #[test]
    fn hop_by_hop_cookies_and_recomputed_fields_are_not_stored() {
        let headers = raw(&[
            (":status", "200"),
            ("Content-Type", "application/json"),
            ("connection", "close, X-Trace"),
            ("x-trace", "abc"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("set-cookie", "sid=1"),
            ("age", "3"),
            ("content-length", "10"),
            ("cache-status", "upstream; hit"),
            ("x-envoy-upstream-service-time", "4"),
            ("etag", "\"v1\""),
        ]);

        let kept = stored_headers(&headers).unwrap();

        assert_eq!(
            kept,
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("etag".to_string(), "\"v1\"".to_string()),
            ]
        );
    }

    #[test]
    fn repeated_fields_are_joined_in_order() {
        let headers = raw(&[("vary", "accept"), ("Vary", "accept-language")]);

        let kept = stored_headers(&headers).unwrap();

        assert_eq!(
            kept,
            vec![("vary".to_string(), "accept, accept-language".to_string())]
        );
    }

    #[test]
    fn a_value_that_is_not_utf8_means_nothing_is_stored() {
        let headers = vec![("x-name".to_string(), vec![0xff, 0xfe])];

        assert_eq!(stored_headers(&headers), None);
    }

    #[test]
    fn a_hit_carries_one_age_and_the_cache_status() {
        let e = entry(&[("content-type", "text/plain")], "hello");

        let hit = e.reply(22_500, "edge-optimizer; hit".to_string(), None);

        assert_eq!(hit.status, 200);
        assert_eq!(&*hit.body, b"hello");
        let ages: Vec<_> = hit.headers.iter().filter(|(n, _)| n == "age").collect();
        assert_eq!(ages, vec![&("age".to_string(), "17".to_string())]);
        assert!(hit.headers.contains(&(
            "cache-status".to_string(),
            "edge-optimizer; hit".to_string()
        )));
    }

    #[test]
    fn a_matching_if_none_match_gets_304_with_validators_only() {
        let e = entry(
            &[
                ("etag", "\"v1\""),
                ("content-type", "text/plain"),
                ("cache-control", "max-age=60"),
            ],
            "hello",
        );
        // One line per case: If-None-Match, status.
        let cases = [
            (Some("\"v1\""), 304),
            (Some("W/\"v1\""), 304),
            (Some("\"v0\", \"v1\""), 304),
            (Some("*"), 304),
            (Some("\"v2\""), 200),
            (None, 200),
        ];
        for (if_none_match, status) in cases {
            let hit = e.reply(20_000, "x".to_string(), if_none_match);

            assert_eq!(hit.status, status, "{if_none_match:?}");
            if status == 304 {
                assert!(hit.body.is_empty());
                assert!(hit.headers.iter().any(|(n, _)| n == "etag"));
                assert!(!hit.headers.iter().any(|(n, _)| n == "content-type"));
            }
        }
    }

    #[test]
    fn without_an_etag_if_none_match_never_matches() {
        let e = entry(&[], "hello");

        assert_eq!(e.reply(20_000, "x".to_string(), Some("*")).status, 200);
    }

    #[test]
    fn ttl_counts_down_and_goes_negative_when_stale() {
        let e = entry(&[], "");

        assert_eq!(e.ttl_secs(10_000), 60);
        assert_eq!(e.ttl_secs(69_999), 0);
        assert_eq!(e.ttl_secs(71_000), -1);
        assert!(e.is_fresh(69_999));
        assert!(!e.is_fresh(70_000));
    }

    #[test]
    fn size_counts_headers_vary_body_and_variants() {
        let mut e = entry(&[("etag", "\"v1\"")], "hello");
        e.vary = vec![("accept-language".to_string(), Some(b"de".to_vec()))];
        e.variants = vec![Variant {
            coding: "gzip",
            body: Rc::from(&b"123"[..]),
        }];

        assert_eq!(e.size_bytes(), (4 + 4) + (15 + 2) + 3 + 5);
    }
}
