//! A real Envoy running the real module, one per test: its own temporary folder, free ports
//! chosen by the kernel, no hot restart, and killed when the value is dropped (also when the
//! test panics). Readiness is polled, never slept for.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::client::Request;

/// How a test wants its Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// The plugin configuration (JSON), or None for no configuration at all.
    pub plugin_config: Option<String>,
    /// Worker threads, hence module VMs.
    pub concurrency: u32,
    /// Envoy's per-connection buffer limit on the edge listener and upstream cluster.
    pub buffer_limit_bytes: u32,
    /// The wasm runtime: `v8`, `wamr` or `wasmtime`.
    pub runtime: String,
    /// Whether the bootstrap carries the tag rule that turns the status class into a label.
    pub status_class_tag: bool,
    /// Whether Envoy speaks HTTP/2 to the upstream (cleartext, prior knowledge).
    pub upstream_http2: bool,
}

impl Default for EnvoyOptions {
    fn default() -> Self {
        EnvoyOptions {
            plugin_config: Some("{}".to_string()),
            concurrency: 1,
            buffer_limit_bytes: 1024 * 1024,
            runtime: "v8".to_string(),
            status_class_tag: true,
            upstream_http2: false,
        }
    }
}

impl EnvoyOptions {
    pub fn with_config(config: &str) -> EnvoyOptions {
        EnvoyOptions {
            plugin_config: Some(config.to_string()),
            ..EnvoyOptions::default()
        }
    }
}

pub struct Envoy {
    child: Child,
    /// The edge listener: requests sent here pass the module.
    pub port: u16,
    pub admin_port: u16,
    dir: tempfile::TempDir,
}

impl Envoy {
    /// Starts Envoy in front of the upstream on `upstream_port` and waits until it serves.
    pub fn start(upstream_port: u16, options: &EnvoyOptions) -> Envoy {
        match Envoy::try_start(upstream_port, options) {
            Ok(envoy) => envoy,
            Err(log) => panic!("Envoy did not start:\n{log}"),
        }
    }

    /// Starts Envoy; on failure returns its log, so tests can check why it refused.
    pub fn try_start(upstream_port: u16, options: &EnvoyOptions) -> Result<Envoy, String> {
        Envoy::try_start_bootstrap(&bootstrap(upstream_port, options), options.concurrency)
    }

