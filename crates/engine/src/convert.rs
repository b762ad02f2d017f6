//! k8s-openapi objects to the compact model, applying the API server's
//! defaulting and rejecting what its validation would reject.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::core::v1::{
    Namespace, Pod as K8sPod, PodSpec, Service as K8sService, ServicePort as K8sServicePort,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::{
    ContainerPort, Exposure, IpBlock, Labels, NAMESPACE_NAME_LABEL, Peer, Pod, Policy, PortMatch,
    PortSpec, Protocol, Rule, Service, ServicePort, TargetPort,
};
use crate::validate::{
    compile_selector, is_dns_1035_label, is_dns_label, is_dns_subdomain, labels_errors,
    port_name_error, port_number_error,
};
use crate::{cni_agents, dashboard, mesh};

/// An object the API server would have refused; it is left out of evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub kind: &'static str,
    pub name: String,
    pub reason: String,
}

fn rejected(kind: &'static str, name: &str, errors: Vec<String>) -> Rejected {
    Rejected {
        kind,
        name: name.to_string(),
        reason: errors.join("; "),
    }
}

/// A namespace's labels, with the immutable name label always present.
pub fn namespace_labels(namespace: &Namespace) -> Result<Labels, Rejected> {
    let name = namespace.metadata.name.clone().unwrap_or_default();
    let mut labels = namespace.metadata.labels.clone().unwrap_or_default();
    let mut errors = labels_errors(&labels);
    if !is_dns_label(&name) {
        errors.push(format!("invalid namespace name {name:?}"));
    }
    if !errors.is_empty() {
        return Err(rejected("Namespace", &name, errors));
    }
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), name);
    Ok(labels)
}

pub fn pod(pod: &K8sPod) -> Result<Pod, Rejected> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ips = pod
        .status
        .as_ref()
        .map(|status| {
            let listed = status.pod_ips.iter().flatten().map(|p| p.ip.as_str());
            listed
                .chain(status.pod_ip.as_deref())
                .filter_map(|ip| ip.parse::<IpAddr>().ok())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut built = pod_from_spec(&name, Some(&pod.metadata), pod.spec.as_ref())?;
    built.ips = ips;
    built.ips.sort_unstable();
    built.ips.dedup();
    Ok(built)
}

/// A pod from its metadata (labels, annotations) and spec; also used for
/// workload pod templates in offline manifests, where no Pod object exists yet.
pub fn pod_from_spec(
    name: &str,
    metadata: Option<&ObjectMeta>,
    spec: Option<&PodSpec>,
) -> Result<Pod, Rejected> {
    let labels = metadata.and_then(|m| m.labels.clone()).unwrap_or_default();
    let annotations = metadata.and_then(|m| m.annotations.as_ref());
    let mut errors = labels_errors(&labels);
    let mut ports = Vec::new();
    if let Some(spec) = spec {
        // Sidecars (init containers that keep running) serve ports too.
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for container in spec.containers.iter().chain(sidecars) {
            for port in container.ports.iter().flatten() {
                let protocol = port.protocol.as_deref().unwrap_or("TCP");
                let Some(protocol) = Protocol::parse(protocol) else {
                    errors.push(format!(
                        "container {}: unsupported protocol {protocol:?}",
                        container.name
                    ));
                    continue;
                };
                // The API requires containerPort; a missing one reads as 0.
                if port.container_port == 0 {
                    errors.push(format!(
                        "container {}: containerPort is missing",
                        container.name
                    ));
                    continue;
                }
                if let Some(e) = port_number_error(port.container_port) {
                    errors.push(format!("container {}: {e}", container.name));
                    continue;
                }
                if let Some(e) = port.name.as_deref().and_then(port_name_error) {
                    errors.push(format!("container {}: {e}", container.name));
                    continue;
                }
                // hostPort 0 is the API's "not set".
                let host_port = port.host_port.filter(|p| *p != 0);
                if let Some(e) = host_port.and_then(port_number_error) {
                    errors.push(format!("container {}: hostPort: {e}", container.name));
                    continue;
                }
                ports.push(ContainerPort {
                    name: port.name.clone(),
                    port: port.container_port as u16,
                    protocol,
                    host_port: host_port.map(|p| p as u16),
                });
            }
        }
    }
    if !errors.is_empty() {
        return Err(rejected("Pod", name, errors));
    }
    Ok(Pod {
        name: name.to_string(),
        cni: cni_agents::detect(&labels, spec),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        ips: Vec::new(),
        ports,
        dashboard: dashboard::pod(&labels, spec),
        sidecar: mesh::sidecar(&labels, annotations, spec),
        labels,
    })
}

pub fn policy(policy: &NetworkPolicy) -> Result<Policy, Rejected> {
    let name = policy.metadata.name.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if !is_dns_subdomain(&name) {
        errors.push(format!("invalid name {name:?}"));
    }
    let spec = policy.spec.clone().unwrap_or_default();
    let pod_selector = match compile_selector(
        &spec.pod_selector.clone().unwrap_or_default(),
        "spec.podSelector",
    ) {
        Ok(selector) => Some(selector),
        Err(e) => {
            errors.push(e);
            None
        }
    };

    let ingress_rules: Vec<Rule> = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, r)| collect(ingress_rule(r, &format!("spec.ingress[{i}]")), &mut errors))
        .collect();
    let egress_rules: Vec<Rule> = spec
        .egress
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, r)| collect(egress_rule(r, &format!("spec.egress[{i}]")), &mut errors))
        .collect();

    let (has_ingress, has_egress) = match spec.policy_types.as_deref() {
        // Server defaulting: Ingress always, Egress only with egress rules.
        None | Some([]) => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
        Some(types) => {
            if types.len() > 2 {
                errors.push("spec.policyTypes: may not list more than two types".into());
            }
            for t in types {
                if t != "Ingress" && t != "Egress" {
                    errors.push(format!(
                        "spec.policyTypes: unsupported value {t:?} (expected Ingress or Egress)"
                    ));
                }
            }
            (
                types.iter().any(|t| t == "Ingress"),
                types.iter().any(|t| t == "Egress"),
            )
        }
    };

    match pod_selector {
        Some(pod_selector) if errors.is_empty() => Ok(Policy {
            name,
            pod_selector,
            ingress: has_ingress.then_some(ingress_rules),
            egress: has_egress.then_some(egress_rules),
        }),
        _ => Err(rejected("NetworkPolicy", &name, errors)),
    }
}

