//! Calico's GlobalNetworkPolicy and (namespaced) NetworkPolicy of the
//! default tier. Calico evaluates the tier's policies by `order` (none =
//! last), Kubernetes NetworkPolicies at order 1000 among them; in a policy
//! that selects the endpoint the first matching rule decides (Allow, Deny,
//! Pass to the next tier; Log goes on); an endpoint some policy of the tier
//! selects is denied what no rule decides. Selectors use the subset of
//! Calico's language in [`super::calico_selector`].

use serde_json::Value;

use super::calico_selector::Expr;
use super::selectors::{cidr, list};
use super::{
    Action, LabelMatch, LayerPeer, LayerPolicy, LayerRule, Note, PodSet, RulePosition, Scope, Stage,
};
use crate::model::{Direction, PortMatch, PortSpec, Protocol};

pub(super) fn convert(policy: &mut LayerPolicy, spec: &Value) {
    policy.stage = Stage::Main;
    if let Some(tier) = spec["tier"].as_str().filter(|t| *t != "default") {
        policy.notes.push(Note::new(
            None,
            format!("tier `{tier}`: only the default tier is evaluated"),
        ));
        policy.unread = true;
        return;
    }
    for flag in ["doNotTrack", "preDNAT", "applyOnForward"] {
        if spec[flag].as_bool() == Some(true) {
            policy.notes.push(Note::new(
                None,
                format!("{flag} policies govern host endpoints and are not evaluated"),
            ));
            return;
        }
    }
    policy.order = spec["order"].as_f64();
    let own = policy.namespace.clone();
    let subject = (|| {
        let pods = selector(&spec["selector"], "spec.selector")?;
        let namespaces = match &own {
            Some(namespace) => Scope::Named(namespace.clone()),
            None => Scope::Selected(selector(
                &spec["namespaceSelector"],
                "spec.namespaceSelector",
            )?),
        };
        Ok::<_, String>(PodSet { namespaces, pods })
    })();
    match subject {
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
    let order = policy.order.unwrap_or(f64::INFINITY);
    let has_egress = list(&spec["egress"], "egress").is_ok_and(|r| !r.is_empty());
    let types: Vec<Direction> = match list(&spec["types"], "spec.types") {
        Ok([]) | Err(_) => {
            // Calico's default: Ingress, plus Egress when egress rules exist.
            let mut types = vec![Direction::Ingress];
            types.extend(has_egress.then_some(Direction::Egress));
            types
        }
        Ok(items) => items
            .iter()
            .filter_map(|t| match t.as_str() {
                Some("Ingress") => Some(Direction::Ingress),
                Some("Egress") => Some(Direction::Egress),
                _ => None,
            })
            .collect(),
    };
    for direction in types {
        let key = direction.to_string();
        let mut rules = Vec::new();
        let items = list(&spec[&key], &key).unwrap_or_default();
        for (index, item) in items.iter().enumerate() {
            let field = format!("{key}[{index}]");
            let at = RulePosition::of(direction, index);
            match rule(
                item,
                direction,
                own.as_deref(),
                order,
                at,
                &field,
                &mut policy.notes,
            ) {
                Ok(Some(converted)) => rules.push(converted),
                Ok(None) => {}
                Err(error) => policy.notes.push(Note::new(
                    Some(direction),
                    format!("{field}: {error}; the rule is left out"),
                )),
            }
        }
        policy.isolates.push(direction);
        match direction {
            Direction::Ingress => policy.ingress = Some(rules),
            Direction::Egress => policy.egress = Some(rules),
        }
    }
}

/// A Calico selector; a missing one selects everything.
fn selector(value: &Value, field: &str) -> Result<LabelMatch, String> {
    match value {
        Value::Null => Ok(LabelMatch::Calico(Expr::parse("")?)),
        Value::String(text) => Expr::parse(text)
            .map(LabelMatch::Calico)
            .map_err(|e| format!("{field}: {e}")),
        _ => Err(format!("{field}: expected a selector string")),
    }
}

fn protocol(value: &Value) -> Result<Option<Protocol>, String> {
    match value {
        Value::String(text) => match text.as_str() {
            "TCP" => Ok(Some(Protocol::Tcp)),
            "UDP" => Ok(Some(Protocol::Udp)),
            "SCTP" => Ok(Some(Protocol::Sctp)),
            _ => Err(format!("protocol {text:?}")),
        },
        Value::Number(n) => match n.as_u64() {
            Some(6) => Ok(Some(Protocol::Tcp)),
            Some(17) => Ok(Some(Protocol::Udp)),
            Some(132) => Ok(Some(Protocol::Sctp)),
            _ => Err(format!("protocol {n}")),
        },
        _ => Ok(None),
    }
}

/// `None` when the rule cannot affect TCP, UDP or SCTP (an ICMP rule, a Log rule).
fn rule(
    item: &Value,
    direction: Direction,
    own: Option<&str>,
    order: f64,
    at: RulePosition,
    field: &str,
    notes: &mut Vec<Note>,
) -> Result<Option<LayerRule>, String> {
    let action = match item["action"].as_str() {
        Some("Allow") => Action::Allow,
        Some("Deny") => Action::Deny,
        Some("Pass") => Action::Pass,
        Some("Log") => return Ok(None),
        Some(other) => return Err(format!("unknown action `{other}`")),
        None => return Err("action is missing".into()),
    };
    let protocol = match protocol(&item["protocol"]) {
        Ok(protocol) => protocol,
        // ICMP and other protocols never carry the TCP/UDP/SCTP traffic judged here.
        Err(_) => return Ok(None),
    };
    match matcher(item, direction, own, protocol) {
        Ok((peers, ports)) => Ok(Some(LayerRule {
            at,
            action,
            order,
            peers,
            ports,
        })),
        // Kept in place as a rule that may match anything, so a verdict it
        // could change is undetermined rather than guessed.
        Err(error) => {
            notes.push(Note::new(
                Some(direction),
                format!("{field}: {error}; which traffic it matches is unknown"),
            ));
            Ok(Some(LayerRule {
                at,
                action,
                order,
                peers: vec![LayerPeer::Unevaluated],
                ports: Vec::new(),
            }))
        }
    }
}

/// The peers and ports a rule matches, when netposture can read them.
fn matcher(
    item: &Value,
    direction: Direction,
    own: Option<&str>,
    protocol: Option<Protocol>,
) -> Result<(Vec<LayerPeer>, Vec<PortMatch>), String> {
    for unsupported in ["notProtocol", "http", "ipVersion"] {
        if !item[unsupported].is_null() {
            return Err(format!("{unsupported} is not evaluated"));
        }
    }
    let (peer, local) = match direction {
        Direction::Ingress => (&item["source"], &item["destination"]),
        Direction::Egress => (&item["destination"], &item["source"]),
    };
    for key in [
        "selector",
        "namespaceSelector",
        "nets",
        "notNets",
        "notSelector",
        "serviceAccounts",
    ] {
        if !local[key].is_null() {
            return Err(format!(
                "a restriction of the local end ({key}) is not evaluated"
            ));
        }
    }
    if !item["source"]["ports"].is_null() {
        return Err("source ports are not evaluated".into());
    }
    for key in [
        "notSelector",
        "notNets",
        "notPorts",
        "serviceAccounts",
        "services",
    ] {
        if !peer[key].is_null() || !item["destination"][key].is_null() {
            return Err(format!("{key} is not evaluated"));
        }
    }
    Ok((
        peers(peer, own)?,
        ports(&item["destination"]["ports"], protocol)?,
    ))
}

/// Selectors or nets of the peer entity; none means every peer.
fn peers(entity: &Value, own: Option<&str>) -> Result<Vec<LayerPeer>, String> {
    let has_selector = !entity["selector"].is_null() || !entity["namespaceSelector"].is_null();
    let nets = list(&entity["nets"], "nets")?;
    if has_selector && !nets.is_empty() {
        return Err("a peer with both selectors and nets is not evaluated".into());
    }
    if !nets.is_empty() {
        return nets
            .iter()
            .map(|net| cidr(net, "nets").map(LayerPeer::Cidr))
            .collect();
    }
    if !has_selector {
        return Ok(Vec::new());
    }
    let pods = selector(&entity["selector"], "selector")?;
    let namespaces = match (&entity["namespaceSelector"], own) {
        (Value::Null, Some(namespace)) => Scope::Named(namespace.to_string()),
        (value, _) => Scope::Selected(selector(value, "namespaceSelector")?),
    };
    Ok(vec![LayerPeer::Pods(PodSet { namespaces, pods })])
}

/// Destination ports: numbers, `"from:to"` ranges or names, for the rule's
/// protocol (every protocol when none is given); none means every port.
fn ports(value: &Value, protocol: Option<Protocol>) -> Result<Vec<PortMatch>, String> {
    let protocols = match protocol {
        Some(protocol) => vec![protocol],
        None => Protocol::ALL.to_vec(),
    };
    let items = list(value, "ports")?;
    if items.is_empty() {
        return Ok(match protocol {
            Some(protocol) => vec![PortMatch {
                protocol,
                port: PortSpec::Any,
            }],
            None => Vec::new(),
        });
    }
    let mut matches = Vec::new();
    for item in items {
        let spec = match item {
            Value::Number(n) => {
                let port = n
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(|| format!("port {n}"))?;
                PortSpec::Range(port, port)
            }
            Value::String(text) => match text.split_once(':') {
                Some((start, end)) => match (start.parse(), end.parse()) {
                    (Ok(start), Ok(end)) => PortSpec::Range(start, end),
                    _ => return Err(format!("port range {text:?}")),
                },
                None => match text.parse() {
                    Ok(port) => PortSpec::Range(port, port),
                    Err(_) => PortSpec::Named(text.clone()),
                },
            },
            other => return Err(format!("port {other}")),
        };
        matches.extend(protocols.iter().map(|protocol| PortMatch {
            protocol: *protocol,
            port: spec.clone(),
        }));
    }
    Ok(matches)
}
