//! `netposture suggest -n NAMESPACE`: the policies that close a namespace's
//! gaps, as YAML ready for `kubectl apply -f -`, each under a comment that
//! says why. The engine decides what to suggest; this only prints it.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use netposture_engine::suggest::{Suggestion, suggest};

use crate::input::{self, InputArgs};

#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// The namespace to close.
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE")]
    namespace: String,
    #[command(flatten)]
    input: InputArgs,
}

pub fn run(args: &SuggestArgs) -> anyhow::Result<ExitCode> {
    let input = args.input.load()?;
    let name = &args.namespace;
    let suggestion = suggest(&input.cluster, &input.settings, name)
        .ok_or_else(|| input::unknown_namespace(name))?;
    let stdout = std::io::stdout();
    write(&mut stdout.lock(), name, &suggestion)?;
    Ok(ExitCode::SUCCESS)
}

/// Multi-document YAML; comments carry the reasons and the notes.
fn write(out: &mut impl Write, namespace: &str, suggestion: &Suggestion) -> anyhow::Result<()> {
    writeln!(
        out,
        "# netposture suggest -n {namespace}: {} policy(ies). Review, then `kubectl apply -f -`.",
        suggestion.policies.len()
    )?;
    for note in &suggestion.notes {
        writeln!(out, "# NOTE: {note}")?;
    }
    if suggestion.policies.is_empty() {
        writeln!(
            out,
            "# Nothing to add: {namespace} has a default deny both ways and DNS."
        )?;
    }
    for suggested in &suggestion.policies {
        writeln!(out, "---")?;
        writeln!(out, "# {}", suggested.why)?;
        let yaml = serde_norway::to_string(&suggested.policy)?;
        write!(out, "{yaml}")?;
    }
    Ok(())
}
