//! A request's header fields as Envoy hands them over in one host call. Reading the whole
//! map once and answering every later question from it is far cheaper than one host call
//! per header: each call crosses the wasm boundary and copies.

use std::borrow::Cow;

/// Header fields in arrival order; Envoy gives names in lower case, pseudo-headers
/// (`:method`, `:path`, `:authority`, `:scheme`) included. Values are bytes: they may hold
/// any octet, and only some of them are text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    fields: Vec<(String, Vec<u8>)>,
}

impl HeaderMap {
    pub fn new(fields: Vec<(String, Vec<u8>)>) -> HeaderMap {
        HeaderMap { fields }
    }

    /// The first value of a field, by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The first value as text; bytes that are not UTF-8 become U+FFFD, which is harmless
    /// for the token grammar the filter parses.
    pub fn text(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).map(String::from_utf8_lossy)
    }

    /// Every line of a field, as text, in order: list fields may come in several lines.
    pub fn lines(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v))
            .collect()
    }

    /// The fields in arrival order.
    pub fn fields(&self) -> &[(String, Vec<u8>)] {
        &self.fields
    }

    /// The fields themselves, for keeping past the request phase.
    pub fn into_fields(self) -> Vec<(String, Vec<u8>)> {
        self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> HeaderMap {
        HeaderMap::new(vec![
            (":method".to_string(), b"GET".to_vec()),
            ("accept-encoding".to_string(), b"gzip".to_vec()),
            ("Accept-Encoding".to_string(), b"br;q=0.5".to_vec()),
            ("x-odd".to_string(), vec![b'a', 0xff]),
        ])
    }

    #[test]
    fn the_first_value_answers_by_any_case() {
        assert_eq!(map().get("ACCEPT-ENCODING"), Some(&b"gzip"[..]));
        assert!(map().has(":method"));
        assert!(!map().has("cookie"));
    }

    #[test]
    fn every_line_of_a_list_field_is_kept_in_order() {
        assert_eq!(map().lines("accept-encoding"), vec!["gzip", "br;q=0.5"]);
        assert!(map().lines("te").is_empty());
    }

    #[test]
    fn bytes_that_are_not_utf8_read_as_replacement_characters() {
        assert_eq!(map().text("x-odd").as_deref(), Some("a\u{fffd}"));
    }
}
