//! Choosing the content coding of a response from the request's `Accept-Encoding` and the
//! server's configured preference (RFC 9110 section 12.5.3).
//!
//! <https://www.rfc-editor.org/rfc/rfc9110#section-12.5.3>

use crate::config::Encoding;
use crate::http::accept_encoding::AcceptEncoding;

/// The coding to send, or None for identity (the body as it is).
///
/// The acceptable offered coding with the highest weight wins; equal weights go to the one
/// listed first in `offered`. Identity takes part only when the client gives it a weight
/// (by name or through `*`) and then wins only with a strictly higher one; otherwise it is
/// the fallback when nothing offered is acceptable. No header, an empty one, or one with
/// nothing but malformed members means identity: the safe reading, and Envoy's.
pub fn negotiate<'a>(
    accept_encoding: impl IntoIterator<Item = &'a str>,
    offered: &[Encoding],
) -> Option<Encoding> {
    let accept = AcceptEncoding::parse(accept_encoding);

    let (weight, encoding) = offered
        .iter()
        .rev()
        .filter_map(|e| Some((accept.weight_of(e.token())?, *e)))
        .max_by_key(|(weight, _)| *weight)?;

    match accept.weight_of("identity") {
        Some(identity) if identity > weight => None,
        _ => Some(encoding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Encoding::{Brotli as Br, Gzip};

    const GZIP_ONLY: &[Encoding] = &[Gzip];
    const BR_FIRST: &[Encoding] = &[Br, Gzip];
    const GZIP_FIRST: &[Encoding] = &[Gzip, Br];

    fn chosen(header: &str, offered: &[Encoding]) -> Option<Encoding> {
        negotiate([header], offered)
    }

    #[test]
    fn the_highest_weight_wins_and_server_order_breaks_ties() {
        // One line per rule: Accept-Encoding, server order, coding sent (None: identity).
        let cases = [
            ("gzip", GZIP_ONLY, Some(Gzip)),
            ("GZIP", GZIP_ONLY, Some(Gzip)),
            ("GZip;Q=1, identity;q=0", GZIP_ONLY, Some(Gzip)),
            ("x-gzip", GZIP_ONLY, Some(Gzip)),
            ("X-GZIP;q=0.4", GZIP_ONLY, Some(Gzip)),
            (" gzip ,deflate", GZIP_ONLY, Some(Gzip)),
            ("gzip;q=0.001", GZIP_ONLY, Some(Gzip)),
            ("gzip;q=0", GZIP_ONLY, None),
            ("gzip;q=0.000, br", GZIP_ONLY, None),
            ("gzip;q=0.000, br", BR_FIRST, Some(Br)),
            ("identity", GZIP_ONLY, None),
            ("identity;q=0", GZIP_ONLY, None),
            ("", GZIP_ONLY, None),
            ("*", GZIP_ONLY, Some(Gzip)),
            ("*", BR_FIRST, Some(Br)),
            ("*;q=0", GZIP_ONLY, None),
            ("gzip;q=0, *", GZIP_ONLY, None),
            ("gzip;q=0, *", BR_FIRST, Some(Br)),
            ("*;q=0, gzip", GZIP_ONLY, Some(Gzip)),
            ("x-gzip-like", GZIP_ONLY, None),
            ("deflate, compress", GZIP_ONLY, None),
            ("gzip, br", BR_FIRST, Some(Br)),
            ("gzip, br", GZIP_FIRST, Some(Gzip)),
            ("br;q=0.5, gzip;q=0.5", GZIP_FIRST, Some(Gzip)),
            ("br;q=0.5, gzip;q=0.5", BR_FIRST, Some(Br)),
            ("gzip;q=0.8, br;q=0.9", GZIP_FIRST, Some(Br)),
            ("gzip;q=0.9, br;q=0.8", BR_FIRST, Some(Gzip)),
            ("br;q=0.999, gzip", BR_FIRST, Some(Gzip)),
            ("br", GZIP_ONLY, None),
            ("gzip;q=0.5, identity", GZIP_ONLY, None),
            ("gzip;q=0.5, identity;q=0.5", GZIP_ONLY, Some(Gzip)),
            ("gzip;q=0.5, *", GZIP_ONLY, None),
            ("gzip;q=0.5", GZIP_ONLY, Some(Gzip)),
            ("gzip;q=abc", GZIP_ONLY, None),
            ("gzip;q=1.5", GZIP_ONLY, None),
            ("gzip;q=0.5;q=0.5", GZIP_ONLY, None),
            ("gzip;q=0.5, gzip;q=0", GZIP_ONLY, Some(Gzip)),
            (";;;,,,==", GZIP_ONLY, None),
            ("\u{fffd}\u{fffd}, gzip", GZIP_ONLY, Some(Gzip)),
            ("gzip\u{0}", GZIP_ONLY, None),
        ];
        for (header, offered, expected) in cases {
            assert_eq!(chosen(header, offered), expected, "{header:?} {offered:?}");
        }
    }

    #[test]
    fn no_header_means_identity() {
        assert_eq!(negotiate([], BR_FIRST), None);
    }

    #[test]
    fn several_header_lines_are_one_list() {
        assert_eq!(negotiate(["br;q=0.1", "gzip"], BR_FIRST), Some(Gzip));
        assert_eq!(negotiate(["gzip;q=0", "*"], GZIP_ONLY), None);
    }

    #[test]
    fn a_4_kib_header_of_noise_is_read_without_error() {
        let noise = "x-unknown-coding;q=0.5, ".repeat(4096 / 24 + 1);
        let header = format!("{noise}gzip;q=0.7");

        assert!(header.len() >= 4096);
        assert_eq!(chosen(&header, GZIP_ONLY), Some(Gzip));
        assert_eq!(chosen(&noise, GZIP_ONLY), None);
    }

    #[test]
    fn a_4_kib_header_of_malformed_members_is_identity() {
        let members = "gzip;q=\u{7f}, ;q=1, =, gzip;;, (gzip), \"gzip\", gzip;q=1;x=2, ";
        let garbage = members.repeat(80);

        assert!(garbage.len() >= 4096);
        assert_eq!(chosen(&garbage, GZIP_ONLY), None);
    }
}
