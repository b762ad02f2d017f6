//! A Pod as the engine reads it, decoded from JSON without the fields it
//! does not use (volumes, env, resources, conditions, managed fields, ...):
//! pods are most of a cluster's text, and decoding them whole costs most of
//! a scan. [`LeanPod::into_pod`] gives the k8s-openapi Pod with just those
//! fields, which the engine converts as it converts any Pod, so defaulting
//! and validation are the engine's own. Fields are optional, and `null`
//! reads as absent, as in k8s-openapi's decoding.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, PodIP, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct LeanPod {
    metadata: Option<LeanMetadata>,
    spec: Option<LeanSpec>,
    status: Option<LeanStatus>,
}

#[derive(Debug, Deserialize)]
struct LeanMetadata {
    name: Option<String>,
    namespace: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanSpec {
    containers: Option<Vec<LeanContainer>>,
    init_containers: Option<Vec<LeanContainer>>,
    host_network: Option<bool>,
}

/// What CNI, dashboard and sidecar detection and the ports read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanContainer {
    name: Option<String>,
    image: Option<String>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    ports: Option<Vec<ContainerPort>>,
    restart_policy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanStatus {
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIP>>,
}

impl LeanPod {
    pub fn into_pod(self) -> Pod {
        let metadata = self
            .metadata
            .map_or_else(ObjectMeta::default, |m| ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                labels: m.labels,
                annotations: m.annotations,
                ..ObjectMeta::default()
            });
        Pod {
            metadata,
            spec: self.spec.map(|spec| PodSpec {
                containers: containers(spec.containers).unwrap_or_default(),
                init_containers: containers(spec.init_containers),
                host_network: spec.host_network,
                ..PodSpec::default()
            }),
            status: self.status.map(|status| PodStatus {
                pod_ip: status.pod_ip,
                pod_ips: status.pod_ips,
                ..PodStatus::default()
            }),
        }
    }
}

fn containers(lean: Option<Vec<LeanContainer>>) -> Option<Vec<Container>> {
    lean.map(|containers| {
        containers
            .into_iter()
            .map(|c| Container {
                name: c.name.unwrap_or_default(),
                image: c.image,
                command: c.command,
                args: c.args,
                ports: c.ports,
                restart_policy: c.restart_policy,
                ..Container::default()
            })
            .collect()
    })
}
