//! GET/HEAD responses under the configured prefixes are kept in a bounded per-worker LRU
//! cache and served from the request phase, following the HTTP caching rules.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Envoy, EnvoyOptions, RecordedRequest, Reply, Request, Response, Upstream};

const CACHEABLE: &str = "public, max-age=60";

fn envoy_with(upstream: &Upstream, query_cache: &str) -> Envoy {
    let config = format!(r#"{{"query_cache": {query_cache}}}"#);
    Envoy::start(upstream.port, &EnvoyOptions::with_config(&config))
}

/// Every path under `/` is cacheable.
fn envoy(upstream: &Upstream) -> Envoy {
    envoy_with(upstream, r#"{"prefixes": ["/"]}"#)
}

/// An upstream that answers `n-th answer for <path>` with the given Cache-Control.
fn counting_upstream(cache_control: &'static str) -> Upstream {
    let served = AtomicUsize::new(0);
    Upstream::start(move |request| {
        let n = served.fetch_add(1, Ordering::SeqCst) + 1;
        Reply::ok(
            "application/json",
            format!("answer {n} for {}", request.path),
        )
        .header("cache-control", cache_control)
        .header("etag", "\"v1\"")
    })
}

fn get(envoy: &Envoy, path: &str) -> Response {
    Request::get(path).send(envoy.port)
}

fn cache_status(response: &Response) -> &str {
    response.header("cache-status").unwrap_or("")
}

#[test]
fn a_second_request_is_a_hit_after_a_stored_miss() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy(&upstream);

    let miss = get(&envoy, "/api/items?id=1");
    let hit = get(&envoy, "/api/items?id=1");

    assert_eq!(
        miss.header("cache-status"),
        Some("edge-optimizer; fwd=miss; stored")
    );
    assert_eq!(hit.status, 200);
    assert_eq!(hit.text(), "answer 1 for /api/items?id=1");
    assert!(
        matches!(
            cache_status(&hit),
            "edge-optimizer; hit; ttl=60" | "edge-optimizer; hit; ttl=59"
        ),
        "{}",
        cache_status(&hit)
    );
    assert_eq!(hit.header_all("age"), vec!["0"]);
    assert_eq!(hit.header("content-type"), Some("application/json"));
    assert_eq!(hit.header("etag"), Some("\"v1\""));
    assert_eq!(upstream.hits(), 1);
    assert_eq!(envoy.metric("edge_query_cache_misses_total"), 1);
    assert_eq!(envoy.metric("edge_query_cache_hits_total"), 1);
    assert_eq!(envoy.metric("edge_query_cache_stores_total"), 1);
    assert_eq!(envoy.metric("edge_query_cache_entries"), 1);
    assert!(envoy.metric("edge_query_cache_bytes") > 28);
}

#[test]
fn equivalent_queries_share_an_entry() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy(&upstream);
    get(&envoy, "/api/x?b=2&a=1&utm_source=mail");

    let same = [
        "/api/x?a=1&b=2",
        "/api/x?b=2&a=1",
        "/api/x?a=1&gclid=zz&b=2",
    ];
    for path in same {
        assert!(cache_status(&get(&envoy, path)).contains("hit"), "{path}");
    }
    let different = get(&envoy, "/api/x?a=1&b=3");

    assert!(cache_status(&different).contains("fwd=miss"));
    assert_eq!(upstream.hits(), 2);
}

#[test]
fn paths_outside_the_prefixes_are_not_cached() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy_with(&upstream, r#"{"prefixes": ["/api/"]}"#);

    get(&envoy, "/static/app.js");
    let again = get(&envoy, "/static/app.js");
    get(&envoy, "/apix");

    assert_eq!(again.header("cache-status"), None);
    assert_eq!(upstream.hits(), 3);
    assert_eq!(envoy.metric("edge_query_cache_misses_total"), 0);
}

#[test]
fn a_disabled_query_cache_leaves_every_request_alone() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy_with(&upstream, r#"{"enabled": false, "prefixes": ["/"]}"#);

    get(&envoy, "/api/a");
    let again = get(&envoy, "/api/a");

    assert_eq!(again.header("cache-status"), None);
    assert_eq!(upstream.hits(), 2);
}

