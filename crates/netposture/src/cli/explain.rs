//! `netposture explain NAMESPACE`: each verdict of a namespace with the
//! checks behind it (status, message, evidence, remediation), and which pods
//! each of its policies selects.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use netposture_api::{NetworkPostureReport, NetworkPostureStatus, condition_types};
use netposture_engine::cluster::NamespaceState;
use netposture_engine::model::Direction;
use netposture_engine::posture::ids;
use netposture_engine::reach;
use netposture_engine::{Check, CheckStatus, Evaluator, NamespacePosture};
use serde::Serialize;

use crate::input::{self, InputArgs};
use crate::output::{self, DetailFormat};

/// At most this many pod names per policy in the text output (JSON and YAML list all).
const PODS_SHOWN: usize = 10;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The namespace to explain.
    namespace: String,
    #[arg(short = 'o', long, value_enum, default_value_t = DetailFormat::Text)]
    output: DetailFormat,
    #[command(flatten)]
    input: InputArgs,
}

/// What `-o json|yaml` prints: the report's status and what each policy selects.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Explanation {
    namespace: String,
    status: NetworkPostureStatus,
    policies: Vec<PolicySelection>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicySelection {
    name: String,
    /// `Ingress`, `Egress` or both, as defaulted.
    policy_types: Vec<String>,
    /// The pod selector as `kubectl -l` takes it; empty selects every pod.
    pod_selector: String,
    /// Selects every pod, including pods created later.
    whole_namespace: bool,
    /// The pods it applies to; never a hostNetwork pod, which NetworkPolicy does not govern.
    pods: Vec<String>,
}

pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let input = args.input.load()?;
    let name = &args.namespace;
    let evaluator = Evaluator::new(&input.cluster, &input.settings);
    let (Some(posture), Some(state)) = (evaluator.namespace(name), input.cluster.namespace(name))
    else {
        return Err(input::unknown_namespace(name));
    };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let report = NetworkPostureReport::from_posture(name, posture, &[], now);
    let status = report
        .status
        .ok_or_else(|| anyhow::anyhow!("the report of {name} has no status"))?;
    let explanation = Explanation {
        namespace: name.clone(),
        status,
        policies: policy_selections(state),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        DetailFormat::Text => write_text(&mut out, &explanation)?,
        DetailFormat::Json => output::write_json(&mut out, &explanation)?,
        DetailFormat::Yaml => output::write_yaml(&mut out, &explanation)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Every policy of the namespace with the pods it selects, found the way the
/// engine selects them: by direction, so only for the directions a policy
/// lists, and never a hostNetwork pod.
fn policy_selections(state: &NamespaceState) -> Vec<PolicySelection> {
    let mut selected: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for pod in state.pods.values() {
        for direction in [Direction::Ingress, Direction::Egress] {
            for policy in reach::selecting(state, pod, direction) {
                selected
                    .entry(policy.name.as_str())
                    .or_default()
                    .insert(pod.name.as_str());
            }
        }
    }
    state
        .policies
        .values()
        .map(|policy| {
            let pods = selected.get(policy.name.as_str()).into_iter().flatten();
            PolicySelection {
                name: policy.name.clone(),
                policy_types: [Direction::Ingress, Direction::Egress]
                    .into_iter()
                    .filter(|d| policy.rules(*d).is_some())
                    .map(|d| capitalized(&d.to_string()))
                    .collect(),
                pod_selector: policy.pod_selector.to_string(),
                whole_namespace: policy.selects_whole_namespace(),
                pods: pods.map(|pod| pod.to_string()).collect(),
            }
        })
        .collect()
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Each verdict with the checks that decide it, in the order of the README's table.
fn verdicts(posture: &NamespacePosture) -> [(String, &'static [&'static str]); 6] {
    let unprotected = if posture.unprotected_pods.is_empty() {
        "none".to_string()
    } else {
        let mut names = posture.unprotected_pods.join(", ");
        if posture.unprotected_pods_omitted > 0 {
            names.push_str(&format!(" and {} more", posture.unprotected_pods_omitted));
        }
        names
    };
    [
        (
            format!("defaultDenyIngress: {}", posture.default_deny_ingress),
            &[ids::DEFAULT_DENY_INGRESS],
        ),
        (
            format!("defaultDenyEgress: {}", posture.default_deny_egress),
            &[ids::DEFAULT_DENY_EGRESS],
        ),
        (
            format!("egressOpen: {}", posture.egress_open),
            &[ids::EGRESS_RESTRICTED],
        ),
        (
            format!("dnsAllowed: {}", posture.dns_allowed),
            &[ids::DNS_ALLOWED, ids::DNS_TCP_ALLOWED],
        ),
        (
            format!(
                "cni: {} (enforces NetworkPolicy: {})",
                posture.cni.name, posture.cni.capable
            ),
            &[ids::CNI_ENFORCES],
        ),
        (
            format!(
                "unprotectedPods: {unprotected} (pods: {} total, {} ingress-isolated, {} egress-isolated, {} hostNetwork)",
                posture.pods.total,
                posture.pods.ingress_isolated,
                posture.pods.egress_isolated,
                posture.pods.host_network
            ),
            &[ids::PODS_ISOLATED, ids::HOST_NETWORK_PODS],
        ),
    ]
}

fn write_check(out: &mut impl Write, check: &Check) -> std::io::Result<()> {
    let status = match check.status {
        CheckStatus::Pass | CheckStatus::NotApplicable => format!("{:?}", check.status),
        _ => format!("{:?}, {:?}", check.status, check.severity),
    };
    writeln!(out, "  [{status}] {}: {}", check.id, check.message)?;
    if !check.evidence.is_empty() {
        writeln!(out, "    evidence: {}", check.evidence.join(", "))?;
    }
    if !check.remediation.is_empty() {
        writeln!(out, "    remediation: {}", check.remediation)?;
    }
    Ok(())
}

fn write_text(out: &mut impl Write, explanation: &Explanation) -> std::io::Result<()> {
    let status = &explanation.status;
    let posture = &status.posture;
    let covered = status
        .conditions
        .iter()
        .find(|c| c.type_ == condition_types::COVERED)
        .map(|c| c.message.as_str())
        .unwrap_or_default();
    writeln!(
        out,
        "namespace {}: score {}/100",
        explanation.namespace, posture.score
    )?;
    writeln!(out, "covered: {} ({covered})", posture.covered)?;
    let mut shown = BTreeSet::new();
    for (verdict, check_ids) in verdicts(posture) {
        writeln!(out, "{verdict}")?;
        for check in posture
            .checks
            .iter()
            .filter(|c| check_ids.contains(&c.id.as_str()))
        {
            write_check(out, check)?;
            shown.insert(check.id.as_str());
        }
    }
    let others: Vec<&Check> = posture
        .checks
        .iter()
        .filter(|c| !shown.contains(c.id.as_str()))
        .collect();
    if !others.is_empty() {
        writeln!(out, "other checks:")?;
        for check in others {
            write_check(out, check)?;
        }
    }
    writeln!(out)?;
    if explanation.policies.is_empty() {
        return writeln!(out, "no NetworkPolicy in {}", explanation.namespace);
    }
    writeln!(out, "what each policy selects:")?;
    let mut rows = vec![
        ["POLICY", "TYPES", "POD-SELECTOR", "PODS"]
            .map(String::from)
            .to_vec(),
    ];
    for policy in &explanation.policies {
        let mut pods: Vec<String> = policy.pods.clone();
        if pods.len() > PODS_SHOWN {
            let rest = pods.len() - PODS_SHOWN;
            pods.truncate(PODS_SHOWN);
            pods.push(format!("... and {rest} more"));
        }
        let pods = match (policy.whole_namespace, pods.is_empty()) {
            (true, true) => "every pod, including new ones (none yet)".to_string(),
            (true, false) => format!("every pod, including new ones: {}", pods.join(", ")),
            (false, true) => "none".to_string(),
            (false, false) => pods.join(", "),
        };
        let selector = if policy.pod_selector.is_empty() {
            "{}".to_string()
        } else {
            policy.pod_selector.clone()
        };
        rows.push(vec![
            policy.name.clone(),
            policy.policy_types.join(","),
            selector,
            pods,
        ]);
    }
    output::write_columns(out, &rows, 4)
}
