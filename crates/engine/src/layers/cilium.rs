//! Cilium's CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy
//! (`cilium.io/v2`). A policy selecting an endpoint with a non-empty
//! ingress/ingressDeny (egress/egressDeny) section isolates it in that
//! direction unless `enableDefaultDeny` says otherwise; allow rules merge
//! with NetworkPolicy's; deny rules win over every allow. Selectors use
//! Cilium's label sources (`k8s:`, `any:`) and namespace labels
//! (`io.kubernetes.pod.namespace`, `io.cilium.k8s.namespace.labels.*`).

use serde_json::Value;

use super::cilium_selector::endpoints;
use super::selectors::{cidr, list};
use super::{
    Action, LayerPeer, LayerPolicy, LayerRule, NETWORK_POLICY_ORDER, Note, PodSet, RulePosition,
    Scope, Stage,
};
use crate::convert::parse_cidr;
use crate::model::{Direction, IpBlock, PortMatch, PortSpec, Protocol};

pub(super) fn convert(policy: &mut LayerPolicy, object: &Value) {
    policy.stage = Stage::Main;
    let rule = match (&object["spec"], list(&object["specs"], "specs")) {
        (spec, _) if !spec.is_null() => spec,
        (_, Ok([only])) => only,
        (_, Ok([])) => {
            policy
                .notes
                .push(Note::new(None, "has neither spec nor specs"));
            return;
        }
        (_, Ok(_)) => {
            policy.notes.push(Note::new(
                None,
                "specs with several rules are not evaluated (only a single spec is)",
            ));
            policy.unread = true;
            return;
        }
        (_, Err(error)) => {
            policy.notes.push(Note::new(None, error));
            policy.unread = true;
            return;
        }
    };
    if !rule["nodeSelector"].is_null() {
        policy.notes.push(Note::new(
            None,
            "nodeSelector: host policies govern nodes and are not evaluated",
        ));
        return;
    }
    let own = policy.namespace.clone();
    match endpoints(
        &rule["endpointSelector"],
        "spec.endpointSelector",
        own.as_deref(),
    ) {
        // A namespaced policy selects only its own namespace's endpoints.
        Ok(set) => {
            policy.subject = Some(match &own {
                Some(namespace) => PodSet {
                    namespaces: Scope::Named(namespace.clone()),
                    pods: set.pods,
                },
                None => set,
            })
        }
        Err(error) => {
            policy.notes.push(Note::new(
                None,
                format!("{error}: the policy is not evaluated"),
            ));
            policy.unread = true;
            return;
        }
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        let (allow_key, deny_key, default_key) = match direction {
            Direction::Ingress => ("ingress", "ingressDeny", "ingress"),
            Direction::Egress => ("egress", "egressDeny", "egress"),
        };
        let mut rules = Vec::new();
        let mut present = false;
        for (key, action, order) in [
            (deny_key, Action::Deny, f64::NEG_INFINITY),
            (allow_key, Action::Allow, NETWORK_POLICY_ORDER),
        ] {
            let items = match list(&rule[key], key) {
                Ok(items) => items,
                Err(error) => {
                    policy.notes.push(Note::new(Some(direction), error));
                    continue;
                }
            };
            present |= !items.is_empty();
            for (index, item) in items.iter().enumerate() {
                let field = format!("{key}[{index}]");
                let reader = RuleReader {
                    direction,
                    field: &field,
                    own: own.as_deref(),
                    notes: &mut policy.notes,
                };
                let at = RulePosition { list: key, index };
                if let Some(converted) = reader.read(item, at, action, order) {
                    rules.push(converted);
                }
            }
        }
        if !present {
            continue;
        }
        if rule["enableDefaultDeny"][default_key].as_bool() != Some(false) {
            policy.isolates.push(direction);
        }
        match direction {
            Direction::Ingress => policy.ingress = Some(rules),
            Direction::Egress => policy.egress = Some(rules),
        }
    }
}

/// Reads one rule of a section, noting what cannot be evaluated.
struct RuleReader<'r> {
    direction: Direction,
    field: &'r str,
    own: Option<&'r str>,
    notes: &'r mut Vec<Note>,
}

