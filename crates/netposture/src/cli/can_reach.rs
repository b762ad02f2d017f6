//! `netposture can-reach SRC DST`: whether SRC may connect to DST on each
//! port, and which policy and rule decide the source's egress and the
//! destination's ingress.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use netposture_engine::layers::Action;
use netposture_engine::model::{Direction, Peer, Protocol};
use netposture_engine::pod_cidrs::PodCidrs;
use netposture_engine::reach::{
    self, ConnectionVerdict, Endpoint, LayerEnds, Reach, Remote, SideReason, SideVerdict,
};
use netposture_engine::{Capability, Evaluator};
use serde::Serialize;

use super::endpoints::{EndpointArg, Port, PortArg, Resolved};
use crate::input::InputArgs;
use crate::output::{self, DetailFormat};

#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every port is allowed; 1 when some port is denied or allowed only on some CNIs; 3 when none is, but some answer is undetermined (a policy layer rule netposture cannot evaluate, such as a nodes or domain-name peer, may decide it); 2 on errors."
)]
pub struct CanReachArgs {
    /// NAMESPACE/POD, NAMESPACE (a new unlabelled pod there) or an IP address (a client outside the cluster).
    #[arg(value_name = "SRC", value_parser = EndpointArg::parse)]
    source: EndpointArg,
    /// NAMESPACE/POD, NAMESPACE (a new unlabelled pod there) or an IP address (outside the cluster).
    #[arg(value_name = "DST", value_parser = EndpointArg::parse)]
    destination: EndpointArg,
    /// PORT[/PROTO], TCP by default; PORT may name a container port of a pod DST. Repeatable.
    /// Without it, every container port of DST.
    #[arg(short = 'p', long = "port", value_name = "PORT[/PROTO]", value_parser = PortArg::parse)]
    ports: Vec<PortArg>,
    #[arg(short = 'o', long, value_enum, default_value_t = DetailFormat::Text)]
    output: DetailFormat,
    #[command(flatten)]
    input: InputArgs,
}

/// The answer for every port, as `-o json|yaml` prints it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    source: String,
    destination: String,
    /// Every port is allowed on every CNI.
    allowed: bool,
    connections: Vec<Connection>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    port: u16,
    protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    port_name: Option<String>,
    reach: Reach,
    egress: Side,
    ingress: Side,
    /// `8080/TCP (http)`, as the text output names the port.
    #[serde(skip)]
    label: String,
}

#[derive(Serialize)]
struct Side {
    #[serde(flatten)]
    verdict: SideVerdict,
    /// The same reason, as the text output says it.
    explanation: String,
}

pub fn run(args: &CanReachArgs) -> anyhow::Result<ExitCode> {
    if matches!(
        (&args.source, &args.destination),
        (EndpointArg::Address(_), EndpointArg::Address(_))
    ) {
        anyhow::bail!(
            "SRC and DST are both addresses: NetworkPolicy applies only where one is a pod"
        );
    }
    let input = args.input.load()?;
    let source = Resolved::resolve(&args.source, &input.cluster, "(new source pod)")?;
    let destination =
        Resolved::resolve(&args.destination, &input.cluster, "(new destination pod)")?;
    let ports = super::endpoints::ports(&args.ports, &destination)?;
    let evaluator = Evaluator::new(&input.cluster, &input.settings);
    let egress = source.policies(Direction::Egress);
    let ingress = destination.policies(Direction::Ingress);
    let layer_egress = source.layers(&evaluator, Direction::Egress);
    let layer_ingress = destination.layers(&evaluator, Direction::Ingress);
    let layers = LayerEnds {
        egress: &layer_egress,
        ingress: &layer_ingress,
    };
    let connections: Vec<Connection> = ports
        .into_iter()
        .map(|port| {
            let verdict = reach::explain_connection(
                &source.remote(evaluator.pod_cidrs()),
                &egress,
                &destination.remote(evaluator.pod_cidrs()),
                &ingress,
                &layers,
                port.protocol,
                port.number,
            );
            let ends = (&source, &destination);
            connection(ends, evaluator.pod_cidrs(), port, verdict)
        })
        .collect();
    let answer = Answer {
        source: source.name.clone(),
        destination: destination.name.clone(),
        allowed: connections.iter().all(|c| c.reach == Reach::Allowed),
        connections,
    };

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        DetailFormat::Text => write_text(&mut out, &answer)?,
        DetailFormat::Json => output::write_json(&mut out, &answer)?,
        DetailFormat::Yaml => output::write_yaml(&mut out, &answer)?,
    }
    let cni = evaluator.cni();
    match cni.capable {
        Capability::True => {}
        Capability::False => eprintln!(
            "note: the CNI ({}) does not enforce NetworkPolicy: in fact every connection is allowed",
            cni.name
        ),
        Capability::Unknown => eprintln!(
            "note: the CNI ({}) is not known to enforce NetworkPolicy: these answers hold only if it does",
            cni.name
        ),
    }
    let definitely_not_allowed = answer
        .connections
        .iter()
        .any(|c| matches!(c.reach, Reach::Denied | Reach::CniDependent));
    Ok(if answer.allowed {
        ExitCode::SUCCESS
    } else if definitely_not_allowed {
        ExitCode::from(super::EXIT_CONDITION)
    } else {
        ExitCode::from(super::EXIT_UNDETERMINED)
    })
}

