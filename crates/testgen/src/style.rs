//! Policy styles: which NetworkPolicy shapes a generated namespace gets.
//! Every style starts a namespace with a baseline (default deny, DNS) and
//! draws the rest of its policies from its own set of real-world shapes.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

use crate::{APPS_PER_NAMESPACE, Rng, TEAMS};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// The benchmark's mix: selectors, namespace selectors, ipBlocks, port ranges.
    Mixed,
    /// Every namespace denies all traffic and opens DNS, then app by app.
    DefaultDeny,
    /// Ingress isolation opened to the namespace's own pods.
    AllowSameNamespace,
    /// Peers in other namespaces, by label and by name.
    CrossNamespace,
    /// ipBlock peers, some holding pod and node addresses.
    Ipblock,
    /// Named ports (resolved per destination pod), ranges, UDP and SCTP.
    NamedPorts,
    /// Every shape of every style: the widest input for differential tests.
    All,
    /// Pods labelled as their controllers stamp them (a `pod-template-hash`
    /// per ReplicaSet, a name per StatefulSet pod, a uid per Job run, versions
    /// mid-rollout), policies selecting on `app`, `tier`,
    /// `app.kubernetes.io/name` and namespace labels only.
    Realistic,
}

impl Style {
    pub const ALL: [Style; 8] = [
        Style::Mixed,
        Style::DefaultDeny,
        Style::AllowSameNamespace,
        Style::CrossNamespace,
        Style::Ipblock,
        Style::NamedPorts,
        Style::All,
        Style::Realistic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Style::Mixed => "mixed",
            Style::DefaultDeny => "default-deny",
            Style::AllowSameNamespace => "allow-same-namespace",
            Style::CrossNamespace => "cross-namespace",
            Style::Ipblock => "ipblock",
            Style::NamedPorts => "named-ports",
            Style::All => "all",
            Style::Realistic => "realistic",
        }
    }

    fn shapes(self) -> &'static [Shape] {
        use Shape::*;
        match self {
            Style::Mixed => &[
                SameApp,
                TeamTiers,
                InternetEgress,
                DbEgressRange,
                PodCidrIngress,
                IngressController,
            ],
            Style::DefaultDeny => &[
                SameApp,
                TeamTiers,
                InternetEgress,
                DbEgressRange,
                EgressDenied,
            ],
            Style::AllowSameNamespace => &[WholeNamespace, SameNamespaceApp, SameApp],
            Style::CrossNamespace => &[
                TeamTiers,
                NamespacesByName,
                EnvironmentEgress,
                AnyNamespaceMetrics,
                IngressController,
            ],
            Style::Ipblock => &[InternetEgress, PodCidrIngress, PodCidrEgress, NodeIngress],
            Style::NamedPorts => &[
                SameApp,
                NamedPortsEgress,
                AnyNamespaceMetrics,
                UdpSctpRange,
                DbEgressRange,
            ],
            Style::All => Shape::EVERY,
            Style::Realistic => &[
                SameApp,
                TeamTiers,
                InternetEgress,
                DbEgressRange,
                IngressController,
                EnvironmentEgress,
                ChartPeers,
            ],
        }
    }

    /// The spec of a namespace's `k`-th policy; `namespaces` is how many
    /// generated namespaces there are, for peers named by namespace.
    pub(crate) fn policy_spec(self, rng: &mut Rng, namespaces: usize, k: usize) -> Value {
        let (deny_percent, dns_percent) = match self {
            Style::DefaultDeny => (100, 100),
            Style::AllowSameNamespace => (100, 0),
            _ => (80, 70),
        };
        match k {
            0 if rng.chance(deny_percent) => {
                if self == Style::AllowSameNamespace {
                    json!({"podSelector": {}, "policyTypes": ["Ingress"]})
                } else {
                    json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
                }
            }
            1 if rng.chance(dns_percent) => {
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]})
            }
            _ => {
                let shapes = self.shapes();
                shapes[rng.below(shapes.len())].spec(rng, namespaces)
            }
        }
    }
}

impl fmt::Display for Style {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Style {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Style::ALL
            .into_iter()
            .find(|style| style.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Style::ALL.iter().map(|s| s.name()).collect();
                format!("unknown style {text:?} (one of {})", names.join(", "))
            })
    }
}

/// One policy shape, as clusters write them.
#[derive(Clone, Copy, Debug)]
enum Shape {
    SameApp,
    TeamTiers,
    InternetEgress,
    DbEgressRange,
    PodCidrIngress,
    IngressController,
    EgressDenied,
    WholeNamespace,
    SameNamespaceApp,
    NamespacesByName,
    EnvironmentEgress,
    AnyNamespaceMetrics,
    PodCidrEgress,
    NodeIngress,
    NamedPortsEgress,
    UdpSctpRange,
    /// Selects by the chart's `app.kubernetes.io/name`, from pods that carry one.
    ChartPeers,
}

