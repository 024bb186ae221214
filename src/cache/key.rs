//! Cache keys: which requests share a stored response.
//!
//! A key is the method class, the authority and the path with a normalised query. The
//! request headers named by the stored response's `Vary` are compared at lookup rather
//! than folded into the key, so one URL holds one variant: a request for another variant
//! misses and its answer replaces the stored one.
//!
//! TODO: keep several variants per URL; one is enough for the common `Vary` on a header
//! most clients send alike, and keeps the bounds simple.

use crate::http::list::split_list;

/// What kind of answer an entry can give. A GET response answers GET and HEAD; a HEAD
/// response has no body, so it may answer only HEAD (RFC 9110 section 9.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodClass {
    WithBody,
    HeadersOnly,
}

impl MethodClass {
    fn tag(self) -> &'static [u8] {
        match self {
            MethodClass::WithBody => b"G ",
            MethodClass::HeadersOnly => b"H ",
        }
    }
}

/// The parts of a request that locate a stored response, before the method class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseKey(Vec<u8>);

impl BaseKey {
    /// The key for query caching: the authority lower-cased without its default port, the
    /// path as received, and the query normalised by [`normalise_query`].
    pub fn for_query_cache(
        scheme: &[u8],
        authority: &[u8],
        path_and_query: &[u8],
        ignored_params: &[String],
    ) -> BaseKey {
        let (path, query) = split_query(path_and_query);
        let mut key = normalise_authority(scheme, authority);
        key.extend_from_slice(path);
        let query = normalise_query(query, ignored_params);
        if !query.is_empty() {
            key.push(b'?');
            key.extend_from_slice(&query);
        }
        BaseKey(key)
    }

    /// The key for health caching: authority and the path and query exactly as received,
    /// since probes are few and send the same bytes every time.
    pub fn for_health(scheme: &[u8], authority: &[u8], path_and_query: &[u8]) -> BaseKey {
        let mut key = normalise_authority(scheme, authority);
        key.extend_from_slice(path_and_query);
        BaseKey(key)
    }

    /// The full key for one method class.
    pub fn with_class(&self, class: MethodClass) -> Vec<u8> {
        let mut key = class.tag().to_vec();
        key.extend_from_slice(&self.0);
        key
    }
}

/// Splits `/path?query` at the first `?`; a fragment never reaches a proxy.
pub fn split_query(path_and_query: &[u8]) -> (&[u8], &[u8]) {
    match path_and_query.iter().position(|b| *b == b'?') {
        Some(at) => (
            path_and_query.get(..at).unwrap_or_default(),
            path_and_query.get(at + 1..).unwrap_or_default(),
        ),
        None => (path_and_query, &[]),
    }
}

/// Lower-cases the authority (RFC 3986 section 6.2.2.1: host names are case-insensitive)
/// and drops the scheme's default port (section 6.2.3), so `Example.com:80` and
/// `example.com` share entries.
pub fn normalise_authority(scheme: &[u8], authority: &[u8]) -> Vec<u8> {
    let lower = authority.to_ascii_lowercase();
    let default_port: &[u8] = if scheme.eq_ignore_ascii_case(b"https") {
        b":443"
    } else {
        b":80"
    };
    match lower.strip_suffix(default_port) {
        Some(host) => host.to_vec(),
        None => lower,
    }
}

/// Normalises a query for the key: split on `&` only, drop empty pairs and the ignored
/// (tracking) parameters, then sort the pairs by name, keeping the order of repeated
/// names, since `a=1&a=2` and `a=2&a=1` may mean different things to the application.
/// Names and values are compared byte for byte, undecoded: `%41` and `A` stay apart
/// rather than risk merging two requests the application tells apart.
///
/// An ignored parameter whose pair holds a `;` is kept: frameworks that also split on `;`
/// would read a second parameter hidden in its value (`utm_content=x;callback=evil`), and
/// dropping the pair from the key would let that answer poison the plain URL's entry.
pub fn normalise_query(query: &[u8], ignored_params: &[String]) -> Vec<u8> {
    let mut pairs: Vec<&[u8]> = query
        .split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
            let ignored = ignored_params.iter().any(|p| p.as_bytes() == name);
            !ignored || pair.contains(&b';')
        })
        .collect();
    pairs.sort_by_key(|pair| pair.split(|b| *b == b'=').next().unwrap_or_default());
    pairs.join(&b'&')
}

/// The request header names a response's `Vary` lists, lower-cased; None for `Vary: *`,
/// which no later request matches.
pub fn vary_names<'a>(vary_values: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for member in vary_values.into_iter().flat_map(split_list) {
        if member == "*" {
            return None;
        }
        let name = member.to_ascii_lowercase();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Some(names)
}

/// Request header values a stored response was chosen by: one `(name, value)` per name
/// its `Vary` lists, `None` where the request did not send the header.
pub type VaryValues = Vec<(String, Option<Vec<u8>>)>;