fn collect<T>(result: Result<T, Vec<String>>, errors: &mut Vec<String>) -> Option<T> {
    result.map_err(|e| errors.extend(e)).ok()
}

fn ingress_rule(rule: &NetworkPolicyIngressRule, field: &str) -> Result<Rule, Vec<String>> {
    build_rule(rule.from.as_deref(), rule.ports.as_deref(), field, "from")
}

fn egress_rule(rule: &NetworkPolicyEgressRule, field: &str) -> Result<Rule, Vec<String>> {
    build_rule(rule.to.as_deref(), rule.ports.as_deref(), field, "to")
}

fn build_rule(
    peers: Option<&[NetworkPolicyPeer]>,
    ports: Option<&[NetworkPolicyPort]>,
    field: &str,
    peers_field: &str,
) -> Result<Rule, Vec<String>> {
    let mut errors = Vec::new();
    let peers = peers
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| collect(peer(p, &format!("{field}.{peers_field}[{i}]")), &mut errors))
        .collect();
    let ports = ports
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| collect(port(p, &format!("{field}.ports[{i}]")), &mut errors))
        .collect();
    if errors.is_empty() {
        Ok(Rule { peers, ports })
    } else {
        Err(errors)
    }
}

fn peer(peer: &NetworkPolicyPeer, field: &str) -> Result<Peer, Vec<String>> {
    let selectors = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
    match (&peer.ip_block, selectors) {
        (Some(_), true) => Err(vec![format!(
            "{field}: ipBlock may not be combined with podSelector or namespaceSelector"
        )]),
        (None, false) => Err(vec![format!(
            "{field}: must specify podSelector, namespaceSelector or ipBlock"
        )]),
        (Some(block), false) => {
            ip_block(&block.cidr, block.except.as_deref(), field).map(Peer::IpBlock)
        }
        (None, true) => {
            let mut errors = Vec::new();
            let namespaces = peer.namespace_selector.as_ref().and_then(|s| {
                compile_selector(s, &format!("{field}.namespaceSelector"))
                    .map_err(|e| errors.push(e))
                    .ok()
            });
            let pods = peer.pod_selector.as_ref().and_then(|s| {
                compile_selector(s, &format!("{field}.podSelector"))
                    .map_err(|e| errors.push(e))
                    .ok()
            });
            if errors.is_empty() {
                Ok(Peer::Selector { namespaces, pods })
            } else {
                Err(errors)
            }
        }
    }
}

pub(crate) fn parse_cidr(value: &str, field: &str) -> Result<IpNet, String> {
    // The API server accepts host bits set (net.ParseCIDR); the network is what counts.
    value
        .parse::<IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| format!("{field}: invalid CIDR {value:?}"))
}

