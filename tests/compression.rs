//! Response compression through a real Envoy: bodies decode back byte for byte, the rules
//! that keep a response as identity hold, headers change as the README says, and the
//! counters move by exactly what went through the encoder.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use support::{Envoy, EnvoyOptions, RecordedRequest, Reply, Request, Response, Upstream};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Text that compresses like real text: words from a small vocabulary in a pseudo-random
/// order, so every size gives different bytes and the encoder has real work.
fn text(len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "edge", "envoy", "filter", "gzip", "body", "chunk", "stream", "header", "cache", "vary",
        "worker", "proxy",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut seed: u64 = len as u64 + 1;
    while out.len() < len {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(WORDS[(seed >> 33) as usize % WORDS.len()].as_bytes());
        out.push(if seed.is_multiple_of(7) { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("a complete gzip stream");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("a complete brotli stream");
    out
}

fn get(path: &str, accept_encoding: &str) -> Request {
    Request::get(path).header("accept-encoding", accept_encoding)
}

fn with_config(json: &str) -> EnvoyOptions {
    EnvoyOptions::with_config(json)
}

/// Compression with no minimum length, so every size takes the encoder.
fn no_minimum() -> EnvoyOptions {
    with_config(r#"{"compression": {"min_length": 0}}"#)
}

/// An upstream answering every path with the same 8 KiB JSON document.
fn json_upstream() -> Upstream {
    Upstream::start(|_| Reply::ok("application/json", text(8 * KIB)))
}

fn assert_identity(response: &Response, body: &[u8], context: &str) {
    assert_eq!(response.status, 200, "{context}");
    assert_eq!(response.header("content-encoding"), None, "{context}");
    assert_eq!(response.body, body, "{context}");
}

fn assert_gzip(response: &Response, body: &[u8], context: &str) {
    assert_eq!(response.status, 200, "{context}");
    assert_eq!(
        response.header_all("content-encoding"),
        ["gzip"],
        "{context}"
    );
    // A streamed answer has no length; a cache hit (a local reply) carries the true one.
    if let Some(length) = response.header("content-length") {
        assert_eq!(length, response.body.len().to_string(), "{context}");
    }
    assert_eq!(gunzip(&response.body), body, "{context}");
}

// ---- round trips ----

#[test]
fn bodies_with_a_content_length_round_trip_through_gzip_at_every_size() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let size: usize = request.path.trim_start_matches('/').parse().unwrap();
        Reply::ok("text/plain", text(size))
    });
    let envoy = Envoy::start(upstream.port, &no_minimum());

    for size in [1, 1023, 1024, 64 * KIB, 8 * MIB] {
        let response = get(&format!("/{size}"), "gzip").send(envoy.port);

        assert_gzip(&response, &text(size), &format!("{size} bytes"));
        assert!(
            response.chunked,
            "{size} bytes: sent chunked once the length is gone"
        );
        println!(
            "{size} bytes of text became {} bytes of gzip",
            response.body.len()
        );
    }
}

#[test]
fn an_empty_body_that_ends_at_the_headers_stays_identity() {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", ""));
    let envoy = Envoy::start(upstream.port, &no_minimum());

    let response = get("/", "gzip").send(envoy.port);

    assert_identity(&response, b"", "empty");
    assert_eq!(response.header("content-length"), Some("0"));
    assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    assert_eq!(envoy.metric("edge_compression_responses_total"), 0);
}

#[test]
fn chunked_bodies_in_odd_pieces_round_trip_through_gzip_at_every_size() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let size: usize = request.path.trim_start_matches('/').parse().unwrap();
        Reply::ok("application/json", text(size)).chunked(&[1, 7, 4093, 65537, 3, 300_001])
    });
    let envoy = Envoy::start(upstream.port, &no_minimum());

    for size in [0, 1, 1023, 1024, 64 * KIB, 8 * MIB] {
        let response = get(&format!("/{size}"), "gzip").send(envoy.port);

        assert_gzip(&response, &text(size), &format!("{size} bytes chunked"));
    }
}

#[test]
fn an_empty_chunked_body_still_gets_a_complete_gzip_stream() {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", "").chunked(&[]));
    let envoy = Envoy::start(upstream.port, &no_minimum());

    let response = get("/", "gzip").send(envoy.port);

    assert_gzip(&response, b"", "empty chunked body");
    assert!(
        !response.body.is_empty(),
        "the gzip header and trailer are sent"
    );
}

