//! Reading the files we ship (Envoy configs, compose, Istio manifests) in tests: YAML into
//! values, the plugin configurations inside them, and small edits for running them here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_yaml_ng::Value;

use super::envoy::project_root;

pub const STRING_VALUE: &str = "type.googleapis.com/google.protobuf.StringValue";

/// A file of the repository, by its path from the root.
pub fn read(path: &str) -> String {
    std::fs::read_to_string(project_root().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A YAML document as a value to walk; the files we ship are all valid YAML.
pub fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).expect("valid YAML")
}

/// Every `configuration` given to a Wasm plugin in an Envoy config, as the module gets it.
pub fn plugin_configurations(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                if key.as_str() == Some("configuration") && child["@type"] == STRING_VALUE {
                    found.push(child["value"].as_str().expect("a string").to_string());
                }
                plugin_configurations(child, found);
            }
        }
        Value::Sequence(items) => items.iter().for_each(|i| plugin_configurations(i, found)),
        _ => {}
    }
}

/// Dotted paths of every leaf, so two documents can be compared field for field.
pub fn leaf_paths(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value.as_object() {
        Some(map) => map
            .iter()
            .for_each(|(k, v)| leaf_paths(v, &format!("{prefix}{k}."), out)),
        None => {
            out.insert(prefix.trim_end_matches('.').to_string());
        }
    }
}

/// Copies a file, or a folder and everything in it, creating the parents of `to`.
pub fn copy_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_all(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

/// A YAML list of strings (compose's entrypoint, command, ports).
pub fn strings(value: &Value) -> Vec<String> {
    let items = value.as_sequence().expect("a list");
    items
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// What `sha256sum` prints for a file: the checksum Envoy and Istio pin modules by.
pub fn sha256_of(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_whitespace()
        .next()
        .expect("a checksum")
        .to_string()
}

/// The first mapping under `value` that has `key`, searched depth first.
pub fn find_mut<'a>(value: &'a mut Value, key: &str) -> Option<&'a mut Value> {
    if value.get(key).is_some() {
        return value.get_mut(key);
    }
    match value {
        Value::Mapping(map) => map.values_mut().find_map(|v| find_mut(v, key)),
        Value::Sequence(items) => items.iter_mut().find_map(|v| find_mut(v, key)),
        _ => None,
    }
}

/// Sets the port of the first socket address under `socket_holder`.
pub fn set_port(socket_holder: &mut Value, port: u16) {
    let socket = find_mut(socket_holder, "socket_address").expect("a socket address");
    socket["port_value"] = Value::from(port);
}