    /// Starts Envoy with a bootstrap of the test's own. It must have a listener named `edge`
    /// and an admin address; ports may be 0.
    pub fn try_start_bootstrap(bootstrap: &str, concurrency: u32) -> Result<Envoy, String> {
        let dir = tempfile::tempdir().expect("temporary folder for Envoy");
        let config_path = dir.path().join("envoy.yaml");
        let admin_path = dir.path().join("admin-address");
        let log_path = dir.path().join("envoy.log");
        std::fs::write(&config_path, bootstrap).expect("write config");

        let log = std::fs::File::create(&log_path).expect("create the Envoy log");
        let child = Command::new(envoy_binary())
            .arg("--config-path")
            .arg(&config_path)
            .arg("--admin-address-path")
            .arg(&admin_path)
            .args(["--disable-hot-restart", "--log-level", "info"])
            .args(["--concurrency", &concurrency.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn Envoy");

        let mut envoy = Envoy {
            child,
            port: 0,
            admin_port: 0,
            dir,
        };
        match envoy.wait_until_serving(&admin_path) {
            Ok(()) => Ok(envoy),
            Err(reason) => Err(format!("{reason}\n{}", envoy.log())),
        }
    }

    /// This Envoy's own temporary folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn wait_until_serving(&mut self, admin_path: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("poll Envoy") {
                return Err(format!("Envoy exited with {status}"));
            }
            if self.admin_port == 0 {
                if let Ok(address) = std::fs::read_to_string(admin_path) {
                    self.admin_port = port_of(address.trim());
                }
            }
            if self.admin_port != 0 {
                if let Some(port) = self.edge_listener_port() {
                    self.port = port;
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("Envoy was not serving after 60 s".to_string())
    }

    /// The edge listener's port once Envoy reports it bound and the server is live.
    fn edge_listener_port(&self) -> Option<u16> {
        let ready = Request::get("/ready").try_send(self.admin_port).ok()?;
        if ready.status != 200 {
            return None;
        }
        let listeners = Request::get("/listeners?format=json")
            .try_send(self.admin_port)
            .ok()?;
        let json: serde_json::Value = serde_json::from_slice(&listeners.body).ok()?;
        json["listener_statuses"]
            .as_array()?
            .iter()
            .find(|l| l["name"] == "edge")?["local_address"]["socket_address"]["port_value"]
            .as_u64()
            .map(|p| p as u16)
            .filter(|p| *p != 0)
    }

    /// Envoy's resident memory now and at its peak, in bytes, from `/proc/<pid>/status`.
    pub fn resident_memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("Envoy's /proc status");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kib| kib.parse::<u64>().ok())
                .map_or(0, |kib| kib * 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Everything Envoy has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// The value of a stat by its full Envoy name (for example
    /// `wasmcustom.edge_http_requests_total`), or None if Envoy does not have it.
    pub fn stat(&self, name: &str) -> Option<u64> {
        let path = format!("/stats?filter=^{}$", name.replace('.', "\\."));
        let text = Request::get(&path).send(self.admin_port).text();
        text.lines().find_map(|line| {
            let (stat, value) = line.split_once(": ")?;
            (stat == name).then(|| value.trim().parse().ok()).flatten()
        })
    }

    /// A counter or gauge of the module, by its Prometheus name (`edge_http_requests_total`).
    pub fn metric(&self, name: &str) -> u64 {
        self.stat(&format!("wasmcustom.{name}"))
            .unwrap_or_else(|| panic!("Envoy has no stat for {name}"))
    }

    /// What Prometheus would scrape.
    pub fn prometheus(&self) -> String {
        Request::get("/stats/prometheus")
            .send(self.admin_port)
            .text()
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// Runs `envoy --mode validate` on a config from the folder `cwd` (where its relative paths
/// start). Returns Envoy's output on success, and on failure as the error.
pub fn validate(config: &Path, cwd: &Path) -> Result<String, String> {
    let output = Command::new(envoy_binary())
        .args(["--mode", "validate", "--config-path"])
        .arg(config)
        .current_dir(cwd)
        .output()
        .expect("run envoy --mode validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The project's root folder.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Envoy binary, as `scripts/envoy.sh` provides it (installed on first use).
pub fn envoy_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let output = Command::new("bash")
                .arg(project_root().join("scripts/envoy.sh"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/envoy.sh");
            assert!(output.status.success(), "scripts/envoy.sh failed");
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        })
        .clone()
}

/// The built module. `scripts/test.sh` builds it before the tests run.
pub fn wasm_module() -> PathBuf {
    let path = std::env::var_os("EDGE_OPTIMIZER_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target/wasm32-wasip1/release/edge_optimizer.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release --target wasm32-wasip1` \
         (scripts/test.sh does this before running the tests)",
        path.display()
    );
    path
}

/// The bootstrap for one test: the edge listener with the module in front of the router,
/// and a cluster pointing at the scripted upstream.
fn bootstrap(upstream_port: u16, options: &EnvoyOptions) -> String {
    let configuration = match &options.plugin_config {
        Some(json) => format!(
            "configuration:\n{indent}\"@type\": type.googleapis.com/google.protobuf.StringValue\n\
             {indent}value: {}",
            serde_json::to_string(json).expect("JSON string"),
            indent = " ".repeat(26),
        ),
        None => String::new(),
    };
    format!(
        r#"
admin:
  address:
    socket_address: {{ address: 127.0.0.1, port_value: 0 }}
stats_config:
  {tag_rule}
  histogram_bucket_settings:
    - match: {{ prefix: "wasmcustom.edge_http_request_duration_microseconds" }}
      buckets: [50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
                250000, 500000, 1000000, 2500000, 5000000, 10000000]
static_resources:
  listeners:
    - name: edge
      address:
        socket_address: {{ address: 127.0.0.1, port_value: 0 }}
      per_connection_buffer_limit_bytes: {buffer_limit}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                route_config:
                  virtual_hosts:
                    - name: app
                      domains: ["*"]
                      routes:
                        - match: {{ prefix: "/" }}
                          route: {{ cluster: upstream, timeout: 60s }}
                http_filters:
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: edge_optimizer
                        root_id: edge_optimizer
                        vm_config:
                          vm_id: edge_optimizer
                          runtime: envoy.wasm.runtime.{runtime}
                          code:
                            local:
                              filename: {wasm}
                        {configuration}
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      per_connection_buffer_limit_bytes: {buffer_limit}
      {upstream_protocol}
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address: {{ address: 127.0.0.1, port_value: {upstream_port} }}
"#,
        tag_rule = if options.status_class_tag {
            "stats_tags: [{ tag_name: status_class, regex: \"^wasmcustom\\\\.\
             edge_http_responses_total(\\\\.status_class\\\\.(\\\\dxx))$\" }]"
        } else {
            "stats_tags: []"
        },
        upstream_protocol = if options.upstream_http2 {
            "typed_extension_protocol_options: { envoy.extensions.upstreams.http.v3.\
             HttpProtocolOptions: { \"@type\": type.googleapis.com/envoy.extensions.\
             upstreams.http.v3.HttpProtocolOptions, explicit_http_config: \
             { http2_protocol_options: {} } } }"
        } else {
            ""
        },
        buffer_limit = options.buffer_limit_bytes,
        runtime = options.runtime,
        wasm = wasm_module().display(),
    )
}
