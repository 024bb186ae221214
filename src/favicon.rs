//! Answering `/favicon.ico` at the edge. Browsers ask for it on their own; forwarded to an
//! API it only makes 404 noise, so the filter answers with the configured icon (`200`) or,
//! with none configured, `204 No Content`.

use crate::config::FaviconConfig;
use crate::local_reply::LocalReply;

/// Whether the filter answers this request itself: a GET or HEAD whose path, without the
/// query, is exactly the configured one. Other methods go upstream, which owns the answer
/// (typically 405). The path is compared as received, so `/favicon.ico/../x` is not it.
pub fn is_favicon_request(config: &FaviconConfig, method: &str, path: &str) -> bool {
    let path_only = path.split_once('?').map_or(path, |(p, _)| p);
    config.enabled && (method == "GET" || method == "HEAD") && path_only == config.path
}

/// The icon, or `204` when none is configured; both may be cached by browsers and CDNs.
pub fn favicon_reply(config: &FaviconConfig) -> LocalReply {
    let cache_control = format!("public, max-age={}", config.max_age_secs);

    if config.body.is_empty() {
        return LocalReply {
            status: 204,
            headers: vec![("cache-control".to_string(), cache_control)],
            body: Vec::new(),
        };
    }

    LocalReply {
        status: 200,
        headers: vec![
            ("cache-control".to_string(), cache_control),
            ("content-type".to_string(), config.content_type.clone()),
        ],
        body: config.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn favicon_config(json: &str) -> FaviconConfig {
        Config::from_json(json.as_bytes()).unwrap().favicon
    }

    #[test]
    fn which_requests_are_answered() {
        let config = favicon_config("{}");
        // One line per rule: method, path, answered by the filter?
        let cases = [
            ("GET", "/favicon.ico", true),
            ("HEAD", "/favicon.ico", true),
            ("GET", "/favicon.ico?v=3", true),
            ("POST", "/favicon.ico", false),
            ("DELETE", "/favicon.ico", false),
            ("GET", "/static/favicon.ico", false),
            ("GET", "/favicon.icon", false),
            ("GET", "/favicon.ico/", false),
            ("GET", "/favicon.ico/../admin", false),
            ("GET", "/FAVICON.ICO", false),
            ("GET", "/favicon.ico#x", false),
            ("GET", "", false),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                is_favicon_request(&config, method, path),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn a_disabled_favicon_is_never_answered() {
        let config = favicon_config(r#"{"favicon": {"enabled": false}}"#);

        assert!(!is_favicon_request(&config, "GET", "/favicon.ico"));
    }

    #[test]
    fn a_configured_path_replaces_the_default() {
        let config = favicon_config(r#"{"favicon": {"path": "/img/icon.png"}}"#);

        assert!(is_favicon_request(&config, "GET", "/img/icon.png"));
        assert!(!is_favicon_request(&config, "GET", "/favicon.ico"));
    }

    #[test]
    fn no_icon_answers_204_with_cache_control_and_no_content_type() {
        let reply = favicon_reply(&favicon_config("{}"));

        assert_eq!(reply.status, 204);
        assert_eq!(reply.header("cache-control"), Some("public, max-age=86400"));
        assert_eq!(reply.header("content-type"), None);
        assert!(reply.body.is_empty());
    }

    #[test]
    fn a_configured_icon_answers_200_with_its_bytes_and_type() {
        let config = favicon_config(
            r#"{"favicon": {"body_base64": "AAABAA==", "content_type": "image/png",
                            "max_age": 60}}"#,
        );

        let reply = favicon_reply(&config);

        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, vec![0, 0, 1, 0]);
        assert_eq!(reply.header("content-type"), Some("image/png"));
        assert_eq!(reply.header("cache-control"), Some("public, max-age=60"));
    }
}
