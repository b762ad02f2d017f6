//! Applying one change to the index: the object it puts or deletes, as
//! the operator's watches would.

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

/// Applies `change` as the operator's watch would, returning what it affects.
pub(super) fn apply(
    cluster: &mut Cluster,
    settings: &Settings,
    change: &Change,
    other: &Objects,
    own: &Objects,
) -> Affected {
    let pick = |index: &Index, len: usize| (len > 0).then(|| index.index(len));
    match change {
        Change::PutPod(i) => {
            let Some(i) = pick(i, other.pods.len()) else {
                return Affected::Nothing;
            };
            let pod = &other.pods[i];
            let (namespace, name) = name_of(&pod.metadata);
            let before = cluster.affected_by_pod(settings, &namespace, &name);
            cluster.apply_pod(pod);
            before.merge(cluster.affected_by_pod(settings, &namespace, &name))
        }
        Change::DeletePod(i) => {
            let Some(i) = pick(i, own.pods.len()) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&own.pods[i].metadata);
            let before = cluster.affected_by_pod(settings, &namespace, &name);
            cluster.delete_pod(&namespace, &name);
            before
        }
        Change::PutPolicy(i) => {
            let Some(i) = pick(i, other.policies.len()) else {
                return Affected::Nothing;
            };
            let policy = &other.policies[i];
            let (namespace, name) = name_of(&policy.metadata);
            let before = cluster.affected_by_policy(settings, &namespace, &name);
            cluster.apply_policy(policy);
            before.merge(cluster.affected_by_policy(settings, &namespace, &name))
        }
        Change::DeletePolicy(i) => {
            let Some(i) = pick(i, own.policies.len()) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&own.policies[i].metadata);
            let before = cluster.affected_by_policy(settings, &namespace, &name);
            cluster.delete_policy(&namespace, &name);
            before
        }
        Change::PutNamespace(i) => {
            let Some(i) = pick(i, other.namespaces.len()) else {
                return Affected::Nothing;
            };
            let namespace = &other.namespaces[i];
            let (_, name) = name_of(&namespace.metadata);
            let before = cluster.affected_by_namespace(&name);
            cluster.apply_namespace(namespace);
            before.merge(cluster.affected_by_namespace(&name))
        }
        Change::DeleteNamespace(i) => {
            let name = generate::NAMESPACE_NAMES[i.index(generate::NAMESPACE_NAMES.len())];
            let affected = cluster.affected_by_namespace(name);
            cluster.delete_namespace(name);
            affected
        }
        Change::PutNode(i) => cluster.apply_node(&node(NODE_CIDRS[i.index(NODE_CIDRS.len())])),
        Change::DeleteNode => cluster.delete_node("node-1"),
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
            let before = cluster.affected_by_service(&namespace, "web");
            cluster.apply_service(&service);
            before.merge(cluster.affected_by_service(&namespace, "web"))
        }
        // Its Service is in place already (`prepare`): only the Ingress changes.
        Change::PutIngress(shape, _) => {
            let Some((ingress, _)) = ingress(shape, other) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&ingress.metadata);
            let before = cluster.affected_by_ingress(&namespace, &name);
            cluster.apply_ingress(&ingress);
            before.merge(cluster.affected_by_ingress(&namespace, &name))
        }
        Change::DeleteIngress(shape) => {
            let Some((ingress, _)) = ingress(shape, other) else {
                return Affected::Nothing;
            };
            let (namespace, name) = name_of(&ingress.metadata);
            let before = cluster.affected_by_ingress(&namespace, &name);
            cluster.delete_ingress(&namespace, &name);
            before
        }
        Change::PutLayer(shape, _) => apply_layer(cluster, settings, shape),
        Change::DeleteLayer(shape) => {
            let (kind, object) = layer(shape);
            let kind = layer_kind("policy.networking.k8s.io", kind).expect("a layer kind");
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let affected = cluster.affected_by_layer(settings, kind, None);
            cluster.delete_layer_policy(kind, None, name);
            affected
        }
        Change::PutPeerAuthentication(shape, _) => {
            apply_peer_authentication(cluster, settings, &peer_authentication(shape))
        }
        Change::DeletePeerAuthentication(shape) => {
            let object = peer_authentication(shape);
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let affected = cluster.affected_by_peer_authentication(settings, namespace, "pa");
            cluster.delete_peer_authentication(namespace, "pa");
            affected
        }
        Change::PutCalico(shape, _) => apply_calico(cluster, settings, shape),
        Change::DeleteCalico(shape) => {
            let (namespace, _) = calico(shape);
            let kind = layer_kind("crd.projectcalico.org", "NetworkPolicy").expect("a layer kind");
            let affected = cluster.affected_by_layer(settings, kind, Some(&namespace));
            cluster.delete_layer_policy(kind, Some(&namespace), "calico");
            affected
        }
    }
}
