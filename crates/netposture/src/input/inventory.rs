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
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::input::json_header::Header;
use crate::input::json_items::ListDefaults;
use crate::input::lean_pod::LeanPod;
use crate::input::manifests::{self, Manifests};

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
    // Pods after namespaces and policies, in the order `from_objects` applies them.
    let mut cluster = Cluster::from_objects(&namespaces, &policies, []);
    add_listed_pods(&client, &mut cluster).await?;
    let services: Vec<Service> = list_all(Api::all(client.clone())).await?;
    let ingresses: Vec<Ingress> = list_all(Api::all(client.clone())).await?;
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

/// Every Pod into the index, one page of [`LIST_PAGE_SIZE`] at a time, each
/// read lean from the page's text and dropped: pods are most of a cluster,
/// and whole ones (managed fields, env, volumes, conditions) all held at
/// once were most of a live scan's memory.
async fn add_listed_pods(client: &Client, cluster: &mut Cluster) -> anyhow::Result<()> {
    let request = kube::core::Request::new(Pod::url_path(&(), None));
    let mut params = ListParams::default().limit(LIST_PAGE_SIZE);
    loop {
        let page = request.list(&params).map_err(listing_pods)?;
        let text = client.request_text(page).await.map_err(listing_pods)?;
        match add_pod_page(cluster, &text).map_err(listing_pods)? {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

fn listing_pods(error: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("listing pods: {error}")
}

/// A page of the Pod list as the API server sends it, its items left as text.
#[derive(Deserialize)]
struct PodPage<'t> {
    metadata: Option<PageMetadata>,
    #[serde(borrow)]
    items: Option<Vec<&'t RawValue>>,
}

#[derive(Deserialize)]
struct PageMetadata {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

/// Converts the pods of one page into the index; gives the token of the
/// next page, if there is one.
fn add_pod_page(cluster: &mut Cluster, text: &str) -> serde_json::Result<Option<String>> {
    let page: PodPage = serde_json::from_str(text)?;
    for item in page.items.into_iter().flatten() {
        add_listed_pod(cluster, item);
    }
    Ok(page
        .metadata
        .and_then(|metadata| metadata.continue_token)
        .filter(|token| !token.is_empty()))
}

/// Adds a Pod as `Cluster::from_objects` does; one that does not decode is
/// left out with the reason, as manifests leave it out, instead of failing
/// the whole list.
fn add_listed_pod(cluster: &mut Cluster, item: &RawValue) {
    match manifests::decode::<LeanPod>(item.get()) {
        Ok(pod) => cluster.apply_pod(&pod.into_pod()),
        Err(error) => {
            // The page was parsed whole: the header reads.
            let header = Header::of(item.get(), Some(&ListDefaults::default()))
                .ok()
                .flatten()
                .unwrap_or_default();
            cluster.reject(
                &namespace_of(&header.namespace),
                Rejected {
                    kind: "Pod",
                    name: header.name.unwrap_or_default(),
                    reason: format!("does not decode as a Pod: {error}"),
                },
            );
        }
    }
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
    use std::sync::{Arc, Mutex};

    use netposture_testgen::{Sizes, Style, generate};
    use serde_json::{Value, json};

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

    /// A page of the Pod list as the API server writes it: its items have
    /// no `kind` or `apiVersion`.
    fn pod_page(items: &[Value], continue_token: &str) -> String {
        json!({
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": "42", "continue": continue_token},
            "items": items,
        })
        .to_string()
    }

    fn listed(pod: &Pod) -> Value {
        let mut item = serde_json::to_value(pod).unwrap();
        let fields = item.as_object_mut().unwrap();
        fields.remove("kind");
        fields.remove("apiVersion");
        item
    }

    /// Everything a live Pod carries, most of which a lean read skips.
    fn full_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "api-0", "namespace": "shop", "uid": "u-1",
                "labels": {"app": "api"}, "annotations": {"note": "x"},
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
                    "name": "api", "uid": "u-0"}],
            },
            "spec": {
                "hostNetwork": false,
                "initContainers": [
                    {"name": "proxy", "image": "envoy", "restartPolicy": "Always",
                     "ports": [{"name": "admin", "containerPort": 15000}]},
                    {"name": "setup", "image": "busybox", "command": ["true"]},
                ],
                "containers": [{
                    "name": "api", "image": "api:1", "args": ["--port=8080"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                              {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}],
                    "env": [{"name": "MODE", "value": "live"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                    "resources": {"limits": {"cpu": "1"}},
                }],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
            "status": {
                "phase": "Running", "podIP": "10.1.0.7",
                "podIPs": [{"ip": "10.1.0.7"}, {"ip": "fd00::7"}],
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }))
        .unwrap()
    }

    /// A Pod the engine rejects, for its port's protocol.
    fn rejected_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "ping", "namespace": "shop"},
            "spec": {"containers": [{"name": "ping",
                "ports": [{"containerPort": 7, "protocol": "ICMP"}]}]},
        }))
        .unwrap()
    }

    #[test]
    fn pods_listed_page_by_page_index_as_whole_pods_listed_at_once() {
        for style in Style::ALL {
            let objects = generate(&Sizes {
                seed: 5,
                namespaces: 6,
                pods_per_namespace: 7,
                policies_per_namespace: 3,
                style,
            });
            let mut pods = objects.pods.clone();
            pods.extend([full_pod(), rejected_pod()]);
            let expected = Cluster::from_objects(&objects.namespaces, &objects.policies, &pods);
            let items: Vec<Value> = pods.iter().map(listed).collect();
            let (first, second) = items.split_at(items.len() / 2);
            let mut cluster = Cluster::from_objects(&objects.namespaces, &objects.policies, []);
            let next = add_pod_page(&mut cluster, &pod_page(first, "abc")).unwrap();
            assert_eq!(next.as_deref(), Some("abc"));
            let next = add_pod_page(&mut cluster, &pod_page(second, "")).unwrap();
            assert_eq!(next, None);
            assert_eq!(cluster.namespace("shop").unwrap().rejected.len(), 1);
            assert_eq!(
                format!("{cluster:#?}"),
                format!("{expected:#?}"),
                "style {}",
                style.name()
            );
        }
    }

    #[test]
    fn a_listed_pod_that_does_not_decode_is_left_out_with_the_reason() {
        let items = [
            json!({"metadata": {"name": "odd", "namespace": "shop"}, "spec": {"containers": 3}}),
            json!({"metadata": {"name": "fine", "namespace": "shop"}, "spec": {"containers": []}}),
        ];
        let mut cluster = Cluster::default();
        add_pod_page(&mut cluster, &pod_page(&items, "")).unwrap();
        let shop = cluster.namespace("shop").unwrap();
        assert_eq!(shop.pods.keys().collect::<Vec<_>>(), ["fine"]);
        assert_eq!(
            shop.rejected[&("Pod", "odd".to_string())].reason,
            "does not decode as a Pod: invalid type: integer `3`, expected a sequence"
        );
    }

    /// A client of an API server that lists pods in two pages, answering
    /// `second` for the first page's continue token; it records each query.
    fn two_page_api(second: (u16, String), queries: Arc<Mutex<Vec<String>>>) -> Client {
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let query = request.uri().query().unwrap_or_default().to_string();
            let (status, body) = if query.contains("continue=abc") {
                second.clone()
            } else {
                let pod = json!({"metadata": {"name": "a", "namespace": "shop"}});
                (200, pod_page(&[pod], "abc"))
            };
            queries
                .lock()
                .unwrap()
                .push(format!("{}?{query}", request.uri().path()));
            async move {
                http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(body.into_bytes()))
            }
        });
        Client::new(service, "default")
    }

    #[tokio::test]
    async fn pods_are_listed_in_pages_following_the_continue_token() {
        let queries = Arc::default();
        let second = json!({"metadata": {"name": "b", "namespace": "shop"}});
        let client = two_page_api((200, pod_page(&[second], "")), Arc::clone(&queries));
        let mut cluster = Cluster::default();
        add_listed_pods(&client, &mut cluster).await.unwrap();
        let shop = cluster.namespace("shop").unwrap();
        assert_eq!(shop.pods.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            *queries.lock().unwrap(),
            [
                "/api/v1/pods?&limit=500",
                "/api/v1/pods?&limit=500&continue=abc"
            ]
        );
    }

    #[tokio::test]
    async fn an_api_error_on_a_later_page_fails_the_listing() {
        let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "pods is forbidden", "reason": "Forbidden", "code": 403});
        let client = two_page_api((403, forbidden.to_string()), Arc::default());
        let error = add_listed_pods(&client, &mut Cluster::default())
            .await
            .unwrap_err();
        assert!(
            error.to_string().starts_with("listing pods: ")
                && error.to_string().contains("pods is forbidden"),
            "{error}"
        );
    }
}
