//! Health probes are answered from a short-lived per-worker cache: the upstream sees one
//! probe per TTL (failures: per failure TTL) whatever the number of probers.

mod support;

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Envoy, EnvoyOptions, Reply, Request, Response, Upstream};

/// An upstream whose health status and delay a test can change while it runs.
struct Switchable {
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
}

impl Switchable {
    fn start() -> (Upstream, Switchable) {
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (s, d) = (Arc::clone(&status), Arc::clone(&delay_ms));
        let upstream = Upstream::start(move |request| {
            let status = s.load(Ordering::SeqCst);
            Reply::new(status)
                .header("content-type", "text/plain")
                .header("cache-control", "no-store")
                .header("set-cookie", "sid=upstream")
                .header("x-app", "demo")
                .body(format!("{status} for {}", request.path))
                .delay(Duration::from_millis(d.load(Ordering::SeqCst)))
        });
        (upstream, Switchable { status, delay_ms })
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

fn envoy(upstream: &Upstream, ttl: &str, failure_ttl: &str) -> Envoy {
    let config = format!(
        r#"{{"health": {{"paths": ["/health", "/ready"], "ttl": "{ttl}",
                        "failure_ttl": "{failure_ttl}"}},
            "query_cache": {{"prefixes": ["/"]}}}}"#
    );
    Envoy::start(upstream.port, &EnvoyOptions::with_config(&config))
}

fn probe(envoy: &Envoy, path: &str) -> Response {
    Request::get(path).send(envoy.port)
}

/// Probes until `done` holds for the answer, every 50 ms, for at most `within`; returns
/// the answer and how long it took.
fn probe_until(
    envoy: &Envoy,
    path: &str,
    within: Duration,
    done: impl Fn(&Response) -> bool,
) -> (Response, Duration) {
    let start = Instant::now();
    loop {
        let response = probe(envoy, path);
        if done(&response) || start.elapsed() > within {
            return (response, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn probes_within_the_ttl_reach_the_upstream_once() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "5s", "1s");

    let responses: Vec<Response> = (0..5).map(|_| probe(&envoy, "/health")).collect();

    assert_eq!(upstream.hits_for("/health"), 1);
    for response in &responses {
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "200 for /health");
    }
    assert_eq!(
        responses[0].header("cache-status"),
        Some("edge-optimizer; fwd=miss; stored")
    );
    for response in &responses[1..] {
        assert_eq!(response.header("cache-status"), Some("edge-optimizer; hit"));
        assert_eq!(response.header("x-app"), Some("demo"));
        assert_eq!(response.header("content-type"), Some("text/plain"));
        assert_eq!(response.header_all("content-type").len(), 1);
        assert_eq!(
            response.header("set-cookie"),
            None,
            "cookies are never replayed"
        );
        assert_eq!(response.header_all("age").len(), 1);
    }
    assert_eq!(envoy.metric("edge_health_cache_misses_total"), 1);
    assert_eq!(envoy.metric("edge_health_cache_hits_total"), 4);
}

#[test]
fn after_the_ttl_one_more_probe_reaches_the_upstream() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "1s", "1s");
    probe(&envoy, "/health");

    let (_, waited) = probe_until(&envoy, "/health", Duration::from_secs(3), |_| {
        upstream.hits_for("/health") == 2
    });

    assert_eq!(upstream.hits_for("/health"), 2);
    assert!(
        waited >= Duration::from_millis(800),
        "refreshed after {waited:?}"
    );
    assert!(
        waited <= Duration::from_millis(1800),
        "refreshed after {waited:?}"
    );
}

#[test]
fn a_failure_is_served_from_cache_only_for_the_failure_ttl() {
    let (upstream, health) = Switchable::start();
    health.answer(503);
    let envoy = envoy(&upstream, "30s", "1s");
    assert_eq!(probe(&envoy, "/health").status, 503);

    health.answer(200);
    let cached = probe(&envoy, "/health");
    let (recovered, waited) = probe_until(&envoy, "/health", Duration::from_secs(3), |r| {
        r.status == 200
    });

    assert_eq!(cached.status, 503);
    assert_eq!(cached.header("cache-status"), Some("edge-optimizer; hit"));
    assert_eq!(
        recovered.status, 200,
        "recovery seen within the failure ttl"
    );
    assert!(
        waited <= Duration::from_millis(1800),
        "recovered after {waited:?}"
    );
    assert_eq!(upstream.hits_for("/health"), 2);
}

