//! A shared cache must never hand one request's answer to another request it does not
//! match. Each test lets an attacker's request go first, with an upstream that reflects the
//! request back in its answer, then checks what an ordinary client receives.

mod support;

use support::{Envoy, EnvoyOptions, RecordedRequest, Reply, Request, Response, Upstream};

/// Everything under `/` is cacheable for a minute, and the answer shows what the upstream
/// saw: the kind of reflection that turns an unkeyed input into a poisoned entry.
fn reflecting_upstream() -> Upstream {
    Upstream::start(|request: &RecordedRequest| {
        let reflected: Vec<String> = request
            .headers
            .iter()
            .filter(|(name, _)| !name.starts_with("x-envoy") && !name.starts_with("x-request"))
            .map(|(name, value)| format!("{name}={}", String::from_utf8_lossy(value)))
            .collect();
        Reply::ok(
            "text/html",
            format!(
                "{} {} {}",
                request.method,
                request.path,
                reflected.join(" ")
            ),
        )
        .header("cache-control", "public, max-age=60")
    })
}

fn envoy(upstream: &Upstream) -> Envoy {
    let config = r#"{"query_cache": {"prefixes": ["/"]}}"#;
    Envoy::start(upstream.port, &EnvoyOptions::with_config(config))
}

fn victim(envoy: &Envoy, path: &str) -> Response {
    Request::get(path).send(envoy.port)
}

#[test]
fn unkeyed_headers_that_shape_the_url_never_poison_the_plain_entry() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);
    let levers = [
        ("x-forwarded-host", "evil.example"),
        ("forwarded", "host=evil.example;proto=http"),
        ("x-original-url", "/admin/evil"),
        ("x-rewrite-url", "/admin/evil"),
        ("x-forwarded-scheme", "nothttp-evil"),
        ("x-forwarded-server", "evil.example"),
        ("x-host", "evil.example"),
        ("x-http-method-override", "DELETE-evil"),
    ];

    for (i, (name, value)) in levers.iter().enumerate() {
        let path = format!("/page/{i}");

        let attack = Request::get(&path).header(name, value).send(envoy.port);
        let plain = victim(&envoy, &path);
        let again = victim(&envoy, &path);

        assert!(
            attack.text().contains("evil"),
            "{name}: the upstream reflects it"
        );
        assert!(!plain.text().contains("evil"), "{name} poisoned the entry");
        assert!(!again.text().contains("evil"), "{name} poisoned the entry");
        assert_eq!(
            upstream.hits_for(&path),
            2,
            "{name}: attack and first plain request"
        );
    }
}

#[test]
fn hosts_are_kept_apart_and_spelled_alike_hosts_share() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);

    let a = Request::get("/home")
        .header("host", "a.example")
        .send(envoy.port);
    let b = Request::get("/home")
        .header("host", "b.example")
        .send(envoy.port);
    let a_again = Request::get("/home")
        .header("host", "A.EXAMPLE:80")
        .send(envoy.port);

    assert!(a.text().contains("host=a.example") || a.text().contains(":authority=a.example"));
    assert!(
        !b.text().contains("a.example"),
        "b got a's page: {}",
        b.text()
    );
    assert_eq!(a_again.text(), a.text());
    assert_eq!(upstream.hits_for("/home"), 2);
}

#[test]
fn parameter_cloaking_does_not_reach_the_plain_entry() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);
    let cloaked = [
        // A framework splitting on `;` reads callback=evil; the tracking parameter must not
        // be dropped from the key with it.
        ("/search?q=1&utm_content=x;callback=evil", "/search?q=1"),
        // `%26` is not a separator here, and not for the key either.
        ("/find?q=1%26callback=evil", "/find?q=1"),
        // Repeated names keep their order: the application may take the last one.
        ("/list?id=1&id=evil", "/list?id=evil&id=1"),
        // A path parameter is part of the path.
        ("/item;callback=evil?id=1", "/item?id=1"),
    ];

    for (attack_path, plain_path) in cloaked {
        let attack = Request::get(attack_path).send(envoy.port);
        let plain = victim(&envoy, plain_path);

        assert!(attack.text().contains("evil"));
        assert!(
            !plain.text().contains(attack_path),
            "{plain_path} got the answer to {attack_path}"
        );
    }
}

