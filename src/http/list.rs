//! Comma-separated header lists (RFC 9110 section 5.6.1), the shape shared by `Vary`,
//! `Cache-Control`, `Accept-Encoding` and `If-None-Match`.

/// Splits a list on commas that are outside quoted strings, trims optional whitespace and
/// drops empty members, which the RFC says recipients must ignore. A quote that is never
/// closed starts no quoted string: every comma then splits, so a stray `"` cannot hide the
/// members after it.
pub fn split_list(value: &str) -> Vec<&str> {
    match split_outside_quotes(value) {
        Some(members) => members,
        None => value.split(',').collect(),
    }
    .into_iter()
    .map(|m| m.trim_matches(|c| c == ' ' || c == '\t'))
    .filter(|m| !m.is_empty())
    .collect()
}

/// The raw members between commas outside quotes, or None when a quote is left open.
fn split_outside_quotes(value: &str) -> Option<Vec<&str>> {
    let mut members = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => {
                members.push(value.get(start..i).unwrap_or(""));
                start = i + 1;
            }
            _ => {}
        }
    }
    members.push(value.get(start..).unwrap_or(""));

    (!in_quotes).then_some(members)
}

/// Whether a list header (several header lines count as one list) names `token`,
/// case-insensitively.
pub fn list_contains<'a>(values: impl IntoIterator<Item = &'a str>, token: &str) -> bool {
    values
        .into_iter()
        .flat_map(split_list)
        .any(|member| member.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_commas_outside_quotes() {
        let cases: [(&str, &[&str]); 7] = [
            ("", &[]),
            ("a", &["a"]),
            ("a, b,c", &["a", "b", "c"]),
            (" a ,\tb\t, ", &["a", "b"]),
            (",,a,,", &["a"]),
            (r#"W/"x,y", "z""#, &[r#"W/"x,y""#, r#""z""#]),
            (r#""a\",b", c"#, &[r#""a\",b""#, "c"]),
        ];
        for (value, expected) in cases {
            assert_eq!(split_list(value), expected, "{value:?}");
        }
    }

    #[test]
    fn an_unclosed_quote_does_not_swallow_the_rest_of_the_list() {
        // Found by fuzzing: Vary `"x` merged with Accept-Encoding hid the new member.
        assert_eq!(
            split_list("\"x, Accept-Encoding"),
            vec!["\"x", "Accept-Encoding"]
        );
        assert_eq!(split_list("a, \"b, c"), vec!["a", "\"b", "c"]);
    }

    #[test]
    fn finds_tokens_in_any_case_across_header_lines() {
        assert!(list_contains(
            ["Cookie", "accept-encoding"],
            "Accept-Encoding"
        ));
        assert!(!list_contains(["accept-encoding-x"], "accept-encoding"));
        assert!(!list_contains([], "accept-encoding"));
    }
}
