//! The rules the CRDs of the tiered APIs (network-policy-api `v1alpha1`
//! AdminNetworkPolicy and BaselineAdminNetworkPolicy, `v1alpha2`
//! ClusterNetworkPolicy) make the API server enforce: enums, bounds,
//! required fields, exactly-one-of structs (`MinProperties` and
//! `MaxProperties` of 1) and the CEL rules. An object breaking one is never stored, so it is
//! reported and left out, as an invalid NetworkPolicy is.
//!
//! A peer that sets none of the fields known here is not a violation: the
//! API asks implementations to fail closed on it (see [`super::tiered`]).

use serde_json::Value;

use super::selectors::list;
use crate::model::Direction;

const CLUSTER_NETWORK_POLICY: &str = "ClusterNetworkPolicy";
const ADMIN: &str = "AdminNetworkPolicy";
const BASELINE: &str = "BaselineAdminNetworkPolicy";

/// Every rule of the kind's CRD that `spec` (of the object named `name`) breaks.
pub(super) fn violations(kind: &str, name: &str, spec: &Value) -> Vec<String> {
    let mut found = Vec::new();
    match kind {
        CLUSTER_NETWORK_POLICY => {
            match spec["tier"].as_str() {
                Some("Admin" | "Baseline") => {}
                Some(other) => found.push(format!(
                    "spec.tier: `{other}` is not one of Admin, Baseline"
                )),
                None => found.push("spec.tier is missing".into()),
            }
            priority(spec, &mut found);
        }
        ADMIN => priority(spec, &mut found),
        _ => {
            if name != "default" {
                found.push(format!(
                    "only one BaselineAdminNetworkPolicy, named `default`, may exist (this one is named `{name}`)"
                ));
            }
        }
    }
    one_of(
        &spec["subject"],
        "spec.subject",
        &["namespaces", "pods"],
        &mut found,
    );
    let actions: &[&str] = match kind {
        CLUSTER_NETWORK_POLICY => &["Accept", "Deny", "Pass"],
        ADMIN => &["Allow", "Deny", "Pass"],
        _ => &["Allow", "Deny"],
    };
    for direction in [Direction::Ingress, Direction::Egress] {
        let field = format!("spec.{direction}");
        let rules = match list(&spec[direction.to_string()], &field) {
            Ok(rules) => rules,
            Err(error) => {
                found.push(error);
                continue;
            }
        };
        for (index, item) in rules.iter().enumerate() {
            let field = format!("{field}[{index}]");
            let rule = RuleCheck {
                kind,
                direction,
                field: &field,
                found: &mut found,
            };
            rule.check(item, actions);
        }
    }
    found
}

fn priority(spec: &Value, found: &mut Vec<String>) {
    match &spec["priority"] {
        Value::Null => found.push("spec.priority is missing".into()),
        value => {
            if !value.as_i64().is_some_and(|p| (0..=1000).contains(&p)) {
                found.push(format!(
                    "spec.priority: {value} is not a whole number from 0 to 1000"
                ));
            }
        }
    }
}

/// The fields of `allowed` that `value` sets.
fn set_fields<'k>(value: &Value, allowed: &[&'k str]) -> Vec<&'k str> {
    allowed
        .iter()
        .copied()
        .filter(|key| !value[*key].is_null())
        .collect()
}

/// Exactly one of `allowed` must be set.
fn one_of(value: &Value, field: &str, allowed: &[&str], found: &mut Vec<String>) {
    match set_fields(value, allowed).as_slice() {
        [_] => {}
        [] => found.push(format!("{field}: sets none of {}", allowed.join(", "))),
        several => found.push(format!(
            "{field}: sets {}, but exactly one of {} is allowed",
            several.join(" and "),
            allowed.join(", ")
        )),
    }
}

/// `{field}: sets a and b, but exactly one of a, b, c is allowed`, or `sets none`.
fn not_exactly_one(field: &str, set: &[&str], allowed: &[&str]) -> String {
    let set = if set.is_empty() {
        "none".to_string()
    } else {
        set.join(" and ")
    };
    format!(
        "{field}: sets {set}, but exactly one of {} is allowed",
        allowed.join(", ")
    )
}

struct RuleCheck<'r> {
    kind: &'r str,
    direction: Direction,
    field: &'r str,
    found: &'r mut Vec<String>,
}