impl Shape {
    const EVERY: &'static [Shape] = &[
        Shape::SameApp,
        Shape::TeamTiers,
        Shape::InternetEgress,
        Shape::DbEgressRange,
        Shape::PodCidrIngress,
        Shape::IngressController,
        Shape::EgressDenied,
        Shape::WholeNamespace,
        Shape::SameNamespaceApp,
        Shape::NamespacesByName,
        Shape::EnvironmentEgress,
        Shape::AnyNamespaceMetrics,
        Shape::PodCidrEgress,
        Shape::NodeIngress,
        Shape::NamedPortsEgress,
        Shape::UdpSctpRange,
    ];

    fn spec(self, rng: &mut Rng, namespaces: usize) -> Value {
        let app = |rng: &mut Rng| json!({"matchLabels": {"app": format!("app-{}", rng.below(APPS_PER_NAMESPACE))}});
        match self {
            Shape::SameApp => {
                json!({"podSelector": app(rng), "ingress": [{"from": [{"podSelector": app(rng)}], "ports": [{"port": "http"}]}]})
            }
            Shape::TeamTiers => json!({"podSelector": app(rng), "ingress": [{"from": [{
                "namespaceSelector": {"matchLabels": {"team": format!("team-{}", rng.below(TEAMS))}},
                "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "api"]}]}}],
                "ports": [{"port": 8080}]}]}),
            Shape::InternetEgress => {
                json!({"podSelector": app(rng), "policyTypes": ["Egress"], "egress": [{
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                "ports": [{"port": 443}]}]})
            }
            Shape::DbEgressRange => {
                json!({"podSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
                "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {"matchLabels": {"tier": "db"}}}],
                "ports": [{"port": 5432, "endPort": 5433}]}]})
            }
            Shape::PodCidrIngress => {
                json!({"podSelector": app(rng), "ingress": [{"from": [{"ipBlock": {"cidr": "10.64.0.0/10", "except": ["10.64.0.0/16"]}}]}]})
            }
            Shape::IngressController => {
                json!({"podSelector": {"matchLabels": {"tier": "frontend"}}, "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}]})
            }
            Shape::EgressDenied => json!({"podSelector": app(rng), "policyTypes": ["Egress"]}),
            Shape::WholeNamespace => {
                json!({"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]})
            }
            Shape::SameNamespaceApp => json!({"podSelector": app(rng), "ingress": [{
                "from": [{"podSelector": {}}], "ports": [{"port": 8080}, {"port": 9090}]}]}),
            Shape::NamespacesByName => {
                let names: Vec<String> = (0..2)
                    .map(|_| format!("ns-{:05}", rng.below(namespaces.max(1))))
                    .collect();
                json!({"podSelector": app(rng), "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": names}]}}]}]})
            }
            Shape::EnvironmentEgress => {
                let environment = crate::ENVIRONMENTS[rng.below(crate::ENVIRONMENTS.len())];
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{
                    "namespaceSelector": {"matchLabels": {"environment": environment}},
                    "podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": "http"}]}]})
            }
            Shape::AnyNamespaceMetrics => json!({"podSelector": {}, "ingress": [{
                "from": [{"namespaceSelector": {}}], "ports": [{"port": "metrics"}]}]}),
            Shape::PodCidrEgress => {
                json!({"podSelector": app(rng), "policyTypes": ["Egress"], "egress": [{
                "to": [{"ipBlock": {"cidr": "10.64.0.0/12", "except": ["10.64.0.0/24"]}}], "ports": [{"port": 8080}]}]})
            }
            Shape::NodeIngress => json!({"podSelector": app(rng), "ingress": [{
                "from": [{"ipBlock": {"cidr": "192.168.0.0/24"}}], "ports": [{"port": 9090}]}]}),
            Shape::NamedPortsEgress => {
                json!({"podSelector": app(rng), "policyTypes": ["Egress"], "egress": [{
                "to": [{"podSelector": {"matchLabels": {"tier": "api"}}}],
                "ports": [{"port": "http"}, {"port": "metrics"}, {"port": "dns", "protocol": "UDP"}]}]})
            }
            Shape::ChartPeers => {
                let name = |rng: &mut Rng| format!("app-{}", rng.below(APPS_PER_NAMESPACE));
                json!({"podSelector": {"matchLabels": {"app.kubernetes.io/name": name(rng)}}, "ingress": [{"from": [
                    {"podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [name(rng), name(rng)]}]}},
                    {"namespaceSelector": {"matchLabels": {"team": format!("team-{}", rng.below(TEAMS))}},
                     "podSelector": {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "Exists"}]}}],
                    "ports": [{"port": "http"}]}]})
            }
            Shape::UdpSctpRange => {
                json!({"podSelector": app(rng), "ingress": [{"from": [{"podSelector": {}}],
                "ports": [{"protocol": "UDP", "port": 5000, "endPort": 5100}, {"protocol": "SCTP", "port": 9000}]}]})
            }
        }
    }
}
