//! Feeds objects into the engine's index, from manifests or from a live
//! cluster. Both paths end in the same `Cluster`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::Discovery;
use kube::{Client, Resource};
use netposture_engine::Cluster;
use netposture_engine::convert::{self, Rejected};
use netposture_engine::layers::{LAYER_KINDS, LayerPolicy, layer_kind};
use serde::de::DeserializeOwned;

use crate::input::manifests::Manifests;

/// Builds the index from manifests. A workload's pod template stands for its
/// pods only in namespaces where no Pod object was given, so output of
/// `kubectl get all` is not counted twice.
pub fn from_manifests(manifests: Manifests) -> Cluster {
    let Manifests {
        mut cluster,
        workloads,
        layers,
        namespaces_with_pods,
        undecodable,
        ..
    } = manifests;
    let mut layer_copies: BTreeMap<_, usize> = BTreeMap::new();
    for layer in &layers {
        *layer_copies.entry(layer.key()).or_default() += 1;
    }
    for mut layer in layers {
        let copies = layer_copies[&layer.key()];
        if copies > 1 {
            // The API server stores one object per name: which one
            // depends on how they are applied, so neither is evaluated.
            layer.reject(format!(
                "the input holds {copies} {} objects with this name",
                layer.kind.kind
            ));
        }
        cluster.apply_layer_policy(layer);
    }
    for workload in workloads {
        let namespace = namespace_of(&workload.namespace);
        if namespaces_with_pods.contains(&namespace) {
            continue;
        }
        let pod_name = format!("{}/{}", workload.kind.to_ascii_lowercase(), workload.name);
        let template = &workload.template;
        let pod = convert::pod_from_spec(
            &pod_name,
            template.metadata.as_ref(),
            template.spec.as_ref(),
        );
        cluster.put_pod(&namespace, &pod_name, pod);
    }
    for bad in undecodable {
        cluster.reject(
            &namespace_of(&bad.namespace),
            Rejected {
                kind: bad.kind,
                name: bad.name,
                reason: format!("{} ({})", bad.reason, bad.origin),
            },
        );
    }
    cluster
}

fn namespace_of(namespace: &Option<String>) -> String {
    namespace.clone().unwrap_or_else(|| "default".into())
}

/// Workloads that `from_manifests` leaves out without a trace otherwise: in a
/// namespace that has Pod objects (which then stand for every workload),
/// no Pod carries the labels of the workload's pod template, so none of
/// them is its pod. As `Kind namespace/name`.
pub fn workloads_without_pods(manifests: &Manifests) -> Vec<String> {
    let mut unowned = Vec::new();
    for workload in &manifests.workloads {
        let namespace = namespace_of(&workload.namespace);
        if !manifests.namespaces_with_pods.contains(&namespace) {
            continue;
        }
        let indexed = manifests
            .cluster
            .namespace(&namespace)
            .into_iter()
            .flat_map(|state| state.pods.values().map(|pod| &pod.labels));
        let rejected = manifests
            .rejected_pod_labels
            .iter()
            .filter(|(pod_namespace, _)| *pod_namespace == namespace)
            .map(|(_, labels)| labels);
        let mut pod_labels = indexed.chain(rejected);
        let wanted = workload
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.as_ref());
        let owned = wanted.is_none_or(|wanted| {
            pod_labels.any(|labels| {
                wanted
                    .iter()
                    .all(|(key, value)| labels.get(key) == Some(value))
            })
        });
        if !owned {
            unowned.push(format!("{} {namespace}/{}", workload.kind, workload.name));
        }
    }
    unowned
}

/// Lists every kind once (paginated) from the cluster the kubeconfig points at.
pub async fn from_cluster(client: Client) -> anyhow::Result<Cluster> {
    let namespaces: Vec<Namespace> = list_all(Api::all(client.clone())).await?;
    let policies: Vec<NetworkPolicy> = list_all(Api::all(client.clone())).await?;
    let pods: Vec<Pod> = list_all(Api::all(client.clone())).await?;
    let services: Vec<Service> = list_all(Api::all(client.clone())).await?;
    let ingresses: Vec<Ingress> = list_all(Api::all(client.clone())).await?;
    let mut cluster = Cluster::from_objects(&namespaces, &policies, &pods);
    services.iter().for_each(|s| cluster.apply_service(s));
    ingresses.iter().for_each(|i| cluster.apply_ingress(i));
    for object in list_peer_authentications(client.clone()).await? {
        cluster.apply_peer_authentication(&object);
    }
    for layer in list_layer_policies(client.clone()).await? {
        cluster.apply_layer_policy(layer);
    }
    // Only the pod CIDRs: without them a range is assumed, and evidence says so.
    match list_all::<Node>(Api::all(client)).await {
        Ok(nodes) => nodes.iter().for_each(|node| {
            cluster.apply_node(node);
        }),
        Err(error) => eprintln!("warning: {error}; pod CIDRs are assumed instead"),
    }
    Ok(cluster)
}

