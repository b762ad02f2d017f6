//! A seeded generator of realistic clusters: namespaces with deployments'
//! pods and NetworkPolicies in one of several styles, plus the kube-system
//! add-ons (CoreDNS, a CNI agent). Same seed, sizes and style, same objects,
//! byte for byte, on any machine.

mod realistic;
mod style;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Serialize;
use serde_json::{Map, Value, json};

pub use style::Style;

#[derive(Clone, Debug)]
pub struct Sizes {
    pub seed: u64,
    pub namespaces: usize,
    pub pods_per_namespace: usize,
    pub policies_per_namespace: usize,
    pub style: Style,
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
            style: Style::Mixed,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub policies: Vec<NetworkPolicy>,
}

/// A `v1 List`, as `kubectl get -o json` prints one.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct List<'a> {
    api_version: &'static str,
    kind: &'static str,
    items: Vec<Item<'a>>,
}

#[derive(Clone, Copy, Serialize)]
#[serde(untagged)]
enum Item<'a> {
    Namespace(&'a Namespace),
    Policy(&'a NetworkPolicy),
    Pod(&'a Pod),
}

impl Objects {
    /// Every object in order: Namespaces first, since some readers (NCA)
    /// bind a Pod to its Namespace's labels as soon as they read it.
    fn items(&self) -> Vec<Item<'_>> {
        self.namespaces
            .iter()
            .map(Item::Namespace)
            .chain(self.policies.iter().map(Item::Policy))
            .chain(self.pods.iter().map(Item::Pod))
            .collect()
    }

    /// Every object in one `v1 List`.
    pub fn to_list_json(&self) -> serde_json::Result<Vec<u8>> {
        list(self.items())
    }

    /// The same objects in order, as Lists of at most `size` objects each.
    pub fn to_list_chunks(&self, size: usize) -> serde_json::Result<Vec<Vec<u8>>> {
        self.items()
            .chunks(size)
            .map(|chunk| list(chunk.to_vec()))
            .collect()
    }
}

fn list(items: Vec<Item<'_>>) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&List {
        api_version: "v1",
        kind: "List",
        items,
    })
}

/// SplitMix64: tiny, fast, and stable across versions (unlike library RNGs).
pub(crate) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

pub(crate) const TEAMS: usize = 20;
pub(crate) const APPS_PER_NAMESPACE: usize = 5;
pub(crate) const TIERS: [&str; 3] = ["frontend", "api", "db"];
pub(crate) const ENVIRONMENTS: [&str; 3] = ["prod", "staging", "dev"];

/// The container port named `http` on pods of `app`: it differs between
/// apps, so a named port resolves per destination pod.
pub(crate) fn http_port(app: usize) -> u16 {
    8080 + (app % 2) as u16
}

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
        let environment = ENVIRONMENTS[rng.below(ENVIRONMENTS.len())];
        objects.namespaces.push(decode(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": namespace, "labels": {
                "kubernetes.io/metadata.name": namespace, "team": team, "environment": environment}},
        })));
        let mut stamps = (sizes.style == Style::Realistic).then(|| {
            (0..APPS_PER_NAMESPACE)
                .map(|app| {
                    let count = sizes
                        .pods_per_namespace
                        .saturating_sub(app)
                        .div_ceil(APPS_PER_NAMESPACE);
                    realistic::app_pods(&mut rng, &namespace, app, count).into_iter()
                })
                .collect::<Vec<_>>()
        });
        for p in 0..sizes.pods_per_namespace {
            let app = p % APPS_PER_NAMESPACE;
            let stamp = match &mut stamps {
                Some(stamps) => stamps[app].next(),
                None => None,
            };
            let stamp = stamp.unwrap_or_else(|| deployment_stamp(app, p));
            let global = n * sizes.pods_per_namespace + p;
            objects.pods.push(pod(&namespace, app, global, stamp));
        }
        for k in 0..sizes.policies_per_namespace {
            let spec = sizes.style.policy_spec(&mut rng, sizes.namespaces, k);
            objects.policies.push(decode(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": format!("policy-{k:02}"), "namespace": namespace},
                "spec": spec,
            })));
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

/// Name, labels and owner of the other styles' pods: one ReplicaSet per
/// app, labels alike for every pod of the app.
fn deployment_stamp(app: usize, index: usize) -> realistic::Stamp {
    let labels = Map::from_iter([
        ("app".to_string(), json!(format!("app-{app}"))),
        ("tier".to_string(), json!(TIERS[app % TIERS.len()])),
        ("version".to_string(), json!("v1")),
        ("pod-template-hash".to_string(), json!("5d8f7c9b6")),
    ]);
    realistic::Stamp {
        name: format!("app-{app}-{index:04}-x7k2p"),
        labels,
        owner: json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("app-{app}-5d8f7c9b6"),
            "uid": "11111111-1111-4111-8111-111111111111", "controller": true, "blockOwnerDeletion": true}),
    }
}

