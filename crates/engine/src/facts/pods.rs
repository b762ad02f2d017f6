//! Facts about the pods a namespace evaluates: counts, isolation, open
//! egress and DNS, judged once per distinct label set.

use std::collections::{BTreeSet, HashMap};

use super::dns::{Dns, has_ip_block};
use crate::cluster::NamespaceState;
use crate::layers::LayerPolicy;
use crate::model::{Direction, Labels, Pod, Policy, Protocol};
use crate::pod_cidrs::PodCidrs;
use crate::posture::PodCounts;
use crate::reach::open_egress::{OpenEgress, open_egress};
use crate::reach::{self, Endpoint, LayerSide, Reach};

/// The policies and layer rules applying to one distinct label set.
struct Selection<'a> {
    ingress: Vec<&'a Policy>,
    egress: Vec<&'a Policy>,
    layer_ingress: LayerSide<'a>,
    layer_egress: LayerSide<'a>,
}

impl<'a> Selection<'a> {
    fn of(state: &'a NamespaceState, name: &str, layers: &[&'a LayerPolicy], pod: &Pod) -> Self {
        let layer = |direction| LayerSide::for_pod(layers, name, &state.labels, pod, direction);
        Selection {
            ingress: reach::selecting(state, pod, Direction::Ingress),
            egress: reach::selecting(state, pod, Direction::Egress),
            layer_ingress: layer(Direction::Ingress),
            layer_egress: layer(Direction::Egress),
        }
    }

    /// Isolated by a NetworkPolicy, or denied by default by a policy layer.
    fn isolated(&self, direction: Direction) -> bool {
        let (policies, layers) = match direction {
            Direction::Ingress => (&self.ingress, &self.layer_ingress),
            Direction::Egress => (&self.egress, &self.layer_egress),
        };
        !policies.is_empty() || reach::default_of(layers, false).denies()
    }
}

/// Facts about the pods a namespace evaluates: real pods, or a new unlabelled pod.
pub(crate) struct PodFacts {
    pub counts: PodCounts,
    pub unprotected: Vec<String>,
    pub not_isolated: Vec<String>,
    pub host_network: Vec<String>,
    /// Pod name and why it may reach the whole public internet.
    pub egress_open: Vec<(String, String)>,
    /// Pod name and why it may, unless a rule netposture cannot evaluate denies.
    pub egress_undetermined: Vec<(String, String)>,
    /// Pod names by their DNS answer over UDP and TCP.
    pub dns_udp: Vec<(String, Reach)>,
    pub dns_tcp: Vec<(String, Reach)>,
    /// Whether a pod evaluated here, or a DNS pod, has no known IP.
    pub ips_unknown: bool,
}

pub(crate) fn pod_facts<'a>(
    dns: &Dns<'a>,
    pod_cidrs: &PodCidrs,
    name: &str,
    state: &'a NamespaceState,
    layers: &[&'a LayerPolicy],
) -> PodFacts {
    let mut counts = PodCounts::default();
    let mut selections: Vec<Selection> = Vec::new();
    let mut by_labels: HashMap<&Labels, usize> = HashMap::new();
    let mut regular: Vec<(&Pod, usize)> = Vec::new();
    let mut host_network = Vec::new();
    let mut not_isolated = Vec::new();

    for pod in state.pods.values() {
        counts.total += 1;
        if pod.host_network {
            counts.host_network += 1;
            host_network.push(pod.name.clone());
            continue;
        }
        let index = *by_labels.entry(&pod.labels).or_insert_with(|| {
            selections.push(Selection::of(state, name, layers, pod));
            selections.len() - 1
        });
        let selection = &selections[index];
        let ingress = selection.isolated(Direction::Ingress);
        let egress = selection.isolated(Direction::Egress);
        counts.ingress_isolated += u32::from(ingress);
        counts.egress_isolated += u32::from(egress);
        if !ingress || !egress {
            not_isolated.push(pod.name.clone());
        }
        regular.push((pod, index));
    }

    // With no pod, judge the pod the namespace would get next.
    let new_pod = Pod::unlabelled("(new pod)");
    if regular.is_empty() {
        selections.push(Selection::of(state, name, layers, &new_pod));
        regular.push((&new_pod, selections.len() - 1));
    }

    let mut open_by_selection: HashMap<usize, Option<OpenEgress>> = HashMap::new();
    let mut dns_by_selection: HashMap<usize, (Reach, Reach)> = HashMap::new();
    // Pod IPs matter for DNS only when an ipBlock could match them.
    let ip_sensitive = dns_depends_on_ips(dns, &selections);
    let mut facts = PodFacts {
        counts,
        unprotected: Vec::new(),
        not_isolated,
        host_network,
        egress_open: Vec::new(),
        egress_undetermined: Vec::new(),
        dns_udp: Vec::new(),
        dns_tcp: Vec::new(),
        ips_unknown: dns.ips_unknown(),
    };
    for (pod, index) in regular {
        let selection = &selections[index];
        let open = open_by_selection
            .entry(index)
            .or_insert_with(|| open_egress(&selection.egress, &selection.layer_egress));
        match open {
            Some(OpenEgress::Open(why)) => facts.egress_open.push((pod.name.clone(), why.clone())),
            Some(OpenEgress::Undetermined(why)) => facts
                .egress_undetermined
                .push((pod.name.clone(), why.clone())),
            None => {}
        }
        facts.ips_unknown |= pod.ips.is_empty();
        let source = Endpoint {
            namespace: name,
            namespace_labels: &state.labels,
            pod,
            pod_cidrs,
        };
        let dns = |source: &Endpoint<'_>| {
            let reach = |protocol| {
                let egress = &selection.layer_egress;
                dns.reach(source, &selection.egress, egress, protocol)
            };
            (reach(Protocol::Udp), reach(Protocol::Tcp))
        };
        let (udp, tcp) = if ip_sensitive && !pod.ips.is_empty() {
            dns(&source)
        } else {
            *dns_by_selection
                .entry(index)
                .or_insert_with(|| dns(&source))
        };
        facts.dns_udp.push((pod.name.clone(), udp));
        facts.dns_tcp.push((pod.name.clone(), tcp));
    }
    let mut unprotected: BTreeSet<String> = facts.not_isolated.iter().cloned().collect();
    unprotected.extend(facts.host_network.iter().cloned());
    facts.unprotected = unprotected.into_iter().collect();
    facts
}

fn dns_depends_on_ips(dns: &Dns<'_>, selections: &[Selection]) -> bool {
    dns.ingress_has_ip_blocks
        || selections
            .iter()
            .any(|s| has_ip_block(&s.egress, Direction::Egress) || s.layer_egress.has_cidrs())
}
