use super::*;

fn rejection(json: &str) -> ConfigError {
    match Config::from_json(json.as_bytes()) {
        Ok(_) => panic!("{json} should be refused"),
        Err(e) => e,
    }
}

#[test]
fn missing_or_empty_configuration_means_the_documented_defaults() {
    for json in ["", "  \n", "{}"] {
        let config = Config::from_json(json.as_bytes()).unwrap();

        assert!(config.favicon.enabled);
        assert_eq!(config.favicon.path, "/favicon.ico");
        assert!(config.favicon.body.is_empty());
        assert_eq!(config.favicon.content_type, "image/x-icon");
        assert_eq!(config.favicon.max_age_secs, 86400);
        assert_eq!(config.health.paths, vec!["/health"]);
        assert_eq!(config.health.ttl, Duration::from_secs(5));
        assert_eq!(config.health.failure_ttl, Duration::from_secs(1));
        assert_eq!(config.query_cache.prefixes, vec!["/api/"]);
        assert_eq!(config.query_cache.max_entries, 1000);
        assert_eq!(config.query_cache.max_bytes, 67_108_864);
        assert_eq!(config.query_cache.max_entry_bytes, 1_048_576);
        assert_eq!(config.query_cache.default_ttl, Duration::from_secs(3600));
        assert_eq!(config.query_cache.ignored_query_params.len(), 7);
        assert_eq!(config.query_cache.sweep_interval, Duration::from_secs(300));
        assert_eq!(config.compression.encodings, vec![Encoding::Gzip]);
        assert_eq!(config.compression.gzip_level, 6);
        assert_eq!(config.compression.brotli_quality, 5);
        assert_eq!(config.compression.min_length, 1024);
        assert_eq!(config.compression.content_types.len(), 7);
        assert_eq!(config.metrics.prefix, "edge_");
    }
}

#[test]
fn the_documented_full_example_is_accepted() {
    let json = r#"{
      "favicon": {"enabled": true, "path": "/favicon.ico", "body_base64": "AAAB",
                  "content_type": "image/x-icon", "max_age": 86400},
      "health": {"enabled": true, "paths": ["/health", "/ready"], "ttl": "5s",
                 "failure_ttl": "1s"},
      "query_cache": {"enabled": true, "prefixes": ["/api/"], "max_entries": 1000,
                      "max_bytes": 67108864, "max_entry_bytes": 1048576, "default_ttl": "1h",
                      "ignored_query_params": ["utm_source"], "sweep_interval": "5m"},
      "compression": {"enabled": true, "encodings": ["br", "gzip"], "gzip_level": 6,
                      "brotli_quality": 5, "min_length": 1024,
                      "content_types": ["text/*", "Application/JSON"]},
      "metrics": {"prefix": "edge_"}
    }"#;

    let config = Config::from_json(json.as_bytes()).unwrap();

    assert_eq!(config.favicon.body, vec![0, 0, 1]);
    assert_eq!(config.health.paths, vec!["/health", "/ready"]);
    assert_eq!(
        config.compression.encodings,
        vec![Encoding::Brotli, Encoding::Gzip]
    );
    assert_eq!(
        config.compression.content_types,
        vec!["text/*", "application/json"]
    );
}