/// Policies of the other policy APIs this cluster serves (found by discovery;
/// absent APIs are simply not there), converted for the engine.
async fn list_layer_policies(client: Client) -> anyhow::Result<Vec<LayerPolicy>> {
    let groups: BTreeSet<&str> = LAYER_KINDS.iter().map(|k| k.group).collect();
    let discovery = Discovery::new(client.clone())
        .filter(&groups.into_iter().collect::<Vec<_>>())
        .run()
        .await
        .context("API discovery")?;
    let mut layers = Vec::new();
    for group in discovery.groups() {
        for (resource, _) in group.recommended_resources() {
            let Some(kind) = layer_kind(&resource.group, &resource.kind) else {
                continue;
            };
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let listed = match list_pages(&api).await {
                Ok(listed) => listed,
                Err(e) => {
                    eprintln!(
                        "warning: cannot list {}.{}: {e}; they are not reported",
                        resource.plural, resource.group
                    );
                    continue;
                }
            };
            for item in listed {
                let value = serde_json::to_value(&item).context("re-encoding a listed policy")?;
                layers.push(LayerPolicy::from_object(
                    kind,
                    item.metadata.namespace.as_deref(),
                    item.metadata.name.as_deref().unwrap_or_default(),
                    &value,
                ));
            }
        }
    }
    Ok(layers)
}

/// Istio PeerAuthentications, when discovery shows the API (Istio installed).
async fn list_peer_authentications(client: Client) -> anyhow::Result<Vec<serde_json::Value>> {
    let discovery = Discovery::new(client.clone())
        .filter(&[PEER_AUTHENTICATION_GROUP])
        .run()
        .await
        .context("API discovery")?;
    let Some((resource, _)) = discovery.groups().find_map(|group| {
        group
            .recommended_resources()
            .into_iter()
            .find(|(resource, _)| resource.kind == "PeerAuthentication")
    }) else {
        return Ok(Vec::new());
    };
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let listed = match list_pages(&api).await {
        Ok(listed) => listed,
        Err(e) => {
            eprintln!(
                "warning: cannot list {}.{}: {e}; mesh-mtls sees no PeerAuthentication",
                resource.plural, resource.group
            );
            return Ok(Vec::new());
        }
    };
    listed
        .iter()
        .map(|item| serde_json::to_value(item).context("encoding a PeerAuthentication"))
        .collect()
}

const PEER_AUTHENTICATION_GROUP: &str = "security.istio.io";

async fn list_all<K>(api: Api<K>) -> anyhow::Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    list_pages(&api)
        .await
        .map_err(|e| anyhow::anyhow!("listing {}: {e}", K::plural(&K::DynamicType::default())))
}

/// Every object of the API's kind, one page of [`LIST_PAGE_SIZE`] at a time,
/// so no single response holds a whole big cluster.
async fn list_pages<K>(api: &Api<K>) -> Result<Vec<K>, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut params = ListParams::default().limit(LIST_PAGE_SIZE);
    loop {
        let page = api.list(&params).await?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}

const LIST_PAGE_SIZE: u32 = 500;

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests(text: &str) -> Manifests {
        Manifests::from_text(text).unwrap()
    }

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web, pod-template-hash: abc}}\nspec: {containers: []}\n";

    #[test]
    fn a_workload_whose_template_labels_no_pod_carries_is_named() {
        let m = manifests(&format!(
            "{POD}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: shop}}\nspec: {{template: {{metadata: {{labels: {{app: api}}}}, spec: {{containers: []}}}}}}\n"
        ));
        assert_eq!(workloads_without_pods(&m), ["Deployment shop/api"]);
    }

    #[test]
    fn a_workload_with_its_pods_given_is_not_named() {
        let m = manifests(&format!(
            "{POD}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\nspec: {{template: {{metadata: {{labels: {{app: web}}}}, spec: {{containers: []}}}}}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: other}}\nspec: {{template: {{metadata: {{labels: {{app: api}}}}, spec: {{containers: []}}}}}}\n"
        ));
        assert!(workloads_without_pods(&m).is_empty());
    }
}
