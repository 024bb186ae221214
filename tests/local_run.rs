//! The local run's own configuration, `envoy/envoy.yaml`, as `scripts/run.sh` starts it
//! (from the repository root), with its fixed ports swapped for free ones: the favicon is
//! answered by the filter and never reaches the demo upstream; everything else is proxied.

mod support;

use support::envoy::project_root;
use support::free_port;
use support::{Envoy, Request};

/// envoy.yaml with the edge and admin ports left to the kernel and the demo upstream moved
/// to a free port (its listener and the cluster that points at it).
fn local_run_config() -> String {
    let text = std::fs::read_to_string(project_root().join("envoy/envoy.yaml")).unwrap();
    assert_eq!(text.matches("port_value: 10000").count(), 1);
    assert_eq!(text.matches("port_value: 9901").count(), 1);
    assert_eq!(text.matches("port_value: 10001").count(), 2);
    let demo = free_port().to_string();
    text.replace("port_value: 10000", "port_value: 0")
        .replace("port_value: 9901", "port_value: 0")
        .replace("port_value: 10001", &format!("port_value: {demo}"))
}

#[test]
fn the_local_run_answers_the_favicon_itself_and_proxies_the_demo_api() {
    let envoy = Envoy::try_start_bootstrap(&local_run_config(), 1)
        .unwrap_or_else(|log| panic!("the local run did not start:\n{log}"));
    let demo_requests = || {
        envoy
            .stat("http.demo_upstream.downstream_rq_total")
            .unwrap_or(0)
    };

    let favicon = Request::get("/favicon.ico").send(envoy.port);

    assert_eq!(favicon.status, 204);
    assert_eq!(
        favicon.header("cache-control"),
        Some("public, max-age=86400")
    );
    assert_eq!(demo_requests(), 0, "the favicon reached the demo upstream");

    let items = Request::get("/api/items").send(envoy.port);
    let page = Request::get("/")
        .header("accept-encoding", "gzip")
        .send(envoy.port);

    assert_eq!(items.status, 200);
    assert!(items.text().starts_with("{\"items\":["));
    assert_eq!(page.header("content-encoding"), Some("gzip"));
    assert_eq!(demo_requests(), 2);
}
