#![no_main]
//! Any plugin configuration is either accepted or refused with a field and a reason; never a
//! panic. Durations alone too.

use edge_optimizer::config::Config;
use edge_optimizer::duration::parse_duration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(error) = Config::from_json(data) {
        assert!(!error.reason.is_empty());
    }

    let _ = parse_duration(&String::from_utf8_lossy(data));
});
