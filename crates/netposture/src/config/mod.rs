//! The configuration file (`--config`), documented with every default in
//! `config/netposture.yaml`. Unknown keys are errors, so a typo never
//! silently falls back to a default.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use netposture_engine::cni::CniKind;
use netposture_engine::diff::Condition;
use netposture_engine::posture::ids;
use netposture_engine::settings::default_weights;
use netposture_engine::{Capability, CniStatus, Settings, compile_selector};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    pub dns: DnsConfig,
    pub cni: CniConfig,
    pub mesh: MeshConfig,
    /// Merged over the default weights; a weight of 0 leaves a check out of the score.
    pub score_weights: BTreeMap<String, u32>,
    pub unprotected_pods_cap: usize,
    pub exclude: ExcludeConfig,
    /// How often the operator re-evaluates every namespace without a change, e.g. `5m`.
    pub resync_period: String,
    /// Namespaces of cluster components that tenants should not reach, DNS aside.
    pub system_namespaces: Vec<String>,
    /// The cluster's pod CIDRs; empty: read from the Nodes, else assumed.
    #[serde(rename = "podCIDRs")]
    pub pod_cidrs: Vec<String>,
    pub admission: AdmissionConfig,
}

/// The admission webhook's rules (`netposture operator --admission-addr`),
/// in the condition words of `netposture diff --fail-on`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// Conditions answered with a warning.
    pub warn: Vec<String>,
    /// Conditions that refuse the change; empty by default.
    pub deny: Vec<String>,
    /// An annotation that, set to "true" on the object, lets a denied
    /// change through with warnings; `None`: no bypass.
    pub bypass_annotation: Option<String>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            warn: [
                "coverage-lost",
                "default-deny-removed",
                "dns-broken",
                "egress-opened",
                "exposure-added",
            ]
            .map(String::from)
            .to_vec(),
            deny: Vec::new(),
            bypass_annotation: None,
        }
    }
}

/// [`AdmissionConfig`] with its conditions parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmissionRules {
    pub warn: Vec<Condition>,
    pub deny: Vec<Condition>,
    pub bypass_annotation: Option<String>,
}

