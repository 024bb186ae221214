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

#[test]
fn a_configured_icon_is_served_with_its_bytes_type_and_max_age() {
    let upstream = upstream();
    let config = r#"{"favicon": {"body_base64": "AAABAAEAEBA=", "content_type": "image/png",
                                 "max_age": 600}}"#;
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::with_config(config));

    let response = Request::get("/favicon.ico")
        .header("accept-encoding", "gzip")
        .send(envoy.port);

    assert_eq!(response.status, 200);
    assert_eq!(response.body, vec![0, 0, 1, 0, 1, 0, 16, 16]);
    assert_eq!(response.header("content-type"), Some("image/png"));
    assert_eq!(
        response.header("cache-control"),
        Some("public, max-age=600")
    );
    assert_eq!(response.header("content-encoding"), None);
    assert_eq!(upstream.hits(), 0);
}

#[test]
fn head_gets_the_same_headers_and_no_body() {
    let upstream = upstream();
    let config = r#"{"favicon": {"body_base64": "AAABAAEAEBA="}}"#;
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::with_config(config));

    let get = Request::get("/favicon.ico").send(envoy.port);
    let head = Request::head("/favicon.ico").send(envoy.port);

    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    for name in ["content-type", "cache-control", "content-length"] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    assert_eq!(upstream.hits(), 0);
    assert_eq!(envoy.metric("edge_favicon_responses_total"), 2);
}

#[test]
fn a_query_string_does_not_hide_the_favicon() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let response = Request::get("/favicon.ico?v=3").send(envoy.port);

    assert_eq!(response.status, 204);
    assert_eq!(upstream.hits(), 0);
}

#[test]
fn other_methods_and_look_alike_paths_reach_the_upstream_unchanged() {
    let upstream = upstream();
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let requests = [
        Request::new("POST", "/favicon.ico").body(b"x"),
        Request::get("/static/favicon.ico"),
        Request::get("/favicon.icon"),
        Request::get("/favicon.ico/../admin"),
    ];

    for request in &requests {
        let response = request.send(envoy.port);

        assert_eq!(response.status, 200, "{} {}", request.method, request.path);
        assert_eq!(response.text(), "from upstream");
    }
    let seen: Vec<String> = upstream.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(seen.len(), 4);
    assert!(seen.contains(&"/static/favicon.ico".to_string()));
    assert_eq!(envoy.metric("edge_favicon_responses_total"), 0);
}

#[test]
fn a_disabled_favicon_is_proxied() {
    let upstream = upstream();
    let config = r#"{"favicon": {"enabled": false}}"#;
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::with_config(config));

    let response = Request::get("/favicon.ico").send(envoy.port);

    assert_eq!(response.text(), "from upstream");
    assert_eq!(upstream.hits_for("/favicon.ico"), 1);
}

#[test]
fn proxied_responses_keep_status_headers_and_body() {
    let upstream = Upstream::start(|_| {
        Reply::new(201)
            .header("content-type", "application/octet-stream")
            .header("x-custom", "kept")
            .body(vec![7u8; 3000])
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());

    let response = Request::get("/upload/result").send(envoy.port);

    assert_eq!(response.status, 201);
    assert_eq!(response.header("x-custom"), Some("kept"));
    assert_eq!(response.header("content-length"), Some("3000"));
    assert_eq!(response.body, vec![7u8; 3000]);
    assert_eq!(upstream.hits_for("/upload/result"), 1);
}
