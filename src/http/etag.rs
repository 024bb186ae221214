//! Entity tags (RFC 9110 section 8.8.3) and `If-None-Match` (section 13.1.2).

use super::list::split_list;

/// The weak form of an entity tag: a strong `"x"` becomes `W/"x"`, a weak one is kept.
/// A changed representation (a compressed body) may no longer claim byte equality.
pub fn weaken(etag: &str) -> String {
    let etag = etag.trim();
    if etag.starts_with("W/") {
        etag.to_string()
    } else {
        format!("W/{etag}")
    }
}

/// The opaque part of a tag, with any `W/` removed, for weak comparison.
fn opaque(etag: &str) -> &str {
    let etag = etag.trim();
    etag.strip_prefix("W/").unwrap_or(etag)
}

/// Whether an `If-None-Match` value matches `etag` under weak comparison, the one the RFC
/// requires for `If-None-Match`. `*` matches any current representation.
pub fn if_none_match_matches(if_none_match: &str, etag: &str) -> bool {
    let wanted = opaque(etag);
    split_list(if_none_match)
        .into_iter()
        .any(|member| member == "*" || opaque(member) == wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_tags_become_weak_and_weak_tags_stay() {
        assert_eq!(weaken("\"abc\""), "W/\"abc\"");
        assert_eq!(weaken("W/\"abc\""), "W/\"abc\"");
        assert_eq!(weaken(" \"abc\" "), "W/\"abc\"");
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        // One line per rule: If-None-Match, entity tag, match?
        let cases = [
            ("\"a\"", "\"a\"", true),
            ("W/\"a\"", "\"a\"", true),
            ("\"a\"", "W/\"a\"", true),
            ("\"b\", W/\"a\"", "\"a\"", true),
            ("*", "\"a\"", true),
            ("\"b\"", "\"a\"", false),
            ("\"A\"", "\"a\"", false),
            ("", "\"a\"", false),
        ];
        for (header, etag, expected) in cases {
            assert_eq!(
                if_none_match_matches(header, etag),
                expected,
                "{header} vs {etag}"
            );
        }
    }
}
