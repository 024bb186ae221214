//! Hostile and broken input, from clients and from the upstream. Each request gets a normal
//! proxied answer or Envoy's normal error, the module's VM survives (no panic in the log, no
//! failed callback) and the next request is served by the module as usual.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use support::{Envoy, EnvoyOptions, Reply, Request, Upstream};

const JSON: &str = "application/json";

fn json_body() -> Vec<u8> {
    b"{\"items\":[1,2,3],\"text\":\"hostile input test\"}\n".repeat(100)
}

/// The upstream answers by path, so each test scripts what it needs.
fn upstream() -> Upstream {
    Upstream::start(|request| {
        let body = json_body();
        match request.path_only() {
            "/api/huge-max-age" => {
                Reply::ok(JSON, body).header("cache-control", "max-age=99999999999999999999")
            }
            "/api/negative-age" => Reply::ok(JSON, body)
                .header("cache-control", "max-age=60")
                .header("age", "-5"),
            "/api/semicolons" => Reply::ok(";;;", body).header("cache-control", "max-age=60"),
            "/api/conflicting" => Reply::ok(JSON, body)
                .header("content-type", "text/html")
                .header("cache-control", "max-age=60")
                .header("cache-control", "no-store")
                .header("vary", "*")
                .header("vary", "accept-encoding"),
            "/api/reset" => Reply::ok(JSON, body)
                .header("cache-control", "max-age=60")
                .chunked(&[1000, 1000])
                .reset_after_chunks(),
            "/api/stall" => Reply::ok(JSON, body).delay(Duration::from_secs(30)),
            _ => Reply::ok(JSON, body).header("cache-control", "max-age=60"),
        }
    })
}

/// The module still runs and nothing in the log says a callback failed.
fn assert_module_survived(envoy: &Envoy) {
    let favicon = Request::get("/favicon.ico").send(envoy.port);
    assert_eq!(
        favicon.status, 204,
        "the module no longer answers the favicon"
    );
    let log = envoy.log();
    for sign in ["panicked", "Uncaught", "wasm trap", "Function: proxy_on"] {
        assert!(!log.contains(sign), "the log says {sign:?}:\n{log}");
    }
}

fn decoded(response: &support::Response) -> Vec<u8> {
    if response.header("content-encoding") == Some("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(response.body.as_slice())
            .read_to_end(&mut out)
            .expect("complete gzip");
        out
    } else {
        response.body.clone()
    }
}

#[test]
fn header_values_with_bytes_80_to_ff_get_a_normal_answer() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let odd: &[u8] = b"gzip\x80\xff;q=\xfe, \xc3\x28";

    for name in [
        "accept-encoding",
        "cache-control",
        "if-none-match",
        "user-agent",
        "cookie",
    ] {
        for path in ["/api/items", "/health", "/page"] {
            let response = Request::get(path).raw_header(name, odd).send(envoy.port);

            assert_eq!(response.status, 200, "{name} on {path}");
            assert_eq!(decoded(&response), json_body(), "{name} on {path}");
        }
    }
    assert_module_survived(&envoy);
}

#[test]
fn very_large_header_values_get_a_normal_answer_or_envoys_431() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let big = "gzip;q=0.5, ".repeat(40 * 1024 / 12);
    let too_big = "x".repeat(60 * 1024);

    let within = Request::get("/api/big-header")
        .header("accept-encoding", &big)
        .send(envoy.port);
    let beyond = Request::get("/api/too-big-header")
        .header("accept-encoding", &too_big)
        .send(envoy.port);

    assert_eq!(within.status, 200);
    assert_eq!(decoded(&within), json_body());
    assert_eq!(beyond.status, 431, "Envoy's own limit on request headers");
    assert_module_survived(&envoy);
}

#[test]
fn absurd_q_values_get_a_normal_answer() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let values = [
        "gzip;q=1e10",
        "gzip;q=-1, br;q=NaN",
        "gzip;q=0.0000001",
        "gzip;q=1.0001, *;q=inf",
        "gzip;q=, ;q=1, =, ;;;, gzip;;q=1",
        "gzip;q=99999999999999999999999999",
    ];

    for value in values {
        let response = Request::get("/page")
            .header("accept-encoding", value)
            .send(envoy.port);

        assert_eq!(response.status, 200, "{value}");
        assert_eq!(decoded(&response), json_body(), "{value}");
    }
    assert_module_survived(&envoy);
}

#[test]
fn odd_upstream_headers_are_proxied_and_served_again() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    for path in [
        "/api/huge-max-age",
        "/api/negative-age",
        "/api/semicolons",
        "/api/conflicting",
    ] {
        for _ in 0..2 {
            let response = Request::get(path)
                .header("accept-encoding", "gzip")
                .send(envoy.port);

            assert_eq!(response.status, 200, "{path}");
            assert_eq!(decoded(&response), json_body(), "{path}");
        }
    }
    // Conflicting Cache-Control (no-store among them) and Vary: * must never be stored.
    assert_eq!(upstream.hits_for("/api/conflicting"), 2);
    assert_module_survived(&envoy);
}

#[test]
fn duplicate_request_headers_get_a_normal_answer() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let response = Request::get("/api/dup")
        .header("accept-encoding", "gzip;q=0")
        .header("accept-encoding", "gzip")
        .header("cache-control", "no-cache")
        .header("cache-control", "max-age=5")
        .header("if-none-match", "\"a\"")
        .header("if-none-match", "*")
        .send(envoy.port);

    assert!(
        response.status == 200 || response.status == 304,
        "{}",
        response.status
    );
    assert_module_survived(&envoy);
}

#[test]
fn an_upstream_reset_mid_body_is_not_completed_and_not_stored() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    for _ in 0..2 {
        let outcome = Request::get("/api/reset")
            .header("accept-encoding", "gzip")
            .try_send(envoy.port);

        // The client must notice: a broken connection, or a body that does not decode to
        // the whole document.
        if let Ok(response) = outcome {
            let mut out = Vec::new();
            let complete = if response.header("content-encoding") == Some("gzip") {
                flate2::read::GzDecoder::new(response.body.as_slice())
                    .read_to_end(&mut out)
                    .is_ok()
                    && out == json_body()
            } else {
                response.body == json_body()
            };
            assert!(!complete, "a reset response was delivered as complete");
        }
    }
    assert_eq!(
        upstream.hits_for("/api/reset"),
        2,
        "a partial entry was stored"
    );
    assert_module_survived(&envoy);
}

#[test]
fn a_stalled_upstream_does_not_hold_up_other_requests() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let port = envoy.port;
    let stalled = std::thread::spawn(move || Request::get("/api/stall").send(port));
    while upstream.hits_for("/api/stall") == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }

    let started = Instant::now();
    for _ in 0..20 {
        let response = Request::get("/api/other").send(envoy.port);
        assert_eq!(decoded(&response), json_body());
    }
    let others_took = started.elapsed();
    let stalled = stalled.join().unwrap();

    assert!(
        others_took < Duration::from_secs(10),
        "others took {others_took:?}"
    );
    assert_eq!(stalled.status, 200);
    assert_eq!(decoded(&stalled), json_body());
    assert_module_survived(&envoy);
}