#[test]
fn fields_left_out_keep_their_defaults() {
    let config = Config::from_json(br#"{"favicon": {"max_age": 60}}"#).unwrap();

    assert_eq!(config.favicon.max_age_secs, 60);
    assert_eq!(config.favicon.path, "/favicon.ico");
    assert!(config.query_cache.enabled);
}

#[test]
fn every_rejection_names_its_field() {
    // One line per rule: the JSON, then the field the error must name.
    let cases = [
        // Not JSON, or not an object.
        (r#"{"favicon": "#, ""),
        (r#"{"favicon": []}"#, "favicon"),
        (r#"{"favicon": true}"#, "favicon"),
        (r#"[]"#, ""),
        (r#"{} {}"#, ""),
        // Unknown fields, at every level.
        (r#"{"favicons": {}}"#, "favicons"),
        (r#"{"favicon": {"maxage": 5}}"#, "favicon.maxage"),
        (r#"{"query_cache": {"size": 5}}"#, "query_cache.size"),
        // Wrong types.
        (r#"{"favicon": {"enabled": "yes"}}"#, "favicon.enabled"),
        (r#"{"favicon": {"max_age": "60"}}"#, "favicon.max_age"),
        (r#"{"health": {"paths": "/health"}}"#, "health.paths"),
        (
            r#"{"query_cache": {"max_entries": 1.5}}"#,
            "query_cache.max_entries",
        ),
        (
            r#"{"compression": {"gzip_level": null}}"#,
            "compression.gzip_level",
        ),
        // favicon ranges.
        (r#"{"favicon": {"max_age": -1}}"#, "favicon.max_age"),
        (r#"{"favicon": {"max_age": 31536001}}"#, "favicon.max_age"),
        (r#"{"favicon": {"path": "favicon.ico"}}"#, "favicon.path"),
        (r#"{"favicon": {"path": "/fav icon"}}"#, "favicon.path"),
        (
            r#"{"favicon": {"body_base64": "not base64!"}}"#,
            "favicon.body_base64",
        ),
        (
            r#"{"favicon": {"content_type": ""}}"#,
            "favicon.content_type",
        ),
        (
            r#"{"favicon": {"content_type": "a\nb"}}"#,
            "favicon.content_type",
        ),
        // health ranges.
        (r#"{"health": {"paths": []}}"#, "health.paths"),
        (r#"{"health": {"paths": ["health"]}}"#, "health.paths[0]"),
        (r#"{"health": {"ttl": "5"}}"#, "health.ttl"),
        (r#"{"health": {"ttl": "2h"}}"#, "health.ttl"),
        (
            r#"{"health": {"failure_ttl": "-1s"}}"#,
            "health.failure_ttl",
        ),
        // query cache ranges.
        (
            r#"{"query_cache": {"prefixes": []}}"#,
            "query_cache.prefixes",
        ),
        (
            r#"{"query_cache": {"prefixes": [""]}}"#,
            "query_cache.prefixes[0]",
        ),
        (
            r#"{"query_cache": {"prefixes": ["/a", "b"]}}"#,
            "query_cache.prefixes[1]",
        ),
        (
            r#"{"query_cache": {"max_entries": 0}}"#,
            "query_cache.max_entries",
        ),
        (
            r#"{"query_cache": {"max_bytes": 0}}"#,
            "query_cache.max_bytes",
        ),
        (
            r#"{"query_cache": {"max_entry_bytes": 0}}"#,
            "query_cache.max_entry_bytes",
        ),
        (
            r#"{"query_cache": {"max_bytes": 10, "max_entry_bytes": 11}}"#,
            "query_cache.max_entry_bytes",
        ),
        (
            r#"{"query_cache": {"default_ttl": "31d"}}"#,
            "query_cache.default_ttl",
        ),
        (
            r#"{"query_cache": {"default_ttl": "721h"}}"#,
            "query_cache.default_ttl",
        ),
        (
            r#"{"query_cache": {"sweep_interval": "500ms"}}"#,
            "query_cache.sweep_interval",
        ),
        (
            r#"{"query_cache": {"sweep_interval": "2h"}}"#,
            "query_cache.sweep_interval",
        ),
        (
            r#"{"query_cache": {"ignored_query_params": [""]}}"#,
            "query_cache.ignored_query_params[0]",
        ),
        // compression ranges.
        (
            r#"{"compression": {"encodings": []}}"#,
            "compression.encodings",
        ),
        (
            r#"{"compression": {"encodings": ["deflate"]}}"#,
            "compression.encodings[0]",
        ),
        (
            r#"{"compression": {"encodings": ["gzip", "gzip"]}}"#,
            "compression.encodings[1]",
        ),
        (
            r#"{"compression": {"gzip_level": 0}}"#,
            "compression.gzip_level",
        ),
        (
            r#"{"compression": {"gzip_level": 10}}"#,
            "compression.gzip_level",
        ),
        (
            r#"{"compression": {"brotli_quality": 12}}"#,
            "compression.brotli_quality",
        ),
        (
            r#"{"compression": {"min_length": -1}}"#,
            "compression.min_length",
        ),
        (
            r#"{"compression": {"content_types": []}}"#,
            "compression.content_types",
        ),
        (
            r#"{"compression": {"content_types": ["json"]}}"#,
            "compression.content_types[0]",
        ),
        (
            r#"{"compression": {"content_types": ["*/*x"]}}"#,
            "compression.content_types[0]",
        ),
        // metrics.
        (r#"{"metrics": {"prefix": "Edge-"}}"#, "metrics.prefix"),
    ];

    for (json, field) in cases {
        let error = rejection(json);

        assert_eq!(error.field, field, "{json} -> {error}");
        assert!(!error.reason.is_empty(), "{json}");
    }
}

#[test]
fn the_error_line_reads_field_then_reason() {
    let error = rejection(r#"{"favicon": {"max_age": -1}}"#);

    assert_eq!(
        error.to_string(),
        "favicon.max_age: -1 is out of range, expected 0 to 31536000"
    );
}

#[test]
fn duration_ranges_read_as_the_configuration_writes_them() {
    let error = rejection(r#"{"health": {"ttl": "2h"}}"#);

    assert_eq!(error.reason, "\"2h\" is out of range, expected 0s to 1h");
}

#[test]
fn a_disabled_health_check_may_have_no_paths() {
    let config = Config::from_json(br#"{"health": {"enabled": false, "paths": []}}"#).unwrap();

    assert!(!config.health.enabled);
}

#[test]
fn zero_ttls_are_allowed_and_turn_that_side_off() {
    let config = Config::from_json(br#"{"health": {"ttl": "0s", "failure_ttl": "0ms"}}"#).unwrap();

    assert_eq!(config.health.ttl, Duration::ZERO);
    assert_eq!(config.health.failure_ttl, Duration::ZERO);
}