#[test]
fn bypassing_requests_neither_use_nor_fill_the_cache() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy(&upstream);
    // One line per rule: the request header that makes the cache step aside.
    // `Authorization` is not among them: it may use public entries (see C22 below).
    let cases = [
        ("cookie", "session=1"),
        ("cache-control", "no-store"),
        ("range", "bytes=0-3"),
        ("x-forwarded-host", "evil.test"),
        ("forwarded", "host=evil.test"),
    ];
    for (i, (name, value)) in cases.iter().enumerate() {
        let stored_path = format!("/api/stored/{i}");
        let fresh_path = format!("/api/fresh/{i}");
        get(&envoy, &stored_path);
        let before = upstream.hits();

        let not_served = Request::get(&stored_path)
            .header(name, value)
            .send(envoy.port);
        Request::get(&fresh_path)
            .header(name, value)
            .send(envoy.port);
        let not_filled = get(&envoy, &fresh_path);

        assert_eq!(upstream.hits(), before + 3, "{name}");
        assert_eq!(
            cache_status(&not_served),
            "edge-optimizer; fwd=bypass",
            "{name}"
        );
        assert_eq!(
            not_filled.header("cache-status"),
            Some("edge-optimizer; fwd=miss; stored")
        );
    }
}

#[test]
fn no_cache_requests_skip_the_lookup_but_refill_the_entry() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy(&upstream);
    get(&envoy, "/api/a");

    for (name, value) in [
        ("cache-control", "no-cache"),
        ("cache-control", "max-age=0"),
        ("pragma", "no-cache"),
    ] {
        let refreshed = Request::get("/api/a").header(name, value).send(envoy.port);
        assert_eq!(
            refreshed.header("cache-status"),
            Some("edge-optimizer; fwd=request; stored"),
            "{name}: {value}"
        );
    }
    let hit = get(&envoy, "/api/a");

    assert_eq!(upstream.hits(), 4);
    assert_eq!(hit.text(), "answer 4 for /api/a");
}

#[test]
fn responses_that_must_not_be_stored_are_not() {
    // One line per rule: status, headers; each is asked twice and must reach the upstream
    // twice.
    let cases: Vec<(u16, Vec<(&str, &str)>)> = vec![
        (
            200,
            vec![("cache-control", CACHEABLE), ("set-cookie", "sid=1")],
        ),
        (200, vec![("cache-control", "no-store")]),
        (200, vec![("cache-control", "private, max-age=60")]),
        (200, vec![("cache-control", "no-cache, max-age=60")]),
        (200, vec![("cache-control", CACHEABLE), ("vary", "*")]),
        (200, vec![("cache-control", "max-age=0")]),
        (200, vec![("cache-control", "max-age=-5")]),
        (
            200,
            vec![("cache-control", "public, max-age=60, max-age=0")],
        ),
        (200, vec![("cache-control", "max-age=60"), ("age", "60")]),
        (200, vec![("expires", "0")]),
        (404, vec![]),
        (410, vec![]),
        (
            206,
            vec![
                ("cache-control", CACHEABLE),
                ("content-range", "bytes 0-3/10"),
            ],
        ),
        (302, vec![("cache-control", CACHEABLE), ("location", "/x")]),
        (429, vec![("cache-control", CACHEABLE)]),
        (500, vec![("cache-control", CACHEABLE)]),
        (502, vec![("cache-control", CACHEABLE)]),
        (503, vec![("cache-control", CACHEABLE)]),
        (504, vec![("cache-control", CACHEABLE)]),
    ];
    let table = Arc::new(cases.clone());
    let upstream = Upstream::start(move |request: &RecordedRequest| {
        let i: usize = request.path.rsplit('/').next().unwrap().parse().unwrap();
        let (status, headers) = &table[i];
        let mut reply = Reply::new(*status).body("body");
        for (name, value) in headers {
            reply = reply.header(name, value);
        }
        reply
    });
    let envoy = envoy(&upstream);

    for (i, (status, headers)) in cases.iter().enumerate() {
        let path = format!("/api/case/{i}");
        let first = get(&envoy, &path);
        let second = get(&envoy, &path);

        assert_eq!(first.status, *status, "{headers:?}");
        assert_eq!(upstream.hits_for(&path), 2, "{status} {headers:?}");
        assert_eq!(
            second.header("cache-status"),
            Some("edge-optimizer; fwd=miss")
        );
    }
    assert_eq!(envoy.metric("edge_query_cache_stores_total"), 0);
    assert_eq!(envoy.metric("edge_query_cache_entries"), 0);
}

