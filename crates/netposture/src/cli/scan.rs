//! `netposture scan`: every namespace's posture, from manifests or the live cluster.

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Args;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use netposture_api::NetworkPostureReport;
use netposture_engine::Evaluator;
use netposture_engine::compliance::{self, Framework};

use super::EXIT_CONDITION;
use crate::fail_on::FailOn;
use crate::input::{self, InputArgs};
use crate::output::{self, Format};

/// `scan --compliance` names at most this many failing namespaces per control.
const COMPLIANCE_EXAMPLES: usize = 5;

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Only report these namespaces. Repeatable.
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
    namespaces: Vec<String>,
    /// Exit 1 when any reported namespace meets one of these conditions (comma-separated or repeated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CONDITION")]
    fail_on: Vec<FailOn>,
    /// Exit 1 when any reported namespace scores below this.
    #[arg(long, value_name = "SCORE", value_parser = clap::value_parser!(u8).range(0..=100))]
    min_score: Option<u8>,
    /// Print a per-control summary of this framework (pci-dss, soc2, cis, nsa) instead of the namespaces.
    #[arg(long, value_name = "FRAMEWORK", value_parser = parse_framework)]
    compliance: Option<Framework>,
}

fn parse_framework(name: &str) -> Result<Framework, String> {
    Framework::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Framework::ALL.iter().map(|f| f.name()).collect();
        format!("unknown framework {name:?} (known: {})", known.join(", "))
    })
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let input::Input {
        cluster,
        settings,
        exclusion,
        locations,
    } = args.input.load()?;
    let evaluator = Evaluator::new(&cluster, &settings);
    let postures = if args.namespaces.is_empty() {
        let mut all = evaluator.all();
        all.retain(|(name, _)| {
            cluster
                .namespace(name)
                .is_none_or(|state| !exclusion.excludes(name, state))
        });
        all
    } else {
        // Only the namespaces asked for, in name order like the full listing.
        let wanted: BTreeSet<&String> = args.namespaces.iter().collect();
        wanted
            .into_iter()
            .map(|name| {
                evaluator
                    .namespace(name)
                    .map(|posture| (name.clone(), posture))
                    .ok_or_else(|| input::unknown_namespace(name))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };

    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut failed = Vec::new();
    for (namespace, posture) in &postures {
        for condition in &args.fail_on {
            if condition.holds(posture) {
                failed.push(format!("{namespace}: {}", condition.name()));
            }
        }
        if let Some(min) = args.min_score.filter(|min| posture.score < *min) {
            failed.push(format!(
                "{namespace}: score {} is below {min}",
                posture.score
            ));
        }
    }
    let covered = postures.iter().filter(|(_, p)| p.covered).count();
    let stdout = std::io::stdout();
    if let Some(framework) = args.compliance {
        let summary = compliance::summarize(framework, &postures, COMPLIANCE_EXAMPLES);
        output::write_compliance(&mut stdout.lock(), framework, &summary, args.output)?;
    }
    let reports: Vec<NetworkPostureReport> = postures
        .into_iter()
        .map(|(namespace, posture)| {
            NetworkPostureReport::from_posture(&namespace, posture, &[], now.clone())
        })
        .collect();
    if args.compliance.is_none() {
        output::write(&mut stdout.lock(), &reports, args.output, &locations)?;
    }
    eprintln!(
        "{} namespace(s), {covered} covered; CNI: {} ({})",
        reports.len(),
        evaluator.cni().name,
        evaluator.cni().capable
    );
    drop(evaluator);
    // The process ends after this: freeing a big index object by object
    // would take a tenth of the scan, for nothing.
    std::mem::forget(cluster);
    std::mem::forget(locations);
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for line in &failed {
        eprintln!("fail-on: {line}");
    }
    Ok(ExitCode::from(EXIT_CONDITION))
}
