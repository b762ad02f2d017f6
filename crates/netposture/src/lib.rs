//! netposture: Kubernetes network security posture, namespace by namespace.
//! The engine (`netposture-engine`) decides; this crate reads its input
//! (manifests or the live cluster), runs the subcommands and the operator.

pub mod cli;
pub mod config;
pub mod fail_on;
pub mod input;
pub mod operator;
pub mod output;