#[test]
fn missing_pages_with_explicit_freshness_are_stored() {
    let upstream = Upstream::start(|_| Reply::new(404).header("cache-control", "max-age=30"));
    let envoy = envoy(&upstream);

    get(&envoy, "/api/gone");
    let hit = get(&envoy, "/api/gone");

    assert_eq!(hit.status, 404);
    assert!(cache_status(&hit).contains("hit"));
    assert_eq!(upstream.hits(), 1);
}

#[test]
fn age_counts_the_upstream_age_and_ttl_what_is_left() {
    let upstream = Upstream::start(|_| {
        Reply::ok("text/plain", "aged")
            .header("cache-control", "max-age=60")
            .header("age", "10")
    });
    let envoy = envoy(&upstream);
    get(&envoy, "/api/aged");

    let hit = get(&envoy, "/api/aged");

    assert_eq!(hit.header_all("age"), vec!["10"]);
    assert!(
        matches!(
            cache_status(&hit),
            "edge-optimizer; hit; ttl=50" | "edge-optimizer; hit; ttl=49"
        ),
        "{}",
        cache_status(&hit)
    );
}

#[test]
fn expires_counts_from_the_upstream_date_not_from_our_clock() {
    // The upstream's clock is years behind; Expires is still 90 s after its Date.
    let upstream = Upstream::start(|_| {
        Reply::ok("text/plain", "dated")
            .header("date", "Wed, 21 Oct 2015 07:28:00 GMT")
            .header("expires", "Wed, 21 Oct 2015 07:29:30 GMT")
    });
    let envoy = envoy(&upstream);
    get(&envoy, "/api/dated");

    let hit = get(&envoy, "/api/dated");

    assert!(
        matches!(
            cache_status(&hit),
            "edge-optimizer; hit; ttl=90" | "edge-optimizer; hit; ttl=89"
        ),
        "{}",
        cache_status(&hit)
    );
}

#[test]
fn without_freshness_headers_the_default_ttl_applies() {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", "plain"));
    let envoy = envoy_with(&upstream, r#"{"prefixes": ["/"], "default_ttl": "2m"}"#);
    get(&envoy, "/api/plain");

    let hit = get(&envoy, "/api/plain");

    assert!(
        matches!(
            cache_status(&hit),
            "edge-optimizer; hit; ttl=120" | "edge-optimizer; hit; ttl=119"
        ),
        "{}",
        cache_status(&hit)
    );
}

#[test]
fn head_is_served_from_a_get_entry_but_never_the_reverse() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy(&upstream);

    get(&envoy, "/api/g");
    let head_after_get = Request::head("/api/g").send(envoy.port);
    Request::head("/api/h").send(envoy.port);
    let head_again = Request::head("/api/h").send(envoy.port);
    let get_after_head = get(&envoy, "/api/h");

    assert_eq!(head_after_get.status, 200);
    assert!(head_after_get.body.is_empty());
    assert!(cache_status(&head_after_get).contains("hit"));
    assert_eq!(
        head_after_get.header("content-length"),
        Some("19"),
        "the length a GET would get"
    );
    assert_eq!(cache_status(&head_again), "edge-optimizer; fwd=miss");
    assert_eq!(get_after_head.text(), "answer 4 for /api/h");
    assert_eq!(upstream.hits_for("/api/g"), 1);
    assert_eq!(upstream.hits_for("/api/h"), 3);
}

#[test]
fn a_matching_if_none_match_gets_304_without_a_body() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy(&upstream);
    get(&envoy, "/api/etag");

    let not_modified = Request::get("/api/etag")
        .header("if-none-match", "W/\"v1\"")
        .send(envoy.port);
    let other = Request::get("/api/etag")
        .header("if-none-match", "\"v0\"")
        .send(envoy.port);

    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some("\"v1\""));
    assert!(cache_status(&not_modified).contains("hit"));
    assert_eq!(other.status, 200);
    assert_eq!(other.text(), "answer 1 for /api/etag");
    assert_eq!(upstream.hits(), 1);
}

