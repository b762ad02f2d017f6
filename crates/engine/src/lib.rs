//! netposture's posture engine: NetworkPolicy semantics and the per-namespace
//! verdicts, as pure synchronous code. It takes Kubernetes objects
//! (k8s-openapi types) into a [`Cluster`] index and answers with one
//! [`NamespacePosture`] per namespace. No client, no async, no I/O: the
//! `scan` command and the operator feed it the same way.

pub mod annotations;
pub mod changes;
mod checks;
pub mod classes;
pub mod cluster;
pub mod cni;
mod cni_agents;
pub mod compliance;
pub mod connectivity;
pub mod convert;
mod dashboard;
pub mod diff;
mod evaluate;
mod exposure;
mod facts;
pub mod impact;
pub mod ingress;
mod intervals;
mod ipset;
pub mod layers;
pub mod mesh;
pub mod model;
pub mod pod_cidrs;
pub mod posture;
pub mod reach;
pub mod settings;
pub mod suggest;
mod validate;
pub mod whatif;

pub use cluster::Cluster;
pub use cni::{Capability, CniStatus};
pub use evaluate::Evaluator;
pub use impact::Affected;
pub use posture::{AcceptedRisk, Check, CheckStatus, NamespacePosture, PodCounts, Severity};
pub use settings::Settings;

/// Validates a label selector as the API server would and compiles it, for
/// callers that take selectors from configuration.
pub fn compile_selector(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    field: &str,
) -> Result<kube_core::Selector, String> {
    validate::compile_selector(selector, field)
}

#[cfg(test)]
mod tests;