#[test]
fn head_probes_get_headers_only_and_may_use_the_get_answer() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "5s", "1s");
    probe(&envoy, "/health");

    let head = Request::head("/health").send(envoy.port);

    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("cache-status"), Some("edge-optimizer; hit"));
    assert_eq!(upstream.hits_for("/health"), 1);
}

#[test]
fn a_head_answer_is_never_used_for_get() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "5s", "1s");

    let first_head = Request::head("/ready").send(envoy.port);
    let second_head = Request::head("/ready").send(envoy.port);
    let get = probe(&envoy, "/ready");

    assert_eq!(first_head.status, 200);
    assert_eq!(
        second_head.header("cache-status"),
        Some("edge-optimizer; hit")
    );
    assert!(second_head.body.is_empty());
    assert_eq!(
        get.text(),
        "200 for /ready",
        "GET got the body, from upstream"
    );
    assert_eq!(upstream.hits_for("/ready"), 2);
}

#[test]
fn query_strings_are_keyed_apart() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "5s", "1s");

    for _ in 0..3 {
        probe(&envoy, "/health");
        probe(&envoy, "/health?full=1");
    }
    let full = probe(&envoy, "/health?full=1");

    assert_eq!(upstream.hits(), 2);
    assert_eq!(full.text(), "200 for /health?full=1");
}

#[test]
fn age_grows_while_the_answer_is_served_from_cache() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "10s", "1s");
    probe(&envoy, "/health");

    let first = probe(&envoy, "/health");
    let (later, _) = probe_until(&envoy, "/health", Duration::from_secs(3), |r| {
        r.header("age") == Some("1")
    });

    assert_eq!(first.header("age"), Some("0"));
    assert_eq!(later.header("age"), Some("1"));
    assert_eq!(upstream.hits_for("/health"), 1);
}

#[test]
fn concurrent_probes_during_a_slow_refresh_reach_the_upstream_once() {
    let (upstream, health) = Switchable::start();
    let envoy = envoy(&upstream, "1s", "1s");
    probe(&envoy, "/health");
    std::thread::sleep(Duration::from_millis(1100));
    health.delay(Duration::from_millis(500));

    let port = envoy.port;
    let probers: Vec<_> = (0..10)
        .map(|_| std::thread::spawn(move || Request::get("/health").send(port)))
        .collect();
    let responses: Vec<Response> = probers.into_iter().map(|p| p.join().unwrap()).collect();

    assert_eq!(upstream.hits_for("/health"), 2, "the prime and one refresh");
    assert!(responses.iter().all(|r| r.status == 200));
    let refreshing = responses
        .iter()
        .filter(|r| r.header("cache-status") == Some("edge-optimizer; hit; detail=refreshing"))
        .count();
    assert!(refreshing >= 8, "{refreshing} of 10 served the last answer");
}

#[test]
fn a_path_not_in_health_paths_is_never_cached() {
    let (upstream, _) = Switchable::start();
    let envoy = envoy(&upstream, "5s", "1s");

    for path in ["/healthz", "/healthz", "/health/db", "/health/db"] {
        let response = probe(&envoy, path);
        assert_ne!(response.header("cache-status"), Some("edge-optimizer; hit"));
    }

    assert_eq!(upstream.hits_for("/healthz"), 2);
    assert_eq!(upstream.hits_for("/health/db"), 2);
    assert_eq!(envoy.metric("edge_health_cache_misses_total"), 0);
}

#[test]
fn a_zero_ttl_turns_that_side_off() {
    let (upstream, health) = Switchable::start();
    let envoy = envoy(&upstream, "0s", "5s");
    probe(&envoy, "/health");
    let second = probe(&envoy, "/health");
    health.answer(500);
    probe(&envoy, "/health");
    let failure = probe(&envoy, "/health");

    assert_eq!(
        second.header("cache-status"),
        Some("edge-optimizer; fwd=miss")
    );
    assert_eq!(failure.status, 500);
    assert_eq!(failure.header("cache-status"), Some("edge-optimizer; hit"));
    assert_eq!(upstream.hits_for("/health"), 3);
}