#[test]
fn an_entry_expires_and_the_sweep_takes_it_out_of_the_gauges() {
    let upstream = counting_upstream("max-age=1");
    let envoy = envoy_with(&upstream, r#"{"prefixes": ["/"], "sweep_interval": "1s"}"#);
    get(&envoy, "/api/short");
    get(&envoy, "/api/swept");
    assert!(cache_status(&get(&envoy, "/api/short")).contains("hit"));

    let start = Instant::now();
    while envoy.metric("edge_query_cache_entries") != 0 && start.elapsed() < Duration::from_secs(4)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = get(&envoy, "/api/short");

    assert_eq!(
        envoy.metric("edge_query_cache_entries"),
        1,
        "only the refilled entry"
    );
    assert_eq!(after.text(), "answer 3 for /api/short");
    assert_eq!(cache_status(&after), "edge-optimizer; fwd=miss; stored");
}

#[test]
fn vary_selects_the_stored_variant_by_request_headers() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let language = request.header("accept-language").unwrap_or_default();
        Reply::ok("text/plain", format!("in {language}"))
            .header("cache-control", CACHEABLE)
            .header("vary", "Accept-Language")
    });
    let envoy = envoy(&upstream);
    let ask = |language: &str| {
        Request::get("/api/greeting")
            .header("accept-language", language)
            .send(envoy.port)
    };

    ask("de");
    let de = ask("de");
    let en = ask("en");
    let en_again = ask("en");

    assert_eq!(de.text(), "in de");
    assert!(cache_status(&de).contains("hit"));
    assert_eq!(en.text(), "in en");
    assert!(cache_status(&en).contains("fwd=miss"));
    assert!(cache_status(&en_again).contains("hit"));
    assert_eq!(upstream.hits(), 2);
}

