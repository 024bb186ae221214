//! Media types in `Content-Type` (RFC 9110 section 8.3.1) and matching them against the
//! configured list. Parameters (`charset`) never take part, and case never matters.
//!
//! <https://www.rfc-editor.org/rfc/rfc9110#section-8.3.1>

/// The `type/subtype` of a `Content-Type` value, lower-cased, parameters and whitespace
/// dropped; None when the value is not a media type at all.
pub fn essence(content_type: &str) -> Option<String> {
    let before_parameters = content_type.split(';').next().unwrap_or("");
    let (kind, subtype) = before_parameters.split_once('/')?;
    let (kind, subtype) = (kind.trim(), subtype.trim());
    if kind.is_empty() || subtype.is_empty() || subtype.contains('/') {
        return None;
    }
    Some(format!("{kind}/{subtype}").to_ascii_lowercase())
}

/// Whether a media type essence matches a configured range: the same type, or `type/*`.
/// Both sides are lower-case. Exact comparison, so `application/json` never matches
/// `application/jsonp`.
pub fn matches_range(essence: &str, range: &str) -> bool {
    match range.strip_suffix("/*") {
        Some(kind) => essence
            .split_once('/')
            .is_some_and(|(essence_kind, _)| essence_kind == kind),
        None => essence == range,
    }
}

/// Whether a media type essence matches any of the configured ranges.
pub fn matches_any(essence: &str, ranges: &[String]) -> bool {
    ranges.iter().any(|range| matches_range(essence, range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essence_drops_parameters_whitespace_and_case() {
        // One line per rule: Content-Type value, essence.
        let cases = [
            ("text/html", Some("text/html")),
            ("text/html; charset=utf-8", Some("text/html")),
            ("text/html ;charset=iso-8859-1", Some("text/html")),
            ("Application/JSON;charset=UTF-8", Some("application/json")),
            ("  image/svg+xml  ", Some("image/svg+xml")),
            ("text", None),
            ("/html", None),
            ("text/", None),
            ("", None),
            (";charset=utf-8", None),
            ("text/html/extra", None),
        ];
        for (value, expected) in cases {
            assert_eq!(essence(value).as_deref(), expected, "{value:?}");
        }
    }

    #[test]
    fn ranges_match_exactly_or_by_type_wildcard() {
        // One line per rule: essence, configured range, match?
        let cases = [
            ("application/json", "application/json", true),
            ("application/jsonp", "application/json", false),
            ("application/json", "application/jsonp", false),
            ("application/json-seq", "application/json", false),
            ("text/plain", "text/*", true),
            ("text/event-stream", "text/*", true),
            ("texts/plain", "text/*", false),
            ("image/png", "text/*", false),
            ("image/svg+xml", "image/svg+xml", true),
        ];
        for (essence, range, expected) in cases {
            assert_eq!(
                matches_range(essence, range),
                expected,
                "{essence} in {range}"
            );
        }
    }
}
