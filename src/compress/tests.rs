use std::io::Read;

use proptest::prelude::*;

use super::*;

fn decode(encoding: Encoding, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Encoding::Gzip => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap(),
        Encoding::Brotli => ::brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .unwrap(),
    };
    out
}

/// Feeds `body` to a fresh encoder cut at `cuts` (offsets, any order, may repeat), the way
/// Envoy hands a body over in chunks, empty ones included.
fn encode_in_chunks(encoding: Encoding, level: u32, body: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    let mut encoder = new_encoder(encoding, level);
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([body.len()]) {
        out.extend(encoder.encode(&body[start..cut]).unwrap());
        start = cut;
    }
    out.extend(encoder.finish().unwrap());
    out
}

fn any_encoding() -> impl Strategy<Value = (Encoding, u32)> {
    prop_oneof![
        (1u32..=9).prop_map(|level| (Encoding::Gzip, level)),
        (0u32..=11).prop_map(|quality| (Encoding::Brotli, quality)),
    ]
}

/// Bodies that compress (repeated text) as well as ones that do not (noise).
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..20_000),
        ("[a-z ]{1,40}", 0usize..2_000).prop_map(|(word, times)| word.repeat(times).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encoding_then_decoding_gives_the_body_back_for_any_chunking(
        (encoding, level) in any_encoding(),
        body in any_body(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let encoded = encode_in_chunks(encoding, level, &body, &cuts);

        prop_assert_eq!(decode(encoding, &encoded), body);
    }
}

#[test]
fn an_empty_body_still_gets_a_complete_stream() {
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let mut encoder = new_encoder(encoding, 5);

        let mut out = encoder.encode(&[]).unwrap();
        out.extend(encoder.finish().unwrap());

        assert!(!out.is_empty(), "{encoding:?}");
        assert_eq!(decode(encoding, &out), b"", "{encoding:?}");
    }
}

#[test]
fn a_whole_body_compresses_and_decodes() {
    let body = "edge-optimizer ".repeat(1000).into_bytes();

    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let compressed = compress_body(encoding, 6, &body).unwrap();

        assert!(compressed.len() < body.len() / 10, "{encoding:?}");
        assert_eq!(decode(encoding, &compressed), body, "{encoding:?}");
    }
}

#[test]
fn the_level_comes_from_the_configuration() {
    let config = crate::config::Config::from_json(
        br#"{"compression": {"gzip_level": 2,
        "brotli_quality": 9}}"#,
    )
    .unwrap()
    .compression;

    assert_eq!(level_for(&config, Encoding::Gzip), 2);
    assert_eq!(level_for(&config, Encoding::Brotli), 9);
}

/// Decodes as much of an unfinished stream as it holds.
fn decode_prefix(encoding: Encoding, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut reader: Box<dyn Read> = match encoding {
        Encoding::Gzip => Box::new(flate2::read::GzDecoder::new(bytes)),
        Encoding::Brotli => Box::new(::brotli::Decompressor::new(bytes, 4096)),
    };
    while let Ok(n) = reader.read(&mut buffer) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buffer[..n]);
    }
    out
}

#[test]
fn every_chunk_is_flushed_so_a_stream_cut_short_loses_no_content() {
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let mut encoder = new_encoder(encoding, 6);
        let mut sent = Vec::new();
        let mut body = Vec::new();

        for chunk in [
            &b"first piece of the body, "[..],
            b"then a second, ",
            b"and a third",
        ] {
            body.extend_from_slice(chunk);
            sent.extend(encoder.encode(chunk).unwrap());

            assert_eq!(decode_prefix(encoding, &sent), body, "{encoding:?}");
        }
    }
}
