//! The Kubernetes tiered APIs: ClusterNetworkPolicy (`v1alpha2`, tier Admin
//! or Baseline, actions Accept/Deny/Pass, ports under `protocols`) and its
//! predecessors AdminNetworkPolicy (Allow/Deny/Pass) and
//! BaselineAdminNetworkPolicy (Allow/Deny, singleton `default`) of `v1alpha1`
//! (ports under `ports`).

use serde_json::Value;

use super::selectors::{cidr, kube_selector, list};
use super::{Action, LayerPeer, LayerPolicy, LayerRule, Note, PodSet, RulePosition, Scope, Stage};
use crate::model::{Direction, PortMatch, PortSpec, Protocol};

const CLUSTER_NETWORK_POLICY: &str = "ClusterNetworkPolicy";
const ADMIN: &str = "AdminNetworkPolicy";
const BASELINE: &str = "BaselineAdminNetworkPolicy";

/// Converts a policy [`super::tiered_validation`] found valid.
pub(super) fn convert(policy: &mut LayerPolicy, spec: &Value) {
    let kind = policy.kind.kind;
    policy.stage = match (kind, spec["tier"].as_str()) {
        (CLUSTER_NETWORK_POLICY, Some("Admin")) | (ADMIN, _) => Stage::Admin,
        _ => Stage::Baseline,
    };
    // Lower priority values come first within either tier; the singleton
    // BaselineAdminNetworkPolicy has no priority.
    policy.order = spec["priority"].as_f64().filter(|_| kind != BASELINE);
    match subject(&spec["subject"]) {
        Ok(subject) => policy.subject = Some(subject),
        Err(error) => {
            policy.notes.push(Note::new(
                None,
                format!("{error}: the policy is not evaluated"),
            ));
            policy.unread = true;
            return;
        }
    }
    let order = policy.order.unwrap_or_default();
    let v2 = kind == CLUSTER_NETWORK_POLICY;
    for direction in [Direction::Ingress, Direction::Egress] {
        let field = direction.to_string();
        let items = match list(&spec[&field], &field) {
            Ok(items) => items,
            Err(error) => {
                policy.notes.push(Note::new(Some(direction), error));
                continue;
            }
        };
        // Policies without rules for a direction do not affect it.
        if items.is_empty() {
            continue;
        }
        let mut rules = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let field = format!("{direction}[{index}]");
            let at = RulePosition::of(direction, index);
            match rule(item, direction, at, &field, order, v2, &mut policy.notes) {
                Ok(rule) => rules.push(rule),
                Err(error) => policy.notes.push(Note::new(
                    Some(direction),
                    format!("{error}: the rule is left out"),
                )),
            }
        }
        match direction {
            Direction::Ingress => policy.ingress = Some(rules),
            Direction::Egress => policy.egress = Some(rules),
        }
    }
}

/// `subject: {namespaces: SELECTOR}` or `{pods: {namespaceSelector, podSelector}}`.
pub(super) fn subject(value: &Value) -> Result<PodSet, String> {
    pod_set(value, "spec.subject")?
        .ok_or_else(|| "spec.subject selects neither namespaces nor pods".into())
}

/// A `namespaces` or `pods` selector pair, if the object has one.
fn pod_set(value: &Value, field: &str) -> Result<Option<PodSet>, String> {
    if !value["namespaces"].is_null() {
        let namespaces = kube_selector(&value["namespaces"], &format!("{field}.namespaces"))?;
        return Ok(Some(PodSet {
            namespaces: Scope::Selected(namespaces),
            pods: kube_selector(&Value::Null, field)?,
        }));
    }
    let pods = &value["pods"];
    if pods.is_null() {
        return Ok(None);
    }
    Ok(Some(PodSet {
        namespaces: Scope::Selected(kube_selector(
            &pods["namespaceSelector"],
            &format!("{field}.pods.namespaceSelector"),
        )?),
        pods: kube_selector(&pods["podSelector"], &format!("{field}.pods.podSelector"))?,
    }))
}

fn action(value: &Value, v2: bool, field: &str) -> Result<Action, String> {
    match (value.as_str(), v2) {
        (Some("Accept"), true) | (Some("Allow"), false) => Ok(Action::Allow),
        (Some("Deny"), _) => Ok(Action::Deny),
        (Some("Pass"), _) => Ok(Action::Pass),
        (Some(other), _) => Err(format!("{field}.action: unknown action `{other}`")),
        (None, _) => Err(format!("{field}.action is missing")),
    }
}

/// The peer fields of each direction: ingress peers are pods only.
fn peer_fields(direction: Direction) -> &'static [&'static str] {
    match direction {
        Direction::Ingress => &["namespaces", "pods"],
        Direction::Egress => &["namespaces", "pods", "nodes", "networks", "domainNames"],
    }
}

