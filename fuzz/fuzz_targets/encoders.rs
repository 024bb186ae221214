#![no_main]
//! gzip and brotli round-trip any body, however it is cut into chunks.

use std::io::Read;

use edge_optimizer::compress::new_encoder;
use edge_optimizer::config::Encoding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let encoding = if control & 1 == 0 {
        Encoding::Gzip
    } else {
        Encoding::Brotli
    };
    let level = u32::from(control >> 1) % 10 + 1;
    let chunk = usize::from(control >> 4) * 37 + 1;

    let mut encoder = new_encoder(encoding, level);
    let mut encoded = Vec::new();
    for piece in body.chunks(chunk) {
        encoded.extend(encoder.encode(piece).expect("encode"));
    }
    encoded.extend(encoder.finish().expect("finish"));

    let mut decoded = Vec::new();
    match encoding {
        Encoding::Gzip => {
            flate2::read::GzDecoder::new(encoded.as_slice())
                .read_to_end(&mut decoded)
                .expect("gunzip");
        }
        Encoding::Brotli => {
            brotli::Decompressor::new(encoded.as_slice(), 4096)
                .read_to_end(&mut decoded)
                .expect("unbrotli");
        }
    }
    assert_eq!(decoded, body);
});
