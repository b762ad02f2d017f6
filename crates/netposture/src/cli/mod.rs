//! The command line: one file per subcommand; `main.rs` parses and dispatches.

pub mod can_reach;
pub mod connectivity;
pub mod crd;
pub mod diff;
mod endpoints;
pub mod explain;
pub mod report;
pub mod scan;
pub mod suggest;

use clap::{Parser, Subcommand};

/// Exit code for usage, I/O and syntax errors.
pub const EXIT_ERROR: u8 = 2;
/// Exit code when a condition asked about holds: `--fail-on`/`--min-score`,
/// or a `can-reach` port that is not allowed.
pub const EXIT_CONDITION: u8 = 1;
/// Exit code of `can-reach` when no port is denied but some answer is
/// undetermined: a rule netposture cannot evaluate may decide it.
pub const EXIT_UNDETERMINED: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "netposture",
    version,
    about = "Kubernetes network security posture, namespace by namespace"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate manifests (-f) or the live cluster and print each namespace's posture.
    Scan(scan::ScanArgs),
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
    /// Write one self-contained HTML report: summary, namespaces, checks, reachability matrix, exposure, compliance.
    Report(report::ReportArgs),
    /// Print the NetworkPostureReport CustomResourceDefinition as YAML.
    Crd,
    /// Run the operator: keep a NetworkPostureReport per namespace and the metrics current.
    Operator(crate::operator::OperatorArgs),
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
}
