//! The deployment files we ship work as written: every Envoy config passes Envoy's own
//! validation (as run.sh, a web server and the container would run it), every plugin
//! configuration in them is the module's defaults by the module's own parser, the Istio
//! manifests follow Istio's API, and a module loaded over HTTP is pinned by its sha256.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use edge_optimizer::config::Config;
use serde_yaml_ng::Value;
use support::envoy::{envoy_binary, project_root, validate, wasm_module};
use support::shipped::{copy_all, find_mut, leaf_paths, plugin_configurations, read};
use support::shipped::{set_port, sha256_of, strings, yaml};
use support::wasmplugin::{FailStrategy, PluginPhase, PluginType, WasmPlugin, WorkloadMode};
use support::{Envoy, Reply, Request, Upstream};

fn defaults() -> Config {
    Config::from_json(b"{}").expect("the defaults parse")
}

/// The plugin configuration in envoy/envoy.yaml, which lists every field at its default.
fn envoy_yaml_config() -> serde_json::Value {
    let mut found = Vec::new();
    plugin_configurations(&yaml(&read("envoy/envoy.yaml")), &mut found);
    serde_json::from_str(&found[0]).expect("JSON")
}

fn wasmplugin_config() -> serde_json::Value {
    let plugin = WasmPlugin::from_yaml(&read("envoy/istio/wasmplugin.yaml")).unwrap();
    let config = plugin.spec.plugin_config.expect("a pluginConfig");
    serde_json::to_value(config).expect("pluginConfig as JSON")
}

#[test]
fn envoy_yaml_passes_envoy_validation_from_the_repository_root() {
    wasm_module();

    let output = validate(Path::new("envoy/envoy.yaml"), &project_root());

    let output = output.unwrap_or_else(|log| panic!("envoy.yaml is refused:\n{log}"));
    assert!(output.contains("edge-optimizer configured"), "{output}");
}

#[test]
fn the_remote_config_passes_envoy_validation_with_no_server_to_fetch_from() {
    let dir = tempfile::tempdir().unwrap();

    let output = validate(&project_root().join("envoy/envoy-remote.yaml"), dir.path());

    output.unwrap_or_else(|log| panic!("envoy-remote.yaml is refused:\n{log}"));
}

#[test]
fn every_plugin_configuration_we_ship_is_the_defaults_by_the_modules_own_parser() {
    let mut found = Vec::new();
    for path in ["envoy/envoy.yaml", "envoy/envoy-remote.yaml"] {
        let before = found.len();
        plugin_configurations(&yaml(&read(path)), &mut found);
        assert_eq!(
            found.len(),
            before + 1,
            "{path} has one plugin configuration"
        );
    }
    found.push(wasmplugin_config().to_string());

    for json in found {
        let config = Config::from_json(json.as_bytes());

        assert_eq!(config, Ok(defaults()), "{json}");
    }
}

#[test]
fn the_wasmplugin_lists_every_field_that_envoy_yaml_lists() {
    let (mut in_envoy, mut in_istio) = (BTreeSet::new(), BTreeSet::new());

    leaf_paths(&envoy_yaml_config(), "", &mut in_envoy);
    leaf_paths(&wasmplugin_config(), "", &mut in_istio);

    assert_eq!(in_istio, in_envoy);
    assert!(in_envoy.len() >= 20, "{in_envoy:?}");
}

#[test]
fn the_readme_configuration_example_is_the_defaults_and_lists_every_field() {
    let readme = read("README.md");
    let section = &readme[readme
        .find("## Configuration")
        .expect("a Configuration section")..];
    let start = section.find("```json\n").expect("a JSON example") + "```json\n".len();
    let json = &section[start..start + section[start..].find("```").unwrap()];
    let (mut in_readme, mut in_envoy) = (BTreeSet::new(), BTreeSet::new());

    leaf_paths(&serde_json::from_str(json).unwrap(), "", &mut in_readme);
    leaf_paths(&envoy_yaml_config(), "", &mut in_envoy);

    assert_eq!(Config::from_json(json.as_bytes()), Ok(defaults()));
    assert_eq!(in_readme, in_envoy);
}

/// Lays out the files docker-compose.yml mounts, at the paths the container sees under its
/// working directory, and returns the compose service.
fn container_layout(root: &Path) -> Value {
    let compose = yaml(&read("envoy/docker-compose.yml"));
    let service = compose["services"]["envoy"].clone();
    let working_dir = service["working_dir"].as_str().expect("a working_dir");

    for volume in service["volumes"].as_sequence().expect("volumes") {
        assert_eq!(volume["type"], "bind");
        assert_eq!(volume["read_only"], true, "{volume:?}");
        let source = project_root()
            .join("envoy")
            .join(volume["source"].as_str().unwrap());
        let target = volume["target"].as_str().unwrap();
        let inside = target
            .strip_prefix(working_dir)
            .and_then(|t| t.strip_prefix('/'))
            .unwrap_or_else(|| panic!("{target} is outside {working_dir}"));
        copy_all(&source, &root.join(inside));
    }
    service
}

