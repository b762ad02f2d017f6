//! Which CNI the cluster runs and whether it enforces NetworkPolicy: the
//! kinds, what one pod signals, and the cluster's answer. `cni_agents.rs`
//! reads them from the CNI's agent pods.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CniKind {
    Calico,
    Canal,
    Cilium,
    GkeDataplaneV2,
    WeaveNet,
    Antrea,
    KubeRouter,
    OvnKubernetes,
    KubeOvn,
    AzureNpm,
    Flannel,
    AwsVpcCni,
    AzureCns,
    Kindnet,
}

impl CniKind {
    const ALL: [CniKind; 14] = [
        CniKind::Calico,
        CniKind::Canal,
        CniKind::Cilium,
        CniKind::GkeDataplaneV2,
        CniKind::WeaveNet,
        CniKind::Antrea,
        CniKind::KubeRouter,
        CniKind::OvnKubernetes,
        CniKind::KubeOvn,
        CniKind::AzureNpm,
        CniKind::Flannel,
        CniKind::AwsVpcCni,
        CniKind::AzureCns,
        CniKind::Kindnet,
    ];

    /// Whether this CNI enforces NetworkPolicy in its usual setup (AWS VPC CNI
    /// only with its policy agent, Cilium unless policy is switched off, ...).
    pub fn usual_capability(self) -> Capability {
        match self {
            CniKind::Flannel | CniKind::AwsVpcCni | CniKind::AzureCns => Capability::False,
            CniKind::Kindnet => Capability::Unknown,
            _ => Capability::True,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            CniKind::Calico => "calico",
            CniKind::Canal => "canal",
            CniKind::Cilium => "cilium",
            CniKind::GkeDataplaneV2 => "gke-dataplane-v2",
            CniKind::WeaveNet => "weave-net",
            CniKind::Antrea => "antrea",
            CniKind::KubeRouter => "kube-router",
            CniKind::OvnKubernetes => "ovn-kubernetes",
            CniKind::KubeOvn => "kube-ovn",
            CniKind::AzureNpm => "azure-npm",
            CniKind::Flannel => "flannel",
            CniKind::AwsVpcCni => "aws-vpc-cni",
            CniKind::AzureCns => "azure-cns",
            CniKind::Kindnet => "kindnet",
        }
    }
}

/// Whether NetworkPolicy is enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Capability {
    True,
    False,
    Unknown,
}

impl Capability {
    /// The condition-status spelling: `True`, `False`, `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::True => "True",
            Capability::False => "False",
            Capability::Unknown => "Unknown",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one pod says about the CNI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniSignal {
    pub kind: CniKind,
    pub enforces: Capability,
    /// Why this pod was recognised (image or label), for the report's evidence.
    pub reason: String,
}

/// The cluster-level answer, as reported in every namespace's posture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CniStatus {
    pub name: String,
    pub capable: Capability,
    pub evidence: String,
}
