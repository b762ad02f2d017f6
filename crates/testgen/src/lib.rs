//! A seeded generator of realistic clusters: namespaces with deployments'
//! pods and a mix of NetworkPolicy styles, plus the kube-system add-ons
//! (CoreDNS, a CNI agent). Same seed and sizes, same objects, on any machine.

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub struct Sizes {
    pub seed: u64,
    pub namespaces: usize,
    pub pods_per_namespace: usize,
    pub policies_per_namespace: usize,
}

impl Sizes {
    /// The size the performance targets are stated for: 2,000 namespaces,
    /// 100,000 pods, 20,000 policies.
    pub fn large() -> Self {
        Sizes {
            seed: 42,
            namespaces: 2_000,
            pods_per_namespace: 50,
            policies_per_namespace: 10,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
}

/// SplitMix64: tiny, fast, and stable across versions (unlike library RNGs).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const TEAMS: usize = 20;
const APPS_PER_NAMESPACE: usize = 5;
const TIERS: [&str; 3] = ["frontend", "api", "db"];

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("generated objects match their schema")
}

pub fn generate(sizes: &Sizes) -> Objects {
    let mut rng = Rng(sizes.seed);
    let mut objects = Objects::default();
    add_system(&mut objects);
    for n in 0..sizes.namespaces {
        let namespace = format!("ns-{n:05}");
        let team = format!("team-{}", rng.below(TEAMS));
        let environment = ["prod", "staging", "dev"][rng.below(3)];
        objects.namespaces.push(decode(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {
                "kubernetes.io/metadata.name": namespace, "team": team, "environment": environment}},
        })));
        for p in 0..sizes.pods_per_namespace {
            let app = p % APPS_PER_NAMESPACE;
            objects
                .pods
                .push(pod(&namespace, app, p, n * sizes.pods_per_namespace + p));
        }
        for k in 0..sizes.policies_per_namespace {
            objects.policies.push(policy(&mut rng, &namespace, k));
        }
    }
    objects
}

fn add_system(objects: &mut Objects) {
    for name in ["kube-system", "default"] {
        objects.namespaces.push(decode(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        })));
    }
    for i in 0..2 {
        objects.pods.push(decode(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("coredns-{i}"), "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.1",
                "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                          {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}]}]},
            "status": {"podIP": format!("10.96.0.{}", 10 + i)},
        })));
    }
    for i in 0..10 {
        objects.pods.push(decode(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("calico-node-{i}"), "namespace": "kube-system", "labels": {"k8s-app": "calico-node"}},
            "spec": {"hostNetwork": true, "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.27.3"}]},
        })));
    }
}

/// A pod as a Deployment creates it, with the status a kubelet reports.
fn pod(namespace: &str, app: usize, index: usize, global: usize) -> Pod {
    let tier = TIERS[app % TIERS.len()];
    let ip = format!(
        "10.{}.{}.{}",
        64 + (global >> 16) % 64,
        (global >> 8) % 256,
        global % 256
    );
    decode(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("app-{app}-{index:04}-x7k2p"),
            "namespace": namespace,
            "uid": format!("00000000-0000-4000-8000-{global:012}"),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": format!("app-{app}"), "tier": tier, "version": "v1", "pod-template-hash": "5d8f7c9b6"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("app-{app}-5d8f7c9b6"),
                "uid": "11111111-1111-4111-8111-111111111111", "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "containers": [{
                "name": "main",
                "image": format!("registry.example.com/{namespace}/app-{app}:1.4.2"),
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                          {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "TIER", "value": tier}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10},
                "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
            }],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "serviceAccountName": "default",
            "nodeName": format!("node-{}", global % 10),
        },
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": format!("192.168.0.{}", global % 10),
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:05Z"}],
            "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0, "image": "app", "imageID": "sha256:abc",
                "started": true, "state": {"running": {"startedAt": "2026-01-01T00:00:03Z"}}}],
        },
    }))
}

/// The k-th policy of a namespace: the first ones are the usual baseline
/// (default deny, DNS), the rest a random mix of real-world styles.
fn policy(rng: &mut Rng, namespace: &str, k: usize) -> NetworkPolicy {
    let app = |rng: &mut Rng| json!({"matchLabels": {"app": format!("app-{}", rng.below(APPS_PER_NAMESPACE))}});
    let spec = match k {
        0 if rng.chance(80) => json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        1 if rng.chance(70) => json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
        _ => match rng.below(6) {
            0 => {
                json!({"podSelector": app(rng), "ingress": [{"from": [{"podSelector": app(rng)}], "ports": [{"port": "http"}]}]})
            }
            1 => json!({"podSelector": app(rng), "ingress": [{"from": [{
                "namespaceSelector": {"matchLabels": {"team": format!("team-{}", rng.below(TEAMS))}},
                "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["frontend", "api"]}]}}],
                "ports": [{"port": 8080}]}]}),
            2 => json!({"podSelector": app(rng), "policyTypes": ["Egress"], "egress": [{
                "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}],
                "ports": [{"port": 443}]}]}),
            3 => {
                json!({"podSelector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
                "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {"matchLabels": {"tier": "db"}}}],
                "ports": [{"port": 5432, "endPort": 5433}]}]})
            }
            4 => {
                json!({"podSelector": app(rng), "ingress": [{"from": [{"ipBlock": {"cidr": "10.64.0.0/10", "except": ["10.64.0.0/16"]}}]}]})
            }
            _ => json!({"podSelector": {"matchLabels": {"tier": "frontend"}}, "ingress": [{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]}]}),
        },
    };
    decode(json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": format!("policy-{k:02}"), "namespace": namespace},
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> Objects {
        generate(&Sizes {
            seed,
            namespaces: 5,
            pods_per_namespace: 7,
            policies_per_namespace: 4,
        })
    }

    #[test]
    fn same_seed_same_cluster_other_seed_other_cluster() {
        let json = |o: &Objects| serde_json::to_string(&o.policies).unwrap();
        assert_eq!(json(&small(1)), json(&small(1)));
        assert_ne!(json(&small(1)), json(&small(2)));
    }

    #[test]
    fn sizes_are_respected() {
        let objects = small(3);
        assert_eq!(objects.namespaces.len(), 5 + 2);
        assert_eq!(objects.pods.len(), 5 * 7 + 12);
        assert_eq!(objects.policies.len(), 5 * 4);
    }
}