fn rule(
    item: &Value,
    direction: Direction,
    at: RulePosition,
    field: &str,
    order: f64,
    v2: bool,
    notes: &mut Vec<Note>,
) -> Result<LayerRule, String> {
    let action = action(&item["action"], v2, field)?;
    let peers_field = match direction {
        Direction::Ingress => "from",
        Direction::Egress => "to",
    };
    let mut peers = Vec::new();
    for (index, peer) in list(&item[peers_field], field)?.iter().enumerate() {
        let peer_field = format!("{field}.{peers_field}[{index}]");
        let known = peer_fields(direction)
            .iter()
            .any(|key| !peer[*key].is_null());
        if !known {
            // The API: an implementation that sees no field it knows (a newer
            // CRD's peer kind, or none at all) fails closed.
            notes.push(Note::new(
                Some(direction),
                format!("{peer_field}: {}", fail_closed_note(action)),
            ));
            if action == Action::Allow {
                peers.push(LayerPeer::Nothing);
                continue;
            }
            return Ok(LayerRule {
                at,
                action: Action::Deny,
                order,
                peers: Vec::new(),
                ports: Vec::new(),
            });
        }
        match read_peer(peer, &peer_field) {
            Ok(read) => peers.extend(read),
            // Kept in place as a peer that may match, so the rule still counts.
            Err(error) => {
                peers.push(LayerPeer::Unevaluated);
                notes.push(Note::new(
                    Some(direction),
                    format!("{error}; treated as matching nothing"),
                ));
            }
        }
        let unevaluated = [
            ("nodes", "nodes peers (node IPs are not known here)"),
            (
                "domainNames",
                "domainNames peers (FQDN: addresses are resolved at run time)",
            ),
        ];
        for (key, what) in unevaluated {
            if !peer[key].is_null() {
                peers.push(LayerPeer::Unevaluated);
                notes.push(Note::new(
                    Some(direction),
                    format!(
                        "{peer_field}: {what} cannot be evaluated; treated as matching nothing"
                    ),
                ));
            }
        }
    }
    let ports = if v2 {
        protocols(&item["protocols"], field)?
    } else {
        ports(&item["ports"], field)?
    };
    Ok(LayerRule {
        at,
        action,
        order,
        peers,
        ports,
    })
}

/// The pods or networks of a peer; nodes and domain names are not read here.
fn read_peer(peer: &Value, field: &str) -> Result<Vec<LayerPeer>, String> {
    if let Some(set) = pod_set(peer, field)? {
        return Ok(vec![LayerPeer::Pods(set)]);
    }
    list(&peer["networks"], field)?
        .iter()
        .enumerate()
        .map(|(i, network)| cidr(network, &format!("{field}.networks[{i}]")).map(LayerPeer::Cidr))
        .collect()
}

fn fail_closed_note(action: Action) -> &'static str {
    match action {
        Action::Allow => {
            "a peer that sets no field netposture knows; as the API requires, an Allow rule fails closed and this peer matches nothing"
        }
        Action::Deny | Action::Pass => {
            "a peer that sets no field netposture knows; as the API requires, a Deny or Pass rule fails closed and denies all traffic"
        }
    }
}

/// A destination named port matches whatever protocol the container port has.
fn named(name: &str) -> Vec<PortMatch> {
    Protocol::ALL
        .into_iter()
        .map(|protocol| PortMatch {
            protocol,
            port: PortSpec::Named(name.to_string()),
        })
        .collect()
}

fn port_number(value: &Value, field: &str) -> Result<u16, String> {
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{field}: expected a port number 1-65535"))
}

fn protocol(value: &Value, field: &str) -> Result<Protocol, String> {
    match value.as_str() {
        None => Ok(Protocol::Tcp),
        Some(text) => {
            Protocol::parse(text).ok_or_else(|| format!("{field}: unknown protocol {text:?}"))
        }
    }
}

/// `v1alpha1` `ports[]`: `portNumber`, `portRange` or `namedPort`; empty means every port.
fn ports(value: &Value, field: &str) -> Result<Vec<PortMatch>, String> {
    let mut matches = Vec::new();
    for (index, item) in list(value, field)?.iter().enumerate() {
        let field = format!("{field}.ports[{index}]");
        if let Some(name) = item["namedPort"].as_str() {
            matches.extend(named(name));
        } else if !item["portNumber"].is_null() {
            let number = &item["portNumber"];
            let port = port_number(&number["port"], &field)?;
            matches.push(PortMatch {
                protocol: protocol(&number["protocol"], &field)?,
                port: PortSpec::Range(port, port),
            });
        } else if !item["portRange"].is_null() {
            let range = &item["portRange"];
            matches.push(PortMatch {
                protocol: protocol(&range["protocol"], &field)?,
                port: PortSpec::Range(
                    port_number(&range["start"], &field)?,
                    port_number(&range["end"], &field)?,
                ),
            });
        } else {
            return Err(format!(
                "{field}: neither portNumber, portRange nor namedPort"
            ));
        }
    }
    Ok(matches)
}

/// `v1alpha2` `protocols[]`: `tcp`/`udp`/`sctp` with an optional
/// `destinationPort` (`number` or `range`), or `destinationNamedPort`.
fn protocols(value: &Value, field: &str) -> Result<Vec<PortMatch>, String> {
    let mut matches = Vec::new();
    for (index, item) in list(value, field)?.iter().enumerate() {
        let field = format!("{field}.protocols[{index}]");
        if let Some(name) = item["destinationNamedPort"].as_str() {
            matches.extend(named(name));
            continue;
        }
        let Some((protocol, attributes)) = [
            ("tcp", Protocol::Tcp),
            ("udp", Protocol::Udp),
            ("sctp", Protocol::Sctp),
        ]
        .into_iter()
        .find_map(|(key, protocol)| item.get(key).map(|a| (protocol, a))) else {
            return Err(format!(
                "{field}: neither tcp, udp, sctp nor destinationNamedPort"
            ));
        };
        let port = &attributes["destinationPort"];
        let spec = if port.is_null() {
            PortSpec::Any
        } else if !port["number"].is_null() {
            let number = port_number(&port["number"], &field)?;
            PortSpec::Range(number, number)
        } else {
            let range = &port["range"];
            PortSpec::Range(
                port_number(&range["start"], &field)?,
                port_number(&range["end"], &field)?,
            )
        };
        matches.push(PortMatch {
            protocol,
            port: spec,
        });
    }
    Ok(matches)
}
