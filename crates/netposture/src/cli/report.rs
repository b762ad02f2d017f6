//! `netposture report`: the posture of every namespace as one self-contained
//! HTML file (no external assets, nothing fetched), to read offline or
//! attach to an audit. It reads its input as `scan` does and holds the
//! cluster summary, the namespace table, each namespace's checks, the
//! namespace-to-namespace reachability matrix, the exposed Services and
//! Ingresses, and every compliance framework's controls.

mod escape;
mod matrix;
mod matrix_data;
mod page;
mod sections;

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use netposture_engine::compliance::{self, ControlSummary, Framework};
use netposture_engine::pod_cidrs::PodCidrs;
use netposture_engine::{Cluster, CniStatus, Evaluator, NamespacePosture};

use crate::input::InputArgs;

/// Failing namespaces named per compliance control.
const COMPLIANCE_EXAMPLES: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One HTML file with its styles, script and data inline.
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = ReportFormat::Html)]
    output: ReportFormat,
}

/// Everything the page shows, evaluated before any of it is written.
pub struct Report<'a> {
    /// Where the objects came from: the manifest paths, or the live cluster.
    pub source: String,
    /// RFC 3339, UTC.
    pub generated: String,
    pub cluster: &'a Cluster,
    pub cni: &'a CniStatus,
    /// Reported namespaces in name order (configured exclusions left out).
    pub postures: Vec<(String, NamespacePosture)>,
    pub matrix: matrix::Matrix,
    /// Whether the cluster holds policy layers, which the matrix leaves out.
    pub layers_present: bool,
    pub compliance: Vec<(Framework, Vec<ControlSummary>)>,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let input = args.input.load()?;
    let evaluator = Evaluator::new(&input.cluster, &input.settings);
    let mut postures = evaluator.all();
    postures.retain(|(name, _)| {
        input
            .cluster
            .namespace(name)
            .is_none_or(|state| !input.exclusion.excludes(name, state))
    });
    let names: Vec<String> = postures.iter().map(|(name, _)| name.clone()).collect();
    let pod_cidrs = PodCidrs::of(&input.cluster, &input.settings);
    let matrix = matrix::build(&input.cluster, &pod_cidrs, &names);
    let compliance = Framework::ALL
        .iter()
        .map(|&framework| {
            let summary = compliance::summarize(framework, &postures, COMPLIANCE_EXAMPLES);
            (framework, summary)
        })
        .collect();
    let report = Report {
        source: source(&args.input.filenames),
        generated: k8s_openapi::jiff::Timestamp::now()
            .round(k8s_openapi::jiff::Unit::Second)
            .map_or_else(|_| String::new(), |time| time.to_string()),
        cluster: &input.cluster,
        cni: evaluator.cni(),
        postures,
        matrix,
        layers_present: input.cluster.layers().next().is_some(),
        compliance,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match args.output {
        ReportFormat::Html => page::write(&mut out, &report)?,
    }
    out.flush()?;
    eprintln!(
        "{} namespace(s), {} covered; CNI: {} ({})",
        report.postures.len(),
        report.postures.iter().filter(|(_, p)| p.covered).count(),
        report.cni.name,
        report.cni.capable.as_str()
    );
    Ok(())
}

fn source(filenames: &[PathBuf]) -> String {
    if filenames.is_empty() {
        return "the live cluster of the current kubeconfig".into();
    }
    let paths: Vec<String> = filenames
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    format!("manifests: {}", paths.join(", "))
}