/// `ends` are the source and the destination.
fn connection(
    (source, destination): (&Resolved<'_>, &Resolved<'_>),
    pod_cidrs: &PodCidrs,
    port: Port,
    verdict: ConnectionVerdict,
) -> Connection {
    let ConnectionVerdict {
        reach,
        egress,
        ingress,
    } = verdict;
    let egress = Side {
        explanation: explain_side(
            Direction::Egress,
            &egress,
            (source, destination),
            pod_cidrs,
            &port,
        ),
        verdict: egress,
    };
    let ingress = Side {
        explanation: explain_side(
            Direction::Ingress,
            &ingress,
            (destination, source),
            pod_cidrs,
            &port,
        ),
        verdict: ingress,
    };
    Connection {
        label: port.to_string(),
        port: port.number,
        protocol: port.protocol,
        port_name: port.name,
        reach,
        egress,
        ingress,
    }
}

fn reach_word(reach: Reach) -> &'static str {
    match reach {
        Reach::Allowed => "allowed",
        Reach::Denied => "denied",
        Reach::CniDependent => "depends on the CNI",
        Reach::Undetermined => "undetermined",
    }
}

fn action_verb(action: Action) -> &'static str {
    match action {
        Action::Allow => "allow",
        Action::Deny => "deny",
        Action::Pass => "pass on",
    }
}

fn rule_name(policy: &str, direction: Direction, rule: usize) -> String {
    format!("networkpolicy/{policy} {direction}[{rule}]")
}

