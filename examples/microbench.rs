//! Micro-benchmarks of the pure modules, natively, so a regression shows without Envoy:
//! negotiation, cache keys, the LRU store and the encoders. Run with
//! `cargo run --release --example microbench`; each line is the median of several timed
//! batches. Absolute numbers depend on the machine; compare runs on one machine.

use std::hint::black_box;
use std::io::Read;
use std::rc::Rc;
use std::time::{Duration, Instant};

use edge_optimizer::cache::entry::Entry;
use edge_optimizer::cache::key::{normalise_query, BaseKey, MethodClass};
use edge_optimizer::cache::store::Store;
use edge_optimizer::compress::negotiate::negotiate;
use edge_optimizer::compress::new_encoder;
use edge_optimizer::config::Encoding;

/// Runs `f` in batches of `per_batch` calls and returns the median time per call.
fn time_per_call(per_batch: u32, mut f: impl FnMut()) -> Duration {
    let mut batches: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            started.elapsed() / per_batch
        })
        .collect();
    batches.sort();
    batches[batches.len() / 2]
}

fn report(name: &str, per_call: Duration, bytes: Option<usize>) {
    match bytes {
        Some(bytes) => {
            let mib_per_s = bytes as f64 / per_call.as_secs_f64() / (1024.0 * 1024.0);
            println!(
                "{name:44} {:>10.2} µs  {mib_per_s:>8.1} MiB/s",
                per_call.as_secs_f64() * 1e6
            );
        }
        None => println!("{name:44} {:>10.3} µs", per_call.as_secs_f64() * 1e6),
    }
}

fn json_body(size: usize) -> Vec<u8> {
    let mut body = String::from("{\"items\":[");
    let mut i = 0;
    while body.len() < size {
        body.push_str(&format!(
            "{{\"id\":{i},\"name\":\"item {i}\",\"price_cents\":{},\"tags\":[\"edge\",\"bench\"]}},",
            1000 + 37 * i
        ));
        i += 1;
    }
    body.push_str("{}]}");
    body.into_bytes()
}

fn entry(body: &[u8]) -> Entry {
    Entry {
        status: 200,
        headers: vec![("content-type".to_string(), "application/json".to_string())],
        body: Rc::from(body.to_vec()),
        stored_at_ms: 0,
        expires_at_ms: u64::MAX,
        initial_age_secs: 0,
        vary: Vec::new(),
        serves_authorized: false,
        variants: Vec::new(),
    }
}

fn encode(encoding: Encoding, level: u32, body: &[u8], chunk: usize) -> Vec<u8> {
    let mut encoder = new_encoder(encoding, level);
    let mut out = Vec::new();
    for piece in body.chunks(chunk) {
        out.extend(encoder.encode(piece).expect("encode"));
    }
    out.extend(encoder.finish().expect("finish"));
    out
}

fn main() {
    let offered = [Encoding::Brotli, Encoding::Gzip];
    for header in ["gzip, deflate, br", "gzip;q=0.5, br;q=0.8, *;q=0.1", ""] {
        let per_call = time_per_call(100_000, || {
            black_box(negotiate([black_box(header)], &offered));
        });
        report(&format!("negotiate {header:?}"), per_call, None);
    }

    let ignored: Vec<String> = ["utm_source", "utm_medium", "gclid"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let query = b"page=2&utm_source=mail&sort=price&filter=red&gclid=abc&limit=50";
    report(
        "normalise a 6-pair query",
        time_per_call(100_000, || {
            black_box(normalise_query(black_box(query), &ignored));
        }),
        None,
    );
    report(
        "build a query-cache key",
        time_per_call(100_000, || {
            let key = BaseKey::for_query_cache(
                b"http",
                b"Example.com:80",
                b"/api/items?b=2&a=1",
                &ignored,
            );
            black_box(key.with_class(MethodClass::WithBody));
        }),
        None,
    );

    let small = json_body(2 * 1024);
    let mut store = Store::new(10_000, 64 * 1024 * 1024);
    let mut n = 0u64;
    report(
        "LRU insert (2 KiB entries, evicting past 10 000)",
        time_per_call(20_000, || {
            n += 1;
            black_box(store.insert(n.to_le_bytes().to_vec(), entry(&small)));
        }),
        None,
    );
    let mut m = 0u64;
    report(
        "LRU lookup of a fresh entry",
        time_per_call(100_000, || {
            m = (m + 7919) % 10_000 + n.saturating_sub(10_000);
            black_box(store.get_fresh(&m.to_le_bytes(), 1).0.is_some());
        }),
        None,
    );

    let body = json_body(20 * 1024);
    for (encoding, level) in [
        (Encoding::Gzip, 1),
        (Encoding::Gzip, 6),
        (Encoding::Brotli, 5),
    ] {
        let per_call = time_per_call(50, || {
            black_box(encode(encoding, level, &body, 16 * 1024));
        });
        let out = encode(encoding, level, &body, 16 * 1024);
        report(
            &format!(
                "{} level {level}, 20 KiB JSON -> {} B",
                encoding.token(),
                out.len()
            ),
            per_call,
            Some(body.len()),
        );
    }
    let whole = encode(Encoding::Gzip, 6, &body, body.len());
    let mut check = Vec::new();
    flate2::read::GzDecoder::new(whole.as_slice())
        .read_to_end(&mut check)
        .expect("gunzip");
    assert_eq!(check, body);
    println!(
        "gzip level 6 of the same body in one piece: {} B",
        whole.len()
    );
}