#[test]
fn brotli_is_chosen_when_preferred_and_round_trips() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let size: usize = request.path.trim_start_matches('/').parse().unwrap();
        Reply::ok("text/html", text(size)).chunked(&[5, 1000, 77_777])
    });
    let config = r#"{"compression": {"encodings": ["br", "gzip"], "min_length": 0}}"#;
    let envoy = Envoy::start(upstream.port, &with_config(config));

    for size in [0, 1, 1024, 64 * KIB, MIB] {
        let response = get(&format!("/{size}"), "gzip, br").send(envoy.port);

        assert_eq!(response.header("content-encoding"), Some("br"), "{size}");
        assert_eq!(unbrotli(&response.body), text(size), "{size} bytes");
    }
    let response = get("/4096", "gzip").send(envoy.port);
    assert_gzip(&response, &text(4096), "gzip only");
}

// ---- header changes ----

#[test]
fn compressing_changes_exactly_the_headers_it_must() {
    let upstream = Upstream::start(|_| {
        Reply::ok("text/html; charset=utf-8", text(8 * KIB))
            .header("etag", "\"v1\"")
            .header("accept-ranges", "bytes")
            .header("vary", "Origin")
            .header("cache-control", "public, max-age=60")
            .header("x-app", "kept")
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let response = get("/page", "gzip").send(envoy.port);

    assert_gzip(&response, &text(8 * KIB), "page");
    assert_eq!(response.header("etag"), Some("W/\"v1\""));
    assert_eq!(response.header("accept-ranges"), None);
    assert_eq!(response.header_all("vary"), ["Origin, Accept-Encoding"]);
    assert_eq!(response.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(response.header("x-app"), Some("kept"));
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn identity_responses_keep_their_headers_and_gain_only_vary() {
    let upstream = Upstream::start(|_| {
        Reply::ok("text/html", text(8 * KIB))
            .header("etag", "\"v1\"")
            .header("accept-ranges", "bytes")
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let response = Request::get("/page").send(envoy.port);

    assert_identity(&response, &text(8 * KIB), "no Accept-Encoding");
    assert_eq!(response.header("etag"), Some("\"v1\""));
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
    assert_eq!(response.header("content-length"), Some("8192"));
    assert_eq!(response.header("vary"), Some("Accept-Encoding"));
}

#[test]
fn vary_is_merged_without_duplicates_and_star_is_left_alone() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let vary = request
            .path
            .trim_start_matches("/?vary=")
            .replace("%20", " ");
        Reply::ok("text/plain", text(4 * KIB)).header("vary", &vary)
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    // One line per upstream Vary: what the client sees, compressed and not.
    let cases = [
        ("accept-encoding", "accept-encoding"),
        ("Cookie,%20Accept-Encoding", "Cookie, Accept-Encoding"),
        ("*", "*"),
        ("Origin", "Origin, Accept-Encoding"),
    ];
    for (upstream_vary, expected) in cases {
        let path = format!("/?vary={upstream_vary}");
        for accept_encoding in ["gzip", "identity"] {
            let response = get(&path, accept_encoding).send(envoy.port);

            assert_eq!(
                response.header_all("vary"),
                [expected],
                "{upstream_vary} {accept_encoding}"
            );
        }
    }
}

// ---- counters ----

#[test]
fn counters_move_by_exactly_what_went_through_the_encoder() {
    let upstream = json_upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let first = get("/a", "gzip").send(envoy.port);
    let second = get("/b", "gzip").send(envoy.port);
    let plain = get("/c", "identity").send(envoy.port);

    assert_identity(&plain, &text(8 * KIB), "identity");
    assert_eq!(envoy.metric("edge_compression_responses_total"), 2);
    assert_eq!(
        envoy.metric("edge_compression_bytes_in_total"),
        2 * 8 * KIB as u64
    );
    assert_eq!(
        envoy.metric("edge_compression_bytes_out_total"),
        (first.body.len() + second.body.len()) as u64
    );
    assert!(first.body.len() < 8 * KIB / 2, "{} bytes", first.body.len());
}

// ---- negotiation ----

#[test]
fn only_clients_that_accept_gzip_get_it() {
    let upstream = json_upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let body = text(8 * KIB);

    // One line per Accept-Encoding (None: no header at all): compressed?
    let cases = [
        (None, false),
        (Some(""), false),
        (Some("identity"), false),
        (Some("gzip;q=0"), false),
        (Some("gzip;q=0.000, br"), false),
        (Some("*;q=0"), false),
        (Some("gzip;q=0, *"), false),
        (Some("x-gzip-like"), false),
        (Some("br"), false),
        (Some("gzip"), true),
        (Some("GZIP"), true),
        (Some("GZip;q=1, identity;q=0"), true),
        (Some("*"), true),
        (Some("x-gzip"), true),
        (Some("gzip;q=0.001"), true),
        (Some("deflate, gzip;q=0.5, br"), true),
    ];
    for (accept_encoding, compressed) in cases {
        let request = match accept_encoding {
            Some(value) => get("/api/items", value),
            None => Request::get("/api/items"),
        };

        let response = request.send(envoy.port);

        let context = format!("Accept-Encoding {accept_encoding:?}");
        if compressed {
            assert_gzip(&response, &body, &context);
        } else {
            assert_identity(&response, &body, &context);
            assert_eq!(response.header("content-length"), Some("8192"), "{context}");
        }
        assert_eq!(
            response.header("vary"),
            Some("Accept-Encoding"),
            "{context}"
        );
    }
}

#[test]
fn an_accept_encoding_that_is_not_utf8_or_is_huge_is_read_without_harm() {
    let upstream = json_upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let huge = format!("{}gzip", "x-unknown;q=0.5, ".repeat(4 * KIB / 16));

    let garbage = Request::get("/")
        .raw_header("accept-encoding", b"\xff\xfe, gz\x80ip")
        .send(envoy.port);
    let long = get("/", &huge).send(envoy.port);

    assert_identity(&garbage, &text(8 * KIB), "not UTF-8");
    assert_gzip(&long, &text(8 * KIB), "4 KiB header");
}

#[test]
fn several_accept_encoding_lines_read_as_one_list() {
    let upstream = json_upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let refused = get("/", "gzip;q=0")
        .header("accept-encoding", "*")
        .send(envoy.port);
    let accepted = get("/", "br;q=0.1")
        .header("accept-encoding", "gzip")
        .send(envoy.port);

    assert_identity(&refused, &text(8 * KIB), "gzip;q=0 then *");
    assert_gzip(&accepted, &text(8 * KIB), "br;q=0.1 then gzip");
}

// ---- the rules that keep a response as identity ----

#[test]
fn already_encoded_responses_pass_untouched_with_one_content_encoding() {
    let gzipped = support_gzip(&text(3000));
    let upstream = Upstream::start(move |request: &RecordedRequest| {
        let coding = request.path.trim_start_matches('/');
        Reply::ok("application/javascript", gzipped.clone()).header("content-encoding", coding)
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let gzipped = support_gzip(&text(3000));

    for coding in ["gzip", "br", "x-custom"] {
        let response = get(&format!("/{coding}"), "gzip, br").send(envoy.port);

        assert_eq!(
            response.header_all("content-encoding"),
            [coding],
            "{coding}"
        );
        assert_eq!(response.body, gzipped, "{coding}");
        let length = gzipped.len().to_string();
        assert_eq!(response.header("content-length"), Some(length.as_str()));
    }

    let identity = get("/identity", "gzip, br").send(envoy.port);
    assert_eq!(identity.header_all("content-encoding"), ["gzip"]);
    assert_eq!(
        gunzip(&identity.body),
        gzipped,
        "identity-coded body gzipped once"
    );
    assert_eq!(envoy.metric("edge_compression_responses_total"), 1);
}

fn support_gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn media_types_are_matched_without_parameters_or_case() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let content_type = request.header("x-type").unwrap();
        Reply::ok(&content_type, text(8 * KIB))
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    // One line per Content-Type: compressed?
    let cases = [
        ("application/json; charset=utf-8", true),
        ("Application/JSON;charset=UTF-8", true),
        ("text/html ;charset=iso-8859-1", true),
        ("text/csv", true),
        ("image/svg+xml", true),
        ("application/jsonp", false),
        ("application/json-seq", false),
        ("image/png", false),
        ("application/octet-stream", false),
    ];
    for (content_type, compressed) in cases {
        let response = get("/", "gzip")
            .header("x-type", content_type)
            .send(envoy.port);

        if compressed {
            assert_gzip(&response, &text(8 * KIB), content_type);
            assert_eq!(response.header("vary"), Some("Accept-Encoding"));
        } else {
            assert_identity(&response, &text(8 * KIB), content_type);
            assert_eq!(
                response.header("vary"),
                None,
                "{content_type}: never compressed"
            );
        }
    }
}

#[test]
fn partial_and_bodiless_statuses_are_never_compressed() {
    let upstream = Upstream::start(|request: &RecordedRequest| match request.path.as_str() {
        "/206" => Reply::new(206)
            .header("content-type", "text/plain")
            .header("content-range", "bytes 0-1023/100000")
            .body(text(1024)),
        "/200-with-range" => {
            Reply::ok("text/plain", text(2048)).header("content-range", "bytes 0-2047/100000")
        }
        "/204" => Reply::new(204).header("content-type", "text/plain"),
        "/304" => Reply::new(304)
            .header("content-type", "text/plain")
            .header("etag", "\"v1\""),
        _ => Reply::new(404)
            .header("content-type", "text/plain")
            .body(text(4096)),
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let partial = get("/206", "gzip")
        .header("range", "bytes=0-1023")
        .send(envoy.port);
    assert_eq!(partial.status, 206);
    assert_eq!(partial.header("content-encoding"), None);
    assert_eq!(partial.header("content-range"), Some("bytes 0-1023/100000"));
    assert_eq!(partial.header("content-length"), Some("1024"));
    assert_eq!(partial.body, text(1024));

    let ranged = get("/200-with-range", "gzip").send(envoy.port);
    assert_identity(&ranged, &text(2048), "200 with Content-Range");

    for status in [204, 304] {
        let response = get(&format!("/{status}"), "gzip").send(envoy.port);

        assert_eq!(response.status, status);
        assert_eq!(response.header("content-encoding"), None, "{status}");
        assert!(response.body.is_empty(), "{status}");
    }

    let not_found = get("/missing", "gzip").send(envoy.port);
    assert_eq!(not_found.status, 404);
    assert_eq!(
        gunzip(&not_found.body),
        text(4096),
        "errors with a body compress"
    );
    assert_eq!(envoy.metric("edge_compression_responses_total"), 1);
}

#[test]
fn no_transform_is_honoured_in_any_case() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let directive = request.path.trim_start_matches('/');
        Reply::ok("application/json", text(8 * KIB))
            .header("cache-control", &format!("public, max-age=60, {directive}"))
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    for directive in ["no-transform", "No-Transform"] {
        let response = get(&format!("/{directive}"), "gzip").send(envoy.port);

        assert_identity(&response, &text(8 * KIB), directive);
        assert_eq!(response.header("content-length"), Some("8192"));
    }
    let allowed = get("/must-revalidate", "gzip").send(envoy.port);
    assert_gzip(&allowed, &text(8 * KIB), "other directives");
}

#[test]
fn known_lengths_under_the_minimum_stay_identity_and_unknown_lengths_compress() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let (size, chunked) = match request.path.as_str() {
            "/1023" => (1023, false),
            "/1024" => (1024, false),
            _ => (100, true),
        };
        let reply = Reply::ok("text/plain", text(size));
        if chunked {
            reply.chunked(&[50])
        } else {
            reply
        }
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let short = get("/1023", "gzip").send(envoy.port);
    let enough = get("/1024", "gzip").send(envoy.port);
    let unknown = get("/chunked", "gzip").send(envoy.port);

    assert_identity(&short, &text(1023), "1023 < min_length");
    assert_eq!(short.header("vary"), Some("Accept-Encoding"));
    assert_gzip(&enough, &text(1024), "1024 = min_length");
    assert_gzip(&unknown, &text(100), "unknown length");
}

#[test]
fn head_requests_get_identity_headers_and_no_body() {
    let upstream = Upstream::start(|_| {
        Reply::ok("text/csv", "")
            .header("content-length", "50000")
            .header("etag", "\"v1\"")
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let started = Instant::now();
    let response = Request::head("/report.csv")
        .header("accept-encoding", "gzip")
        .send(envoy.port);

    assert!(started.elapsed() < Duration::from_secs(5), "no hang");
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.header("content-length"), Some("50000"));
    assert_eq!(response.header("etag"), Some("\"v1\""));
    assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    assert_eq!(envoy.metric("edge_compression_responses_total"), 0);
}

#[test]
fn server_sent_events_pass_through_as_they_are_written() {
    let events: Vec<Vec<u8>> = vec![b"data: 1\n\n".to_vec(), b"data: 2\n\n".to_vec()];
    let body = events.concat();
    let upstream = Upstream::start(move |_| {
        Reply::ok("text/event-stream", body.clone())
            .chunked(&[9])
            .chunk_delay(Duration::from_secs(2))
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let (first_event_after, response) = read_first_event(envoy.port);

    assert!(
        first_event_after < Duration::from_millis(1500),
        "first event after {first_event_after:?}"
    );
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.header("vary"), None);
    assert_eq!(response.body, events.concat());
}

/// Sends `GET /events` and times the first event's bytes; returns that time and the whole
/// response.
fn read_first_event(port: u16) -> (Duration, Response) {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;

    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    (&stream)
        .write_all(
            b"GET /events HTTP/1.1\r\nhost: edge.test\r\naccept: text/event-stream\r\n\
              accept-encoding: gzip\r\nconnection: close\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut headers = Vec::new();
    let mut status = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        match line.split_once(':') {
            Some((name, value)) if status != 0 => {
                headers.push((name.to_ascii_lowercase(), value.trim().to_string()))
            }
            _ => status = line.split(' ').nth(1).unwrap().parse().unwrap(),
        }
    }
    let mut body = Vec::new();
    let mut first_event_after = None;
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).unwrap();
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        body.extend_from_slice(&chunk[..size]);
        if first_event_after.is_none() && body.windows(2).any(|w| w == b"\n\n") {
            first_event_after = Some(started.elapsed());
        }
    }
    let response = Response {
        status,
        headers,
        body,
        chunked: true,
    };
    (first_event_after.unwrap(), response)
}

#[test]
fn grpc_responses_are_never_compressed() {
    let message = {
        let payload = text(4000);
        let mut framed = vec![0u8];
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(&payload);
        framed
    };
    let upstream_message = message.clone();
    let upstream = Upstream::start(move |request: &RecordedRequest| {
        let content_type = request.header("content-type").unwrap();
        Reply::ok(&content_type, upstream_message.clone())
    });
    let config = r#"{"compression": {"content_types": ["application/*"]}}"#;
    let envoy = Envoy::start(upstream.port, &with_config(config));

    for content_type in [
        "application/grpc",
        "application/grpc+proto",
        "application/grpc-web+proto",
    ] {
        let response = Request::new("POST", "/pkg.Svc/Get")
            .header("content-type", content_type)
            .header("te", "trailers")
            .header("accept-encoding", "gzip")
            .body(&[0, 0, 0, 0, 0])
            .send(envoy.port);

        assert_identity(&response, &message, content_type);
    }
    assert_eq!(envoy.metric("edge_compression_responses_total"), 0);
}

#[test]
fn responses_that_may_end_with_trailers_stay_identity() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let reply = Reply::ok("application/json", text(16 * KIB));
        if request.path == "/announced" {
            reply.header("trailer", "x-checksum")
        } else {
            reply
        }
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let announced = get("/announced", "gzip").send(envoy.port);
    let te = get("/plain", "gzip")
        .header("te", "trailers")
        .send(envoy.port);
    let neither = get("/plain", "gzip").send(envoy.port);

    assert_identity(&announced, &text(16 * KIB), "upstream announced trailers");
    assert_identity(&te, &text(16 * KIB), "client accepts trailers");
    assert_gzip(&neither, &text(16 * KIB), "no trailers in sight");
}

#[test]
fn local_replies_are_never_compressed() {
    let upstream = json_upstream();
    let config = r#"{"favicon": {"body_base64": "PHN2Zy8+", "content_type": "image/svg+xml"}}"#;
    let envoy = Envoy::start(upstream.port, &with_config(config));

    let response = get("/favicon.ico", "gzip").send(envoy.port);

    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(response.header("vary"), None);
    assert_eq!(envoy.metric("edge_compression_responses_total"), 0);
}

#[test]
fn disabled_compression_leaves_responses_alone() {
    let upstream = json_upstream();
    let envoy = Envoy::start(
        upstream.port,
        &with_config(r#"{"compression": {"enabled": false}}"#),
    );

    let response = get("/", "gzip").send(envoy.port);

    assert_identity(&response, &text(8 * KIB), "disabled");
    assert_eq!(response.header("vary"), None);
}

// ---- streaming ----

#[test]
fn a_chunked_json_body_without_length_completes_promptly() {
    let upstream = Upstream::start(|_| {
        Reply::ok("application/json", text(20 * KIB))
            .chunked(&[4 * KIB, 4 * KIB, 4 * KIB, 4 * KIB])
            .chunk_delay(Duration::from_millis(50))
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let started = Instant::now();
    let response = get("/", "gzip").send(envoy.port);

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_gzip(&response, &text(20 * KIB), "20 KiB chunked");
}

#[test]
fn an_8_mib_chunked_response_streams_without_buffer_errors_in_bounded_memory() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let size = if request.path == "/warm-up" {
            64 * KIB
        } else {
            8 * MIB
        };
        Reply::ok("application/json", text(size)).chunked(&vec![64 * KIB; 8 * 16])
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    // A small compressed response first, so the encoder's own tables are counted in
    // `before`: what follows measures what the body's size adds.
    get("/warm-up", "gzip").send(envoy.port);
    let (before, _) = envoy.resident_memory();
    let allocated_before = envoy.stat("server.memory_allocated").unwrap_or(0);

    let mut largest_growth = 0;
    for _ in 0..3 {
        let response = get("/export", "gzip").send(envoy.port);

        assert_gzip(&response, &text(8 * MIB), "8 MiB");
        let (now, _) = envoy.resident_memory();
        largest_growth = largest_growth.max(now.saturating_sub(before));
    }

    let (after, peak) = envoy.resident_memory();
    let allocated_after = envoy.stat("server.memory_allocated").unwrap_or(0);
    println!(
        "Envoy resident memory: {} KiB before, {} KiB after three 8 MiB responses \
         (peak {} KiB, largest growth {} KiB); server.memory_allocated {} KiB -> {} KiB",
        before / 1024,
        after / 1024,
        peak / 1024,
        largest_growth / 1024,
        allocated_before / 1024,
        allocated_after / 1024,
    );
    assert!(
        largest_growth < 4 * MIB as u64,
        "memory grew by {} KiB",
        largest_growth / 1024
    );
    assert_eq!(
        envoy.metric("edge_http_responses_total.status_class.5xx"),
        0
    );
    assert_eq!(
        envoy.metric("edge_compression_bytes_in_total"),
        (64 * KIB + 3 * 8 * MIB) as u64
    );
}

// ---- HTTP/2 upstreams and trailers ----

/// Envoy talking HTTP/2 to the upstream, the harness's upstream answering in kind.
fn http2_upstream_options() -> EnvoyOptions {
    EnvoyOptions {
        upstream_http2: true,
        ..EnvoyOptions::default()
    }
}

/// Decodes as much of a gzip stream as it holds, complete or not.
fn gunzip_what_arrived(bytes: &[u8]) -> Vec<u8> {
    let mut decoder = flate2::read::GzDecoder::new(bytes);
    let mut out = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n) = decoder.read(&mut buffer) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buffer[..n]);
    }
    out
}

/// C14: an HTTP/2 upstream sends no length at all; the body is compressed as it streams.
#[test]
fn an_http2_upstream_body_without_a_length_is_compressed_whole() {
    let upstream =
        Upstream::start(|_| Reply::ok("application/json", text(64 * KIB)).chunked(&[8 * KIB; 8]));
    let envoy = Envoy::start(upstream.port, &http2_upstream_options());

    let response = get("/stream", "gzip").send(envoy.port);

    assert_gzip(&response, &text(64 * KIB), "HTTP/2 upstream");
    assert_eq!(
        envoy.metric("edge_compression_bytes_in_total"),
        64 * KIB as u64
    );
}

/// C15: trailers nobody announced end a compressed body; every chunk was flushed as it
/// passed, so the client has all of the content, though not the stream's end.
#[test]
fn unannounced_trailers_after_a_compressed_body_lose_no_content() {
    let upstream = Upstream::start(|_| {
        Reply::ok("application/json", text(16 * KIB))
            .chunked(&[8 * KIB, 8 * KIB])
            .trailer("x-checksum", "42")
    });
    let envoy = Envoy::start(upstream.port, &http2_upstream_options());

    let response = get("/stream", "gzip").send(envoy.port);

    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip_what_arrived(&response.body), text(16 * KIB));
    assert!(
        envoy.log().contains("unannounced trailers"),
        "{}",
        envoy.log()
    );
}

/// C15: a client that says it takes trailers gets the body as it is, trailers intact.
#[test]
fn a_client_that_accepts_trailers_gets_identity() {
    let upstream = Upstream::start(|_| {
        Reply::ok("application/json", text(16 * KIB))
            .chunked(&[8 * KIB, 8 * KIB])
            .trailer("x-checksum", "42")
    });
    let envoy = Envoy::start(upstream.port, &http2_upstream_options());

    let response = get("/stream", "gzip")
        .header("te", "trailers")
        .send(envoy.port);

    assert_identity(&response, &text(16 * KIB), "TE: trailers");
}