impl AdmissionConfig {
    pub fn rules(&self) -> Result<AdmissionRules, String> {
        let parse = |field: &str, words: &[String]| {
            words
                .iter()
                .enumerate()
                .map(|(i, word)| {
                    word.parse::<Condition>()
                        .map_err(|e| format!("admission.{field}[{i}]: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        if self.bypass_annotation.as_deref() == Some("") {
            return Err("admission.bypassAnnotation: must not be empty (null: no bypass)".into());
        }
        Ok(AdmissionRules {
            warn: parse("warn", &self.warn)?,
            deny: parse("deny", &self.deny)?,
            bypass_annotation: self.bypass_annotation.clone(),
        })
    }
}

/// Namespaces left out of reports and metrics (besides `netposture.io/exclude: "true"`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ExcludeConfig {
    pub namespaces: Vec<String>,
    pub namespace_selector: Option<LabelSelector>,
}

/// Which namespaces get no report, compiled once.
#[derive(Clone, Debug, Default)]
pub struct Exclusion {
    names: std::collections::BTreeSet<String>,
    selector: Option<kube::core::Selector>,
}

impl Exclusion {
    pub fn excludes(&self, name: &str, state: &netposture_engine::cluster::NamespaceState) -> bool {
        use kube::core::SelectorExt;
        state.choices.excluded
            || self.names.contains(name)
            || self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(&state.labels))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DnsConfig {
    pub namespace: String,
    pub pod_selector: LabelSelector,
    pub node_local: NodeLocalConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NodeLocalConfig {
    pub pod_selector: LabelSelector,
    pub addresses: Vec<IpAddr>,
}

/// Istio, for the `mesh-mtls` check.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MeshConfig {
    /// Istio's root namespace: a PeerAuthentication without selector there is mesh-wide.
    pub root_namespace: String,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            root_namespace: Settings::default().mesh_root_namespace,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CniConfig {
    /// Replaces detection: `{name: calico, capable: "True"}`.
    #[serde(rename = "override")]
    pub override_: Option<CniOverride>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CniOverride {
    pub name: String,
    pub capable: Capability,
}

fn match_labels(key: &str, value: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some([(key.to_string(), value.to_string())].into()),
        match_expressions: None,
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dns: DnsConfig::default(),
            cni: CniConfig::default(),
            mesh: MeshConfig::default(),
            score_weights: BTreeMap::new(),
            unprotected_pods_cap: Settings::default().unprotected_pods_cap,
            exclude: ExcludeConfig::default(),
            resync_period: "5m".into(),
            system_namespaces: Settings::default().system_namespaces,
            pod_cidrs: Vec::new(),
            admission: AdmissionConfig::default(),
        }
    }
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            namespace: "kube-system".into(),
            pod_selector: match_labels("k8s-app", "kube-dns"),
            node_local: NodeLocalConfig::default(),
        }
    }
}

impl Default for NodeLocalConfig {
    fn default() -> Self {
        NodeLocalConfig {
            pod_selector: match_labels("k8s-app", "node-local-dns"),
            addresses: Settings::default().node_local_dns_addresses,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

impl CniOverride {
    /// `NAME` (a known CNI, with its usual capability) or `NAME:True|False|Unknown`.
    pub fn parse(value: &str) -> Result<Self, String> {
        let (name, capable) = match value.split_once(':') {
            Some((name, capable)) => {
                let capable = match capable.to_ascii_lowercase().as_str() {
                    "true" => Capability::True,
                    "false" => Capability::False,
                    "unknown" => Capability::Unknown,
                    other => {
                        return Err(format!(
                            "capability {other:?} is not True, False or Unknown"
                        ));
                    }
                };
                (name, capable)
            }
            None => {
                let kind = CniKind::from_name(value).ok_or_else(|| {
                    format!("unknown CNI {value:?}: give its capability as NAME:True or NAME:False")
                })?;
                (value, kind.usual_capability())
            }
        };
        Ok(CniOverride {
            name: name.to_string(),
            capable,
        })
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: display.clone(),
            error,
        })?;
        let config: Config = serde_norway::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: display.clone(),
            message: e.to_string(),
        })?;
        config
            .settings()
            .and_then(|_| config.exclusion())
            .and_then(|_| parse_duration(&config.resync_period, "resyncPeriod"))
            .and_then(|_| config.admission.rules())
            .map_err(|message| ConfigError::Invalid {
                path: display,
                message,
            })?;
        Ok(config)
    }

    pub fn exclusion(&self) -> Result<Exclusion, String> {
        let selector = self
            .exclude
            .namespace_selector
            .as_ref()
            .map(|s| compile_selector(s, "exclude.namespaceSelector"))
            .transpose()?;
        Ok(Exclusion {
            names: self.exclude.namespaces.iter().cloned().collect(),
            selector,
        })
    }

    pub fn resync_period(&self) -> Result<std::time::Duration, String> {
        parse_duration(&self.resync_period, "resyncPeriod")
    }

    /// The engine settings, after checks the file's schema cannot express.
    pub fn settings(&self) -> Result<Settings, String> {
        let dns_selector = compile_selector(&self.dns.pod_selector, "dns.podSelector")?;
        let node_local_dns_selector = compile_selector(
            &self.dns.node_local.pod_selector,
            "dns.nodeLocal.podSelector",
        )?;
        if self.dns.namespace.is_empty() {
            return Err("dns.namespace: must not be empty".into());
        }
        if self.mesh.root_namespace.is_empty() {
            return Err("mesh.rootNamespace: must not be empty".into());
        }
        if self.unprotected_pods_cap == 0 {
            return Err("unprotectedPodsCap: must be at least 1".into());
        }
        if let Some(empty) = self.system_namespaces.iter().position(String::is_empty) {
            return Err(format!("systemNamespaces[{empty}]: must not be empty"));
        }
        let pod_cidrs = self
            .pod_cidrs
            .iter()
            .enumerate()
            .map(|(i, cidr)| {
                cidr.parse()
                    .map_err(|e| format!("podCIDRs[{i}]: {cidr:?} is not a CIDR ({e})"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut weights = default_weights();
        for (id, weight) in &self.score_weights {
            if !ids::ALL.contains(&id.as_str()) {
                return Err(format!(
                    "scoreWeights.{id}: unknown check id (known: {})",
                    ids::ALL.join(", ")
                ));
            }
            weights.insert(id.clone(), *weight);
        }
        Ok(Settings {
            dns_namespace: self.dns.namespace.clone(),
            dns_selector,
            node_local_dns_selector,
            node_local_dns_addresses: self.dns.node_local.addresses.clone(),
            cni_override: self.cni.override_.as_ref().map(|o| CniStatus {
                name: o.name.clone(),
                capable: o.capable,
                evidence: "set by configuration".into(),
            }),
            weights,
            unprotected_pods_cap: self.unprotected_pods_cap,
            system_namespaces: self.system_namespaces.clone(),
            mesh_root_namespace: self.mesh.root_namespace.clone(),
            pod_cidrs,
        })
    }
}

/// `90s`, `5m`, `1h`: the forms people write in YAML and flags.
pub fn parse_duration(text: &str, field: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => {
            return Err(format!(
                "{field}: {text:?} is not a duration like 30s, 5m or 1h"
            ));
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{field}: {text:?} is not a duration like 30s, 5m or 1h"))?;
    if number == 0 {
        return Err(format!("{field}: must be longer than zero"));
    }
    match number.checked_mul(seconds_per_unit) {
        Some(seconds) if seconds <= MAX_DURATION_SECONDS => {
            Ok(std::time::Duration::from_secs(seconds))
        }
        // Timers add durations to the current time: a bound keeps that sum valid.
        _ => Err(format!("{field}: {text:?} is longer than a year (8760h)")),
    }
}

/// The longest duration accepted: a year.
const MAX_DURATION_SECONDS: u64 = 365 * 24 * 3600;

/// A duration where zero means "off", e.g. `--debounce 0s`.
pub fn parse_duration_or_zero(text: &str, field: &str) -> Result<std::time::Duration, String> {
    match text.trim() {
        "0" | "0s" => Ok(std::time::Duration::ZERO),
        _ => parse_duration(text, field),
    }
}

#[cfg(test)]
mod tests;
