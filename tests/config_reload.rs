//! A listener update (LDS from a file) carrying a bad plugin configuration is rejected, and
//! the configuration in force keeps serving.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::envoy::wasm_module;
use support::{free_port, Envoy, Reply, Request, Upstream};

/// One listener named `edge` on `port`, with the module configured by `plugin_config`.
fn listener_resource(port: u16, plugin_config: &str) -> String {
    format!(
        r#"resources:
  - "@type": type.googleapis.com/envoy.config.listener.v3.Listener
    name: edge
    address:
      socket_address: {{ address: 127.0.0.1, port_value: {port} }}
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
                        route: {{ cluster: upstream }}
              http_filters:
                - name: envoy.filters.http.wasm
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                    config:
                      name: edge_optimizer
                      root_id: edge_optimizer
                      vm_config:
                        vm_id: edge_optimizer
                        runtime: envoy.wasm.runtime.v8
                        code: {{ local: {{ filename: {wasm} }} }}
                      configuration:
                        "@type": type.googleapis.com/google.protobuf.StringValue
                        value: {config}
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#,
        wasm = wasm_module().display(),
        config = serde_json::to_string(plugin_config).unwrap(),
    )
}

fn bootstrap(lds_path: &Path, upstream_port: u16) -> String {
    format!(
        r#"
node: {{ id: edge, cluster: edge }}
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
dynamic_resources:
  lds_config:
    resource_api_version: V3
    path_config_source: {{ path: {lds} }}
static_resources:
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address:
          {{ address: 127.0.0.1, port_value: {upstream_port} }} }} }} }}] }}]
"#,
        lds = lds_path.display(),
    )
}

/// Replaces the LDS file the way Envoy expects: write beside it, then rename over it.
fn publish(lds_path: &Path, content: &str) {
    let next = lds_path.with_extension("next");
    std::fs::write(&next, content).unwrap();
    std::fs::rename(&next, lds_path).unwrap();
}

fn wait_for_stat(envoy: &Envoy, name: &str, value: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while envoy.stat(name) != Some(value) {
        assert!(
            Instant::now() < deadline,
            "{name} never reached {value}\n{}",
            envoy.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn favicon_max_age(port: u16) -> String {
    let response = Request::get("/favicon.ico").send(port);
    assert_eq!(response.status, 204);
    response.header("cache-control").unwrap_or("").to_string()
}

#[test]
fn a_listener_update_with_a_bad_plugin_configuration_is_rejected_and_the_old_one_serves() {
    let upstream = Upstream::start(|_| Reply::ok("text/plain", "from upstream"));
    let port = free_port();
    let lds_dir = tempfile::tempdir().unwrap();
    let lds_path = lds_dir.path().join("lds.yaml");
    publish(
        &lds_path,
        &listener_resource(port, r#"{"favicon": {"max_age": 100}}"#),
    );
    let envoy = Envoy::try_start_bootstrap(&bootstrap(&lds_path, upstream.port), 1)
        .unwrap_or_else(|log| panic!("Envoy did not start:\n{log}"));
    assert_eq!(favicon_max_age(port), "public, max-age=100");

    // A good update is taken, which shows updates reach the filter at all.
    publish(
        &lds_path,
        &listener_resource(port, r#"{"favicon": {"max_age": 200}}"#),
    );
    wait_for_stat(&envoy, "listener_manager.lds.update_success", 2);
    let deadline = Instant::now() + Duration::from_secs(20);
    while favicon_max_age(port) != "public, max-age=200" {
        assert!(Instant::now() < deadline, "the good update never served");
        std::thread::sleep(Duration::from_millis(50));
    }

    publish(
        &lds_path,
        &listener_resource(port, r#"{"favicon": {"max_age": -1}}"#),
    );
    wait_for_stat(&envoy, "listener_manager.lds.update_rejected", 1);

    assert_eq!(favicon_max_age(port), "public, max-age=200");
    let proxied = Request::get("/items").send(port);
    assert_eq!(proxied.text(), "from upstream");
    let log = envoy.log();
    assert!(
        log.contains("configuration refused: favicon.max_age: -1 is out of range"),
        "{log}"
    );
}
