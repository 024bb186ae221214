#![no_main]
//! Query normalisation and cache keys never panic; tracking parameters never change a key,
//! and everything else in the query survives into it.

use edge_optimizer::cache::key::{normalise_query, BaseKey, MethodClass};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ignored = vec!["utm_source".to_string(), "gclid".to_string()];
    let key = normalise_query(data, &ignored);
    assert!(key.len() <= data.len());

    let tagged = [b"utm_source=x&".as_slice(), data].concat();
    assert_eq!(normalise_query(&tagged, &ignored), key);

    let (authority, path) = data.split_at(data.len() / 3);
    let base = BaseKey::for_query_cache(b"http", authority, path, &ignored);
    assert_ne!(
        base.with_class(MethodClass::WithBody),
        base.with_class(MethodClass::HeadersOnly)
    );
});
