//! The ends and ports of `can-reach` as users name them, resolved against
//! the index: a pod, a new pod of a namespace, or an address; port numbers,
//! or container port names of the destination pod.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use anyhow::bail;
use netposture_engine::cluster::NamespaceState;
use netposture_engine::model::{Direction, Pod, Policy, Protocol};
use netposture_engine::pod_cidrs::PodCidrs;
use netposture_engine::reach::LayerSide;
use netposture_engine::reach::{self, Endpoint, Remote};
use netposture_engine::{Cluster, Evaluator};

/// At most this many pod names in a "not found" message.
const NAMES_SHOWN: usize = 10;

/// One end of a connection, as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointArg {
    /// `NAMESPACE/POD`; POD may hold a slash itself (`deployment/api`, a
    /// workload's pod template in manifests).
    Pod { namespace: String, name: String },
    /// `NAMESPACE`: the pod the namespace would get next, with no labels.
    NewPod { namespace: String },
    /// An address outside any pod.
    Address(IpAddr),
}

impl EndpointArg {
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Ok(ip) = text.parse() {
            return Ok(EndpointArg::Address(ip));
        }
        match text.split_once('/') {
            None if !text.is_empty() => Ok(EndpointArg::NewPod {
                namespace: text.into(),
            }),
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
                Ok(EndpointArg::Pod {
                    namespace: namespace.into(),
                    name: name.into(),
                })
            }
            _ => Err(format!(
                "{text:?} is not NAMESPACE/POD, NAMESPACE or an IP address"
            )),
        }
    }
}

/// An end found in the index.
pub struct Resolved<'c> {
    /// How the output names it.
    pub name: String,
    place: Place<'c>,
}

enum Place<'c> {
    /// Owned, since a new pod exists only here.
    Pod {
        namespace: String,
        state: &'c NamespaceState,
        pod: Pod,
    },
    Address(IpAddr),
}

impl<'c> Resolved<'c> {
    /// `new_pod_name` names the pod a bare NAMESPACE stands for; the two ends
    /// need different names, or two new pods would be one pod reaching itself.
    pub fn resolve(
        arg: &EndpointArg,
        cluster: &'c Cluster,
        new_pod_name: &str,
    ) -> anyhow::Result<Self> {
        let (namespace, pod_name) = match arg {
            EndpointArg::Address(ip) => {
                return Ok(Resolved {
                    name: ip.to_string(),
                    place: Place::Address(*ip),
                });
            }
            EndpointArg::Pod { namespace, name } => (namespace, Some(name)),
            EndpointArg::NewPod { namespace } => (namespace, None),
        };
        let state = cluster
            .namespace(namespace)
            .ok_or_else(|| crate::input::unknown_namespace(namespace))?;
        let (name, pod) = match pod_name {
            Some(name) => {
                let pod = find_pod(state, namespace, name)?;
                (format!("{namespace}/{}", pod.name), pod.clone())
            }
            None => (
                format!("a new pod in {namespace}"),
                Pod::unlabelled(new_pod_name),
            ),
        };
        Ok(Resolved {
            name,
            place: Place::Pod {
                namespace: namespace.clone(),
                state,
                pod,
            },
        })
    }

    pub fn pod(&self) -> Option<&Pod> {
        match &self.place {
            Place::Pod { pod, .. } => Some(pod),
            Place::Address(_) => None,
        }
    }

    /// This end for the engine; `pod_cidrs` hold a pod's IP when it has none.
    pub fn remote<'s>(&'s self, pod_cidrs: &'s PodCidrs) -> Remote<'s> {
        match &self.place {
            Place::Pod {
                namespace,
                state,
                pod,
            } => Remote::Pod(Endpoint {
                namespace,
                namespace_labels: &state.labels,
                pod,
                pod_cidrs,
            }),
            Place::Address(ip) => Remote::Address(*ip),
        }
    }

    /// The policies selecting this end for `direction`; none for an address.
    pub fn policies(&self, direction: Direction) -> Vec<&'c Policy> {
        match &self.place {
            Place::Pod { state, pod, .. } => reach::selecting(state, pod, direction),
            Place::Address(_) => Vec::new(),
        }
    }

    /// The layer rules the cluster enforces on this end for `direction`; none for an address.
    pub fn layers<'e>(&self, evaluator: &Evaluator<'e>, direction: Direction) -> LayerSide<'e> {
        match self.remote(evaluator.pod_cidrs()) {
            Remote::Pod(end) => evaluator.layer_side(&end, direction),
            Remote::Address(_) => LayerSide {
                direction,
                ..LayerSide::NONE
            },
        }
    }

    /// A policy of this end's namespace, by name.
    pub fn policy(&self, name: &str) -> Option<&'c Policy> {
        match &self.place {
            Place::Pod { state, .. } => state.policies.get(name),
            Place::Address(_) => None,
        }
    }
}

