//! `netposture connectivity`: every pod-to-pod connection the policies
//! allow, written as it is decided. Grouped (the default): pod classes, then
//! one line per class pair and protocol. Pairs: one line per source,
//! destination and protocol, for comparing with other analyzers
//! (bench/nca-diff.sh).

use std::io::{self, BufWriter, Write};

use clap::{Args, ValueEnum};
use netposture_engine::Cluster;
use netposture_engine::classes::{PodClass, PodClasses};
use netposture_engine::connectivity::{self, Decider, PortRanges};
use netposture_engine::model::Protocol;
use netposture_engine::pod_cidrs::PodCidrs;

use crate::input::InputArgs;

/// Member names printed per class before the rest is counted.
const MEMBERS_SHOWN: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConnectivityFormat {
    /// Classes of pods no policy tells apart, then class to class.
    Grouped,
    /// One line per pod pair and protocol: `SOURCE DESTINATION PROTOCOL ALLOWED CNI-DEPENDENT`.
    Pairs,
    /// Graphviz: a box per namespace, a node per class, an edge per class
    /// pair with its ports (dashed where only the CNI decides).
    Dot,
}

#[derive(Debug, Args)]
pub struct ConnectivityArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(short = 'o', long, value_enum, default_value_t = ConnectivityFormat::Grouped)]
    output: ConnectivityFormat,
}

pub fn run(args: &ConnectivityArgs) -> anyhow::Result<()> {
    let input = args.input.load()?;
    let pod_cidrs = PodCidrs::of(&input.cluster, &input.settings);
    let mut out = BufWriter::new(io::stdout().lock());
    let cluster = &input.cluster;
    match args.output {
        ConnectivityFormat::Grouped => write_grouped(&mut out, cluster, &pod_cidrs)?,
        ConnectivityFormat::Pairs => write_pairs(&mut out, cluster, &pod_cidrs)?,
        ConnectivityFormat::Dot => write_dot(&mut out, cluster, &pod_cidrs)?,
    }
    out.flush()?;
    Ok(())
}

/// `SOURCE DESTINATION PROTOCOL ALLOWED CNI-DEPENDENT`, ports as
/// `53,5000-5010` and `-` for none; pairs with nothing allowed are left out.
pub fn write_pairs(
    out: &mut impl Write,
    cluster: &Cluster,
    pod_cidrs: &PodCidrs,
) -> io::Result<()> {
    let mut result = Ok(());
    connectivity::for_each_pair(cluster, pod_cidrs, |pair| {
        if result.is_ok() {
            result = writeln!(
                out,
                "{}/{} {}/{} {} {} {}",
                pair.source.namespace,
                pair.source.pod.name,
                pair.destination.namespace,
                pair.destination.pod.name,
                pair.protocol,
                ranges(pair.allowed),
                ranges(pair.cni_dependent)
            );
        }
    });
    result
}

