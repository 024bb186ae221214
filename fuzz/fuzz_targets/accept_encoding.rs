#![no_main]
//! Any Accept-Encoding value yields a choice among what is offered, or identity.

use edge_optimizer::compress::negotiate::negotiate;
use edge_optimizer::config::Encoding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let offered = [Encoding::Brotli, Encoding::Gzip];
    if let Some(chosen) = negotiate([header.as_ref()], &offered) {
        assert!(offered.contains(&chosen));
    }
});
