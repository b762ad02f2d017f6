//! What the caller may tune. The binary reads these from its config file and
//! flags; the engine only consumes them.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use kube_core::{Selector, SelectorExt};

use crate::cni::CniStatus;
use crate::model::{Labels, Pod};
use crate::posture::ids;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Namespace of the cluster DNS pods.
    pub dns_namespace: String,
    /// Selector of the cluster DNS pods inside `dns_namespace`.
    pub dns_selector: Selector,
    /// Pods of `dns_namespace` that mark NodeLocal DNSCache as installed.
    pub node_local_dns_selector: Selector,
    /// Addresses NodeLocal DNSCache listens on (upstream and kubespray defaults).
    pub node_local_dns_addresses: Vec<IpAddr>,
    /// Replaces CNI detection when set.
    pub cni_override: Option<CniStatus>,
    /// Score weight per check id; a check without a weight does not count.
    pub weights: BTreeMap<String, u32>,
    /// At most this many names in `unprotectedPods`.
    pub unprotected_pods_cap: usize,
    /// Namespaces of cluster components that other namespaces' pods should
    /// not reach (besides DNS); they get `system-namespaces-isolated` NotApplicable.
    pub system_namespaces: Vec<String>,
    /// Istio's root namespace: a PeerAuthentication without selector there is mesh-wide.
    pub mesh_root_namespace: String,
    /// The cluster's pod CIDRs as configured; empty: from the Nodes, else
    /// assumed (see [`crate::pod_cidrs`]).
    pub pod_cidrs: Vec<IpNet>,
}

pub fn default_weights() -> BTreeMap<String, u32> {
    [
        (ids::DEFAULT_DENY_INGRESS, 20),
        (ids::DEFAULT_DENY_EGRESS, 20),
        (ids::DNS_ALLOWED, 15),
        (ids::CNI_ENFORCES, 15),
        (ids::EGRESS_RESTRICTED, 10),
        (ids::PODS_ISOLATED, 10),
        (ids::EXPOSED_SERVICES, 10),
        (ids::SYSTEM_NAMESPACES_ISOLATED, 10),
        (ids::INGRESS_BACKENDS, 10),
        (ids::DASHBOARD_EXPOSED, 10),
        (ids::HOST_NETWORK_PODS, 5),
        (ids::DNS_TCP_ALLOWED, 5),
        (ids::HOST_PORTS, 5),
        (ids::INGRESS_TLS, 5),
        (ids::MESH_MTLS, 5),
        (ids::SPOOFABLE_NAMESPACE_SELECTORS, 5),
        (ids::EMPTY_POLICIES, 0),
        (ids::EMPTY_PEERS, 0),
        (ids::INVALID_OBJECT, 0),
        (ids::UNEVALUATED_POLICIES, 0),
        (ids::ACCEPTED_RISKS, 0),
    ]
    .into_iter()
    .map(|(id, weight)| (id.to_string(), weight))
    .collect()
}

impl Settings {
    /// Whether a pod with these labels in `namespace` is a cluster DNS pod
    /// (or NodeLocal DNSCache), whose reachability every namespace is judged on.
    pub fn serves_dns(&self, namespace: &str, labels: &Labels) -> bool {
        namespace == self.dns_namespace
            && (self.dns_selector.matches(labels) || self.node_local_dns_selector.matches(labels))
    }

    pub fn is_system_namespace(&self, namespace: &str) -> bool {
        self.system_namespaces.iter().any(|n| n == namespace)
    }

    /// Whether every namespace is judged on reaching this pod: a pod of a
    /// system namespace that is neither DNS nor on the host network.
    pub fn is_system_target(&self, namespace: &str, pod: &Pod) -> bool {
        self.is_system_namespace(namespace)
            && !pod.host_network
            && !self.serves_dns(namespace, &pod.labels)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dns_namespace: "kube-system".into(),
            dns_selector: [("k8s-app", "kube-dns")].into_iter().collect(),
            node_local_dns_selector: [("k8s-app", "node-local-dns")].into_iter().collect(),
            node_local_dns_addresses: vec![
                IpAddr::V4(Ipv4Addr::new(169, 254, 20, 10)),
                IpAddr::V4(Ipv4Addr::new(169, 254, 25, 10)),
            ],
            cni_override: None,
            weights: default_weights(),
            unprotected_pods_cap: 50,
            system_namespaces: vec!["kube-system".into()],
            mesh_root_namespace: "istio-system".into(),
            pod_cidrs: Vec::new(),
        }
    }
}