/// A pod by its name, or offline by the bare name of a workload whose pod
/// template stands in for it (`api` for `deployment/api`) when only one matches.
fn find_pod<'s>(state: &'s NamespaceState, namespace: &str, name: &str) -> anyhow::Result<&'s Pod> {
    if let Some(pod) = state.pods.get(name) {
        return Ok(pod);
    }
    let templates: Vec<&Pod> = state
        .pods
        .values()
        .filter(|p| p.name.split_once('/').is_some_and(|(_, bare)| bare == name))
        .collect();
    match templates[..] {
        [pod] => Ok(pod),
        [] => {
            let mut known: Vec<&str> = state.pods.keys().map(String::as_str).collect();
            if known.is_empty() {
                bail!(
                    "namespace {namespace} has no pod {name:?} (it has no pods; give just {namespace} for a new pod)"
                );
            }
            if known.len() > NAMES_SHOWN {
                known.truncate(NAMES_SHOWN);
                known.push("...");
            }
            bail!(
                "namespace {namespace} has no pod {name:?} (pods: {})",
                known.join(", ")
            )
        }
        _ => {
            let names: Vec<String> = templates
                .iter()
                .map(|p| format!("{namespace}/{}", p.name))
                .collect();
            bail!("{namespace}/{name} is ambiguous: {}", names.join(", "))
        }
    }
}

/// A `--port` value: `PORT[/PROTO]`, PORT a number or a container port name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortArg {
    pub port: PortRef,
    pub protocol: Protocol,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortRef {
    Number(u16),
    Name(String),
}

impl PortArg {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (port, protocol) = match text.split_once('/') {
            Some((port, protocol)) => {
                let protocol = Protocol::parse(&protocol.to_ascii_uppercase())
                    .ok_or_else(|| format!("protocol {protocol:?} is not TCP, UDP or SCTP"))?;
                (port, protocol)
            }
            None => (text, Protocol::Tcp),
        };
        let port = if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
            match port.parse() {
                Ok(number) if number > 0 => PortRef::Number(number),
                _ => return Err(format!("port {port} is not in 1-65535")),
            }
        } else if port.is_empty() {
            return Err("a port is missing before the protocol".into());
        } else {
            PortRef::Name(port.into())
        };
        Ok(PortArg { port, protocol })
    }
}

/// A port to judge, with the destination's container port name for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub number: u16,
    pub protocol: Protocol,
    pub name: Option<String>,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol)?;
        match &self.name {
            Some(name) => write!(f, " ({name})"),
            None => Ok(()),
        }
    }
}

/// The ports asked for, named ports resolved on the destination pod; without
/// any, every container port of the destination pod.
pub fn ports(asked: &[PortArg], destination: &Resolved<'_>) -> anyhow::Result<Vec<Port>> {
    let pod = destination.pod();
    let name_of = |number: u16, protocol: Protocol| {
        pod.and_then(|p| {
            p.ports
                .iter()
                .find(|c| c.port == number && c.protocol == protocol)
                .and_then(|c| c.name.clone())
        })
    };
    if asked.is_empty() {
        let mut ports: Vec<Port> = pod
            .map(|p| p.ports.iter())
            .into_iter()
            .flatten()
            .map(|c| Port {
                number: c.port,
                protocol: c.protocol,
                name: c.name.clone(),
            })
            .collect();
        // Containers of one pod may declare the same port twice.
        let mut seen = BTreeSet::new();
        ports.retain(|p| seen.insert((p.number, p.protocol)));
        if ports.is_empty() {
            bail!(
                "{} has no container ports to check: give --port PORT[/PROTO]",
                destination.name
            );
        }
        return Ok(ports);
    }
    let mut ports = Vec::new();
    for arg in asked {
        match &arg.port {
            PortRef::Number(number) => ports.push(Port {
                number: *number,
                protocol: arg.protocol,
                name: name_of(*number, arg.protocol),
            }),
            // Every container declaring the name: a policy naming it admits each.
            PortRef::Name(name) => {
                let numbers: BTreeSet<u16> = pod
                    .map(|p| p.named_ports(name, arg.protocol).collect())
                    .unwrap_or_default();
                if numbers.is_empty() {
                    bail!(
                        "{} has no container port named {name:?} for {}",
                        destination.name,
                        arg.protocol
                    );
                }
                ports.extend(numbers.into_iter().map(|number| Port {
                    number,
                    protocol: arg.protocol,
                    name: Some(name.clone()),
                }));
            }
        }
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_an_address_a_namespace_or_a_namespaced_pod() {
        assert_eq!(
            EndpointArg::parse("2001:db8::1"),
            Ok(EndpointArg::Address("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            EndpointArg::parse("shop"),
            Ok(EndpointArg::NewPod {
                namespace: "shop".into()
            })
        );
        assert_eq!(
            EndpointArg::parse("shop/deployment/api"),
            Ok(EndpointArg::Pod {
                namespace: "shop".into(),
                name: "deployment/api".into()
            })
        );
        assert!(EndpointArg::parse("/api").is_err());
        assert!(EndpointArg::parse("shop/").is_err());
    }

    #[test]
    fn port_defaults_to_tcp_and_may_be_a_name() {
        assert_eq!(
            PortArg::parse("8080"),
            Ok(PortArg {
                port: PortRef::Number(8080),
                protocol: Protocol::Tcp
            })
        );
        assert_eq!(
            PortArg::parse("dns/udp"),
            Ok(PortArg {
                port: PortRef::Name("dns".into()),
                protocol: Protocol::Udp
            })
        );
        assert!(PortArg::parse("0").is_err());
        assert!(PortArg::parse("70000").is_err());
        assert!(PortArg::parse("53/ICMP").is_err());
        assert!(PortArg::parse("/UDP").is_err());
    }
}
