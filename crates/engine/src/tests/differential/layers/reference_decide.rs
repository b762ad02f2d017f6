//! The layered reference deciding a connection: Admin tier, the
//! NetworkPolicy tier by CNI, Baseline tier, then allow.

use super::*;

impl<'o> LayeredReference<'o> {
    pub(super) fn new(layered: &Layered, shape: &'o LayeredShape) -> Self {
        let objects = &layered.objects;
        let network_policy = Reference::new(&objects.namespaces, &objects.pods, &objects.policies);
        let mut namespaces: BTreeMap<String, Labels> = BTreeMap::new();
        for namespace in &objects.namespaces {
            let name = namespace.metadata.name.clone().unwrap();
            let mut labels = namespace.metadata.labels.clone().unwrap_or_default();
            labels.insert(NAME_LABEL.into(), name.clone());
            namespaces.insert(name, labels);
        }
        let pods: Vec<Workload> = objects.pods.iter().map(workload).collect();
        for pod in &pods {
            namespaces
                .entry(pod.namespace.clone())
                .or_insert_with(|| Labels::from([(NAME_LABEL.into(), pod.namespace.clone())]));
        }
        let mut admin = Vec::new();
        let mut baseline = Vec::new();
        for written in &layered.layers {
            let Some(index) = written["metadata"]["name"]
                .as_str()
                .and_then(|n| n.strip_prefix("tiered-"))
            else {
                continue;
            };
            let shape = &shape.tiered[index.parse::<usize>().unwrap()];
            let policy = TieredPolicy {
                priority: shape.priority,
                subject_namespaces: (!shape.subject_pods).then(|| selector(shape.subject_labels)),
                subject_pods: if shape.subject_pods {
                    selector(shape.subject_labels)
                } else {
                    Selector::default()
                },
                ingress: tiered_rules(&shape.ingress),
                egress: tiered_rules(&shape.egress),
            };
            match shape.api {
                Tiered::Cluster { baseline: true } => baseline.push(policy),
                _ => admin.push(policy),
            }
        }
        // Lower priority first.
        admin.sort_by_key(|p| p.priority);
        baseline.sort_by_key(|p| p.priority);
        // Calico: by order (none last), then by name.
        let mut calico: Vec<(&CalicoShape, String)> = shape
            .calico
            .iter()
            .enumerate()
            .map(|(i, s)| (s, format!("calico-{i}")))
            .collect();
        calico.sort_by(|(a, an), (b, bn)| {
            (a.order.is_none(), a.order, an).cmp(&(b.order.is_none(), b.order, bn))
        });
        LayeredReference {
            network_policy,
            cni: layered.cni,
            namespaces,
            pods,
            admin,
            baseline,
            calico,
            cilium: &shape.cilium,
        }
    }

    pub(super) fn allows(&self, from: Party, to: Party, probe: Probe, blocks: IpBlocks) -> bool {
        if let (Party::Pod(a), Party::Pod(b)) = (from, to)
            && a == b
        {
            return true;
        }
        self.side(from, Direction::Egress, to, probe, blocks)
            && self.side(to, Direction::Ingress, from, probe, blocks)
    }

    pub(super) fn remote_matches(&self, peer: &Matcher, remote: Party) -> bool {
        match (peer, remote) {
            (Matcher::Anything, _) => true,
            (Matcher::Network(net), Party::Address(a)) => net.contains(&a),
            (Matcher::Network(net), Party::Pod(i)) => {
                self.pods[i].addresses.iter().any(|a| net.contains(a))
            }
            (Matcher::Outside(net), Party::Address(a)) => net.is_none_or(|n| n.contains(&a)),
            (Matcher::AnyPod, Party::Pod(_)) => true,
            (Matcher::Pods { namespaces, pods }, Party::Pod(i)) => {
                let pod = &self.pods[i];
                !pod.host_network
                    && namespaces
                        .as_ref()
                        .is_none_or(|n| n.matches(&self.namespaces[&pod.namespace]))
                    && pods.matches(&pod.labels)
            }
            (Matcher::Calico(expression), Party::Pod(i)) => {
                !self.pods[i].host_network && calico_matches(expression, &self.pods[i].labels)
            }
            _ => false,
        }
    }

    pub(super) fn port_matches(
        &self,
        (protocol, port): &(Option<&str>, PortShape),
        probe: Probe,
        destination: Party,
    ) -> bool {
        if protocol.is_some_and(|p| p != probe.protocol) {
            return false;
        }
        match port {
            PortShape::Number(n) => *n == probe.port,
            PortShape::Range(s, e) => (*s..=*e).contains(&probe.port),
            PortShape::Named(name) => match destination {
                Party::Pod(i) => self.pods[i].ports.iter().any(|(n, number, protocol)| {
                    n == name && *number == probe.port && protocol == probe.protocol
                }),
                Party::Address(_) => false,
            },
        }
    }

