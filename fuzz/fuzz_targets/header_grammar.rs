#![no_main]
//! Cache-Control, Vary, media types, entity tags and comma lists never panic, and what they
//! return keeps its promises.

use edge_optimizer::http::cache_control::CacheControl;
use edge_optimizer::http::etag::{if_none_match_matches, weaken};
use edge_optimizer::http::list::split_list;
use edge_optimizer::http::media_type::essence;
use edge_optimizer::http::vary::with_field;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let value = text.as_ref();

    let cache_control = CacheControl::parse([value]);
    if let Some(seconds) = cache_control.seconds("max-age") {
        assert!(seconds <= 1 << 31);
    }

    for member in split_list(value) {
        assert!(!member.is_empty());
    }

    if let Some(merged) = with_field([value], "Accept-Encoding") {
        assert!(split_list(&merged)
            .iter()
            .any(|m| m.eq_ignore_ascii_case("accept-encoding")));
    }

    if let Some(media_type) = essence(value) {
        assert_eq!(media_type, media_type.to_ascii_lowercase());
    }

    let weak = weaken(value);
    assert!(weak.starts_with("W/"));
    assert!(if_none_match_matches(&weak, value) || value.trim().is_empty() || value.contains(','));
});