impl RuleReader<'_> {
    fn note(&mut self, text: String) {
        self.notes.push(Note::new(
            Some(self.direction),
            format!("{}: {text}", self.field),
        ));
    }

    /// `None` when the rule matches nothing (no peer and no port).
    fn read(
        mut self,
        item: &Value,
        at: RulePosition,
        action: Action,
        order: f64,
    ) -> Option<LayerRule> {
        let prefix = match self.direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        let key = |name: &str| format!("{prefix}{name}");
        let mut peers = Vec::new();
        let mut l3 = false;
        let endpoints_key = key("Endpoints");
        if let Some(items) = self.items(item, &endpoints_key) {
            l3 = true;
            for (index, selector) in items.iter().enumerate() {
                let field = format!("{}.{endpoints_key}[{index}]", self.field);
                match endpoints(selector, &field, self.own) {
                    Ok(set) => peers.push(LayerPeer::Pods(set)),
                    Err(error) => {
                        peers.push(LayerPeer::Unevaluated);
                        self.note(format!("{error}; treated as matching nothing"));
                    }
                }
            }
        }
        if let Some(items) = self.items(item, &key("CIDR")) {
            l3 = true;
            for value in items {
                match cidr(value, &key("CIDR")) {
                    Ok(block) => peers.push(LayerPeer::Addresses(block)),
                    Err(error) => self.note(error),
                }
            }
        }
        if let Some(items) = self.items(item, &key("CIDRSet")) {
            l3 = true;
            for value in items {
                match cidr_set(value) {
                    Ok(block) => peers.push(LayerPeer::Addresses(block)),
                    Err(error) => {
                        peers.push(LayerPeer::Unevaluated);
                        self.note(format!("{}: {error}", key("CIDRSet")));
                    }
                }
            }
        }
        if let Some(items) = self.items(item, &key("Entities")) {
            l3 = true;
            peers.extend(items.iter().map(|e| entity(e.as_str().unwrap_or_default())));
        }
        let unevaluated = [
            (
                "FQDNs",
                "toFQDNs (FQDN: addresses are resolved at run time)",
            ),
            ("Services", "services"),
            ("Requires", "requirements"),
            ("Groups", "cloud provider groups"),
            ("Nodes", "node selectors"),
        ];
        for (suffix, what) in unevaluated {
            if !item[key(suffix)].is_null() {
                l3 = true;
                peers.push(LayerPeer::Unevaluated);
                self.note(format!(
                    "{what} cannot be evaluated; treated as matching nothing"
                ));
            }
        }
        if !item["icmps"].is_null() {
            self.note("ICMP rules are not evaluated".into());
        }
        let ports = self.ports(&item["toPorts"])?;
        if !l3 && ports.is_empty() {
            // An empty rule selects no peer: it allows (or denies) nothing.
            return None;
        }
        Some(LayerRule {
            at,
            action,
            order,
            peers,
            ports,
        })
    }

    fn items<'v>(&mut self, item: &'v Value, key: &str) -> Option<&'v [Value]> {
        match list(&item[key], key) {
            Ok([]) => None,
            Ok(items) => Some(items),
            Err(error) => {
                self.note(error);
                None
            }
        }
    }

    /// `toPorts[].ports` as port matches; L7 `rules` are noted. `Some(empty)`
    /// means every port; `None` that no port of the rule can be read.
    fn ports(&mut self, value: &Value) -> Option<Vec<PortMatch>> {
        let mut matches = Vec::new();
        for (index, entry) in self.items_of(value, "toPorts").iter().enumerate() {
            if let Some(rules) = entry["rules"].as_object() {
                let kinds: Vec<&str> = rules.keys().map(String::as_str).collect();
                self.note(format!(
                    "toPorts[{index}].rules: L7 rules ({}) further filter what this rule admits at L3/L4; evaluated as admitting the whole port",
                    kinds.join(", ")
                ));
            }
            let ports = self.items_of(&entry["ports"], "ports");
            if ports.is_empty() {
                // No port: every port of every protocol.
                return Some(Vec::new());
            }
            for port in ports {
                match port_match(port) {
                    Ok(found) => matches.extend(found),
                    Err(error) => self.note(format!("toPorts[{index}]: {error}")),
                }
            }
        }
        if matches.is_empty() && !self.items_of(value, "toPorts").is_empty() {
            return None;
        }
        Some(matches)
    }

    fn items_of<'v>(&mut self, value: &'v Value, key: &str) -> &'v [Value] {
        list(value, key).unwrap_or_else(|error| {
            self.note(error);
            &[]
        })
    }
}

fn cidr_set(value: &Value) -> Result<IpBlock, String> {
    if !value["cidrGroupRef"].is_null() {
        return Err("cidrGroupRef is not evaluated".into());
    }
    let mut block = cidr(&value["cidr"], "cidr")?;
    for except in list(&value["except"], "except")? {
        let text = except.as_str().unwrap_or_default();
        block.except.push(parse_cidr(text, "except")?);
    }
    Ok(block)
}

/// Cilium entities as peers: the ones that stand for nodes or the control
/// plane match no pod and no outside address here.
fn entity(name: &str) -> LayerPeer {
    match name {
        "all" => LayerPeer::Everything,
        "world" => LayerPeer::Outside,
        "cluster" => LayerPeer::AllPods,
        "world-ipv4" => LayerPeer::Addresses(IpBlock {
            cidr: "0.0.0.0/0".parse().expect("a valid CIDR"),
            except: Vec::new(),
        }),
        "world-ipv6" => LayerPeer::Addresses(IpBlock {
            cidr: "::/0".parse().expect("a valid CIDR"),
            except: Vec::new(),
        }),
        _ => LayerPeer::Unevaluated,
    }
}

/// One `{port, endPort, protocol}`: `ANY` (the default) is every protocol,
/// a missing or zero port every port, a non-numeric port a named port.
fn port_match(value: &Value) -> Result<Vec<PortMatch>, String> {
    let protocols: Vec<Protocol> = match value["protocol"].as_str() {
        None | Some("ANY") => Protocol::ALL.to_vec(),
        Some(text) => vec![
            Protocol::parse(text).ok_or_else(|| format!("protocol {text:?} is not evaluated"))?,
        ],
    };
    let port = match &value["port"] {
        Value::Null => None,
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        other => return Err(format!("port {other} is not a port")),
    };
    let spec = match port.as_deref() {
        None | Some("0") => PortSpec::Any,
        Some(text) => match text.parse::<u16>() {
            Ok(start) => {
                let end = value["endPort"]
                    .as_u64()
                    .and_then(|e| u16::try_from(e).ok())
                    .unwrap_or(start);
                PortSpec::Range(start, end.max(start))
            }
            Err(_) => PortSpec::Named(text.to_string()),
        },
    };
    Ok(protocols
        .into_iter()
        .map(|protocol| PortMatch {
            protocol,
            port: spec.clone(),
        })
        .collect())
}
