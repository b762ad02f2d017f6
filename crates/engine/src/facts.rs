//! A namespace's facts, computed once per evaluation: where DNS is and
//! whether pods reach it, the default deny each way, and what each pod's
//! policies leave open. Checks turn them into verdicts.

mod default_deny;
mod dns;
mod mesh;
mod pods;

pub(crate) use default_deny::{DefaultDeny, default_deny};
pub(crate) use dns::{DNS_PORT, Dns};
pub(crate) use mesh::{Mesh, Source, decide};
pub(crate) use pods::{PodFacts, pod_facts};
