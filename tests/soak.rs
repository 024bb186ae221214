//! Mixed traffic under load, bounded in time: compressible misses, cache hits, health probes,
//! favicons, 404s and large streamed bodies, from many connections at once. Every response
//! is checked (decompressed and compared with what the upstream sent), Envoy's memory must
//! stay flat after warm-up, and the module's request counter must equal the requests made.
//!
//! The suite runs a short version; `just soak` runs the long one. Tune with
//! EDGE_SOAK_SECONDS, EDGE_SOAK_CONNECTIONS and EDGE_SOAK_WORKERS.

mod support;

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Envoy, EnvoyOptions, Reply, Request, Response, Upstream};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the upstream sends for a path, so the client can check every body it receives.
fn upstream_reply(path: &str) -> Reply {
    let trimmed = path.trim_start_matches('/');
    let (route, id) = trimmed.split_once(['/', '?']).unwrap_or((trimmed, ""));
    match route {
        "api" => Reply::ok("application/json", expected_body(path))
            .header("cache-control", "public, max-age=60"),
        "page" => Reply::ok("text/html; charset=utf-8", expected_body(path)),
        "large" => Reply::ok("text/plain", expected_body(path)).chunked(&[1000, 65536, 7]),
        "health" => Reply::ok("application/json", expected_body(path)),
        _ => Reply::new(404)
            .header("content-type", "text/plain")
            .body(format!("no {id}")),
    }
}

fn expected_body(path: &str) -> Vec<u8> {
    let (size, line) = if path.starts_with("/large") {
        (
            256 * 1024,
            format!("{path} streams a large body line by line.\n"),
        )
    } else if path.starts_with("/health") {
        (16, "{\"status\":\"ok\"}\n".to_string())
    } else {
        (
            8 * 1024,
            format!("{{\"path\":\"{path}\",\"text\":\"repeated JSON text\"}}\n"),
        )
    };
    line.into_bytes().into_iter().cycle().take(size).collect()
}

/// The request for step `n` of the mix.
fn request_for(n: u64) -> (Request, u16, Option<Vec<u8>>) {
    let gzip = |r: Request| r.header("accept-encoding", "gzip, br;q=0.5");
    let path;
    let (request, status, body) = match n % 10 {
        0..=2 => {
            path = format!("/api/items?id={}", n % 40);
            (gzip(Request::get(&path)), 200, Some(expected_body(&path)))
        }
        3 | 4 => {
            path = format!("/page/{n}");
            (gzip(Request::get(&path)), 200, Some(expected_body(&path)))
        }
        5 => {
            path = format!("/large/{}", n % 7);
            (gzip(Request::get(&path)), 200, Some(expected_body(&path)))
        }
        6 | 7 => {
            path = "/health".to_string();
            (Request::get(&path), 200, Some(expected_body(&path)))
        }
        8 => (Request::get("/favicon.ico"), 204, Some(Vec::new())),
        _ => (Request::get(&format!("/missing/{n}")), 404, None),
    };
    (request, status, body)
}

fn decoded_body(response: &Response) -> Vec<u8> {
    match response.header("content-encoding") {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(response.body.as_slice())
                .read_to_end(&mut out)
                .expect("a complete gzip stream");
            out
        }
        None | Some("identity") => response.body.clone(),
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
}

#[test]
fn mixed_traffic_is_served_correctly_with_flat_memory_and_exact_counts() {
    let seconds = setting("EDGE_SOAK_SECONDS", 10);
    let connections = setting("EDGE_SOAK_CONNECTIONS", 16);
    let workers = setting("EDGE_SOAK_WORKERS", 2) as u32;
    let upstream = Upstream::start(|request| upstream_reply(&request.path));
    let options = EnvoyOptions {
        concurrency: workers,
        ..EnvoyOptions::default()
    };
    let envoy = Arc::new(Envoy::start(upstream.port, &options));

    let sent = Arc::new(AtomicU64::new(0));
    let warm_up_ends = Instant::now() + Duration::from_secs(seconds / 5);
    let ends = Instant::now() + Duration::from_secs(seconds);
    let mut memory_after_warm_up = None;
    let mut resident_after_warm_up = None;
    let clients: Vec<_> = (0..connections)
        .map(|c| {
            let sent = Arc::clone(&sent);
            let port = envoy.port;
            std::thread::spawn(move || {
                let mut n = c * 7919;
                while Instant::now() < ends {
                    let (request, status, body) = request_for(n);
                    let response = request.send(port);
                    sent.fetch_add(1, Ordering::Relaxed);

                    assert_eq!(
                        response.status, status,
                        "{} {}",
                        request.method, request.path
                    );
                    if let Some(body) = body {
                        assert!(decoded_body(&response) == body, "body of {}", request.path);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    while Instant::now() < ends {
        if memory_after_warm_up.is_none() && Instant::now() >= warm_up_ends {
            memory_after_warm_up = envoy.stat("server.memory_allocated");
            resident_after_warm_up = Some(envoy.resident_memory().0);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for client in clients {
        client.join().expect("a client saw a wrong response");
    }

    let requests = sent.load(Ordering::Relaxed);
    let before = memory_after_warm_up.expect("memory after warm-up");
    let after = envoy.stat("server.memory_allocated").unwrap();
    // Envoy's allocator does not see the wasm VMs' memory, where the caches live: the
    // resident size does.
    let resident_before = resident_after_warm_up.expect("resident memory after warm-up");
    let resident_after = envoy.resident_memory().0;
    println!(
        "soak: {requests} requests in {seconds} s over {connections} connections, \
         {workers} workers; Envoy memory_allocated {before} after warm-up, {after} at the end; \
         resident {resident_before} after warm-up, {resident_after} at the end"
    );
    assert_eq!(envoy.metric("edge_http_requests_total"), requests);
    assert!(
        after < before + 16 * 1024 * 1024,
        "memory grew from {before} to {after} after warm-up"
    );
    assert!(
        resident_after < resident_before + 32 * 1024 * 1024,
        "resident memory grew from {resident_before} to {resident_after} after warm-up"
    );
    let log = envoy.log();
    assert!(!log.contains("panicked"), "{log}");
}
