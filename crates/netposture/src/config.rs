//! The configuration file (`--config`), documented with every default in
//! `config/netposture.yaml`. Unknown keys are errors, so a typo never
//! silently falls back to a default.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use netposture_engine::cni::CniKind;
use netposture_engine::posture::ids;
use netposture_engine::settings::default_weights;
use netposture_engine::{Capability, CniStatus, Settings, compile_selector};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Config {
    pub dns: DnsConfig,
    pub cni: CniConfig,
    /// Merged over the default weights; a weight of 0 leaves a check out of the score.
    pub score_weights: BTreeMap<String, u32>,
    pub unprotected_pods_cap: usize,
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
            score_weights: BTreeMap::new(),
            unprotected_pods_cap: Settings::default().unprotected_pods_cap,
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
        config.settings().map_err(|message| ConfigError::Invalid {
            path: display,
            message,
        })?;
        Ok(config)
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
        if self.unprotected_pods_cap == 0 {
            return Err("unprotectedPodsCap: must be at least 1".into());
        }
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        let config: Config = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        config.settings()
    }

    #[test]
    fn documented_default_file_parses_to_the_built_in_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/netposture.yaml");
        let loaded = Config::load(&path).unwrap().settings().unwrap();
        let defaults = Config::default().settings().unwrap();
        assert_eq!(loaded.dns_namespace, defaults.dns_namespace);
        assert_eq!(loaded.dns_selector, defaults.dns_selector);
        assert_eq!(
            loaded.node_local_dns_addresses,
            defaults.node_local_dns_addresses
        );
        assert_eq!(loaded.weights, defaults.weights);
        assert_eq!(loaded.unprotected_pods_cap, defaults.unprotected_pods_cap);
        assert!(loaded.cni_override.is_none());
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let err = parse("dns:\n  namespce: kube-system\n").unwrap_err();
        assert!(err.contains("namespce"), "{err}");
    }

    #[test]
    fn invalid_dns_selector_is_an_error_naming_the_field() {
        let err = parse("dns:\n  podSelector:\n    matchExpressions: [{key: a, operator: Like}]\n")
            .unwrap_err();
        assert!(
            err.contains("dns.podSelector") && err.contains("Like"),
            "{err}"
        );
    }

    #[test]
    fn unknown_weight_is_an_error_naming_it() {
        let err = parse("scoreWeights: {default-deny: 5}\n").unwrap_err();
        assert!(err.contains("scoreWeights.default-deny"), "{err}");
    }

    #[test]
    fn weights_merge_over_the_defaults() {
        let settings = parse("scoreWeights: {egress-restricted: 0}\n").unwrap();
        assert_eq!(settings.weights["egress-restricted"], 0);
        assert_eq!(settings.weights["default-deny-ingress"], 20);
    }

    #[test]
    fn cni_flag_knows_usual_capabilities_and_takes_explicit_ones() {
        assert_eq!(
            CniOverride::parse("flannel").unwrap().capable,
            Capability::False
        );
        assert_eq!(
            CniOverride::parse("calico").unwrap().capable,
            Capability::True
        );
        assert_eq!(
            CniOverride::parse("mycni:True").unwrap().capable,
            Capability::True
        );
        assert!(CniOverride::parse("mycni").is_err());
        assert!(CniOverride::parse("calico:maybe").is_err());
    }
}
