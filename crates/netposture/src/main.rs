//! `netposture`: Kubernetes network security posture, namespace by namespace.

mod can_reach;
mod config;
mod connectivity;
mod diff;
mod endpoints;
mod explain;
mod fail_on;
mod input;
mod inventory;
mod json_items;
mod locations;
mod manifests;
mod operator;
mod output;
mod suggest;

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use netposture_api::NetworkPostureReport;
use netposture_engine::Evaluator;
use netposture_engine::compliance::{self, Framework};

use crate::fail_on::FailOn;
use crate::input::InputArgs;
use crate::output::Format;

/// Exit code for usage, I/O and syntax errors.
const EXIT_ERROR: u8 = 2;
/// Exit code when a condition asked about holds: `--fail-on`/`--min-score`,
/// or a `can-reach` port that is not allowed.
const EXIT_CONDITION: u8 = 1;
/// Exit code of `can-reach` when no port is denied but some answer is
/// undetermined: a rule netposture cannot evaluate may decide it.
const EXIT_UNDETERMINED: u8 = 3;
/// `scan --compliance` names at most this many failing namespaces per control.
const COMPLIANCE_EXAMPLES: usize = 5;

#[derive(Debug, Parser)]
#[command(
    name = "netposture",
    version,
    about = "Kubernetes network security posture, namespace by namespace"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate manifests (-f) or the live cluster and print each namespace's posture.
    Scan(ScanArgs),
    /// Say whether SRC may connect to DST on each port, and which policy and rule decide each side.
    CanReach(can_reach::CanReachArgs),
    /// Explain a namespace's verdicts: each check's evidence and remediation, and what each policy selects.
    Explain(explain::ExplainArgs),
    /// Print the NetworkPolicies that close NAMESPACE's gaps (default deny, DNS, today's admitted flows) as YAML.
    Suggest(suggest::SuggestArgs),
    /// List every pod-to-pod connection NetworkPolicies allow (policy layers left out), class to class (-o grouped) or pod to pod (-o pairs).
    Connectivity(connectivity::ConnectivityArgs),
    /// Compare the posture of two sets of manifests (a pull request's base and head): what changed, and --fail-on conditions.
    Diff(diff::DiffArgs),
    /// Print the NetworkPostureReport CustomResourceDefinition as YAML.
    Crd,
    /// Run the operator: keep a NetworkPostureReport per namespace and the metrics current.
    Operator(operator::OperatorArgs),
}

#[derive(Debug, Args)]
struct ScanArgs {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan(args) => scan(args),
        Command::CanReach(args) => can_reach::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Suggest(args) => suggest::run(&args),
        Command::Connectivity(args) => connectivity::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Operator(args) => operator::run(args).map(|()| ExitCode::SUCCESS),
        Command::Crd => crd_yaml().map(|yaml| {
            print!("{yaml}");
            ExitCode::SUCCESS
        }),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(EXIT_ERROR)
    })
}

fn crd_yaml() -> anyhow::Result<String> {
    Ok(serde_norway::to_string(&netposture_api::crd())?)
}

fn scan(args: ScanArgs) -> anyhow::Result<ExitCode> {
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
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for line in &failed {
        eprintln!("fail-on: {line}");
    }
    Ok(ExitCode::from(EXIT_CONDITION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn https_client_builds_with_a_tls_provider() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
            assert!(kube::Client::try_from(config).is_ok());
        });
    }

    #[test]
    fn checked_in_crd_matches_the_generated_one() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../crds/networkpostures.netposture.io.yaml");
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == crd_yaml().unwrap(),
            "{} is stale: run `just crds` (netposture crd > {})",
            path.display(),
            path.display()
        );
    }
}