fn ip_block(cidr: &str, except: Option<&[String]>, field: &str) -> Result<IpBlock, Vec<String>> {
    let cidr = parse_cidr(cidr, &format!("{field}.ipBlock.cidr")).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let mut excepts = Vec::new();
    for (i, value) in except.unwrap_or_default().iter().enumerate() {
        match parse_cidr(value, &format!("{field}.ipBlock.except[{i}]")) {
            Ok(net) if cidr.contains(&net) && net.prefix_len() > cidr.prefix_len() => {
                excepts.push(net)
            }
            Ok(_) => errors.push(format!(
                "{field}.ipBlock.except[{i}]: {value} must be a strict subset of {cidr}"
            )),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(IpBlock {
            cidr,
            except: excepts,
        })
    } else {
        Err(errors)
    }
}

fn port(port: &NetworkPolicyPort, field: &str) -> Result<PortMatch, Vec<String>> {
    let mut errors = Vec::new();
    let protocol = protocol(port.protocol.as_deref(), field)
        .map_err(|e| errors.push(e))
        .ok();
    let spec = match (&port.port, port.end_port) {
        (None, None) => Some(PortSpec::Any),
        (None, Some(_)) => {
            errors.push(format!("{field}.endPort: may not be set without port"));
            None
        }
        (Some(IntOrString::String(name)), end) => {
            if end.is_some() {
                errors.push(format!(
                    "{field}.endPort: may not be set when port is named"
                ));
            }
            errors.extend(port_name_error(name).map(|e| format!("{field}.port: {e}")));
            Some(PortSpec::Named(name.clone()))
        }
        (Some(IntOrString::Int(start)), end) => {
            let end_value = end.unwrap_or(*start);
            errors.extend(port_number_error(*start).map(|e| format!("{field}.port: {e}")));
            if end.is_some() {
                errors
                    .extend(port_number_error(end_value).map(|e| format!("{field}.endPort: {e}")));
                if end_value < *start {
                    errors.push(format!(
                        "{field}.endPort: {end_value} is below port {start}"
                    ));
                }
            }
            Some(PortSpec::Range(*start as u16, end_value as u16))
        }
    };
    match (protocol, spec) {
        (Some(protocol), Some(port)) if errors.is_empty() => Ok(PortMatch { protocol, port }),
        _ => Err(errors),
    }
}

/// A `protocol` field, defaulted to TCP.
fn protocol(value: Option<&str>, field: &str) -> Result<Protocol, String> {
    let name = value.unwrap_or("TCP");
    Protocol::parse(name).ok_or_else(|| {
        format!("{field}.protocol: unsupported value {name:?} (expected TCP, UDP or SCTP)")
    })
}

/// A Service as the index keeps it.
pub fn service(service: &K8sService) -> Result<Service, Rejected> {
    let name = service.metadata.name.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if !is_dns_1035_label(&name) {
        errors.push(format!("invalid name {name:?}"));
    }
    let spec = service.spec.clone().unwrap_or_default();
    let selector = spec.selector.unwrap_or_default();
    errors.extend(
        labels_errors(&selector)
            .into_iter()
            .map(|e| format!("spec.selector: {e}")),
    );
    let ports: Vec<ServicePort> = spec
        .ports
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, p)| collect(service_port(p, &format!("spec.ports[{i}]")), &mut errors))
        .collect();
    let mut exposure = match spec.type_.as_deref().unwrap_or("ClusterIP") {
        "LoadBalancer" => vec![Exposure::LoadBalancer],
        "NodePort" => vec![Exposure::NodePort],
        "ClusterIP" | "ExternalName" => Vec::new(),
        other => {
            errors.push(format!(
                "spec.type: unsupported value {other:?} (expected ClusterIP, NodePort, LoadBalancer or ExternalName)"
            ));
            Vec::new()
        }
    };
    let external_ips = spec.external_ips.unwrap_or_default();
    for (i, ip) in external_ips.iter().enumerate() {
        if ip.parse::<IpAddr>().is_err() {
            errors.push(format!("spec.externalIPs[{i}]: invalid IP address {ip:?}"));
        }
    }
    if !external_ips.is_empty() {
        exposure.push(Exposure::ExternalIps);
    }
    if !errors.is_empty() {
        return Err(rejected("Service", &name, errors));
    }
    let labelled_dashboard = service
        .metadata
        .labels
        .as_ref()
        .is_some_and(dashboard::labelled);
    Ok(Service {
        dashboard: labelled_dashboard || dashboard::labelled(&selector),
        name,
        exposure,
        selector,
        ports,
    })
}

fn service_port(port: &K8sServicePort, field: &str) -> Result<ServicePort, Vec<String>> {
    let mut errors = Vec::new();
    let protocol = protocol(port.protocol.as_deref(), field)
        .map_err(|e| errors.push(e))
        .ok();
    errors.extend(port_number_error(port.port).map(|e| format!("{field}.port: {e}")));
    let target = match &port.target_port {
        // Server defaulting: an unset, zero or empty target port is the port itself.
        None | Some(IntOrString::Int(0)) => TargetPort::Number(port.port as u16),
        Some(IntOrString::String(name)) if name.is_empty() => TargetPort::Number(port.port as u16),
        Some(IntOrString::Int(number)) => {
            errors.extend(port_number_error(*number).map(|e| format!("{field}.targetPort: {e}")));
            TargetPort::Number(*number as u16)
        }
        Some(IntOrString::String(name)) => {
            errors.extend(port_name_error(name).map(|e| format!("{field}.targetPort: {e}")));
            TargetPort::Name(name.clone())
        }
    };
    match protocol {
        Some(protocol) if errors.is_empty() => Ok(ServicePort {
            name: port.name.clone().filter(|n| !n.is_empty()),
            port: port.port as u16,
            target,
            protocol,
        }),
        _ => Err(errors),
    }
}
