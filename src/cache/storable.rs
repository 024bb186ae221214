//! The query cache's rules: which requests may use or fill the cache, and which responses
//! may be stored (RFC 9111 sections 3 and 4). Health paths follow their own fixed rule in
//! [`super::health`].

use crate::http::cache_control::CacheControl;

use super::freshness::Freshness;

/// What the request headers allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestPolicy {
    /// Neither look up nor store; the request passes as if there were no cache.
    Bypass(&'static str),
    /// Forward without looking up (the client asked for a fresh answer), but the answer
    /// may be stored for others.
    Refresh,
    /// Look up; on a miss forward and maybe store.
    Lookup,
}

/// The request headers the policy depends on.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts {
    pub cache_control: CacheControl,
    pub pragma_no_cache: bool,
    pub has_cookie: bool,
    pub has_range: bool,
    /// One of [`UNKEYED_SHAPING_HEADERS`]: the upstream may build its answer from a value
    /// the key does not hold, the classic cache-poisoning lever.
    pub has_shaping_header: bool,
    /// One of [`CREDENTIAL_HEADERS`]: the answer may belong to whoever sent it.
    pub has_credential_header: bool,
    /// The path has dot-segments or encoded separators (see [`is_ambiguous_path`]).
    pub has_ambiguous_path: bool,
}

/// Request headers that carry a client's credentials besides `Authorization` and `Cookie`;
/// an answer to such a request may be meant for that client alone.
pub const CREDENTIAL_HEADERS: [&str; 5] = [
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-auth-token",
    "x-access-token",
];

/// Whether a path could name another path once the upstream resolves it: dot-segments
/// (`/api/../account`), plain or percent-encoded, or an encoded `/` or a `\`. The cache keys
/// the path as received, so a path the upstream rewrites could store a private page under a
/// harmless-looking key (web cache deception); such requests bypass the cache.
pub fn is_ambiguous_path(path: &[u8]) -> bool {
    let lower = path.to_ascii_lowercase();
    let contains = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if contains(b"%2f") || contains(b"%5c") || lower.contains(&b'\\') {
        return true;
    }
    lower.split(|b| *b == b'/').any(|segment| {
        let segment = String::from_utf8_lossy(segment).replace("%2e", ".");
        segment == "." || segment == ".."
    })
}

