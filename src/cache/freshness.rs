//! How long a stored response stays fresh (RFC 9111 section 4.2), and how old it already
//! is when it arrives. Times are milliseconds so that short configured TTLs (`"250ms"`)
//! keep their meaning; header values are whole seconds.

use crate::http::cache_control::{parse_delta_seconds, CacheControl};
use crate::http::date::parse_http_date;

/// Where a response's freshness lifetime came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `s-maxage`: meant for shared caches such as this one, so it wins.
    SMaxAge,
    MaxAge,
    /// `Expires` minus `Date`.
    Expires,
    /// None of the above: the configured `default_ttl`.
    Default,
}

/// A response's freshness as the cache sees it on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub lifetime_ms: u64,
    /// What the upstream's `Age` says the response had already spent in caches before us.
    pub initial_age_secs: u64,
    pub source: Source,
}

impl Freshness {
    /// Whether the upstream said how long the response may be used (RFC 9111 section
    /// 4.2.2: anything but our default is explicit).
    pub fn is_explicit(&self) -> bool {
        self.source != Source::Default
    }

    /// How long it may still be served from now on; zero means already stale.
    pub fn remaining_ms(&self) -> u64 {
        self.lifetime_ms
            .saturating_sub(self.initial_age_secs.saturating_mul(1000))
    }
}

/// The response headers freshness depends on, as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreshnessHeaders<'a> {
    pub date: Option<&'a str>,
    pub expires: Option<&'a str>,
    pub age: Option<&'a str>,
}

/// Works out the freshness lifetime (RFC 9111 section 4.2.1): `s-maxage`, else `max-age`,
/// else `Expires` − `Date`, else `default_ttl_ms`. A `Date` missing or unreadable is taken
/// as `now_secs`, the time we received the response. An `Expires` that is not a valid date
/// (often `0`) means already expired (section 5.3).
pub fn freshness(
    cache_control: &CacheControl,
    headers: FreshnessHeaders<'_>,
    now_secs: u64,
    default_ttl_ms: u64,
) -> Freshness {
    let initial_age_secs = headers.age.and_then(parse_age).unwrap_or(0);
    let seconds = |secs: u64, source| Freshness {
        lifetime_ms: secs.saturating_mul(1000),
        initial_age_secs,
        source,
    };

    // An unusable or conflicting directive makes the response stale (lifetime 0).
    if let Some(secs) = cache_control.strict_seconds("s-maxage") {
        return seconds(secs.unwrap_or(0), Source::SMaxAge);
    }
    if let Some(secs) = cache_control.strict_seconds("max-age") {
        return seconds(secs.unwrap_or(0), Source::MaxAge);
    }
    if let Some(expires) = headers.expires {
        let date = headers.date.and_then(parse_http_date).unwrap_or(now_secs);
        let lifetime = parse_http_date(expires).map_or(0, |e| e.saturating_sub(date));
        return seconds(lifetime, Source::Expires);
    }
    Freshness {
        lifetime_ms: default_ttl_ms,
        initial_age_secs,
        source: Source::Default,
    }
}

/// `Age` is delta-seconds; several values (a list) or junk are ignored rather than trusted
/// (RFC 9111 section 5.1 asks for the first value when several arrive as one list).
fn parse_age(text: &str) -> Option<u64> {
    let first = text.split(',').next().unwrap_or("").trim();
    parse_delta_seconds(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_445_412_480; // Wed, 21 Oct 2015 07:28:00 GMT
    const DEFAULT_MS: u64 = 3_600_000;

    fn fresh(cc: &str, date: Option<&str>, expires: Option<&str>, age: Option<&str>) -> Freshness {
        let cache_control = CacheControl::parse([cc]);
        let headers = FreshnessHeaders { date, expires, age };
        freshness(&cache_control, headers, NOW, DEFAULT_MS)
    }

    #[test]
    fn lifetime_comes_from_the_first_source_that_applies() {
        let date = Some("Wed, 21 Oct 2015 07:28:00 GMT");
        let in_ten_minutes = Some("Wed, 21 Oct 2015 07:38:00 GMT");
        // One line per rule: Cache-Control, Date, Expires, lifetime in seconds, source.
        let cases = [
            (
                "s-maxage=30, max-age=60",
                date,
                in_ten_minutes,
                30,
                Source::SMaxAge,
            ),
            ("max-age=60", date, in_ten_minutes, 60, Source::MaxAge),
            ("public", date, in_ten_minutes, 600, Source::Expires),
            ("", None, in_ten_minutes, 600, Source::Expires),
            ("", date, Some("0"), 0, Source::Expires),
            (
                "",
                date,
                Some("Wed, 21 Oct 2015 07:00:00 GMT"),
                0,
                Source::Expires,
            ),
            ("max-age=abc", date, None, 0, Source::MaxAge),
            ("max-age=-5", date, None, 0, Source::MaxAge),
            ("max-age=60, max-age=0", date, None, 0, Source::MaxAge),
            ("max-age=60, Max-Age=60", date, None, 60, Source::MaxAge),
            ("s-maxage=x, max-age=60", date, None, 0, Source::SMaxAge),
            ("", date, None, 3600, Source::Default),
            ("max-age=0", date, None, 0, Source::MaxAge),
        ];
        for (cc, date, expires, secs, source) in cases {
            let f = fresh(cc, date, expires, None);

            assert_eq!(f.lifetime_ms, secs * 1000, "{cc:?} {expires:?}");
            assert_eq!(f.source, source, "{cc:?} {expires:?}");
        }
    }

    #[test]
    fn expires_is_measured_from_the_upstream_date_not_our_clock() {
        // The upstream's clock runs an hour behind ours; Expires-Date is still 60 s.
        let f = fresh(
            "",
            Some("Wed, 21 Oct 2015 06:28:00 GMT"),
            Some("Wed, 21 Oct 2015 06:29:00 GMT"),
            None,
        );

        assert_eq!(f.lifetime_ms, 60_000);
    }

    #[test]
    fn upstream_age_is_subtracted_from_what_remains() {
        // One line per case: max-age, Age header, remaining seconds.
        let cases = [
            ("max-age=60", None, 60),
            ("max-age=60", Some("10"), 50),
            ("max-age=60", Some("60"), 0),
            ("max-age=60", Some("600"), 0),
            ("max-age=60", Some("10, 20"), 50),
            ("max-age=60", Some("-5"), 60),
            ("max-age=60", Some("junk"), 60),
        ];
        for (cc, age, remaining) in cases {
            let f = fresh(cc, None, None, age);

            assert_eq!(f.remaining_ms(), remaining * 1000, "{cc} Age {age:?}");
        }
    }

    #[test]
    fn only_the_default_ttl_is_not_explicit() {
        assert!(fresh("max-age=5", None, None, None).is_explicit());
        assert!(fresh("", None, Some("0"), None).is_explicit());
        assert!(!fresh("", None, None, None).is_explicit());
    }
}
