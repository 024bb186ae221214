//! The favicon is answered by the filter from the request phase: the upstream never sees it.

mod support;

use support::{Envoy, EnvoyOptions, Reply, Request, Upstream};

fn upstream() -> Upstream {
    Upstream::start(|_| Reply::ok("text/plain", "from upstream"))
}

#[test]
fn favicon_without_an_icon_is_204_with_cache_control_and_never_reaches_upstream() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let response = Request::get("/favicon.ico").send(envoy.port);

    assert_eq!(response.status, 204);
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=86400")
    );
    assert_eq!(response.header("content-type"), None);
    assert!(response.body.is_empty());
    assert_eq!(upstream.hits(), 0);
    assert_eq!(envoy.metric("edge_favicon_responses_total"), 1);
}
