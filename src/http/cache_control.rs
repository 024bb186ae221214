//! `Cache-Control` directives (RFC 9111 section 5.2), parsed once and asked by name.

use super::list::split_list;

/// The directives of one or more `Cache-Control` header lines, names lower-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    directives: Vec<(String, Option<String>)>,
}

impl CacheControl {
    /// Parses every header line given. Malformed members are kept by name, so a broken
    /// `max-age=abc` still counts as present but yields no number.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> CacheControl {
        let directives = values
            .into_iter()
            .flat_map(split_list)
            .map(|member| match member.split_once('=') {
                Some((name, value)) => (
                    name.trim().to_ascii_lowercase(),
                    Some(value.trim().trim_matches('"').to_string()),
                ),
                None => (member.to_ascii_lowercase(), None),
            })
            .collect();
        CacheControl { directives }
    }

    /// Whether the directive is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.directives.iter().any(|(n, _)| n == name)
    }

    /// A delta-seconds directive for freshness: None when absent, `Err` when it is
    /// unusable (not a whole number, or given twice with different values), which RFC 9111
    /// section 4.2.1 encourages caches to treat as stale.
    pub fn strict_seconds(&self, name: &str) -> Option<Result<u64, ()>> {
        let mut values = self
            .directives
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v);
        let first = values.next()?;
        if values.any(|other| other != first) {
            return Some(Err(()));
        }
        Some(first.as_deref().and_then(parse_delta_seconds).ok_or(()))
    }

    /// A delta-seconds directive (`max-age`, `s-maxage`). RFC 9111 section 1.2.2: a value
    /// too large to hold is taken as the largest one we can (2^31 s, about 68 years); a value
    /// that is not a whole number makes the directive unusable.
    pub fn seconds(&self, name: &str) -> Option<u64> {
        let (_, value) = self.directives.iter().find(|(n, _)| n == name)?;
        parse_delta_seconds(value.as_deref()?)
    }
}

/// Parses delta-seconds; digits only, saturating at 2^31.
pub fn parse_delta_seconds(text: &str) -> Option<u64> {
    const MAX: u64 = 1 << 31;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().map_or(MAX, |v| v.min(MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_are_found_in_any_case_across_lines() {
        let cc = CacheControl::parse(["Public, MAX-AGE=60", "No-Transform"]);

        assert!(cc.has("public"));
        assert!(cc.has("no-transform"));
        assert!(!cc.has("private"));
        assert_eq!(cc.seconds("max-age"), Some(60));
    }

    #[test]
    fn delta_seconds_follow_the_rfc() {
        // One line per rule: header value, max-age read from it.
        let cases = [
            ("max-age=0", Some(0)),
            ("max-age=\"30\"", Some(30)),
            ("max-age = 5", Some(5)),
            ("max-age=99999999999999999999", Some(1 << 31)),
            ("max-age=-5", None),
            ("max-age=1.5", None),
            ("max-age=", None),
            ("max-age", None),
            ("max-age=abc", None),
            ("no-cache", None),
        ];
        for (value, expected) in cases {
            assert_eq!(
                CacheControl::parse([value]).seconds("max-age"),
                expected,
                "{value}"
            );
        }
    }

    #[test]
    fn quoted_commas_do_not_split_directives() {
        let cc = CacheControl::parse([r#"no-cache="set-cookie, x", max-age=5"#]);

        assert!(cc.has("no-cache"));
        assert_eq!(cc.seconds("max-age"), Some(5));
    }
}
