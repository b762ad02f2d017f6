//! What `scan`, `can-reach` and `explain` read, the same way: manifests
//! (`-f`) or the live cluster, a configuration file and a CNI override, into
//! the engine's index and settings.

pub mod inventory;
pub mod json_header;
pub mod json_items;
pub mod json_stream;
mod lean_pod;
pub mod locations;
pub mod manifests;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use netposture_engine::model::{Direction, PortSpec};
use netposture_engine::{Cluster, CniStatus, Settings};

use crate::config::{CniOverride, Config, Exclusion};
use locations::Locations;

#[derive(Debug, Args)]
pub struct InputArgs {
    /// Manifest file or directory (recursive .yaml/.yml/.json), or - for stdin. Repeatable.
    /// Without it, the cluster of the current kubeconfig is read.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub filenames: Vec<PathBuf>,
    /// Configuration file (see config/netposture.yaml).
    #[arg(long, env = "NETPOSTURE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Declare the CNI instead of detecting it: NAME (a known CNI) or NAME:True|False|Unknown.
    #[arg(long, value_name = "NAME[:CAPABLE]", value_parser = CniOverride::parse)]
    pub cni: Option<CniOverride>,
}

/// The index with the settings and namespace exclusions to evaluate it with.
pub struct Input {
    pub cluster: Cluster,
    pub settings: Settings,
    pub exclusion: Exclusion,
    /// Where the manifests' objects were read; empty for a live cluster.
    pub locations: Locations,
}

impl InputArgs {
    /// Reads the configuration first, so a bad file fails before any cluster I/O.
    pub fn load(&self) -> anyhow::Result<Input> {
        let config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let mut settings = config.settings().map_err(anyhow::Error::msg)?;
        let exclusion = config.exclusion().map_err(anyhow::Error::msg)?;
        if let Some(cni) = &self.cni {
            settings.cni_override = Some(CniStatus {
                name: cni.name.clone(),
                capable: cni.capable,
                evidence: "set by --cni".into(),
            });
        }
        let (cluster, locations) = if self.filenames.is_empty() {
            (read_cluster()?, Locations::default())
        } else {
            read_manifests(&self.filenames)?
        };
        Ok(Input {
            cluster,
            settings,
            exclusion,
            locations,
        })
    }
}

fn read_manifests(paths: &[PathBuf]) -> anyhow::Result<(Cluster, Locations)> {
    let mut manifests = manifests::load(paths)?;
    let locations = std::mem::take(&mut manifests.locations);
    if !manifests.skipped.is_empty() {
        let kinds: Vec<String> = manifests
            .skipped
            .iter()
            .map(|(kind, count)| {
                format!(
                    "{count} {}",
                    if kind.is_empty() {
                        "without kind"
                    } else {
                        kind
                    }
                )
            })
            .collect();
        eprintln!(
            "note: skipped objects the engine does not use: {}",
            kinds.join(", ")
        );
    }
    for unread in &manifests.unread_versions {
        eprintln!("warning: {unread}");
    }
    for workload in inventory::workloads_without_pods(&manifests) {
        eprintln!(
            "note: {workload} is not evaluated: its namespace has Pod objects, which stand for its workloads, and none carries its pod template's labels"
        );
    }
    let cluster = inventory::from_manifests(manifests);
    for (namespace, state) in cluster.namespaces() {
        for rejected in state.rejected.values() {
            // A Namespace is named by itself, not inside itself.
            let object = if rejected.kind == "Namespace" {
                rejected.name.clone()
            } else {
                format!("{namespace}/{}", rejected.name)
            };
            eprintln!(
                "warning: {} {object} is left out: {}",
                rejected.kind, rejected.reason
            );
        }
    }
    let notes = end_port_notes(&cluster);
    for note in notes.iter().take(END_PORT_NOTES_SHOWN) {
        eprintln!("note: {note}");
    }
    if let Some(more) = notes
        .len()
        .checked_sub(END_PORT_NOTES_SHOWN)
        .filter(|n| *n > 0)
    {
        eprintln!("note: and {more} more policy rules with endPort, with the same caveat");
    }
    Ok((cluster, locations))
}

/// A generated or big input can hold thousands of rules with endPort: the
/// caveat is the same for each, so a few name it and the rest are counted.
const END_PORT_NOTES_SHOWN: usize = 10;

/// Port ranges of the manifests' policies, which only `endPort` writes:
/// API servers before 1.21 drop the field and keep the first port, so a
/// live scan of such a cluster answers differently; said per rule.
fn end_port_notes(cluster: &Cluster) -> Vec<String> {
    let mut notes = Vec::new();
    for (namespace, state) in cluster.namespaces() {
        for (name, policy) in &state.policies {
            for direction in [Direction::Ingress, Direction::Egress] {
                let rules = policy.rules(direction).unwrap_or_default();
                for (index, rule) in rules.iter().enumerate() {
                    for port in &rule.ports {
                        if let PortSpec::Range(start, end) = port.port
                            && end > start
                        {
                            notes.push(format!(
                                "networkpolicy {namespace}/{name} {direction}[{index}] admits {start}-{end}/{} through endPort, which API servers before 1.21 drop: there it admits port {start} alone, and a live scan differs",
                                port.protocol
                            ));
                        }
                    }
                }
            }
        }
    }
    notes
}

fn read_cluster() -> anyhow::Result<Cluster> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the cluster (KUBECONFIG, ~/.kube/config or in-cluster)")?;
        inventory::from_cluster(client).await
    })
}

/// The error for a namespace the input does not hold, the same for every command.
pub fn unknown_namespace(name: &str) -> anyhow::Error {
    anyhow::anyhow!("namespace {name:?} is not in the input")
}
