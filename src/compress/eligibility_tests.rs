use super::*;
use crate::config::Config;

fn config() -> CompressionConfig {
    Config::from_json(b"{}").unwrap().compression
}

/// A response every rule lets through: 200 JSON of 8 KiB.
fn compressible() -> ResponseFacts {
    ResponseFacts::from_headers(
        &[
            (":status".to_string(), "200".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
            ("content-length".to_string(), "8192".to_string()),
        ],
        false,
    )
}

const GZIP_GET: RequestFacts = RequestFacts {
    negotiated: Some(Encoding::Gzip),
    is_head: false,
    accepts_trailers: false,
};

fn decide_with(change: impl Fn(&mut ResponseFacts)) -> Decision {
    let mut response = compressible();
    change(&mut response);
    decide(&config(), &GZIP_GET, &response)
}

const GZIP: Decision = Decision::Compress(Encoding::Gzip);

#[test]
fn the_baseline_response_is_compressed() {
    assert_eq!(decide(&config(), &GZIP_GET, &compressible()), GZIP);
}

#[test]
fn status_rules() {
    // One line per status: decision. Statuses without content or partial stay identity.
    let cases = [
        (200, GZIP),
        (201, GZIP),
        (404, GZIP),
        (500, GZIP),
        (100, Decision::Identity(Skip::StatusWithoutBody)),
        (103, Decision::Identity(Skip::StatusWithoutBody)),
        (204, Decision::Identity(Skip::StatusWithoutBody)),
        (304, Decision::Identity(Skip::StatusWithoutBody)),
        (206, Decision::Identity(Skip::Partial)),
    ];
    for (status, expected) in cases {
        assert_eq!(decide_with(|r| r.status = status), expected, "{status}");
    }
}

#[test]
fn content_range_rule() {
    let cases = [(false, GZIP), (true, Decision::Identity(Skip::Partial))];
    for (has_range, expected) in cases {
        assert_eq!(decide_with(|r| r.has_content_range = has_range), expected);
    }
}

#[test]
fn head_rule() {
    // One line per method: is HEAD, decision.
    let cases = [(false, GZIP), (true, Decision::Identity(Skip::HeadRequest))];
    for (is_head, expected) in cases {
        let request = RequestFacts {
            is_head,
            ..GZIP_GET
        };
        assert_eq!(decide(&config(), &request, &compressible()), expected);
    }
}

#[test]
fn ends_at_headers_rule() {
    let cases = [
        (false, GZIP),
        (true, Decision::Identity(Skip::EndsAtHeaders)),
    ];
    for (ends, expected) in cases {
        assert_eq!(decide_with(|r| r.ends_at_headers = ends), expected);
    }
}

#[test]
fn content_encoding_rule() {
    // One line per upstream Content-Encoding members: decision.
    let cases: [(&[&str], Decision); 7] = [
        (&[], GZIP),
        (&["identity"], GZIP),
        (&["IDENTITY"], GZIP),
        (&["gzip"], Decision::Identity(Skip::AlreadyEncoded)),
        (&["br"], Decision::Identity(Skip::AlreadyEncoded)),
        (
            &["identity", "gzip"],
            Decision::Identity(Skip::AlreadyEncoded),
        ),
        (&["x-custom"], Decision::Identity(Skip::AlreadyEncoded)),
    ];
    for (codings, expected) in cases {
        let decision =
            decide_with(|r| r.content_encodings = codings.iter().map(|c| c.to_string()).collect());
        assert_eq!(decision, expected, "{codings:?}");
    }
}

#[test]
fn no_transform_rule() {
    // One line per Cache-Control: decision.
    let cases = [
        ("", GZIP),
        ("public, max-age=60", GZIP),
        ("no-transform", Decision::Identity(Skip::NoTransform)),
        (
            "public, max-age=60, No-Transform",
            Decision::Identity(Skip::NoTransform),
        ),
    ];
    for (value, expected) in cases {
        let decision = decide_with(|r| r.cache_control = CacheControl::parse([value]));
        assert_eq!(decision, expected, "{value:?}");
    }
}

#[test]
fn media_type_rule() {
    // One line per Content-Type: decision with the default list.
    let cases = [
        ("application/json", GZIP),
        ("application/json; charset=utf-8", GZIP),
        ("Application/JSON;charset=UTF-8", GZIP),
        ("text/html ;charset=iso-8859-1", GZIP),
        ("text/csv", GZIP),
        ("image/svg+xml", GZIP),
        (
            "application/jsonp",
            Decision::Untouched(Skip::MediaTypeNotListed),
        ),
        (
            "application/json-seq",
            Decision::Untouched(Skip::MediaTypeNotListed),
        ),
        ("image/png", Decision::Untouched(Skip::MediaTypeNotListed)),
        (
            "application/octet-stream",
            Decision::Untouched(Skip::MediaTypeNotListed),
        ),
        (
            "text/event-stream",
            Decision::Untouched(Skip::StreamingMediaType),
        ),
        (
            "text/event-stream; charset=utf-8",
            Decision::Untouched(Skip::StreamingMediaType),
        ),
        (
            "application/grpc",
            Decision::Untouched(Skip::StreamingMediaType),
        ),
        (
            "application/grpc+proto",
            Decision::Untouched(Skip::StreamingMediaType),
        ),
        (
            "application/grpc-web-text",
            Decision::Untouched(Skip::StreamingMediaType),
        ),
        ("nonsense", Decision::Untouched(Skip::NoMediaType)),
    ];
    for (content_type, expected) in cases {
        let decision = decide_with(|r| r.content_type = Some(content_type.to_string()));
        assert_eq!(decision, expected, "{content_type:?}");
    }
    assert_eq!(
        decide_with(|r| r.content_type = None),
        Decision::Untouched(Skip::NoMediaType)
    );
}

#[test]
fn streaming_media_types_are_never_compressed_even_when_listed() {
    let mut config = config();
    config.content_types = vec!["text/event-stream".into(), "application/*".into()];

    for content_type in ["text/event-stream", "application/grpc"] {
        let mut response = compressible();
        response.content_type = Some(content_type.to_string());

        assert_eq!(
            decide(&config, &GZIP_GET, &response),
            Decision::Untouched(Skip::StreamingMediaType)
        );
    }
}

#[test]
fn min_length_rule() {
    // One line per Content-Length (min_length is 1024): decision. Unknown lengths compress.
    let cases = [
        (None, GZIP),
        (Some(1024), GZIP),
        (Some(1_000_000), GZIP),
        (Some(1023), Decision::Identity(Skip::TooShort)),
        (Some(1), Decision::Identity(Skip::TooShort)),
        (Some(0), Decision::Identity(Skip::TooShort)),
    ];
    for (length, expected) in cases {
        assert_eq!(
            decide_with(|r| r.content_length = length),
            expected,
            "{length:?}"
        );
    }
}

#[test]
fn trailers_rule() {
    // One line per case: upstream sent `Trailer`, client sent `TE: trailers`, decision.
    let cases = [
        (false, false, GZIP),
        (true, false, Decision::Identity(Skip::Trailers)),
        (false, true, Decision::Identity(Skip::Trailers)),
        (true, true, Decision::Identity(Skip::Trailers)),
    ];
    for (announces, accepts, expected) in cases {
        let request = RequestFacts {
            accepts_trailers: accepts,
            ..GZIP_GET
        };
        let mut response = compressible();
        response.announces_trailers = announces;

        assert_eq!(
            decide(&config(), &request, &response),
            expected,
            "{announces} {accepts}"
        );
    }
}

#[test]
fn negotiation_rule() {
    // One line per negotiated coding: decision.
    let cases = [
        (Some(Encoding::Gzip), GZIP),
        (Some(Encoding::Brotli), Decision::Compress(Encoding::Brotli)),
        (None, Decision::Identity(Skip::ClientWantsIdentity)),
    ];
    for (negotiated, expected) in cases {
        let request = RequestFacts {
            negotiated,
            ..GZIP_GET
        };
        assert_eq!(decide(&config(), &request, &compressible()), expected);
    }
}

#[test]
fn disabled_compression_leaves_everything_untouched() {
    let mut config = config();
    config.enabled = false;

    assert_eq!(
        decide(&config, &GZIP_GET, &compressible()),
        Decision::Untouched(Skip::Disabled)
    );
}

#[test]
fn facts_are_read_from_headers_in_any_case_and_over_several_lines() {
    let headers: Vec<(String, String)> = [
        (":status", "206"),
        ("Content-Type", "text/plain"),
        ("Content-Encoding", "identity"),
        ("content-encoding", "gzip, br"),
        ("Cache-Control", "public"),
        ("cache-control", "no-transform"),
        ("Content-Length", " 1024 "),
        ("Content-Range", "bytes 0-1023/100000"),
        ("Trailer", "grpc-status"),
        ("ETag", "\"v1\""),
        ("Vary", "Origin"),
        ("vary", "Cookie"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();

    let facts = ResponseFacts::from_headers(&headers, true);

    assert_eq!(facts.status, 206);
    assert_eq!(facts.content_type.as_deref(), Some("text/plain"));
    assert_eq!(facts.content_encodings, ["identity", "gzip", "br"]);
    assert!(facts.cache_control.has("no-transform"));
    assert_eq!(facts.content_length, Some(1024));
    assert!(facts.has_content_range);
    assert!(facts.announces_trailers);
    assert_eq!(facts.etag.as_deref(), Some("\"v1\""));
    assert_eq!(facts.vary, ["Origin", "Cookie"]);
    assert!(facts.ends_at_headers);
}

#[test]
fn malformed_content_lengths_are_unknown() {
    for value in ["", "-1", "1e3", "12 34", "0x10", "99999999999999999999999"] {
        let headers = [("content-length".to_string(), value.to_string())];

        assert_eq!(
            ResponseFacts::from_headers(&headers, false).content_length,
            None,
            "{value:?}"
        );
    }
}
