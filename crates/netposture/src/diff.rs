//! `netposture diff`: the posture of a pull request's head against its
//! base. Both sides are read and evaluated as `scan -f` does (the same
//! configuration and CNI for both), compared by the engine's
//! [`PostureDiff`], and checked against `--fail-on` conditions.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use netposture_engine::diff::{Condition, ConditionHit, PostureDiff, flow_changes};
use netposture_engine::pod_cidrs::PodCidrs;
use netposture_engine::{Evaluator, NamespacePosture};

use crate::config::CniOverride;
use crate::input::{self, Input, InputArgs};
use crate::output::{diff_text, sarif, write_json};
use crate::{EXIT_CONDITION, fail_on};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The base's manifest files or directories (as scan -f). Repeatable, or several after one flag.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    base: Vec<PathBuf>,
    /// The head's manifest files or directories.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    head: Vec<PathBuf>,
    /// Only compare these namespaces. Repeatable.
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
    namespaces: Vec<String>,
    #[arg(short = 'o', long, value_enum, default_value_t = DiffFormat::Table)]
    output: DiffFormat,
    /// Exit 1 when a change meets one of these conditions (comma-separated or repeated):
    /// coverage-lost, default-deny-removed, dns-broken, egress-opened, exposure-added,
    /// check-failed:ID (or the check id alone), score-drop:N.
    #[arg(long, value_delimiter = ',', value_name = "CONDITION", value_parser = fail_on::parse_condition)]
    fail_on: Vec<Condition>,
    /// Configuration file (see config/netposture.yaml), for both sides.
    #[arg(long, env = "NETPOSTURE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Declare the CNI of both sides: NAME (a known CNI) or NAME:True|False|Unknown.
    #[arg(long, value_name = "NAME[:CAPABLE]", value_parser = CniOverride::parse)]
    cni: Option<CniOverride>,
    /// At most this many flow groups opened, and as many closed, per namespace; the rest are counted.
    #[arg(long, default_value_t = 10, value_name = "N")]
    max_flows: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    Table,
    /// For a pull-request comment: a summary line, a table, details folded.
    Markdown,
    Json,
    /// SARIF 2.1.0: one result per newly failing check.
    Sarif,
}

/// One side, read and evaluated.
struct Side {
    input: Input,
    postures: Vec<(String, NamespacePosture)>,
}

impl DiffArgs {
    fn side(&self, paths: &[PathBuf]) -> anyhow::Result<Side> {
        let input = InputArgs {
            filenames: paths.to_vec(),
            config: self.config.clone(),
            cni: self.cni.clone(),
        }
        .load()?;
        let evaluator = Evaluator::new(&input.cluster, &input.settings);
        let wanted: BTreeSet<&String> = self.namespaces.iter().collect();
        let postures = evaluator
            .all()
            .into_iter()
            .filter(|(name, _)| wanted.is_empty() || wanted.contains(name))
            .filter(|(name, _)| {
                input
                    .cluster
                    .namespace(name)
                    .is_none_or(|state| !input.exclusion.excludes(name, state))
            })
            .collect();
        Ok(Side { input, postures })
    }
}

pub fn run(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let base = args.side(&args.base)?;
    let head = args.side(&args.head)?;
    for name in &args.namespaces {
        let known = |side: &Side| side.postures.iter().any(|(n, _)| n == name);
        if !known(&base) && !known(&head) {
            return Err(input::unknown_namespace(name));
        }
    }
    let cidrs = |side: &Side| PodCidrs::of(&side.input.cluster, &side.input.settings);
    let (base_cidrs, head_cidrs) = (cidrs(&base), cidrs(&head));
    let flows = flow_changes(
        (&base.input.cluster, &base_cidrs),
        (&head.input.cluster, &head_cidrs),
        args.max_flows,
    );
    let diff = PostureDiff::new(&base.postures, &head.postures, flows);
    let hits: Vec<ConditionHit> = args.fail_on.iter().flat_map(|c| c.hits(&diff)).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.output {
        DiffFormat::Table => diff_text::write_table(&mut out, &diff, &hits)?,
        DiffFormat::Markdown => diff_text::write_markdown(&mut out, &diff, &hits)?,
        DiffFormat::Json => write_json(
            &mut out,
            &serde_json::json!({"namespaces": diff.namespaces, "conditions": hits}),
        )?,
        DiffFormat::Sarif => {
            let findings = newly_failing(&diff, &head.postures);
            sarif::write(&mut out, &findings, &head.input.locations)?;
        }
    }
    eprintln!(
        "{} namespace(s) changed; {} condition(s) hold",
        diff.namespaces.len(),
        hits.len()
    );
    if hits.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for hit in &hits {
        eprintln!("fail-on: {}: {}", hit.condition, hit.reason);
    }
    Ok(ExitCode::from(EXIT_CONDITION))
}

/// Each check that fails in head and did not in base, as head has it.
fn newly_failing<'a>(
    diff: &PostureDiff,
    head: &'a [(String, NamespacePosture)],
) -> Vec<sarif::Finding<'a>> {
    let mut findings = Vec::new();
    for namespace in &diff.namespaces {
        let Some((name, posture)) = head.iter().find(|(n, _)| *n == namespace.namespace) else {
            continue;
        };
        for change in namespace.checks.iter().filter(|c| c.newly_failing()) {
            if let Some(check) = posture.check(&change.id) {
                findings.push(sarif::Finding {
                    namespace: name,
                    check,
                });
            }
        }
    }
    findings
}
