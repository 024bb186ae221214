//! The filter's own request metrics, read where Prometheus reads them.

mod support;

use std::time::{Duration, Instant};

use support::{Envoy, EnvoyOptions, Reply, Request, Upstream};

#[test]
fn requests_and_status_classes_are_counted_once_each() {
    let upstream = Upstream::start(|request| match request.path.as_str() {
        "/missing" => Reply::new(404).body("no"),
        "/broken" => Reply::new(503).body("down"),
        _ => Reply::ok("text/plain", "ok"),
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    for path in ["/a", "/b", "/missing", "/broken", "/favicon.ico"] {
        Request::get(path).send(envoy.port);
    }

    assert_eq!(envoy.metric("edge_http_requests_total"), 5);
    assert_eq!(
        envoy.metric("edge_http_responses_total.status_class.2xx"),
        3
    );
    assert_eq!(
        envoy.metric("edge_http_responses_total.status_class.4xx"),
        1
    );
    assert_eq!(
        envoy.metric("edge_http_responses_total.status_class.5xx"),
        1
    );
    let prometheus = envoy.prometheus();
    assert!(
        prometheus.contains("edge_http_requests_total{} 5"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("edge_http_responses_total{status_class=\"2xx\"} 3"),
        "{prometheus}"
    );
}

#[test]
fn workers_share_one_stat_per_metric() {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", "ok"));
    let options = EnvoyOptions {
        concurrency: 4,
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start(upstream.port, &options);

    let threads: Vec<_> = (0..4)
        .map(|_| {
            let port = envoy.port;
            std::thread::spawn(move || {
                for _ in 0..25 {
                    Request::get("/x").send(port);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }

    assert_eq!(envoy.metric("edge_http_requests_total"), 100);
    let prometheus = envoy.prometheus();
    let lines: Vec<&str> = prometheus
        .lines()
        .filter(|l| l.starts_with("edge_http_requests_total"))
        .collect();
    assert_eq!(lines, vec!["edge_http_requests_total{} 100"]);
}

#[test]
fn request_duration_is_recorded_in_microseconds() {
    let upstream =
        Upstream::start(|_| Reply::ok("text/plain", "slow").delay(Duration::from_millis(300)));
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    Request::get("/slow").send(envoy.port);

    // Histograms reach the admin interface at Envoy's stats flush (every 5 s by default).
    let deadline = Instant::now() + Duration::from_secs(15);
    let count_line = "edge_http_request_duration_microseconds_count{} 1";
    let mut prometheus = envoy.prometheus();
    while !prometheus.contains(count_line) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        prometheus = envoy.prometheus();
    }
    assert!(prometheus.contains(count_line), "{prometheus}");
    let bucket = |le: &str| {
        let prefix = format!("edge_http_request_duration_microseconds_bucket{{le=\"{le}\"}} ");
        prometheus
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no bucket {le}"))
    };
    assert_eq!(bucket("250000"), 0, "300 ms is above the 250 ms bucket");
    assert_eq!(bucket("500000"), 1, "300 ms is within the 500 ms bucket");
}

#[test]
fn without_the_tag_rule_each_status_class_is_its_own_metric() {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", "ok"));
    let options = EnvoyOptions {
        status_class_tag: false,
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start(upstream.port, &options);

    Request::get("/a").send(envoy.port);
    Request::get("/favicon.ico").send(envoy.port);

    let prometheus = envoy.prometheus();
    assert!(
        prometheus.contains("edge_http_responses_total_status_class_2xx{} 2"),
        "{prometheus}"
    );
    assert!(!prometheus.contains("status_class=\""), "{prometheus}");
}
