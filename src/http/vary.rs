//! `Vary` (RFC 9110 section 12.5.5): telling caches which request headers chose the
//! response. This module only merges a field name into what is already there.
//!
//! <https://www.rfc-editor.org/rfc/rfc9110#section-12.5.5>

use super::list::split_list;

/// The `Vary` value to send once `field` is added to the existing lines, or None when they
/// already cover it: they name it (in any case), or say `*`, which varies on everything.
/// Existing members keep their order and spelling; several lines become one.
pub fn with_field<'a>(existing: impl IntoIterator<Item = &'a str>, field: &str) -> Option<String> {
    let mut members: Vec<&str> = existing.into_iter().flat_map(split_list).collect();
    if members
        .iter()
        .any(|m| *m == "*" || m.eq_ignore_ascii_case(field))
    {
        return None;
    }

    members.push(field);
    Some(members.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_merged_without_duplicates() {
        // One line per rule: existing Vary lines, value to send (None: leave as is).
        let cases: [(&[&str], Option<&str>); 8] = [
            (&[], Some("Accept-Encoding")),
            (&[""], Some("Accept-Encoding")),
            (&["Origin"], Some("Origin, Accept-Encoding")),
            (
                &["Origin", "Cookie"],
                Some("Origin, Cookie, Accept-Encoding"),
            ),
            (&["accept-encoding"], None),
            (&["Origin, ACCEPT-ENCODING"], None),
            (&["*"], None),
            (&["Origin", "*"], None),
        ];
        for (existing, expected) in cases {
            assert_eq!(
                with_field(existing.iter().copied(), "Accept-Encoding").as_deref(),
                expected,
                "{existing:?}"
            );
        }
    }
}