/// Runs the compose entrypoint and command in `root`, as the container would, with
/// `--mode validate` added and the local Envoy in place of the image's.
fn validate_as_the_container(root: &Path, service: &Value, rewritten: &Path) -> (bool, String) {
    let entrypoint = strings(&service["entrypoint"]);
    let output = Command::new(&entrypoint[0])
        .args(&entrypoint[1..])
        .args(strings(&service["command"]))
        .args(["--mode", "validate"])
        .current_dir(root)
        .env("ENVOY", envoy_binary())
        .env("EDGE_CONFIG_OUT", rewritten)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.success(), log)
}

#[test]
fn the_container_config_passes_envoy_validation_exactly_as_compose_starts_it() {
    wasm_module();
    let dir = tempfile::tempdir().unwrap();
    let service = container_layout(dir.path());
    let rewritten = dir.path().join("container-envoy.yaml");

    let (passed, log) = validate_as_the_container(dir.path(), &service, &rewritten);

    assert!(passed, "{log}");
    let config = yaml(&std::fs::read_to_string(&rewritten).unwrap());
    let address = |v: &Value| {
        v["address"]["socket_address"]["address"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(address(&config["admin"]), "0.0.0.0");
    let listeners = config["static_resources"]["listeners"]
        .as_sequence()
        .unwrap();
    assert_eq!(address(&listeners[0]), "0.0.0.0", "the edge");
    assert_eq!(
        address(&listeners[1]),
        "127.0.0.1",
        "the demo upstream stays inside"
    );
}

#[test]
fn the_container_validation_reads_the_mounted_module() {
    wasm_module();
    let dir = tempfile::tempdir().unwrap();
    let service = container_layout(dir.path());
    let module = dir
        .path()
        .join("target/wasm32-wasip1/release/edge_optimizer.wasm");
    std::fs::write(&module, b"not a module").unwrap();
    let rewritten = dir.path().join("container-envoy.yaml");

    let (passed, log) = validate_as_the_container(dir.path(), &service, &rewritten);

    assert!(!passed, "{log}");
    assert!(
        log.contains("Unable to create Wasm plugin edge_optimizer"),
        "{log}"
    );
}

#[test]
fn compose_runs_envoy_1_40_unprivileged_and_publishes_ports_on_the_hosts_loopback_only() {
    let compose = yaml(&read("envoy/docker-compose.yml"));
    let service = &compose["services"]["envoy"];

    assert_eq!(service["image"], "envoyproxy/envoy:v1.40.0");
    assert_eq!(service["user"], "65534:65534", "not root");
    assert_eq!(
        strings(&service["ports"]),
        ["127.0.0.1:10000:10000", "127.0.0.1:9901:9901"]
    );
}

#[test]
fn the_wasmplugin_manifest_follows_the_istio_api_field_by_field() {
    let plugin = WasmPlugin::from_yaml(&read("envoy/istio/wasmplugin.yaml"));

    let plugin = plugin.unwrap_or_else(|e| panic!("wasmplugin.yaml: {e}"));
    plugin.check().unwrap();
    let spec = &plugin.spec;
    assert!(spec.url.starts_with("oci://"), "{}", spec.url);
    assert_eq!(spec.plugin_name.as_deref(), Some("edge_optimizer"));
    assert_eq!(spec.plugin_type, Some(PluginType::HTTP));
    assert_eq!(spec.phase, Some(PluginPhase::STATS));
    assert_eq!(spec.fail_strategy, Some(FailStrategy::FAIL_RELOAD));
    let modes: Vec<_> = spec.traffic.iter().flatten().map(|t| t.mode).collect();
    assert_eq!(modes, [Some(WorkloadMode::SERVER)]);
}

#[test]
fn the_wasmplugin_api_refuses_what_istio_would_refuse() {
    let shipped = read("envoy/istio/wasmplugin.yaml");
    let cases = [
        // Envoy's spelling of the enum is not Istio's.
        ("failStrategy: FAIL_RELOAD", "failStrategy: FAIL_CLOSED"),
        ("phase: STATS", "phase: STAT"),
        (
            "imagePullPolicy: IfNotPresent",
            "imagePullPolicy: IF_NOT_PRESENT",
        ),
        ("    - mode: SERVER", "    - mode: INBOUND"),
        ("type: HTTP", "type: TCP"),
        ("priority: 100", "priority: high"),
        // A field Istio does not know (the old name of pluginName).
        ("pluginName: edge_optimizer", "rootID: edge_optimizer"),
        ("sha256: \"0000", "sha256: \"ABCD"),
        ("url: oci://", "url: ftp://"),
    ];

    for (field, mistake) in cases {
        assert!(shipped.contains(field), "{field} is not in the manifest");
        let manifest = shipped.replacen(field, mistake, 1);

        let verdict = WasmPlugin::from_yaml(&manifest).and_then(|p| p.check());

        assert!(verdict.is_err(), "{mistake} was accepted");
    }
}

#[test]
fn the_istio_bootstrap_override_is_valid_envoy_and_carries_envoy_yamls_stats_rules() {
    let config_map = yaml(&read("envoy/istio/stats-bootstrap.yaml"));
    let bootstrap = config_map["data"]["custom_bootstrap.json"]
        .as_str()
        .unwrap();
    let operator = yaml(&read("envoy/istio/proxy-config.yaml"));
    let envoy_yaml = yaml(&read("envoy/envoy.yaml"));

    let override_stats: Value = serde_yaml_ng::from_str(bootstrap).unwrap();
    let output = Command::new(envoy_binary())
        .args(["--mode", "validate", "--config-yaml", bootstrap])
        .output()
        .unwrap();

    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert_eq!(config_map["kind"], "ConfigMap");
    assert_eq!(override_stats["stats_config"], envoy_yaml["stats_config"]);
    assert_eq!(operator["kind"], "IstioOperator");
    let matcher = &operator["spec"]["meshConfig"]["defaultConfig"]["proxyStatsMatcher"];
    let prefix = format!("wasmcustom.{}", defaults().metrics.prefix);
    assert_eq!(strings(&matcher["inclusionPrefixes"]), [prefix]);
}

/// envoy-remote.yaml as a user would fill it in, on ports of the test's own: the module's
/// URL on `wasm_port`, its checksum, the app on `app_port`; admin and edge on free ports.
fn remote_config(sha256: &str, wasm_port: u16, app_port: u16) -> Value {
    let mut config = yaml(&read("envoy/envoy-remote.yaml"));
    set_port(&mut config["admin"], 0);
    set_port(&mut config["static_resources"]["listeners"][0], 0);

    let remote = find_mut(&mut config, "remote").expect("a remote module");
    let uri = remote["http_uri"]["uri"].as_str().unwrap();
    assert!(uri.starts_with("http://127.0.0.1:8000/"), "{uri}");
    remote["http_uri"]["uri"] = Value::from(uri.replace(":8000/", &format!(":{wasm_port}/")));
    remote["sha256"] = Value::from(sha256);

    let clusters = config["static_resources"]["clusters"]
        .as_sequence_mut()
        .unwrap();
    for cluster in clusters {
        let port = if cluster["name"] == "app" {
            app_port
        } else {
            wasm_port
        };
        set_port(cluster, port);
    }
    config
}

fn module_server() -> Upstream {
    let module = std::fs::read(wasm_module()).unwrap();
    Upstream::start(move |request| match request.path.as_str() {
        "/edge_optimizer.wasm" => Reply::ok("application/wasm", &module),
        _ => Reply::new(404),
    })
}

#[test]
fn envoy_fetches_the_module_over_http_checks_its_sha256_and_runs_it() {
    let (server, app) = (
        module_server(),
        Upstream::start(|_| Reply::ok("text/plain", "app")),
    );
    let config = remote_config(&sha256_of(&wasm_module()), server.port, app.port);

    let envoy = Envoy::try_start_bootstrap(&serde_yaml_ng::to_string(&config).unwrap(), 1);

    let envoy = envoy.unwrap_or_else(|log| panic!("Envoy did not start:\n{log}"));
    assert_eq!(server.hits_for("/edge_optimizer.wasm"), 1);
    let favicon = Request::get("/favicon.ico").send(envoy.port);
    assert_eq!(favicon.status, 204);
    assert_eq!(Request::get("/page").send(envoy.port).text(), "app");
    assert_eq!(app.hits(), 1, "the favicon never reached the app");
}

#[test]
fn a_wrong_sha256_keeps_the_module_out_and_the_edge_answers_503() {
    let (server, app) = (
        module_server(),
        Upstream::start(|_| Reply::ok("text/plain", "app")),
    );
    let right = sha256_of(&wasm_module());
    let wrong = format!(
        "{}{}",
        if right.starts_with('a') { 'b' } else { 'a' },
        &right[1..]
    );
    let mut config = remote_config(&wrong, server.port, app.port);
    // One retry instead of five keeps the test short; the outcome is the same.
    find_mut(&mut config, "retry_policy").unwrap()["num_retries"] = Value::from(1);

    let envoy = Envoy::try_start_bootstrap(&serde_yaml_ng::to_string(&config).unwrap(), 1);

    // Envoy still starts: the listener comes up, but with the plugin unloaded and failing
    // closed (FAIL_RELOAD treats a module that cannot load as FAIL_CLOSED).
    let envoy = envoy.unwrap_or_else(|log| panic!("Envoy did not start:\n{log}"));
    let log = envoy.log();
    assert!(
        log.contains("Retry limit exceeded for fetching data from remote"),
        "{log}"
    );
    assert!(
        log.contains("Plugin edge_optimizer failed to load"),
        "{log}"
    );
    assert_eq!(
        server.hits_for("/edge_optimizer.wasm"),
        2,
        "fetched, then once retried"
    );
    assert_eq!(Request::get("/favicon.ico").send(envoy.port).status, 503);
    assert_eq!(Request::get("/page").send(envoy.port).status, 503);
    assert_eq!(app.hits(), 0);
}
