//! The Prometheus files we ship are checked by promtool, and every dashboard and alert
//! expression is evaluated by a real Prometheus scraping a real Envoy running the module.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::envoy::project_root;
use support::free_port;
use support::{Envoy, EnvoyOptions, Reply, Request, Upstream};

fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(project_root())
        .output()
        .expect("promtool (Debian's prometheus package; scripts/prometheus.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn the_scrape_config_is_valid_and_scrapes_envoy_every_30_seconds() {
    promtool(&["check", "config", "envoy/prometheus.yml"]);

    let config = std::fs::read_to_string(project_root().join("envoy/prometheus.yml")).unwrap();
    assert!(config.contains("metrics_path: /stats/prometheus"));
    assert!(config.contains("scrape_interval: 30s"));
    assert!(config.contains("scrape_timeout: 10s"));
}

#[test]
fn the_alert_rules_are_valid_and_pass_their_unit_tests() {
    let checked = promtool(&["check", "rules", "envoy/alerts.yml"]);
    assert!(checked.contains("9 rules found"), "{checked}");

    let tested = promtool(&["test", "rules", "envoy/alerts_test.yml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");
}

#[test]
fn every_alert_has_a_severity_and_a_test() {
    let rules = std::fs::read_to_string(project_root().join("envoy/alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(project_root().join("envoy/alerts_test.yml")).unwrap();

    let names: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert_eq!(names.len(), 9);
    for name in names {
        assert!(
            tests.contains(&format!("alertname: {name}")),
            "{name} has no test"
        );
    }
    let severities =
        rules.matches("severity: warning").count() + rules.matches("severity: critical").count();
    assert_eq!(severities, 9);
}

/// A Prometheus server of our own on loopback, stopped when dropped.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(envoy_admin_port: u16) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  \
             - job_name: envoy\n    metrics_path: /stats/prometheus\n    static_configs:\n      \
             - targets: [\"127.0.0.1:{envoy_admin_port}\"]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus (Debian's prometheus package)");
        let prometheus = Prometheus {
            child,
            port,
            _dir: dir,
        };
        wait_for("Prometheus to be ready", || {
            Request::get("/-/ready")
                .try_send(prometheus.port)
                .is_ok_and(|r| r.status == 200)
        });
        prometheus
    }

    /// The values of an instant query, one per returned series.
    fn query(&self, expression: &str) -> Vec<f64> {
        let path = format!("/api/v1/query?query={}", percent_encode(expression));
        let response = Request::get(&path).send(self.port);
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["status"], "success", "{expression}: {json}");
        json["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sample| sample["value"][1].as_str().unwrap().parse::<f64>().unwrap())
            .collect()
    }

    /// The single value of a query, once it is what `ready` accepts.
    fn settled(&self, expression: &str, ready: impl Fn(f64) -> bool) -> f64 {
        let mut last = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            last = self.query(expression);
            if let [value] = last[..] {
                if ready(value) {
                    return value;
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("{expression} never settled; last result {last:?}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every PromQL expression of the dashboard.
fn dashboard_expressions(path: &Path) -> Vec<String> {
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().clone())
        .map(|target| target["expr"].as_str().unwrap().to_string())
        .collect()
}

/// Every alert expression without its threshold, so it yields a value whether or not the
/// alert fires.
fn alert_measures(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr: "))
        .map(|expr| {
            let cut = expr
                .rfind([' '])
                .and_then(|i| expr[..i].rfind([' ']))
                .unwrap();
            let (measure, threshold) = expr.split_at(cut);
            assert!(
                threshold.trim_start().starts_with(['>', '<']),
                "{expr} should end with a comparison"
            );
            measure.to_string()
        })
        .collect()
}

#[test]
fn the_dashboard_uses_a_datasource_variable() {
    let text =
        std::fs::read_to_string(project_root().join("envoy/grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();

    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables
        .iter()
        .any(|v| v["type"] == "datasource" && v["name"] == "datasource"));
    for panel in dashboard["panels"].as_array().unwrap() {
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
    }
}

#[test]
fn a_real_prometheus_reads_every_dashboard_and_alert_expression_from_envoy() {
    let upstream = Upstream::start(|request| match request.path_only() {
        "/health" => Reply::ok("application/json", "{\"status\":\"ok\"}"),
        "/broken" => Reply::new(503).body("down"),
        "/page" => Reply::ok("text/html", "<p>compress me</p>".repeat(500)),
        _ => Reply::ok("application/json", "{\"item\":1}").header("cache-control", "max-age=60"),
    });
    let envoy = Envoy::start(upstream.port, &EnvoyOptions::default());
    let prometheus = Prometheus::start(envoy.admin_port);
    prometheus.settled("up{job=\"envoy\"}", |up| up == 1.0);

    // 4 query-cache lookups (1 miss, 3 hits), 5 health probes (1 miss, 4 hits), 2 favicons,
    // 2 compressed pages and 1 error: 14 requests.
    for _ in 0..4 {
        Request::get("/api/items?page=1").send(envoy.port);
    }
    for _ in 0..5 {
        Request::get("/health").send(envoy.port);
    }
    for _ in 0..2 {
        Request::get("/favicon.ico").send(envoy.port);
        Request::get("/page")
            .header("accept-encoding", "gzip")
            .send(envoy.port);
    }
    Request::get("/broken").send(envoy.port);
    prometheus.settled("sum(edge_http_requests_total)", |n| n == 14.0);
    prometheus.settled("sum(edge_http_request_duration_microseconds_count)", |n| {
        n == 14.0
    });

    let root = project_root();
    let mut expressions = dashboard_expressions(&root.join("envoy/grafana-dashboard.json"));
    expressions.extend(alert_measures(&root.join("envoy/alerts.yml")));
    assert_eq!(expressions.len(), 16 + 9);
    for expression in &expressions {
        let values = prometheus.query(expression);
        assert!(!values.is_empty(), "{expression} returned no sample");
        assert!(
            values.iter().all(|v| v.is_finite() && *v >= 0.0),
            "{expression}: {values:?}"
        );
    }

    let hit_rate = |cache: &str| {
        format!(
            "sum(rate(edge_{cache}_hits_total[5m])) / (sum(rate(edge_{cache}_hits_total[5m])) \
             + sum(rate(edge_{cache}_misses_total[5m])))"
        )
    };
    let query_hit_rate = prometheus.query(&hit_rate("query_cache"))[0];
    assert!(
        (query_hit_rate - 0.75).abs() < 0.01,
        "query-cache hit rate {query_hit_rate}"
    );
    let health_hit_rate = prometheus.query(&hit_rate("health_cache"))[0];
    assert!(
        (health_hit_rate - 0.8).abs() < 0.01,
        "health hit rate {health_hit_rate}"
    );
    let error_share = prometheus.query(
        "sum(rate(edge_http_responses_total{status_class=\"5xx\"}[5m])) \
         / sum(rate(edge_http_responses_total[5m]))",
    )[0];
    assert!(
        (error_share - 1.0 / 14.0).abs() < 0.01,
        "5xx share {error_share}"
    );
    let ratio = prometheus.query(
        "sum(rate(edge_compression_bytes_out_total[5m])) \
         / sum(rate(edge_compression_bytes_in_total[5m]))",
    )[0];
    assert!(ratio > 0.0 && ratio < 0.2, "compression ratio {ratio}");
    let memory = prometheus.query("max(envoy_server_memory_allocated)")[0];
    assert!(memory > 1e6, "Envoy memory {memory}");
}