/// C37: a cached 200 never outlives its TTL, failures are short-lived, an unreachable
/// upstream answers 503 promptly, and health answers stay out of the query cache.
#[test]
fn ttl_semantics_follow_the_upstream_without_prolonging_either_outcome() {
    let (upstream, health) = Switchable::start();
    let envoy = envoy(&upstream, "2s", "1s");
    let start = Instant::now();
    let at = |secs: f64| {
        let target = Duration::from_secs_f64(secs);
        if let Some(rest) = target.checked_sub(start.elapsed()) {
            std::thread::sleep(rest);
        }
    };

    assert_eq!(probe(&envoy, "/health").status, 200);
    health.answer(503);
    at(1.0);
    let cached_ok = probe(&envoy, "/health");
    at(2.1);
    let fresh_failure = probe(&envoy, "/health");
    at(2.6);
    let cached_failure = probe(&envoy, "/health");
    let upstream_hits = upstream.hits_for("/health");
    drop(upstream);
    at(3.3);
    let asked_at = Instant::now();
    let unreachable = probe(&envoy, "/health");
    let unreachable_took = asked_at.elapsed();
    let unreachable_cached = probe(&envoy, "/health");

    assert_eq!(cached_ok.status, 200);
    assert_eq!(
        cached_ok.header("cache-status"),
        Some("edge-optimizer; hit")
    );
    assert_eq!(fresh_failure.status, 503);
    assert_eq!(fresh_failure.text(), "503 for /health");
    assert_eq!(cached_failure.status, 503);
    assert_eq!(
        cached_failure.header("cache-status"),
        Some("edge-optimizer; hit")
    );
    assert_eq!(upstream_hits, 2);
    assert_eq!(unreachable.status, 503);
    assert_ne!(unreachable.text(), "503 for /health", "Envoy's own reply");
    assert!(
        unreachable_took < Duration::from_secs(2),
        "took {unreachable_took:?}"
    );
    assert_eq!(unreachable_cached.status, 503);
    assert_eq!(
        unreachable_cached.header("cache-status"),
        Some("edge-optimizer; hit")
    );
    assert_eq!(envoy.metric("edge_query_cache_entries"), 0);
    assert_eq!(envoy.metric("edge_query_cache_stores_total"), 0);
}

/// C34: each worker has its own cache, so with N workers the upstream sees up to N probes
/// per TTL, and one refresh per worker when the TTL runs out under concurrent probing.
#[test]
fn with_four_workers_the_upstream_sees_at_most_one_probe_per_worker_per_ttl() {
    let (upstream, health) = Switchable::start();
    let config = r#"{"health": {"paths": ["/health"], "ttl": "1s", "failure_ttl": "1s"}}"#;
    let envoy = Envoy::start(
        upstream.port,
        &EnvoyOptions {
            concurrency: 4,
            ..EnvoyOptions::with_config(config)
        },
    );

    // Sequential probes on new connections spread over the workers; each worker asks once.
    let primed: Vec<u16> = (0..40).map(|_| probe(&envoy, "/health").status).collect();
    let after_priming = upstream.hits_for("/health");
    std::thread::sleep(Duration::from_millis(1100));
    health.delay(Duration::from_millis(500));
    let port = envoy.port;
    let probers: Vec<_> = (0..40)
        .map(|_| std::thread::spawn(move || Request::get("/health").send(port).status))
        .collect();
    let concurrent: Vec<u16> = probers.into_iter().map(|p| p.join().unwrap()).collect();
    let refreshes = upstream.hits_for("/health") - after_priming;

    eprintln!("4 workers: {after_priming} upstream probes priming, {refreshes} refreshing");
    assert!(primed.iter().chain(&concurrent).all(|s| *s == 200));
    assert!(
        (1..=4).contains(&after_priming),
        "{after_priming} probes for 4 workers"
    );
    assert!(refreshes <= 4, "{refreshes} refreshes for 4 workers");
}