/// Request headers that applications and frameworks use to rebuild the URL, host, scheme or
/// method of a request. None is part of the key, so a request carrying one must neither be
/// answered from the cache nor fill it: its answer may differ from the plain request's.
/// (`X-Forwarded-Proto` is not here: Envoy sets it on most requests itself, so the query
/// cache keeps it in the key instead.)
pub const UNKEYED_SHAPING_HEADERS: [&str; 12] = [
    "x-forwarded-host",
    "x-forwarded-prefix",
    "x-forwarded-port",
    "forwarded",
    "x-forwarded-server",
    "x-host",
    "x-original-url",
    "x-rewrite-url",
    "x-forwarded-scheme",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Decides what a cacheable-path GET or HEAD may do with the cache. `Authorization` is not
/// decided here: it depends on the stored response (RFC 9111 section 3.5), see
/// [`may_serve_authorized`].
pub fn request_policy(facts: &RequestFacts) -> RequestPolicy {
    if facts.has_cookie {
        return RequestPolicy::Bypass("cookie");
    }
    if facts.cache_control.has("no-store") {
        return RequestPolicy::Bypass("request no-store");
    }
    if facts.has_range {
        return RequestPolicy::Bypass("range");
    }
    if facts.has_credential_header {
        return RequestPolicy::Bypass("credentials header");
    }
    if facts.has_ambiguous_path {
        return RequestPolicy::Bypass("ambiguous path");
    }
    if facts.has_shaping_header {
        return RequestPolicy::Bypass("unkeyed header that shapes the URL or method");
    }
    // RFC 9111 section 5.2.1.4 and 5.4: no-cache (and HTTP/1.0's Pragma) ask for
    // validation, which this cache does by going upstream; max-age=0 means the same.
    if facts.cache_control.has("no-cache")
        || facts.pragma_no_cache
        || facts.cache_control.seconds("max-age") == Some(0)
    {
        return RequestPolicy::Refresh;
    }
    RequestPolicy::Lookup
}

/// RFC 9111 section 3.5: a shared cache may answer a request that carries `Authorization`
/// only with a response that allowed it. We accept `public` and `s-maxage`; the RFC also
/// names `must-revalidate`, which we leave out because we never revalidate.
pub fn may_serve_authorized(response_cache_control: &CacheControl) -> bool {
    response_cache_control.has("public") || response_cache_control.has("s-maxage")
}

/// Why a response was not stored; the text goes into the debug log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    Status(u32),
    NeedsExplicitFreshness,
    SetCookie,
    Directive(&'static str),
    VaryStar,
    AlreadyStale,
    TooLarge,
    Authorization,
}

/// The response facts storing depends on.
#[derive(Debug, Clone)]
pub struct ResponseFacts {
    pub status: u32,
    pub cache_control: CacheControl,
    pub has_set_cookie: bool,
    pub vary_star: bool,
    pub freshness: Freshness,
    /// `Content-Length` when the upstream sent one; a body that turns out larger while
    /// streaming is given up on by the filter.
    pub content_length: Option<u64>,
    pub request_has_authorization: bool,
}

/// Statuses we store. RFC 9110 section 15.1 lists more as heuristically cacheable; these
/// are the ones worth keeping at an edge, and 206 needs range logic we do not have.
const STORABLE_STATUSES: [u32; 7] = [200, 203, 204, 300, 301, 404, 410];

/// Decides whether a response may be stored, and for how long (milliseconds).
pub fn may_store(facts: &ResponseFacts, max_entry_bytes: usize) -> Result<u64, NotStored> {
    if !STORABLE_STATUSES.contains(&facts.status) {
        return Err(NotStored::Status(facts.status));
    }
    // A missing page is cheap to ask again and expensive to keep answering wrongly; keep
    // 404 and 410 only when the upstream said for how long.
    if matches!(facts.status, 404 | 410) && !facts.freshness.is_explicit() {
        return Err(NotStored::NeedsExplicitFreshness);
    }
    if facts.has_set_cookie {
        return Err(NotStored::SetCookie);
    }
    // RFC 9111 sections 5.2.2.3, 5.2.2.5 and 5.2.2.7. `no-cache` would allow storing with
    // revalidation on every use; without revalidation, storing buys nothing.
    for directive in ["no-store", "private", "no-cache"] {
        if facts.cache_control.has(directive) {
            return Err(NotStored::Directive(directive));
        }
    }
    // RFC 9110 section 12.5.5: `Vary: *` never matches a later request.
    if facts.vary_star {
        return Err(NotStored::VaryStar);
    }
    if facts.request_has_authorization && !may_serve_authorized(&facts.cache_control) {
        return Err(NotStored::Authorization);
    }
    let too_large = facts
        .content_length
        .is_some_and(|length| length > max_entry_bytes as u64);
    if too_large {
        return Err(NotStored::TooLarge);
    }
    match facts.freshness.remaining_ms() {
        0 => Err(NotStored::AlreadyStale),
        ttl_ms => Ok(ttl_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::freshness::Source;

    fn request(cache_control: &str) -> RequestFacts {
        RequestFacts {
            cache_control: CacheControl::parse([cache_control]),
            ..RequestFacts::default()
        }
    }

    #[test]
    fn request_headers_decide_lookup_refresh_or_bypass() {
        let with = |f: fn(&mut RequestFacts)| {
            let mut facts = request("");
            f(&mut facts);
            facts
        };
        // One line per rule, both sides where there are two.
        let cases = [
            (request(""), RequestPolicy::Lookup),
            (request("max-age=60"), RequestPolicy::Lookup),
            (request("no-cache"), RequestPolicy::Refresh),
            (request("max-age=0"), RequestPolicy::Refresh),
            (with(|f| f.pragma_no_cache = true), RequestPolicy::Refresh),
            (
                request("no-store"),
                RequestPolicy::Bypass("request no-store"),
            ),
            (
                request("No-Store, no-cache"),
                RequestPolicy::Bypass("request no-store"),
            ),
            (
                with(|f| f.has_cookie = true),
                RequestPolicy::Bypass("cookie"),
            ),
            (with(|f| f.has_range = true), RequestPolicy::Bypass("range")),
            (
                with(|f| f.has_shaping_header = true),
                RequestPolicy::Bypass("unkeyed header that shapes the URL or method"),
            ),
            (
                with(|f| f.has_credential_header = true),
                RequestPolicy::Bypass("credentials header"),
            ),
            (
                with(|f| f.has_ambiguous_path = true),
                RequestPolicy::Bypass("ambiguous path"),
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(request_policy(&facts), expected, "{facts:?}");
        }
    }

    fn response(status: u32, cache_control: &str, source: Source) -> ResponseFacts {
        ResponseFacts {
            status,
            cache_control: CacheControl::parse([cache_control]),
            has_set_cookie: false,
            vary_star: false,
            freshness: Freshness {
                lifetime_ms: 60_000,
                initial_age_secs: 0,
                source,
            },
            content_length: Some(10),
            request_has_authorization: false,
        }
    }

    #[test]
    fn storable_statuses_are_a_closed_list() {
        // One line per status: stored with default freshness?
        let cases = [
            (200, true),
            (203, true),
            (204, true),
            (300, true),
            (301, true),
            (404, false),
            (410, false),
            (206, false),
            (302, false),
            (304, false),
            (400, false),
            (429, false),
            (500, false),
            (502, false),
            (503, false),
            (504, false),
        ];
        for (status, stored) in cases {
            let facts = response(status, "", Source::Default);

            assert_eq!(may_store(&facts, 100).is_ok(), stored, "{status}");
        }
    }

    #[test]
    fn missing_pages_are_stored_only_with_explicit_freshness() {
        let cases = [
            (404, Source::Default, Err(NotStored::NeedsExplicitFreshness)),
            (404, Source::MaxAge, Ok(60_000)),
            (410, Source::Expires, Ok(60_000)),
            (410, Source::Default, Err(NotStored::NeedsExplicitFreshness)),
        ];
        for (status, source, expected) in cases {
            assert_eq!(
                may_store(&response(status, "", source), 100),
                expected,
                "{status} {source:?}"
            );
        }
    }

    #[test]
    fn response_rules_refuse_or_allow_storing() {
        let base = || response(200, "public, max-age=60", Source::MaxAge);
        let with = |cc: &str, f: fn(&mut ResponseFacts)| {
            let mut facts = base();
            facts.cache_control = CacheControl::parse([cc]);
            f(&mut facts);
            facts
        };
        let keep = |_: &mut ResponseFacts| {};
        // One line per rule, the refusing side and the allowing side.
        let cases = [
            (with("max-age=60", keep), Ok(60_000)),
            (
                with("max-age=60", |f| f.has_set_cookie = true),
                Err(NotStored::SetCookie),
            ),
            (
                with("no-store", keep),
                Err(NotStored::Directive("no-store")),
            ),
            (
                with("private, max-age=60", keep),
                Err(NotStored::Directive("private")),
            ),
            (
                with("No-Cache", keep),
                Err(NotStored::Directive("no-cache")),
            ),
            (
                with("max-age=60", |f| f.vary_star = true),
                Err(NotStored::VaryStar),
            ),
            (
                with("max-age=60", |f| f.request_has_authorization = true),
                Err(NotStored::Authorization),
            ),
            (
                with("public, max-age=60", |f| f.request_has_authorization = true),
                Ok(60_000),
            ),
            (
                with("s-maxage=60", |f| f.request_has_authorization = true),
                Ok(60_000),
            ),
            (
                with("max-age=60", |f| f.content_length = Some(101)),
                Err(NotStored::TooLarge),
            ),
            (
                with("max-age=60", |f| f.content_length = Some(100)),
                Ok(60_000),
            ),
            (with("max-age=60", |f| f.content_length = None), Ok(60_000)),
            (
                with("max-age=60", |f| f.freshness.initial_age_secs = 60),
                Err(NotStored::AlreadyStale),
            ),
            (
                with("max-age=60", |f| f.freshness.initial_age_secs = 59),
                Ok(1_000),
            ),
            (
                with("max-age=0", |f| f.freshness.lifetime_ms = 0),
                Err(NotStored::AlreadyStale),
            ),
        ];
        for (facts, expected) in cases {
            assert_eq!(may_store(&facts, 100), expected, "{facts:?}");
        }
    }

    #[test]
    fn authorized_requests_are_served_only_what_said_so() {
        let cases = [
            ("public, max-age=60", true),
            ("s-maxage=60", true),
            ("max-age=60", false),
            ("must-revalidate, max-age=60", false),
            ("", false),
        ];
        for (cc, expected) in cases {
            assert_eq!(
                may_serve_authorized(&CacheControl::parse([cc])),
                expected,
                "{cc}"
            );
        }
    }

    #[test]
    fn paths_an_upstream_could_resolve_elsewhere_are_ambiguous() {
        // One line per rule: path, ambiguous?
        let cases = [
            ("/api/items", false),
            ("/api/items.v2/..json", false),
            ("/api/.well-known/x", false),
            ("/api/../account/settings", true),
            ("/api/./items", true),
            ("/api/items/..", true),
            ("/api/%2e%2e/account", true),
            ("/api/%2E./account", true),
            ("/api/a%2fb", true),
            ("/api/a%5Cb", true),
            ("/api/a\\b", true),
        ];
        for (path, expected) in cases {
            assert_eq!(is_ambiguous_path(path.as_bytes()), expected, "{path}");
        }
    }
}
