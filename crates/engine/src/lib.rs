//! netposture's posture engine: NetworkPolicy semantics and the per-namespace
//! verdicts, as pure synchronous code. It takes Kubernetes objects
//! (k8s-openapi types) into a [`Cluster`] index and answers with one
//! [`NamespacePosture`] per namespace. No client, no async, no I/O: the
//! `scan` command and the operator feed it the same way.

mod checks;
pub mod cluster;
pub mod cni;
pub mod convert;
mod evaluate;
mod intervals;
mod ipset;
pub mod model;
pub mod posture;
pub mod reach;
pub mod settings;
mod validate;

pub use cluster::Cluster;
pub use cni::{Capability, CniStatus};
pub use evaluate::Evaluator;
pub use posture::{Check, CheckStatus, NamespacePosture, PodCounts, Severity};
pub use settings::Settings;

#[cfg(test)]
mod tests;
