//! Applying one change to the index: the object it puts or deletes, through
//! `Cluster::apply` / `delete` as the operator's watches call them.

use super::*;

pub(super) fn name_of(
    metadata: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> (String, String) {
    (
        metadata.namespace.clone().unwrap_or_default(),
        metadata.name.clone().unwrap_or_default(),
    )
}

pub(super) fn node(cidrs: &[&str]) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1"},
        "spec": {"podCIDRs": cidrs},
    }))
    .expect("a valid Node")
}

/// Applies `change` as the operator's watch does, returning what it affects.
pub(super) fn apply(
    cluster: &mut Cluster,
    settings: &Settings,
    change: &Change,
    other: &Objects,
    own: &Objects,
) -> Affected {
    let pick = |index: &Index, len: usize| (len > 0).then(|| index.index(len));
    let cluster_scoped = |name: &str| -> ObjectKey { (String::new(), name.to_string()) };
    match change {
        Change::PutPod(i) => match pick(i, other.pods.len()) {
            Some(i) => cluster.apply(&Pods, settings, &other.pods[i]),
            None => Affected::Nothing,
        },
        Change::DeletePod(i) => match pick(i, own.pods.len()) {
            Some(i) => cluster.delete(&Pods, settings, &name_of(&own.pods[i].metadata)),
            None => Affected::Nothing,
        },
        Change::PutPolicy(i) => match pick(i, other.policies.len()) {
            Some(i) => cluster.apply(&NetworkPolicies, settings, &other.policies[i]),
            None => Affected::Nothing,
        },
        Change::DeletePolicy(i) => match pick(i, own.policies.len()) {
            Some(i) => {
                let key = name_of(&own.policies[i].metadata);
                cluster.delete(&NetworkPolicies, settings, &key)
            }
            None => Affected::Nothing,
        },
        Change::PutNamespace(i) => match pick(i, other.namespaces.len()) {
            Some(i) => cluster.apply(&Namespaces, settings, &other.namespaces[i]),
            None => Affected::Nothing,
        },
        Change::DeleteNamespace(i) => {
            let name = generate::NAMESPACE_NAMES[i.index(generate::NAMESPACE_NAMES.len())];
            cluster.delete(&Namespaces, settings, &cluster_scoped(name))
        }
        Change::PutNode(i) => {
            let node = node(NODE_CIDRS[i.index(NODE_CIDRS.len())]);
            cluster.apply(&Nodes, settings, &node)
        }
        Change::DeleteNode => cluster.delete(&Nodes, settings, &cluster_scoped("node-1")),
        Change::PutService(i) => {
            let Some(i) = pick(i, other.pods.len()) else {
                return Affected::Nothing;
            };
            let pod = &other.pods[i];
            let (namespace, _) = name_of(&pod.metadata);
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let service: Service = serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": namespace},
                "spec": {"type": "LoadBalancer", "selector": labels, "ports": [{"port": 80, "targetPort": 8080}]},
            }))
            .expect("a valid Service");
            cluster.apply(&Services, settings, &service)
        }
        // Its Service is in place already (`prepare`): only the Ingress changes.
        Change::PutIngress(shape, _) => match ingress(shape, other) {
            Some((ingress, _)) => cluster.apply(&Ingresses, settings, &ingress),
            None => Affected::Nothing,
        },
        Change::DeleteIngress(shape) => match ingress(shape, other) {
            Some((ingress, _)) => cluster.delete(&Ingresses, settings, &name_of(&ingress.metadata)),
            None => Affected::Nothing,
        },
        Change::PutLayer(shape, _) => apply_layer(cluster, settings, shape),
        Change::DeleteLayer(shape) => {
            let (kind, object) = layer(shape);
            let kind = layer_kind("policy.networking.k8s.io", kind).expect("a layer kind");
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            cluster.delete(&kind, settings, &cluster_scoped(name))
        }
        Change::PutPeerAuthentication(shape, _) => {
            apply_peer_authentication(cluster, settings, &peer_authentication(shape))
        }
        Change::DeletePeerAuthentication(shape) => {
            let object = peer_authentication(shape);
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let key = (namespace.to_string(), "pa".to_string());
            cluster.delete(&PeerAuthentications, settings, &key)
        }
        Change::PutCalico(shape, _) => apply_calico(cluster, settings, shape),
        Change::DeleteCalico(shape) => {
            let (namespace, _) = calico(shape);
            let kind = layer_kind("crd.projectcalico.org", "NetworkPolicy").expect("a layer kind");
            cluster.delete(&kind, settings, &(namespace, "calico".to_string()))
        }
    }
}