/// Whether a new request selects the stored response (RFC 9111 section 4.1). Values are
/// compared after trimming; we do not normalise lists further, so `a,b` and `a, b` differ,
/// which costs a miss, never a wrong answer. `Accept-Encoding` is skipped when the stored
/// body is identity-coded: the filter compresses on the way out, so any client can take
/// it.
pub fn vary_matches(
    stored: &VaryValues,
    identity_body: bool,
    mut request_header: impl FnMut(&str) -> Option<Vec<u8>>,
) -> bool {
    stored.iter().all(|(name, value)| {
        if identity_body && name == "accept-encoding" {
            return true;
        }
        let current = request_header(name);
        current.as_deref().map(<[u8]>::trim_ascii) == value.as_deref().map(<[u8]>::trim_ascii)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored() -> Vec<String> {
        vec!["utm_source".to_string(), "gclid".to_string()]
    }

    #[test]
    fn queries_normalise_to_one_form() {
        // One line per rule: query as received, query in the key.
        let cases = [
            ("", ""),
            ("a=1", "a=1"),
            ("b=2&a=1", "a=1&b=2"),
            ("a=2&a=1", "a=2&a=1"),
            ("b=1&a=2&a=1", "a=2&a=1&b=1"),
            ("utm_source=x&a=1", "a=1"),
            ("a=1&gclid=abc&utm_source=y", "a=1"),
            ("utm_source", ""),
            ("utm_sourcex=1", "utm_sourcex=1"),
            ("UTM_SOURCE=1", "UTM_SOURCE=1"),
            ("a=1&&b=2&", "a=1&b=2"),
            ("a=%41", "a=%41"),
            ("a=1;b=2", "a=1;b=2"),
            // Parameter cloaking: an ignored name hiding `;callback=` stays in the key.
            (
                "utm_source=x;callback=evil&a=1",
                "a=1&utm_source=x;callback=evil",
            ),
            ("a=1&utm_source=x%3Bb", "a=1"),
            ("flag&a=1", "a=1&flag"),
            ("a=x=y", "a=x=y"),
        ];
        for (query, expected) in cases {
            let normalised = normalise_query(query.as_bytes(), &ignored());

            assert_eq!(String::from_utf8_lossy(&normalised), expected, "{query:?}");
        }
    }

    #[test]
    fn authorities_lower_case_and_lose_the_default_port() {
        // One line per rule: scheme, authority, key part.
        let cases = [
            ("http", "Example.COM", "example.com"),
            ("http", "example.com:80", "example.com"),
            ("http", "example.com:8080", "example.com:8080"),
            ("http", "example.com:443", "example.com:443"),
            ("https", "example.com:443", "example.com"),
            ("https", "example.com:80", "example.com:80"),
            ("", "[::1]:80", "[::1]"),
        ];
        for (scheme, authority, expected) in cases {
            let normalised = normalise_authority(scheme.as_bytes(), authority.as_bytes());

            assert_eq!(normalised, expected.as_bytes(), "{scheme} {authority}");
        }
    }

    #[test]
    fn equivalent_requests_share_a_key_and_different_ones_do_not() {
        let key = |authority: &str, path: &str| {
            BaseKey::for_query_cache(b"http", authority.as_bytes(), path.as_bytes(), &ignored())
                .with_class(MethodClass::WithBody)
        };

        assert_eq!(
            key("a.test", "/api/x?b=1&a=2"),
            key("A.test:80", "/api/x?a=2&b=1")
        );
        assert_eq!(
            key("a.test", "/api/x?utm_source=m"),
            key("a.test", "/api/x")
        );
        assert_eq!(key("a.test", "/api/x?"), key("a.test", "/api/x"));
        assert_ne!(key("a.test", "/api/x"), key("b.test", "/api/x"));
        assert_ne!(key("a.test", "/api/x"), key("a.test", "/api/X"));
        assert_ne!(key("a.test", "/api/x?a=1"), key("a.test", "/api/x?a=2"));
        assert_ne!(key("a.test", "/api/x%2F"), key("a.test", "/api/x/"));
    }

    #[test]
    fn method_classes_never_share_a_key() {
        let base = BaseKey::for_health(b"http", b"a.test", b"/health");

        assert_ne!(
            base.with_class(MethodClass::WithBody),
            base.with_class(MethodClass::HeadersOnly)
        );
    }

    #[test]
    fn health_keys_keep_the_query_as_received() {
        let key = |path: &str| BaseKey::for_health(b"http", b"a.test", path.as_bytes());

        assert_ne!(key("/health"), key("/health?full=1"));
        assert_ne!(key("/health?a=1&b=2"), key("/health?b=2&a=1"));
    }

    #[test]
    fn vary_lists_names_once_and_star_refuses() {
        assert_eq!(
            vary_names(["Accept-Language, accept-language", "X-Tenant"]),
            Some(vec!["accept-language".to_string(), "x-tenant".to_string()])
        );
        assert_eq!(vary_names(["accept-language, *"]), None);
        assert_eq!(vary_names([]), Some(vec![]));
    }

    #[test]
    fn vary_selects_by_the_named_request_headers() {
        let stored: VaryValues = vec![
            ("accept-language".to_string(), Some(b"de".to_vec())),
            ("x-tenant".to_string(), None),
        ];
        fn request(
            lang: Option<&'static str>,
            tenant: Option<&'static str>,
        ) -> impl FnMut(&str) -> Option<Vec<u8>> {
            move |name: &str| match name {
                "accept-language" => lang.map(|v| v.as_bytes().to_vec()),
                "x-tenant" => tenant.map(|v| v.as_bytes().to_vec()),
                _ => None,
            }
        }
        // One line per case: Accept-Language, X-Tenant, selects the stored response?
        let cases = [
            (Some("de"), None, true),
            (Some(" de "), None, true),
            (Some("en"), None, false),
            (None, None, false),
            (Some("de"), Some("t1"), false),
        ];
        for (lang, tenant, expected) in cases {
            assert_eq!(
                vary_matches(&stored, true, request(lang, tenant)),
                expected,
                "{lang:?} {tenant:?}"
            );
        }
    }

    #[test]
    fn accept_encoding_matters_only_for_encoded_bodies() {
        let stored: VaryValues = vec![("accept-encoding".to_string(), Some(b"gzip".to_vec()))];
        let plain_client = |_: &str| None;

        assert!(vary_matches(&stored, true, plain_client));
        assert!(!vary_matches(&stored, false, plain_client));
    }
}