/// The classes (`NAMESPACE#N`, their size, the labels policies read and
/// their first members), then `SOURCE DESTINATION PROTOCOL ALLOWED
/// CNI-DEPENDENT` per class pair. A class paired with itself stands for two
/// distinct members; every member of a class answers alike.
pub fn write_grouped(
    out: &mut impl Write,
    cluster: &Cluster,
    pod_cidrs: &PodCidrs,
) -> io::Result<()> {
    let classes = PodClasses::new(cluster, pod_cidrs);
    let names = class_names(&classes.classes);
    writeln!(
        out,
        "# {} pods in {} classes: CLASS PODS LABELS MEMBERS",
        classes.pods.len(),
        classes.classes.len()
    )?;
    for (class, name) in classes.classes.iter().zip(&names) {
        let labels = classes.labels(class);
        let labels = if labels.is_empty() {
            "-".to_string()
        } else {
            labels.join(",")
        };
        writeln!(
            out,
            "{name} {} {labels} {}",
            class.members.len(),
            members(class)
        )?;
    }
    writeln!(out, "# SOURCE DESTINATION PROTOCOL ALLOWED CNI-DEPENDENT")?;
    let decider = Decider::new(&classes);
    for (s, source) in names.iter().enumerate() {
        for (d, destination) in names.iter().enumerate() {
            let Some(answer) = decider.decide(s, d) else {
                continue;
            };
            for (protocol, (allowed, cni_dependent)) in Protocol::ALL.into_iter().zip(&answer) {
                if !allowed.is_empty() || !cni_dependent.is_empty() {
                    writeln!(
                        out,
                        "{source} {destination} {protocol} {} {}",
                        ranges(allowed),
                        ranges(cni_dependent)
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The grouped form as a Graphviz digraph (`dot -Tsvg`). Classes come
/// namespace by namespace, so each namespace's box is written in one go;
/// edges are written as each class pair is decided.
pub fn write_dot(out: &mut impl Write, cluster: &Cluster, pod_cidrs: &PodCidrs) -> io::Result<()> {
    let classes = PodClasses::new(cluster, pod_cidrs);
    let names = class_names(&classes.classes);
    writeln!(out, "digraph connectivity {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [shape=box, fontsize=10];")?;
    writeln!(out, "  edge [fontsize=9];")?;
    let mut open_namespace: Option<&str> = None;
    for (class, name) in classes.classes.iter().zip(&names) {
        if open_namespace != Some(class.namespace) {
            if open_namespace.is_some() {
                writeln!(out, "  }}")?;
            }
            open_namespace = Some(class.namespace);
            writeln!(
                out,
                "  subgraph {} {{",
                quoted(&format!("cluster_{}", class.namespace))
            )?;
            writeln!(out, "    label={};", quoted(class.namespace))?;
        }
        let labels = classes.labels(class).join("\\n");
        let label = format!(
            "{name} ({} pods)\\n{labels}\\n{}",
            class.members.len(),
            members(class)
        );
        writeln!(
            out,
            "    {} [label={}];",
            quoted(name),
            quoted_label(&label)
        )?;
    }
    if open_namespace.is_some() {
        writeln!(out, "  }}")?;
    }
    let decider = Decider::new(&classes);
    for (s, source) in names.iter().enumerate() {
        for (d, destination) in names.iter().enumerate() {
            let Some(answer) = decider.decide(s, d) else {
                continue;
            };
            let mut allowed = Vec::new();
            let mut cni_dependent = Vec::new();
            for (protocol, (a, c)) in Protocol::ALL.into_iter().zip(&answer) {
                if !a.is_empty() {
                    allowed.push(format!("{protocol} {}", ranges(a)));
                }
                if !c.is_empty() {
                    cni_dependent.push(format!("{protocol} {} (CNI)", ranges(c)));
                }
            }
            if allowed.is_empty() && cni_dependent.is_empty() {
                continue;
            }
            let style = if allowed.is_empty() {
                "dashed"
            } else {
                "solid"
            };
            let label = allowed
                .into_iter()
                .chain(cni_dependent)
                .collect::<Vec<_>>()
                .join("\\n");
            writeln!(
                out,
                "  {} -> {} [label={}, style={style}];",
                quoted(source),
                quoted(destination),
                quoted_label(&label)
            )?;
        }
    }
    writeln!(out, "}}")
}

/// A DOT string literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A DOT string literal whose `\n` line breaks are kept (only quotes escaped).
fn quoted_label(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}

/// `NAMESPACE#N`, numbering a namespace's classes from 1 in the order of their first members.
fn class_names(classes: &[PodClass<'_>]) -> Vec<String> {
    let mut names = Vec::with_capacity(classes.len());
    let mut number = 0;
    let mut namespace = None;
    for class in classes {
        if namespace != Some(class.namespace) {
            namespace = Some(class.namespace);
            number = 0;
        }
        number += 1;
        names.push(format!("{}#{number}", class.namespace));
    }
    names
}

/// `a,b,c` or `a,b,c,+7 more`.
fn members(class: &PodClass<'_>) -> String {
    let mut shown: Vec<&str> = class
        .members
        .iter()
        .take(MEMBERS_SHOWN)
        .map(|pod| pod.name.as_str())
        .collect();
    let more = class.members.len().saturating_sub(MEMBERS_SHOWN);
    let more = format!("+{more} more");
    if class.members.len() > MEMBERS_SHOWN {
        shown.push(more.as_str());
    }
    shown.join(",")
}

fn ranges(ranges: &PortRanges) -> String {
    if ranges.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = ranges.iter().map(crate::output::port_range).collect();
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_strings_escape_quotes_and_backslashes() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted_label(r#"x\ny"z"#), r#""x\ny\"z""#);
    }

    #[test]
    fn ranges_print_singles_and_spans() {
        assert_eq!(ranges(&vec![]), "-");
        assert_eq!(ranges(&vec![(53, 53), (5000, 5010)]), "53,5000-5010");
    }
}