/// A pod of app `app` as its controller stamped it, with the status a kubelet reports.
fn pod(namespace: &str, app: usize, global: usize, stamp: realistic::Stamp) -> Pod {
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
            "name": stamp.name,
            "namespace": namespace,
            "uid": format!("00000000-0000-4000-8000-{global:012}"),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": stamp.labels,
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"},
            "ownerReferences": [stamp.owner],
        },
        "spec": {
            "containers": [{
                "name": "main",
                "image": format!("registry.example.com/{namespace}/app-{app}:1.4.2"),
                "ports": [{"name": "http", "containerPort": http_port(app), "protocol": "TCP"},
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

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64, style: Style) -> Objects {
        generate(&Sizes {
            seed,
            namespaces: 5,
            pods_per_namespace: 7,
            policies_per_namespace: 4,
            style,
        })
    }

    fn bytes(objects: &Objects) -> Vec<u8> {
        objects.to_list_json().unwrap()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_cluster() {
        for style in Style::ALL {
            assert_eq!(bytes(&small(1, style)), bytes(&small(1, style)), "{style}");
        }
        assert_ne!(
            bytes(&small(1, Style::Mixed)),
            bytes(&small(2, Style::Mixed))
        );
    }

    #[test]
    fn styles_differ() {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        for style in Style::ALL {
            let json = serde_json::to_vec(&small(1, style).policies).unwrap();
            assert!(!seen.contains(&json), "{style} repeats another style");
            seen.push(json);
        }
    }

    #[test]
    fn sizes_are_respected() {
        let objects = small(3, Style::Mixed);
        assert_eq!(objects.namespaces.len(), 5 + 2);
        assert_eq!(objects.pods.len(), 5 * 7 + 12);
        assert_eq!(objects.policies.len(), 5 * 4);
    }

    #[test]
    fn list_puts_namespaces_first() {
        let list: Value = serde_json::from_slice(&bytes(&small(4, Style::Mixed))).unwrap();
        let kinds: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["kind"].as_str().unwrap())
            .collect();
        assert_eq!(list["kind"], "List");
        assert_eq!(kinds.len(), 7 + 47 + 20);
        assert!(kinds[..7].iter().all(|k| *k == "Namespace"));
        assert!(kinds[7..].iter().all(|k| *k != "Namespace"));
    }

    #[test]
    fn chunks_hold_the_list_in_order() {
        let objects = small(5, Style::All);
        let items = |bytes: &[u8]| -> Vec<Value> {
            let list: Value = serde_json::from_slice(bytes).unwrap();
            list["items"].as_array().unwrap().clone()
        };
        let chunks = objects.to_list_chunks(10).unwrap();
        assert_eq!(chunks.len(), 74_usize.div_ceil(10));
        let joined: Vec<Value> = chunks.iter().flat_map(|c| items(c)).collect();
        assert_eq!(joined, items(&bytes(&objects)));
    }

    #[test]
    fn realistic_pods_carry_their_controllers_labels_under_unique_names() {
        let objects = generate(&Sizes {
            seed: 9,
            namespaces: 12,
            pods_per_namespace: 30,
            policies_per_namespace: 4,
            style: Style::Realistic,
        });
        let mut names = std::collections::BTreeSet::new();
        let mut label_sets = std::collections::BTreeSet::new();
        let mut stamped_by = std::collections::BTreeSet::new();
        for pod in &objects.pods {
            let metadata = &pod.metadata;
            let namespace = metadata.namespace.clone().unwrap();
            let name = metadata.name.clone().unwrap();
            assert!(
                names.insert((namespace.clone(), name.clone())),
                "{namespace}/{name} twice"
            );
            if namespace == "kube-system" {
                continue;
            }
            let labels = metadata.labels.clone().unwrap();
            assert!(labels.contains_key("app") && labels.contains_key("app.kubernetes.io/name"));
            let kind = metadata.owner_references.as_ref().unwrap()[0].kind.clone();
            let stamp = match kind.as_str() {
                "ReplicaSet" => "pod-template-hash",
                "StatefulSet" => "statefulset.kubernetes.io/pod-name",
                "DaemonSet" => "pod-template-generation",
                "Job" => "batch.kubernetes.io/controller-uid",
                other => panic!("unexpected owner {other}"),
            };
            assert!(labels.contains_key(stamp), "{name} lacks {stamp}");
            stamped_by.insert(kind);
            label_sets.insert((namespace, labels));
        }
        assert_eq!(stamped_by.len(), 4, "every controller kind appears");
        // Policies select on app and tier, but pods seldom share all their labels.
        assert!(
            label_sets.len() * 2 > 12 * 30,
            "{} label sets",
            label_sets.len()
        );
    }
}
