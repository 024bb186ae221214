//! `Accept-Encoding` (RFC 9110 section 12.5.3): which content codings a client takes, and
//! how much it wants each. This module only reads the header; choosing among the server's
//! codings is `compress::negotiate`.
//!
//! <https://www.rfc-editor.org/rfc/rfc9110#section-12.5.3>

use super::list::split_list;

/// A weight in thousandths: `q=0.5` is 500, `q=1` is 1000. RFC 9110 section 12.4.2 allows
/// at most three decimals, so whole numbers compare exactly.
pub type Weight = u16;

/// The weight of a member written without `q`.
pub const FULL_WEIGHT: Weight = 1000;

/// What one member of the list names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coding {
    /// `*`: every coding the list does not name.
    Any,
    /// A coding name, lower-cased, with `x-gzip` folded into `gzip` (section 8.4.1.3).
    Named(String),
}

/// The members of one or more `Accept-Encoding` lines, in the order written. Malformed
/// members are dropped: a broken header never becomes an error, only a shorter list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptEncoding {
    members: Vec<(Coding, Weight)>,
}

impl AcceptEncoding {
    /// Parses every header line given; several lines read as one list.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> AcceptEncoding {
        let members = values
            .into_iter()
            .flat_map(split_list)
            .filter_map(parse_member)
            .collect();
        AcceptEncoding { members }
    }

    /// How much the client wants `coding` (lower-case), or None when it is not acceptable.
    /// A named member beats `*`; when a coding is named twice, its first member counts.
    pub fn weight_of(&self, coding: &str) -> Option<Weight> {
        let named = self.first_weight(|c| matches!(c, Coding::Named(n) if n == coding));
        let weight = match named {
            Some(weight) => Some(weight),
            None => self.first_weight(|c| *c == Coding::Any),
        };
        weight.filter(|w| *w > 0)
    }

    fn first_weight(&self, wanted: impl Fn(&Coding) -> bool) -> Option<Weight> {
        self.members
            .iter()
            .find(|(coding, _)| wanted(coding))
            .map(|(_, weight)| *weight)
    }
}

/// One member: `coding *( OWS ";" OWS parameter )`. The only parameter a coding takes is
/// its weight; a member with anything else, or with a weight out of grammar, is malformed.
fn parse_member(member: &str) -> Option<(Coding, Weight)> {
    let mut parts = member.split(';');
    let name = parts.next()?.trim_matches(is_ows);
    let coding = match name {
        "*" => Coding::Any,
        _ if is_token(name) => Coding::Named(canonical_name(name)),
        _ => return None,
    };

    let mut weight = FULL_WEIGHT;
    let mut seen_weight = false;
    for parameter in parts {
        let (key, value) = parameter.split_once('=')?;
        if seen_weight || !key.trim_matches(is_ows).eq_ignore_ascii_case("q") {
            return None;
        }
        weight = parse_qvalue(value.trim_matches(is_ows))?;
        seen_weight = true;
    }
    Some((coding, weight))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_qvalue(text: &str) -> Option<Weight> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<Weight>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(FULL_WEIGHT),
        _ => None,
    }
}

fn canonical_name(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    if name == "x-gzip" {
        "gzip".to_string()
    } else {
        name
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 9110 section 5.6.2 `token`.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(header: &str) -> (Option<Weight>, Option<Weight>, Option<Weight>) {
        let accept = AcceptEncoding::parse([header]);
        (
            accept.weight_of("gzip"),
            accept.weight_of("br"),
            accept.weight_of("identity"),
        )
    }

    #[test]
    fn weights_follow_the_rfc_grammar() {
        // One line per rule: header, weight of gzip, of br, of identity as named or via `*`.
        let cases = [
            ("gzip", Some(1000), None, None),
            ("GZIP", Some(1000), None, None),
            ("GZip;Q=1", Some(1000), None, None),
            ("x-gzip", Some(1000), None, None),
            ("gzip;q=0.5", Some(500), None, None),
            ("gzip ; q = 0.25", Some(250), None, None),
            ("gzip;\tq=0.001", Some(1), None, None),
            ("gzip;q=1.000", Some(1000), None, None),
            ("gzip;q=0", None, None, None),
            ("gzip;q=0.000", None, None, None),
            ("gzip;q=1.001", None, None, None),
            ("gzip;q=2", None, None, None),
            ("gzip;q=0.0001", None, None, None),
            ("gzip;q=-0.5", None, None, None),
            ("gzip;q=.5", None, None, None),
            ("gzip;q=", None, None, None),
            ("gzip;q", None, None, None),
            ("gzip;q=0.5;q=0.7", None, None, None),
            ("gzip;level=9", None, None, None),
            ("*", Some(1000), Some(1000), Some(1000)),
            ("*;q=0", None, None, None),
            ("gzip;q=0, *", None, Some(1000), Some(1000)),
            ("*, gzip;q=0", None, Some(1000), Some(1000)),
            ("br;q=0.9, *;q=0.1", Some(100), Some(900), Some(100)),
            ("identity;q=0", None, None, None),
            ("gzip, gzip;q=0", Some(1000), None, None),
            ("x-gzip-like", None, None, None),
            ("gzip br", None, None, None),
            ("g\"zip", None, None, None),
            ("", None, None, None),
            (",,, ,", None, None, None),
            ("gzip, deflate, br, zstd", Some(1000), Some(1000), None),
        ];
        for (header, gzip, br, identity) in cases {
            assert_eq!(weights(header), (gzip, br, identity), "{header:?}");
        }
    }

    #[test]
    fn several_header_lines_read_as_one_list() {
        let accept = AcceptEncoding::parse(["br;q=0.2", "gzip;q=0.8"]);

        assert_eq!(accept.weight_of("gzip"), Some(800));
        assert_eq!(accept.weight_of("br"), Some(200));
    }
}