impl RuleCheck<'_> {
    fn push(&mut self, text: String) {
        self.found.push(format!("{}{text}", self.field));
    }

    fn check(mut self, item: &Value, actions: &[&str]) {
        match item["action"].as_str() {
            Some(action) if actions.contains(&action) => {}
            Some(other) => self.push(format!(
                ".action: `{other}` is not one of {} for a {}",
                actions.join(", "),
                self.kind
            )),
            None => self.push(".action is missing".into()),
        }
        let (peers_key, peer_fields): (&str, &[&str]) = match (self.direction, self.kind) {
            (Direction::Ingress, _) => ("from", &["namespaces", "pods"]),
            (Direction::Egress, BASELINE) => ("to", &["namespaces", "pods", "nodes", "networks"]),
            (Direction::Egress, _) => (
                "to",
                &["namespaces", "pods", "nodes", "networks", "domainNames"],
            ),
        };
        let peers = list(&item[peers_key], peers_key).unwrap_or_default();
        if peers.is_empty() {
            self.push(format!(".{peers_key} must list at least one peer"));
        }
        let mut outside_pods = false;
        for (index, peer) in peers.iter().enumerate() {
            let set = set_fields(peer, peer_fields);
            if set.len() > 1 {
                self.push(format!(
                    ".{peers_key}[{index}]: sets {}, but a peer is exactly one of {}",
                    set.join(" and "),
                    peer_fields.join(", ")
                ));
            }
            outside_pods |= set
                .iter()
                .any(|k| ["nodes", "networks", "domainNames"].contains(k));
        }
        let named = if self.kind == CLUSTER_NETWORK_POLICY {
            self.protocols(&item["protocols"])
        } else {
            self.ports(&item["ports"])
        };
        if named && outside_pods {
            self.push(
                ": networks, nodes and domainNames peers have no named ports, so a rule with them cannot use one"
                    .into(),
            );
        }
    }

    /// `v1alpha1` `ports`; whether one is a named port.
    fn ports(&mut self, value: &Value) -> bool {
        let mut named = false;
        for (index, port) in list(value, "ports").unwrap_or_default().iter().enumerate() {
            let field = format!(".ports[{index}]");
            let allowed = ["portNumber", "portRange", "namedPort"];
            let set = set_fields(port, &allowed);
            if set.len() != 1 {
                self.push(not_exactly_one(&field, &set, &allowed));
                continue;
            }
            named |= set == ["namedPort"];
            if let Some(number) = port.get("portNumber") {
                self.port_number(&number["port"], &format!("{field}.portNumber.port"));
            }
            if let Some(range) = port.get("portRange") {
                // v1alpha1 documents end > start without a CEL rule; a
                // reversed range is what implementations cannot read.
                self.range(range, &format!("{field}.portRange"), false);
            }
        }
        named
    }

    /// `v1alpha2` `protocols`; whether one is a named port.
    fn protocols(&mut self, value: &Value) -> bool {
        let mut named = false;
        let protocols = list(value, "protocols").unwrap_or_default();
        for (index, protocol) in protocols.iter().enumerate() {
            let field = format!(".protocols[{index}]");
            let allowed = ["tcp", "udp", "sctp", "destinationNamedPort"];
            let set = set_fields(protocol, &allowed);
            let [key] = set.as_slice() else {
                self.push(not_exactly_one(&field, &set, &allowed));
                continue;
            };
            if *key == "destinationNamedPort" {
                named = true;
                continue;
            }
            let port = &protocol[*key]["destinationPort"];
            let field = format!("{field}.{key}.destinationPort");
            match set_fields(port, &["number", "range"]).as_slice() {
                ["number"] => {
                    self.port_number(&port["number"], &format!("{field}.number"));
                }
                // The CRD's CEL rule: start < end.
                ["range"] => self.range(&port["range"], &format!("{field}.range"), true),
                _ if port.is_null() => self.push(format!("{field} is missing")),
                _ => self.push(format!(
                    "{field}: sets both number and range, but exactly one is allowed"
                )),
            }
        }
        named
    }

    fn port_number(&mut self, value: &Value, field: &str) -> Option<i64> {
        match value.as_i64() {
            Some(port) if (1..=65535).contains(&port) => Some(port),
            _ if value.is_null() => {
                self.push(format!("{field} is missing"));
                None
            }
            _ => {
                self.push(format!("{field}: {value} is not a port from 1 to 65535"));
                None
            }
        }
    }

    /// `strict`: start must be below end (v1alpha2's CEL rule), else at most end.
    fn range(&mut self, range: &Value, field: &str, strict: bool) {
        let start = self.port_number(&range["start"], &format!("{field}.start"));
        let end = self.port_number(&range["end"], &format!("{field}.end"));
        if let (Some(start), Some(end)) = (start, end) {
            if strict && start >= end {
                self.push(format!(
                    "{field}: start {start} must be less than end {end}"
                ));
            } else if start > end {
                self.push(format!("{field}: start {start} exceeds end {end}"));
            }
        }
    }
}
