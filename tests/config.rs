//! A bad plugin configuration is refused: Envoy does not start, and its log names the field.
//! A missing or empty one means every default.

mod support;

use support::{Envoy, EnvoyOptions, Reply, Request, Upstream};

fn refusal_log(config: &str) -> String {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", "ok"));
    match Envoy::try_start(upstream.port, &EnvoyOptions::with_config(config)) {
        Ok(_) => panic!("Envoy started with {config}"),
        Err(log) => log,
    }
}

#[test]
fn an_out_of_range_value_stops_envoy_and_the_log_names_the_field() {
    let log = refusal_log(r#"{"favicon": {"max_age": -1}}"#);

    assert!(
        log.contains("edge-optimizer configuration refused: favicon.max_age: -1 is out of range"),
        "{log}"
    );
}

#[test]
fn an_unknown_field_stops_envoy_and_the_log_names_it() {
    let log = refusal_log(r#"{"query_cache": {"max_size": 5}}"#);

    assert!(
        log.contains("configuration refused: query_cache.max_size: unknown field"),
        "{log}"
    );
}

#[test]
fn a_wrong_type_stops_envoy_and_the_log_names_the_field() {
    let log = refusal_log(r#"{"health": {"ttl": 5}}"#);

    assert!(
        log.contains("configuration refused: health.ttl: invalid type"),
        "{log}"
    );
}

#[test]
fn text_that_is_not_json_stops_envoy() {
    let log = refusal_log("favicon: on");

    assert!(
        log.contains("edge-optimizer configuration refused"),
        "{log}"
    );
}

#[test]
fn missing_and_empty_configurations_mean_the_defaults() {
    for plugin_config in [None, Some(String::new()), Some("{}".to_string())] {
        let upstream = Upstream::start(|_| Reply::ok("text/plain", "ok"));
        let options = EnvoyOptions {
            plugin_config: plugin_config.clone(),
            ..EnvoyOptions::default()
        };
        let envoy = Envoy::start(upstream.port, &options);

        let favicon = Request::get("/favicon.ico").send(envoy.port);

        assert_eq!(favicon.status, 204, "{plugin_config:?}");
        assert_eq!(
            favicon.header("cache-control"),
            Some("public, max-age=86400")
        );
        assert_eq!(upstream.hits(), 0);
    }
}