/// C33: 20 000 distinct keys through a cache of 1 000 entries.
#[test]
fn bounds_hold_under_many_distinct_keys_and_recent_keys_still_hit() {
    let upstream = counting_upstream(CACHEABLE);
    let envoy = envoy_with(&upstream, r#"{"prefixes": ["/"], "max_entries": 1000}"#);
    const KEYS: usize = 20_000;
    let port = envoy.port;
    let started = Instant::now();

    let next = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= KEYS {
                    return;
                }
                Request::get(&format!("/item?id={n}")).send(port);
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let took = started.elapsed();
    let entries = envoy.metric("edge_query_cache_entries");
    let bytes = envoy.metric("edge_query_cache_bytes");
    let stores = envoy.metric("edge_query_cache_stores_total");
    let evictions = envoy.metric("edge_query_cache_evictions_total");
    let recent = get(&envoy, &format!("/item?id={}", KEYS - 1));
    let oldest = get(&envoy, "/item?id=0");

    eprintln!("{KEYS} distinct keys took {took:?}");
    assert_eq!(entries, 1000);
    assert!(bytes > 0 && bytes <= 64 * 1024 * 1024);
    assert_eq!(stores, KEYS as u64);
    assert_eq!(evictions, (KEYS - 1000) as u64);
    assert!(cache_status(&recent).contains("hit"));
    assert!(cache_status(&oldest).contains("fwd=miss"));
}

/// C29: a body past max_entry_bytes streams through whole and is not stored.
#[test]
fn a_response_larger_than_max_entry_bytes_arrives_complete_and_is_not_stored() {
    let body: Vec<u8> = (0..4 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let expected = body.clone();
    let upstream = Upstream::start(move |request: &RecordedRequest| {
        let reply = Reply::ok("text/csv", &body).header("cache-control", CACHEABLE);
        if request.path.contains("chunked") {
            reply.chunked(&[64 * 1024; 64])
        } else {
            reply
        }
    });
    let envoy = envoy_with(
        &upstream,
        r#"{"prefixes": ["/"], "max_entry_bytes": 1048576}"#,
    );

    for path in ["/export?fmt=csv", "/export?fmt=csv&chunked=1"] {
        let first = get(&envoy, path);
        let second = get(&envoy, path);

        assert_eq!(first.status, 200, "{path}");
        assert!(first.body == expected, "{path}: complete body");
        assert!(second.body == expected, "{path}: complete body");
        assert!(!cache_status(&second).contains("hit"), "{path}");
    }
    assert_eq!(upstream.hits(), 4);
    assert_eq!(envoy.metric("edge_query_cache_stores_total"), 0);
}

/// C30: the cache gives up on a body mid-stream without disturbing the response.
#[test]
fn giving_up_mid_body_completes_the_response_normally() {
    let body = vec![b'x'; 64 * 1024];
    let upstream = Upstream::start(move |_| {
        Reply::ok("text/plain", &body)
            .header("cache-control", CACHEABLE)
            .chunked(&[8 * 1024; 8])
            .chunk_delay(Duration::from_millis(5))
    });
    let envoy = envoy_with(
        &upstream,
        r#"{"prefixes": ["/"], "max_entry_bytes": 16384}"#,
    );

    let first = get(&envoy, "/api/big");
    let second = get(&envoy, "/api/big");

    assert_eq!(first.body.len(), 64 * 1024);
    assert_eq!(second.body.len(), 64 * 1024);
    assert_eq!(upstream.hits(), 2);
    assert_eq!(envoy.metric("edge_query_cache_entries"), 0);
}

/// C27: a headers-only answer is stored from the headers phase.
#[test]
fn a_headers_only_response_is_stored_and_served_empty() {
    let upstream = Upstream::start(|_| {
        Reply::new(200)
            .header("content-length", "0")
            .header("cache-control", "max-age=30")
    });
    let envoy = envoy(&upstream);
    let started = Instant::now();

    let first = get(&envoy, "/ping?x=1");
    let hits: Vec<Response> = (0..1000).map(|_| get(&envoy, "/ping?x=1")).collect();

    assert_eq!(first.status, 200);
    assert!(first.body.is_empty());
    assert!(hits.iter().all(|r| r.status == 200 && r.body.is_empty()));
    assert!(hits.iter().all(|r| cache_status(r).contains("hit")));
    assert_eq!(hits[0].header("content-encoding"), None);
    assert_eq!(upstream.hits(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// C17: the cache keeps identity bodies, so no Accept-Encoding variant is served to a
/// client that did not ask for it.
#[test]
fn accept_encoding_variants_share_one_identity_entry() {
    let json = format!("[{}]", vec!["{\"id\":1}"; 900].join(","));
    let upstream = Upstream::start(move |_| {
        Reply::ok("application/json", &json).header("cache-control", CACHEABLE)
    });
    let envoy = envoy(&upstream);

    let plain = get(&envoy, "/api/list?page=1");
    let gzip_client = Request::get("/api/list?page=1")
        .header("accept-encoding", "gzip")
        .send(envoy.port);
    let plain_again = get(&envoy, "/api/list?page=1");

    assert_eq!(plain.header("content-encoding"), None);
    assert!(cache_status(&gzip_client).contains("hit"));
    assert_eq!(plain_again.header("content-encoding"), None);
    assert_eq!(plain_again.body, plain.body);
    assert_eq!(upstream.hits(), 1);
}

/// Hits are compressed like upstream answers; the compressed body is made on the first
/// gzip hit, kept with the entry (its bytes counted) and reused by later gzip hits.
#[test]
fn gzip_clients_get_compressed_hits_made_once_from_one_upstream_fetch() {
    let json = format!("[{}]", vec!["{\"id\":1,\"name\":\"same\"}"; 400].join(","));
    let expected = json.clone().into_bytes();
    let upstream = Upstream::start(move |_| {
        Reply::ok("application/json", &json)
            .header("cache-control", CACHEABLE)
            .header("etag", "\"v7\"")
    });
    let envoy = envoy(&upstream);
    let gzip = |envoy: &Envoy| {
        Request::get("/api/doc")
            .header("accept-encoding", "gzip")
            .send(envoy.port)
    };

    let miss = get(&envoy, "/api/doc");
    let bytes_identity_only = envoy.metric("edge_query_cache_bytes");
    let first_gzip = gzip(&envoy);
    let bytes_with_variant = envoy.metric("edge_query_cache_bytes");
    let compressed_after_first = envoy.metric("edge_compression_responses_total");
    let second_gzip = gzip(&envoy);
    let plain_hit = get(&envoy, "/api/doc");

    assert_eq!(miss.body, expected);
    for hit in [&first_gzip, &second_gzip] {
        assert!(cache_status(hit).contains("hit"), "{:?}", hit.headers);
        assert_eq!(hit.header("content-encoding"), Some("gzip"));
        assert_eq!(hit.header("etag"), Some("W/\"v7\""));
        assert!(hit.header("vary").unwrap_or("").contains("Accept-Encoding"));
        let mut decoded = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(hit.body.as_slice()),
            &mut decoded,
        )
        .unwrap();
        assert_eq!(decoded, expected);
    }
    assert_eq!(second_gzip.body, first_gzip.body);
    let variant_bytes = bytes_with_variant - bytes_identity_only;
    assert_eq!(
        variant_bytes,
        first_gzip.body.len() as u64,
        "the variant is counted"
    );
    assert_eq!(envoy.metric("edge_query_cache_bytes"), bytes_with_variant);
    assert_eq!(
        envoy.metric("edge_compression_bytes_out_total"),
        2 * first_gzip.body.len() as u64
    );
    assert_eq!(compressed_after_first, 1);
    assert_eq!(plain_hit.header("content-encoding"), None);
    assert_eq!(plain_hit.body, expected);
    assert_eq!(plain_hit.header("etag"), Some("\"v7\""));
    assert_eq!(upstream.hits(), 1);
}

/// RFC 9111 section 4.4: a successful unsafe request makes the URL's entry stale; a failed
/// one leaves it.
#[test]
fn a_successful_write_invalidates_the_entry_and_a_failed_one_does_not() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let n = request.header("x-test-n").unwrap_or_default();
        match (request.method.as_str(), request.header("x-test-fail")) {
            ("GET", _) => Reply::ok("application/json", format!("version {n}"))
                .header("cache-control", CACHEABLE),
            (_, Some(_)) => Reply::new(409).body("conflict"),
            _ => Reply::new(204),
        }
    });
    let envoy = envoy(&upstream);
    let read = |n: &str| {
        Request::get("/api/doc?id=1")
            .header("x-test-n", n)
            .send(envoy.port)
            .text()
    };

    assert_eq!(read("1"), "version 1");
    Request::new("POST", "/api/doc?id=1")
        .header("x-test-fail", "yes")
        .body(b"x")
        .send(envoy.port);
    assert_eq!(read("2"), "version 1", "a failed write keeps the entry");
    Request::new("PUT", "/api/doc?id=1")
        .body(b"x")
        .send(envoy.port);
    assert_eq!(read("3"), "version 3", "a successful write invalidates it");
    Request::new("DELETE", "/api/doc?id=1").send(envoy.port);
    assert_eq!(read("4"), "version 4");
    assert_eq!(envoy.metric("edge_query_cache_entries"), 1);
}

/// C20: a private page fetched with a cookie is never stored for the next visitor.
#[test]
fn a_private_page_behind_a_cookie_is_not_stored_for_others() {
    let upstream = Upstream::start(|request: &RecordedRequest| match request.header("cookie") {
        Some(_) => {
            let private = "private, no-store";
            Reply::ok("text/html", "secret for victim").header("cache-control", private)
        }
        None => Reply::ok("text/html", "log in first"),
    });
    let envoy = envoy_with(&upstream, r#"{"prefixes": ["/api/"]}"#);

    Request::get("/account/settings/x.css")
        .header("cookie", "session=VICTIM")
        .send(envoy.port);
    let attacker = get(&envoy, "/account/settings/x.css");
    Request::get("/api/account/x.css")
        .header("cookie", "session=VICTIM")
        .send(envoy.port);
    let attacker_in_scope = get(&envoy, "/api/account/x.css");

    assert_eq!(attacker.text(), "log in first");
    assert_eq!(attacker_in_scope.text(), "log in first");
    assert_eq!(upstream.hits(), 4);
}

/// C21: a response that sets a cookie is never replayed to another client.
#[test]
fn responses_with_set_cookie_are_not_stored() {
    let served = AtomicUsize::new(0);
    let upstream = Upstream::start(move |_| {
        let user = if served.fetch_add(1, Ordering::SeqCst) == 0 {
            "USER_A"
        } else {
            "USER_B"
        };
        Reply::ok("application/json", "{}")
            .header("cache-control", CACHEABLE)
            .header("set-cookie", &format!("sid={user}; HttpOnly"))
    });
    let envoy = envoy(&upstream);

    get(&envoy, "/products?id=3");
    let other = get(&envoy, "/products?id=3");

    assert_eq!(other.header("set-cookie"), Some("sid=USER_B; HttpOnly"));
    assert_eq!(upstream.hits(), 2);
    assert_eq!(envoy.metric("edge_query_cache_stores_total"), 0);
}

/// C22: answers to authorized requests are shared only when the upstream said so.
#[test]
fn authorized_answers_are_shared_only_when_public() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let who = request
            .header("authorization")
            .unwrap_or_else(|| "nobody".into());
        let cache_control = if request.path.contains("public") {
            CACHEABLE
        } else {
            "max-age=60"
        };
        Reply::ok("text/plain", format!("orders of {who}")).header("cache-control", cache_control)
    });
    let envoy = envoy(&upstream);
    let ask = |path: &str, token: Option<&str>| {
        let request = Request::get(path);
        match token {
            Some(token) => request.header("authorization", token),
            None => request,
        }
        .send(envoy.port)
    };

    ask("/me/orders?limit=5", Some("Bearer A"));
    let b = ask("/me/orders?limit=5", Some("Bearer B"));
    let anonymous = ask("/me/orders?limit=5", None);
    ask("/public/orders", Some("Bearer A"));
    let b_public = ask("/public/orders", Some("Bearer B"));

    assert_eq!(b.text(), "orders of Bearer B");
    assert_eq!(anonymous.text(), "orders of nobody");
    assert_eq!(
        b_public.text(),
        "orders of Bearer A",
        "public said it may be shared"
    );
    assert!(cache_status(&b_public).contains("hit"));
    assert_eq!(upstream.hits(), 4);
}

