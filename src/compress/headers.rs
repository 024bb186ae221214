//! The response header changes that go with a compression decision, as a plain list of
//! edits. The filter applies them with host calls; a cached entry applies them to its own
//! header list with [`apply_to_header_list`], so both paths change headers the same way.

use super::eligibility::{Decision, ResponseFacts};
use crate::config::Encoding;
use crate::http::{etag, vary};

/// One change to a response's headers. Names are lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderEdit {
    /// Replace every line of the header with this one value.
    Set(&'static str, String),
    Remove(&'static str),
}

/// The edits a decision calls for.
///
/// - Compressed: `Content-Encoding` set; `Content-Length` removed (the new length is not
///   known until the end); a strong `ETag` made weak, since the bytes differ from the
///   identity ones (RFC 9110 section 8.8.1); `Accept-Ranges` removed, since ranges of the
///   identity body no longer apply.
/// - Compressed or not, when some client could get it compressed: `Accept-Encoding` merged
///   into `Vary`, so shared caches keep the variants apart.
pub fn edits_for(decision: &Decision, response: &ResponseFacts) -> Vec<HeaderEdit> {
    let mut edits = Vec::new();
    if let Decision::Compress(encoding) = decision {
        edits.push(HeaderEdit::Set(
            "content-encoding",
            encoding.token().to_string(),
        ));
        edits.push(HeaderEdit::Remove("content-length"));
        if let Some(tag) = response.etag.as_deref() {
            let weak = etag::weaken(tag);
            if weak != tag {
                edits.push(HeaderEdit::Set("etag", weak));
            }
        }
        edits.push(HeaderEdit::Remove("accept-ranges"));
    }
    if !matches!(decision, Decision::Untouched(_)) {
        let existing = response.vary.iter().map(String::as_str);
        if let Some(value) = vary::with_field(existing, "Accept-Encoding") {
            edits.push(HeaderEdit::Set("vary", value));
        }
    }
    edits
}

/// Applies edits to a header list; names compare in any case.
pub fn apply_to_header_list(headers: &mut Vec<(String, String)>, edits: &[HeaderEdit]) {
    for edit in edits {
        match edit {
            HeaderEdit::Set(name, value) => {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                headers.push((name.to_string(), value.clone()));
            }
            HeaderEdit::Remove(name) => headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
        }
    }
}

/// Turns the headers of an identity response into those of its `encoding` variant, for a
/// body compressed whole (see [`super::compress_body`]). The caller has decided that the
/// response may be compressed, and sets `Content-Length` itself if it wants one.
pub fn compress_header_list(headers: &mut Vec<(String, String)>, encoding: Encoding) {
    let facts = ResponseFacts::from_headers(headers, false);
    let edits = edits_for(&Decision::Compress(encoding), &facts);
    apply_to_header_list(headers, &edits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::eligibility::Skip;

    fn list(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn compressing_sets_the_coding_and_drops_what_no_longer_holds() {
        let mut headers = list(&[
            (":status", "200"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "8192"),
            ("Content-Encoding", "identity"),
            ("ETag", "\"v1\""),
            ("Accept-Ranges", "bytes"),
            ("Vary", "Origin"),
            ("Cache-Control", "public, max-age=60"),
        ]);

        compress_header_list(&mut headers, Encoding::Gzip);

        assert_eq!(
            headers,
            list(&[
                (":status", "200"),
                ("Content-Type", "text/plain"),
                ("Cache-Control", "public, max-age=60"),
                ("content-encoding", "gzip"),
                ("etag", "W/\"v1\""),
                ("vary", "Origin, Accept-Encoding"),
            ])
        );
    }

    #[test]
    fn edits_follow_the_decision() {
        let facts = ResponseFacts {
            etag: Some("W/\"weak\"".to_string()),
            vary: vec!["accept-encoding".to_string()],
            ..ResponseFacts::default()
        };
        let plain = ResponseFacts::default();
        let vary = HeaderEdit::Set("vary", "Accept-Encoding".to_string());

        // One line per rule: decision, facts, edits.
        let cases = [
            (
                Decision::Untouched(Skip::MediaTypeNotListed),
                &plain,
                vec![],
            ),
            (
                Decision::Identity(Skip::HeadRequest),
                &plain,
                vec![vary.clone()],
            ),
            (Decision::Identity(Skip::HeadRequest), &facts, vec![]),
            (
                Decision::Compress(Encoding::Brotli),
                &plain,
                vec![
                    HeaderEdit::Set("content-encoding", "br".to_string()),
                    HeaderEdit::Remove("content-length"),
                    HeaderEdit::Remove("accept-ranges"),
                    vary,
                ],
            ),
            (
                Decision::Compress(Encoding::Gzip),
                &facts,
                vec![
                    HeaderEdit::Set("content-encoding", "gzip".to_string()),
                    HeaderEdit::Remove("content-length"),
                    HeaderEdit::Remove("accept-ranges"),
                ],
            ),
        ];
        for (decision, facts, expected) in cases {
            assert_eq!(edits_for(&decision, facts), expected, "{decision:?}");
        }
    }

    #[test]
    fn vary_star_is_left_alone() {
        let facts = ResponseFacts {
            vary: vec!["*".to_string()],
            ..ResponseFacts::default()
        };

        let edits = edits_for(&Decision::Identity(Skip::ClientWantsIdentity), &facts);

        assert!(edits.is_empty());
    }
}
