//! Policy APIs beside Kubernetes NetworkPolicy: cluster-wide tiers
//! (ClusterNetworkPolicy and its AdminNetworkPolicy predecessors) and
//! CNI-specific policies (Calico, Cilium). They are recognised and reported
//! in every namespace they can affect; the verdicts do not yet evaluate them,
//! and the report says so instead of guessing.

/// A kind of policy layer, by API group and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LayerKind {
    pub group: &'static str,
    pub kind: &'static str,
    /// Cluster-scoped layers can affect every namespace; namespaced ones only their own.
    pub cluster_scoped: bool,
}

pub const LAYER_KINDS: [LayerKind; 7] = [
    LayerKind {
        group: "policy.networking.k8s.io",
        kind: "ClusterNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: "policy.networking.k8s.io",
        kind: "AdminNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: "policy.networking.k8s.io",
        kind: "BaselineAdminNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: "crd.projectcalico.org",
        kind: "GlobalNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: "crd.projectcalico.org",
        kind: "NetworkPolicy",
        cluster_scoped: false,
    },
    LayerKind {
        group: "cilium.io",
        kind: "CiliumClusterwideNetworkPolicy",
        cluster_scoped: true,
    },
    LayerKind {
        group: "cilium.io",
        kind: "CiliumNetworkPolicy",
        cluster_scoped: false,
    },
];

/// The layer kind of an object's API group and kind, if it is one.
/// `projectcalico.org` (Calico's API server) serves the same kinds as its CRDs.
pub fn layer_kind(group: &str, kind: &str) -> Option<LayerKind> {
    let group = if group == "projectcalico.org" {
        "crd.projectcalico.org"
    } else {
        group
    };
    LAYER_KINDS
        .into_iter()
        .find(|k| k.group == group && k.kind == kind)
}

/// One policy of a layer, as the index keeps it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LayerPolicy {
    pub kind: LayerKind,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
}

impl LayerPolicy {
    pub fn applies_to(&self, namespace: &str) -> bool {
        self.kind.cluster_scoped || self.namespace.as_deref() == Some(namespace)
    }

    /// `Kind.group/name`, as kubectl names a resource of a custom API.
    pub fn describe(&self) -> String {
        format!("{}.{}/{}", self.kind.kind, self.kind.group, self.name)
    }
}