/// C24: a transient failure is never stored, so recovery shows at once.
#[test]
fn server_errors_are_never_stored() {
    let down = Arc::new(AtomicUsize::new(1));
    let state = Arc::clone(&down);
    let upstream = Upstream::start(move |_| {
        if state.load(Ordering::SeqCst) == 1 {
            Reply::new(503)
                .header("cache-control", "public, max-age=300")
                .body("down")
        } else {
            Reply::ok("text/plain", "ok").header("cache-control", CACHEABLE)
        }
    });
    let envoy = envoy(&upstream);

    let failure = get(&envoy, "/items?id=9");
    down.store(0, Ordering::SeqCst);
    let recovered = get(&envoy, "/items?id=9");

    assert_eq!(failure.status, 503);
    assert_eq!(recovered.text(), "ok");
    assert_eq!(upstream.hits(), 2);
}

/// C34: concurrent misses for one key are not coalesced: a worker has no way to park a
/// request until another's fetch ends, so each goes upstream. Once one is stored, its
/// worker answers from cache; with N workers the upstream sees up to N stores' worth.
#[test]
fn concurrent_misses_each_go_upstream_and_later_requests_hit() {
    let upstream = Upstream::start(|_| {
        Reply::ok("text/plain", "slow")
            .header("cache-control", CACHEABLE)
            .delay(Duration::from_millis(500))
    });
    let config = r#"{"query_cache": {"prefixes": ["/"]}}"#;
    let envoy = Envoy::start(
        upstream.port,
        &EnvoyOptions {
            concurrency: 4,
            ..EnvoyOptions::with_config(config)
        },
    );
    let port = envoy.port;

    let clients: Vec<_> = (0..40)
        .map(|_| std::thread::spawn(move || Request::get("/slow?id=1").send(port)))
        .collect();
    let concurrent: Vec<Response> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let during = upstream.hits();
    let later: Vec<Response> = (0..40).map(|_| get(&envoy, "/slow?id=1")).collect();
    let after = upstream.hits() - during;

    eprintln!("40 concurrent misses reached the upstream {during} times; then {after} more");
    assert!(concurrent.iter().chain(&later).all(|r| r.text() == "slow"));
    assert!(during <= 40);
    assert!(
        after <= 4,
        "at most one more per worker that saw no miss: {after}"
    );
}

/// A 304 from the cache carries the validators of the answer it stands for.
#[test]
fn a_304_carries_the_etag_and_vary_of_the_compressed_answer() {
    let json = "[1,2,3]".repeat(300);
    let upstream = Upstream::start(move |_| {
        Reply::ok("application/json", &json)
            .header("cache-control", CACHEABLE)
            .header("etag", "\"v1\"")
    });
    let envoy = envoy(&upstream);
    get(&envoy, "/api/list");

    let full = Request::get("/api/list")
        .header("accept-encoding", "gzip")
        .send(envoy.port);
    let not_modified = Request::get("/api/list")
        .header("accept-encoding", "gzip")
        .header("if-none-match", "W/\"v1\"")
        .send(envoy.port);

    assert_eq!(full.header("etag"), Some("W/\"v1\""));
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("etag"), full.header("etag"));
    assert_eq!(not_modified.header("vary"), full.header("vary"));
}
