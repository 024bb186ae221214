//! Istio's `WasmPlugin` (extensions.istio.io/v1alpha1), written by us from Istio's reference
//! documentation, so a manifest we ship is checked the way the Kubernetes API server and
//! Istio would check it: field names, types and enum values by serde (unknown fields are
//! refused), and the patterns and bounds of the published schema by [`WasmPlugin::check`].
//!
//! Only what a manifest may say is here; `status` is the server's.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WasmPlugin {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    pub namespace: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    pub selector: Option<WorkloadSelector>,
    pub target_ref: Option<TargetRef>,
    pub target_refs: Option<Vec<TargetRef>>,
    pub url: String,
    pub sha256: Option<String>,
    pub image_pull_policy: Option<PullPolicy>,
    pub image_pull_secret: Option<String>,
    pub verification_key: Option<String>,
    /// Free-form for Istio (a protobuf `Struct`); the module's own parser checks it.
    pub plugin_config: Option<serde_yaml_ng::Mapping>,
    pub plugin_name: Option<String>,
    pub phase: Option<PluginPhase>,
    pub priority: Option<i32>,
    pub fail_strategy: Option<FailStrategy>,
    pub vm_config: Option<VmConfig>,
    #[serde(rename = "match")]
    pub traffic: Option<Vec<TrafficSelector>>,
    #[serde(rename = "type")]
    pub plugin_type: Option<PluginType>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSelector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetRef {
    pub group: Option<String>,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSelector {
    pub mode: Option<WorkloadMode>,
    pub ports: Option<Vec<PortSelector>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSelector {
    pub number: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmConfig {
    pub env: Option<Vec<EnvVar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    pub value_from: Option<EnvValueSource>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum PluginPhase {
    UNSPECIFIED_PHASE,
    AUTHN,
    AUTHZ,
    STATS,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(non_camel_case_types)]
pub enum PullPolicy {
    UNSPECIFIED_POLICY,
    IfNotPresent,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum FailStrategy {
    FAIL_CLOSE,
    FAIL_OPEN,
    FAIL_RELOAD,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum WorkloadMode {
    UNDEFINED,
    CLIENT,
    SERVER,
    CLIENT_AND_SERVER,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum PluginType {
    UNSPECIFIED_PLUGIN_TYPE,
    HTTP,
    NETWORK,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum EnvValueSource {
    INLINE,
    HOST,
}

impl WasmPlugin {
    /// Reads a manifest; a misspelt field, a wrong type or an unknown enum value is an error.
    pub fn from_yaml(text: &str) -> Result<WasmPlugin, String> {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    /// The rules of the published schema that types alone do not express.
    pub fn check(&self) -> Result<(), String> {
        let spec = &self.spec;
        if self.api_version != "extensions.istio.io/v1alpha1" || self.kind != "WasmPlugin" {
            return Err(format!(
                "not a WasmPlugin: {} {}",
                self.api_version, self.kind
            ));
        }
        check_url(&spec.url)?;
        if let Some(sha) = &spec.sha256 {
            let hex = sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if !(sha.is_empty() || (sha.len() == 64 && hex)) {
                return Err(format!("sha256 {sha:?} is not 64 lower-case hex digits"));
            }
        }
        check_length("pluginName", spec.plugin_name.as_deref(), 1, 256)?;
        check_length("imagePullSecret", spec.image_pull_secret.as_deref(), 1, 253)?;
        let targets = [
            spec.selector.is_some(),
            spec.target_ref.is_some(),
            spec.target_refs.is_some(),
        ];
        if targets.iter().filter(|set| **set).count() > 1 {
            return Err("only one of selector, targetRef and targetRefs may be set".into());
        }
        if let Some(selector) = &spec.selector {
            check_labels(&selector.match_labels)?;
        }
        for traffic in spec.traffic.iter().flatten() {
            for port in traffic.ports.iter().flatten() {
                if !(1..=65535).contains(&port.number) {
                    return Err(format!("match port {} is out of range", port.number));
                }
            }
        }
        Ok(())
    }
}

/// Istio takes `oci://` (also when no scheme is given), `file://`, `http://` and `https://`.
fn check_url(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    match scheme {
        "" | "oci" | "file" | "http" | "https" if !url.is_empty() => Ok(()),
        _ => Err(format!(
            "url {url:?} must be oci://, file://, http:// or https://"
        )),
    }
}

fn check_length(field: &str, value: Option<&str>, min: usize, max: usize) -> Result<(), String> {
    match value {
        Some(v) if v.len() < min || v.len() > max => {
            Err(format!("{field} must be {min} to {max} characters"))
        }
        _ => Ok(()),
    }
}

fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    for (key, value) in labels {
        if key.is_empty() || key.contains('*') || value.contains('*') || value.len() > 63 {
            return Err(format!(
                "selector label {key}={value} is not a valid exact match"
            ));
        }
    }
    Ok(())
}
