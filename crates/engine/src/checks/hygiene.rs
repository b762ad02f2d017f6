//! Selector hygiene: policies and rule peers that select nothing today, and
//! namespace selectors that anyone allowed to label a namespace can satisfy.

use kube_core::{Expression, Selector, SelectorExt};

use super::{Findings, capped, check};
use crate::cluster::{Cluster, NamespaceState};
use crate::model::{Direction, NAMESPACE_NAME_LABEL, Peer, Policy, selector_keys};
use crate::posture::{Check, CheckStatus, Severity, ids};

/// `{team: x, tier in (a,b)}`: matchLabels as YAML writes them, expressions as kubectl does.
fn describe(selector: &Selector) -> String {
    let parts: Vec<String> = selector
        .clone()
        .into_iter()
        .map(|expression| match expression {
            Expression::Equal(key, value) => format!("{key}: {value}"),
            other => other.to_string(),
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Every rule peer of a policy with where it is written: `ingress[0].from[1]`.
fn peers(policy: &Policy) -> impl Iterator<Item = (String, &Peer)> {
    [Direction::Ingress, Direction::Egress]
        .into_iter()
        .flat_map(move |direction| {
            let field = match direction {
                Direction::Ingress => "from",
                Direction::Egress => "to",
            };
            policy
                .rules(direction)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .flat_map(move |(r, rule)| {
                    rule.peers
                        .iter()
                        .enumerate()
                        .map(move |(p, peer)| (format!("{direction}[{r}].{field}[{p}]"), peer))
                })
        })
}

/// Whether a pod that policies can match (not hostNetwork: selectors never
/// match those, see `reach::peer_matches`) matches `pods` in `state`.
fn any_pod(state: &NamespaceState, pods: Option<&Selector>) -> bool {
    state
        .pods
        .values()
        .any(|pod| !pod.host_network && pods.is_none_or(|s| s.matches(&pod.labels)))
}

/// Namespaces `selector` matches, lazily. A selector naming namespaces by
/// `kubernetes.io/metadata.name` looks them up instead of scanning every
/// namespace: most peers are written that way, and the evaluation asks this
/// for every peer of every namespace.
fn selected_namespaces<'c>(
    cluster: &'c Cluster,
    selector: &'c Selector,
) -> Box<dyn Iterator<Item = &'c NamespaceState> + 'c> {
    let named = selector.clone().into_iter().find_map(|e| match e {
        Expression::Equal(key, value) if key == NAMESPACE_NAME_LABEL => Some(vec![value]),
        Expression::In(key, values) if key == NAMESPACE_NAME_LABEL => {
            Some(values.into_iter().collect())
        }
        _ => None,
    });
    match named {
        Some(names) => Box::new(
            names
                .into_iter()
                .filter_map(|name| cluster.namespace(&name))
                .filter(|state| selector.matches(&state.labels)),
        ),
        None => Box::new(
            cluster
                .namespaces()
                .map(|(_, state)| state)
                .filter(|state| selector.matches(&state.labels)),
        ),
    }
}

impl Findings<'_> {
    pub(super) fn empty_policies(&self) -> Check {
        let policies = &self.state.policies;
        if policies.is_empty() {
            return check(
                ids::EMPTY_POLICIES,
                CheckStatus::NotApplicable,
                Severity::Low,
                "no NetworkPolicy in this namespace".into(),
            );
        }
        // A whole-namespace policy is never empty: in a namespace without
        // pods it is the default deny waiting for the next pod.
        let empty: Vec<String> = policies
            .values()
            .filter(|p| !p.selects_whole_namespace())
            .filter(|p| !any_pod(self.state, Some(&p.pod_selector)))
            .map(|p| {
                format!(
                    "networkpolicy/{}: podSelector {} matches no pod",
                    p.name,
                    describe(&p.pod_selector)
                )
            })
            .collect();
        if empty.is_empty() {
            return check(
                ids::EMPTY_POLICIES,
                CheckStatus::Pass,
                Severity::Low,
                format!("each of the {} policies selects a pod", policies.len()),
            );
        }
        check(
            ids::EMPTY_POLICIES,
            CheckStatus::Warn,
            Severity::Low,
            format!(
                "{} policy(ies) select no current pod: stale, or their podSelector has a typo",
                empty.len()
            ),
        )
        .with_evidence(capped(empty))
        .with_remediation("Delete policies left over from removed workloads, or fix the podSelector to the labels the pods carry.")
    }

    /// Why `peer` (in a policy of this namespace) matches nothing, or `None`.
    fn empty_peer(&self, cluster: &Cluster, peer: &Peer) -> Option<String> {
        let Peer::Selector { namespaces, pods } = peer else {
            return None;
        };
        match (namespaces, pods) {
            (None, pods) => (!any_pod(self.state, pods.as_ref())).then(|| {
                format!(
                    "podSelector {} matches no pod in this namespace",
                    pods.as_ref().map(describe).unwrap_or_default()
                )
            }),
            (Some(namespaces), None) => selected_namespaces(cluster, namespaces)
                .next()
                .is_none()
                .then(|| {
                    format!(
                        "namespaceSelector {} matches no namespace",
                        describe(namespaces)
                    )
                }),
            (Some(namespaces), Some(pods)) => {
                let mut selected = selected_namespaces(cluster, namespaces).peekable();
                if selected.peek().is_none() {
                    return Some(format!(
                        "namespaceSelector {} matches no namespace",
                        describe(namespaces)
                    ));
                }
                (!selected.any(|state| any_pod(state, Some(pods)))).then(|| {
                    format!(
                        "namespaceSelector {} podSelector {} matches no pod",
                        describe(namespaces),
                        describe(pods)
                    )
                })
            }
        }
    }

    pub(super) fn empty_peers(&self) -> Check {
        let empty: Vec<String> = self
            .state
            .policies
            .values()
            .flat_map(|policy| {
                peers(policy).filter_map(move |(field, peer)| {
                    self.empty_peer(self.cluster, peer)
                        .map(|why| format!("networkpolicy/{} {field}: {why}", policy.name))
                })
            })
            .collect();
        if empty.is_empty() {
            return check(
                ids::EMPTY_PEERS,
                CheckStatus::Pass,
                Severity::Low,
                "every selector peer matches a current pod or namespace".into(),
            );
        }
        check(
            ids::EMPTY_PEERS,
            CheckStatus::Warn,
            Severity::Low,
            format!(
                "{} rule peer(s) match no current pod or namespace: the flows they were written for are denied, or they wait for a namespace or pod to appear",
                empty.len()
            ),
        )
        .with_evidence(capped(empty))
        .with_remediation("Fix the selectors to labels that exist, or delete the peers if nothing should match them.")
    }

    pub(super) fn spoofable_namespace_selectors(&self) -> Check {
        if !crate::impact::selects_namespaces(self.state) {
            return check(
                ids::SPOOFABLE_NAMESPACE_SELECTORS,
                CheckStatus::NotApplicable,
                Severity::Medium,
                "no rule selects namespaces".into(),
            );
        }
        let spoofable: Vec<String> = self
            .state
            .policies
            .values()
            .flat_map(|policy| {
                peers(policy).filter_map(move |(field, peer)| {
                    let Peer::Selector {
                        namespaces: Some(namespaces),
                        ..
                    } = peer
                    else {
                        return None;
                    };
                    // An empty selector admits every namespace on purpose, so
                    // labelling a namespace gains nothing there; only a label
                    // that narrows the selection can be forged.
                    let keys: Vec<String> = selector_keys(namespaces)
                        .filter(|k| k != NAMESPACE_NAME_LABEL)
                        .collect();
                    (!keys.is_empty()).then(|| {
                        format!(
                            "networkpolicy/{} {field}: namespaceSelector on label(s) {}",
                            policy.name,
                            keys.join(", ")
                        )
                    })
                })
            })
            .collect();
        if spoofable.is_empty() {
            return check(
                ids::SPOOFABLE_NAMESPACE_SELECTORS,
                CheckStatus::Pass,
                Severity::Medium,
                format!(
                    "namespace selectors use only {NAMESPACE_NAME_LABEL}, which the API server sets"
                ),
            );
        }
        check(
            ids::SPOOFABLE_NAMESPACE_SELECTORS,
            CheckStatus::Warn,
            Severity::Medium,
            format!(
                "{} namespaceSelector(s) use labels other than {NAMESPACE_NAME_LABEL}: anyone allowed to label a namespace can make it match",
                spoofable.len()
            ),
        )
        .with_evidence(capped(spoofable))
        .with_remediation(format!(
            "Select namespaces by `{NAMESPACE_NAME_LABEL}` (set by the API server and immutable), e.g. `matchExpressions: [{{key: {NAMESPACE_NAME_LABEL}, operator: In, values: [a, b]}}]`, or restrict who may label namespaces."
        ))
    }
}