    pub(super) fn rule_matches(&self, rule: &RuleOf, side: Side, probe: Probe) -> bool {
        let destination = match side.direction {
            Direction::Ingress => side.local,
            Direction::Egress => side.remote,
        };
        (rule.peers.is_empty()
            || rule
                .peers
                .iter()
                .any(|p| self.remote_matches(p, side.remote)))
            && (rule.ports.is_empty()
                || rule
                    .ports
                    .iter()
                    .any(|p| self.port_matches(p, probe, destination)))
    }

    /// The first matching rule's action in a tier: `Some(true)` allow,
    /// `Some(false)` deny, `None` pass or nothing matched.
    pub(super) fn tier(
        &self,
        policies: &[TieredPolicy],
        pod: usize,
        side: Side,
        probe: Probe,
    ) -> Option<bool> {
        let workload = &self.pods[pod];
        for policy in policies {
            let selected = policy
                .subject_namespaces
                .as_ref()
                .is_none_or(|n| n.matches(&self.namespaces[&workload.namespace]))
                && policy.subject_pods.matches(&workload.labels);
            if !selected {
                continue;
            }
            let rules = match side.direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            };
            if let Some(rule) = rules.iter().find(|r| self.rule_matches(r, side, probe)) {
                return [Some(true), Some(false), None][rule.action];
            }
        }
        None
    }

    pub(super) fn side(
        &self,
        local: Party,
        direction: Direction,
        remote: Party,
        probe: Probe,
        blocks: IpBlocks,
    ) -> bool {
        let Party::Pod(pod) = local else { return true };
        if self.pods[pod].host_network {
            return true;
        }
        let side = Side {
            local,
            direction,
            remote,
        };
        if let Some(decided) = self.tier(&self.admin, pod, side, probe) {
            return decided;
        }
        let isolated = self.network_policy.isolates(local, direction);
        let admitted = self.network_policy.side_allows(side, probe, blocks);
        let main = match self.cni {
            Cni::None => isolated.then_some(admitted),
            Cni::Calico => self.calico_tier(pod, side, probe, isolated, admitted),
            Cni::Cilium => self.cilium_tier(pod, side, probe, isolated, admitted),
        };
        match main {
            Some(decided) => decided,
            None => self.tier(&self.baseline, pod, side, probe).unwrap_or(true),
        }
    }

    /// Calico's default tier: its policies and the NetworkPolicies (order
    /// 1000) by order; `None` goes on to the Baseline tier.
    pub(super) fn calico_tier(
        &self,
        pod: usize,
        side: Side,
        probe: Probe,
        isolated: bool,
        admitted: bool,
    ) -> Option<bool> {
        let workload = &self.pods[pod];
        let mut selected = false;
        let mut network_policy_done = false;
        for (policy, _) in &self.calico {
            if !network_policy_done && policy.order.is_none_or(|o| o > 1000) {
                network_policy_done = true;
                if isolated {
                    selected = true;
                    if admitted {
                        return Some(true);
                    }
                }
            }
            let types = policy.types.clone().unwrap_or_else(|| {
                let mut types = vec![Direction::Ingress];
                if !policy.egress.is_empty() {
                    types.push(Direction::Egress);
                }
                types
            });
            let applies = types.contains(&side.direction)
                && calico_matches(policy.selector, &workload.labels)
                && calico_matches(
                    policy.namespace_selector,
                    &self.namespaces[&workload.namespace],
                );
            if !applies {
                continue;
            }
            selected = true;
            let rules = calico_rules(match side.direction {
                Direction::Ingress => &policy.ingress,
                Direction::Egress => &policy.egress,
            });
            if let Some(rule) = rules.iter().find(|r| self.rule_matches(r, side, probe)) {
                return [Some(true), Some(false), None][rule.action];
            }
        }
        if !network_policy_done && isolated {
            selected = true;
            if admitted {
                return Some(true);
            }
        }
        selected.then_some(false)
    }

    /// Cilium: deny rules first, then any allow; `None` goes on to the
    /// Baseline tier when nothing selects the pod.
    pub(super) fn cilium_tier(
        &self,
        pod: usize,
        side: Side,
        probe: Probe,
        isolated: bool,
        admitted: bool,
    ) -> Option<bool> {
        let workload = &self.pods[pod];
        let mut selected = isolated;
        let mut allowed = isolated && admitted;
        for policy in self.cilium {
            if !selector(policy.endpoint).matches(&workload.labels) {
                continue;
            }
            for ((_, direction, deny), rules) in CILIUM_SECTIONS.iter().zip(&policy.sections) {
                let Some(rules) = rules.as_ref().filter(|_| *direction == side.direction) else {
                    continue;
                };
                selected = true;
                for rule in rules {
                    if self.rule_matches(&cilium_rule_of(rule, *deny), side, probe) {
                        if *deny {
                            return Some(false);
                        }
                        allowed = true;
                    }
                }
            }
        }
        selected.then_some(allowed)
    }
}