#[test]
fn tracking_parameters_alone_still_share_an_entry() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);

    let first = victim(&envoy, "/landing?utm_source=mail&id=7");
    let second = victim(&envoy, "/landing?id=7&utm_campaign=winter");

    assert_eq!(second.text(), first.text());
    assert_eq!(upstream.hits_for("/landing"), 1);
}

#[test]
fn a_response_meant_for_a_cookie_or_an_authorization_is_never_replayed() {
    let upstream = Upstream::start(|request: &RecordedRequest| {
        let who = request
            .header("cookie")
            .or_else(|| request.header("authorization"))
            .unwrap_or_else(|| "anonymous".to_string());
        Reply::ok("application/json", format!("data of {who}"))
            .header("cache-control", "max-age=60")
    });
    let envoy = envoy(&upstream);

    Request::get("/me")
        .header("cookie", "sid=ALICE")
        .send(envoy.port);
    Request::get("/me")
        .header("authorization", "Bearer BOB")
        .send(envoy.port);
    let anonymous = victim(&envoy, "/me");
    let carol = Request::get("/me")
        .header("authorization", "Bearer CAROL")
        .send(envoy.port);

    assert_eq!(anonymous.text(), "data of anonymous");
    assert_eq!(carol.text(), "data of Bearer CAROL");
    assert_eq!(upstream.hits_for("/me"), 4);
}

#[test]
fn a_head_answer_or_an_error_never_stands_in_for_a_page() {
    let upstream = Upstream::start(|request: &RecordedRequest| match request.path_only() {
        "/flaky" if request.header("x-test-fail").is_some() => Reply::new(500)
            .header("cache-control", "public, max-age=60")
            .body("boom"),
        _ => Reply::ok("text/plain", "the page").header("cache-control", "public, max-age=60"),
    });
    let envoy = envoy(&upstream);

    let head = Request::head("/doc").send(envoy.port);
    let get = victim(&envoy, "/doc");
    Request::get("/flaky")
        .header("x-test-fail", "1")
        .send(envoy.port);
    let flaky = victim(&envoy, "/flaky");

    assert!(head.body.is_empty());
    assert_eq!(get.text(), "the page");
    assert_eq!(flaky.status, 200);
    assert_eq!(flaky.text(), "the page");
}

#[test]
fn forwarded_proto_is_part_of_the_key_and_other_forwarding_headers_bypass() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);

    let spoofed = Request::get("/page/proto")
        .header("x-forwarded-proto", "https-evil")
        .send(envoy.port);
    let plain = victim(&envoy, "/page/proto");
    let prefixed = Request::get("/page/prefix")
        .header("x-forwarded-prefix", "/evil")
        .send(envoy.port);
    let plain_prefix = victim(&envoy, "/page/prefix");

    assert!(spoofed.text().contains("https-evil"));
    assert!(!plain.text().contains("evil"), "{}", plain.text());
    assert!(prefixed.text().contains("/evil"));
    assert!(
        !plain_prefix.text().contains("evil"),
        "{}",
        plain_prefix.text()
    );
}

#[test]
fn requests_with_other_credentials_headers_bypass_the_cache() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);

    for (i, name) in [
        "x-api-key",
        "api-key",
        "x-auth-token",
        "proxy-authorization",
    ]
    .iter()
    .enumerate()
    {
        let path = format!("/account/{i}");
        Request::get(&path)
            .header(name, "VICTIM-KEY")
            .send(envoy.port);
        let attacker = victim(&envoy, &path);

        assert!(!attacker.text().contains("VICTIM-KEY"), "{name} leaked");
    }
}

#[test]
fn paths_the_upstream_could_resolve_elsewhere_bypass_the_cache() {
    let upstream = reflecting_upstream();
    let envoy = envoy(&upstream);

    for path in [
        "/api/../account/settings",
        "/api/%2e%2e/account",
        "/api/a%2fb",
    ] {
        Request::get(path).send(envoy.port);
        let again = Request::get(path).send(envoy.port);

        assert_eq!(
            again.header("cache-status"),
            Some("edge-optimizer; fwd=bypass"),
            "{path} used the cache"
        );
    }
}
