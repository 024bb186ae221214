//! Properties of the header grammar, cache keys and configuration over arbitrary input,
//! checked natively (no Envoy): nothing panics, and each parser keeps its promises. The
//! same functions have cargo-fuzz targets in fuzz/ for longer runs.

use edge_optimizer::cache::key::normalise_query;
use edge_optimizer::compress::negotiate::negotiate;
use edge_optimizer::config::{Config, Encoding};
use edge_optimizer::duration::parse_duration;
use edge_optimizer::http::accept_encoding::AcceptEncoding;
use edge_optimizer::http::cache_control::CacheControl;
use edge_optimizer::http::date::parse_http_date;
use edge_optimizer::http::list::split_list;
use edge_optimizer::http::media_type::essence;
use edge_optimizer::http::vary::with_field;
use proptest::prelude::*;

/// Header-ish text: mostly the characters that matter to the grammar, some anything.
fn header_text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9 ,;=.*\"/\\\\-]{0,64}", any::<String>(),]
}

proptest! {
    #[test]
    fn accept_encoding_weights_stay_between_0_and_1000(value in header_text()) {
        let accept = AcceptEncoding::parse([value.as_str()]);

        for coding in ["gzip", "br", "identity", "x-gzip", "*"] {
            if let Some(weight) = accept.weight_of(coding) {
                prop_assert!(weight <= 1000);
            }
        }
    }

    #[test]
    fn negotiation_only_picks_an_offered_coding(value in header_text(), br_first: bool) {
        let offered = if br_first {
            vec![Encoding::Brotli, Encoding::Gzip]
        } else {
            vec![Encoding::Gzip]
        };

        if let Some(chosen) = negotiate([value.as_str()], &offered) {
            prop_assert!(offered.contains(&chosen));
        }
    }

    #[test]
    fn cache_control_seconds_are_bounded(value in header_text()) {
        let cache_control = CacheControl::parse([value.as_str()]);

        for directive in ["max-age", "s-maxage"] {
            if let Some(seconds) = cache_control.seconds(directive) {
                prop_assert!(seconds <= 1 << 31);
            }
        }
    }

    #[test]
    fn list_members_are_trimmed_and_never_empty(value in header_text()) {
        for member in split_list(&value) {
            prop_assert!(!member.is_empty());
            prop_assert_eq!(member.trim_matches([' ', '\t']), member);
        }
    }

    #[test]
    fn vary_always_ends_up_covering_accept_encoding(value in header_text()) {
        match with_field([value.as_str()], "Accept-Encoding") {
            Some(merged) => {
                let members = split_list(&merged);
                prop_assert!(members.iter().any(|m| m.eq_ignore_ascii_case("accept-encoding")));
            }
            None => {
                let members = split_list(&value);
                prop_assert!(members
                    .iter()
                    .any(|m| *m == "*" || m.eq_ignore_ascii_case("accept-encoding")));
            }
        }
    }

    #[test]
    fn media_types_come_out_lower_case_without_parameters(value in header_text()) {
        if let Some(media_type) = essence(&value) {
            prop_assert_eq!(media_type.to_ascii_lowercase(), media_type.clone());
            prop_assert!(!media_type.contains(';'));
        }
    }

    #[test]
    fn http_dates_never_panic(value in header_text()) {
        let _ = parse_http_date(&value);
    }

    #[test]
    fn query_keys_ignore_pair_order_but_keep_every_other_byte(
        pairs in proptest::collection::vec("[a-c]{1,2}=[0-9;%]{0,3}", 0..6),
    ) {
        let ignored = vec!["utm_source".to_string()];
        let query = pairs.join("&");
        let mut reversed = pairs.clone();
        reversed.reverse();

        let key = normalise_query(query.as_bytes(), &ignored);

        // Same multiset of pairs, same key, when no name repeats (repeats keep their order).
        let mut names: Vec<&str> = pairs.iter().map(|p| p.split('=').next().unwrap()).collect();
        names.sort();
        names.dedup();
        if names.len() == pairs.len() {
            prop_assert_eq!(&normalise_query(reversed.join("&").as_bytes(), &ignored), &key);
        }
        // Nothing but separators is lost.
        let kept: usize = pairs.iter().filter(|p| !p.is_empty()).map(|p| p.len()).sum();
        prop_assert_eq!(key.iter().filter(|b| **b != b'&').count(), kept);
    }

    #[test]
    fn tracking_parameters_never_change_the_key(
        pairs in proptest::collection::vec("[a-c]=[0-9]{0,3}", 0..5),
        tracking in "[0-9a-z]{0,5}",
    ) {
        let ignored = vec!["utm_source".to_string()];
        let plain = pairs.join("&");
        let tagged = format!("utm_source={tracking}&{plain}");

        prop_assert_eq!(
            normalise_query(tagged.as_bytes(), &ignored),
            normalise_query(plain.as_bytes(), &ignored)
        );
    }

    #[test]
    fn any_configuration_is_accepted_or_refused_with_a_reason(text in any::<String>()) {
        if let Err(error) = Config::from_json(text.as_bytes()) {
            prop_assert!(!error.reason.is_empty());
        }
    }

    #[test]
    fn durations_parse_exactly_when_they_are_a_number_and_a_unit(
        number in 0u64..1_000_000,
        unit in prop_oneof!["ms", "s", "m", "h", "d", "", " s"],
    ) {
        let parsed = parse_duration(&format!("{number}{unit}"));

        prop_assert_eq!(parsed.is_ok(), matches!(unit.as_str(), "ms" | "s" | "m" | "h"));
    }
}