/// One side in words: of `(local, remote)`, `local` is the end whose
/// policies decided it.
fn explain_side(
    direction: Direction,
    verdict: &SideVerdict,
    (local, remote): (&Resolved<'_>, &Resolved<'_>),
    pod_cidrs: &PodCidrs,
    port: &Port,
) -> String {
    match &verdict.reason {
        SideReason::NotIsolated => format!("allowed: no policy selects it for {direction}"),
        SideReason::HostNetwork => {
            "allowed: a hostNetwork pod, which NetworkPolicy does not apply to".into()
        }
        SideReason::SamePod => "allowed: a pod can always reach itself".into(),
        SideReason::NotApplicable => match direction {
            Direction::Egress => "not applicable: a client outside the cluster".into(),
            Direction::Ingress => "not applicable: an address outside the cluster".into(),
        },
        SideReason::NoRuleAdmits {
            policies,
            port_rules,
            layer_policies,
        } => {
            let names: Vec<String> = policies
                .iter()
                .map(|p| format!("networkpolicy/{p}"))
                .chain(layer_policies.iter().cloned())
                .collect();
            let preposition = match direction {
                Direction::Egress => "to",
                Direction::Ingress => "from",
            };
            let port = format!("{}/{}", port.number, port.protocol);
            let mut text = format!(
                "denied: isolated by {}; none admits {port} {preposition} {}",
                names.join(", "),
                remote.name
            );
            if !port_rules.is_empty() {
                let rules: Vec<String> = port_rules
                    .iter()
                    .map(|r| rule_name(&r.policy, direction, r.rule))
                    .collect();
                text.push_str(&format!(
                    "; {port} is admitted only {preposition} other peers by {}",
                    rules.join(", ")
                ));
            }
            text
        }
        SideReason::LayerRule {
            policy,
            tier,
            list,
            rule,
            action,
        } => {
            let word = match action {
                Action::Allow => "allowed",
                Action::Deny => "denied",
                Action::Pass => "passed on",
            };
            format!("{word} by {policy} {list}[{rule}] ({tier})")
        }
        SideReason::Undetermined {
            policy,
            tier,
            list,
            rule,
            action,
            same_priority_as,
        } => {
            let rule = format!("{policy} {list}[{rule}] ({tier})");
            match same_priority_as {
                None => format!(
                    "undetermined: {rule} would {} it, but has a peer netposture cannot evaluate (see unevaluated-policies) or a CIDR that may hold the pod's unknown IP",
                    action_verb(*action)
                ),
                Some(other) => format!(
                    "undetermined: {rule} would {} it and shares its priority with {other}, which decides otherwise; the API leaves their order undefined",
                    action_verb(*action)
                ),
            }
        }
        SideReason::UnreadPolicy { policy, tier } => format!(
            "undetermined: {policy} ({tier}) may apply but could not be read (see unevaluated-policies)"
        ),
        SideReason::Rule { policy, rule } => {
            let rule_name = rule_name(policy, direction, *rule);
            let decided = local
                .policy(policy)
                .and_then(|p| p.rules(direction))
                .and_then(|rules| rules.get(*rule));
            let end_port = decided
                .and_then(|r| r.only_through_end_port(port.protocol, port.number, port.name.as_deref()))
                .map(|start| {
                    format!(
                        "; only through endPort, which API servers before 1.21 drop: there the rule admits port {start} alone"
                    )
                })
                .unwrap_or_default();
            if verdict.reach != Reach::CniDependent {
                return format!("{} by {rule_name}{end_port}", reach_word(verdict.reach));
            }
            let Remote::Pod(end) = remote.remote(pod_cidrs) else {
                return format!("{} by {rule_name}", reach_word(verdict.reach));
            };
            let blocks = pod_ip_blocks(direction, local, policy, *rule, &end);
            if end.pod.ips.is_empty() {
                return format!(
                    "depends on the CNI: allowed only through ipBlock {blocks} of {rule_name}, which may hold the IP of {}: its IP is not known, and may be any address of the {pod_cidrs} (Calico: allowed if it does, Cilium: denied){end_port}",
                    remote.name
                );
            }
            format!(
                "depends on the CNI: allowed only through ipBlock {blocks} of {rule_name} matching a pod IP of {} (Calico: allowed, Cilium: denied){end_port}",
                remote.name
            )
        }
    }
}

/// The ipBlocks of one rule that hold (or may hold) an IP of the remote pod.
fn pod_ip_blocks(
    direction: Direction,
    local: &Resolved<'_>,
    policy: &str,
    rule: usize,
    remote: &Endpoint<'_>,
) -> String {
    let blocks: Vec<String> = local
        .policy(policy)
        .and_then(|p| p.rules(direction))
        .and_then(|rules| rules.get(rule))
        .map(|r| r.peers.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|peer| match peer {
            Peer::IpBlock(block) if remote.may_be_in(block) => Some(block.cidr.to_string()),
            _ => None,
        })
        .collect();
    blocks.join(", ")
}

fn write_text(out: &mut impl Write, answer: &Answer) -> std::io::Result<()> {
    let egress_label = format!("egress  {}:", answer.source);
    let ingress_label = format!("ingress {}:", answer.destination);
    let width = egress_label.len().max(ingress_label.len());
    for c in &answer.connections {
        writeln!(
            out,
            "{} -> {} {}: {}",
            answer.source,
            answer.destination,
            c.label,
            reach_word(c.reach)
        )?;
        writeln!(out, "  {egress_label:<width$} {}", c.egress.explanation)?;
        writeln!(out, "  {ingress_label:<width$} {}", c.ingress.explanation)?;
    }
    Ok(())
}
