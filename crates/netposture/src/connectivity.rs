//! `netposture connectivity`: every pod-to-pod connection the policies
//! allow, one line per source, destination and protocol, for comparing with
//! other analyzers (bench/nca-diff.sh).

use std::io::{BufWriter, Write};

use clap::Args;
use netposture_engine::connectivity::{self, PortRanges};
use netposture_engine::pod_cidrs::PodCidrs;

use crate::input::InputArgs;

#[derive(Debug, Args)]
pub struct ConnectivityArgs {
    #[command(flatten)]
    input: InputArgs,
}

/// Prints `SOURCE DESTINATION PROTOCOL ALLOWED CNI-DEPENDENT`, ports as
/// `53,5000-5010` and `-` for none; pairs with nothing allowed are left out.
pub fn run(args: &ConnectivityArgs) -> anyhow::Result<()> {
    let input = args.input.load()?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut result = Ok(());
    let pod_cidrs = PodCidrs::of(&input.cluster, &input.settings);
    connectivity::for_each_pair(&input.cluster, &pod_cidrs, |pair| {
        if result.is_ok() {
            result = writeln!(
                out,
                "{} {} {} {} {}",
                pair.source,
                pair.destination,
                pair.protocol,
                ranges(&pair.allowed),
                ranges(&pair.cni_dependent)
            );
        }
    });
    result?;
    out.flush()?;
    Ok(())
}

fn ranges(ranges: &PortRanges) -> String {
    if ranges.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = ranges
        .iter()
        .map(|&(start, end)| {
            if start == end {
                start.to_string()
            } else {
                format!("{start}-{end}")
            }
        })
        .collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_print_singles_and_spans() {
        assert_eq!(ranges(&vec![]), "-");
        assert_eq!(ranges(&vec![(53, 53), (5000, 5010)]), "53,5000-5010");
    }
}
