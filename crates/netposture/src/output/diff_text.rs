//! `diff` for people: a text listing for terminals, and Markdown for a
//! pull-request comment (a summary line, a table, each namespace's details
//! folded).

use std::io::{self, Write};

use netposture_engine::CheckStatus;
use netposture_engine::diff::{
    ConditionHit, FlowChange, FlowChanges, NamespaceDiff, PostureDiff, Presence,
};

pub fn write_table(
    out: &mut impl Write,
    diff: &PostureDiff,
    hits: &[ConditionHit],
) -> io::Result<()> {
    if diff.is_empty() {
        return writeln!(out, "no posture change");
    }
    for namespace in &diff.namespaces {
        writeln!(
            out,
            "{} ({}): score {}",
            namespace.namespace,
            presence(namespace.presence),
            score(namespace)
        )?;
        for line in details(namespace) {
            writeln!(out, "  {line}")?;
        }
    }
    for hit in hits {
        writeln!(
            out,
            "FAIL {} {}: {}",
            hit.condition, hit.namespace, hit.reason
        )?;
    }
    Ok(())
}

pub fn write_markdown(
    out: &mut impl Write,
    diff: &PostureDiff,
    hits: &[ConditionHit],
) -> io::Result<()> {
    let verdict = if hits.is_empty() {
        "no --fail-on condition holds".to_string()
    } else {
        format!("**{} --fail-on condition(s) hold**", hits.len())
    };
    writeln!(
        out,
        "### netposture: {} namespace(s) change posture; {verdict}\n",
        diff.namespaces.len()
    )?;
    if diff.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "| namespace | change | score | verdicts | newly failing checks | flows |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for namespace in &diff.namespaces {
        let verdicts: Vec<String> = namespace
            .verdicts
            .iter()
            .map(|v| {
                format!(
                    "`{}` {} → {}",
                    v.verdict.name(),
                    side(&v.before),
                    side(&v.after)
                )
            })
            .collect();
        let failing: Vec<String> = namespace
            .checks
            .iter()
            .filter(|c| c.newly_failing())
            .map(|c| format!("`{}`", c.id))
            .collect();
        let flows = &namespace.flows;
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | +{} −{} |",
            cell(&namespace.namespace),
            presence(namespace.presence),
            score(namespace),
            or_dash(verdicts.join("<br>")),
            or_dash(failing.join(" ")),
            flows.opened.len() + flows.opened_omitted as usize,
            flows.closed.len() + flows.closed_omitted as usize
        )?;
    }
    if !hits.is_empty() {
        writeln!(out, "\n**Conditions:**\n")?;
        for hit in hits {
            writeln!(
                out,
                "- `{}` in `{}`: {}",
                hit.condition,
                hit.namespace,
                cell(&hit.reason)
            )?;
        }
    }
    for namespace in &diff.namespaces {
        writeln!(
            out,
            "\n<details><summary>{}: details</summary>\n",
            cell(&namespace.namespace)
        )?;
        for line in details(namespace) {
            writeln!(out, "- {}", cell(&line))?;
        }
        writeln!(out, "\n</details>")?;
    }
    Ok(())
}

fn presence(presence: Presence) -> &'static str {
    match presence {
        Presence::Both => "changed",
        Presence::Added => "added",
        Presence::Removed => "removed",
    }
}

fn side(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

fn score(namespace: &NamespaceDiff) -> String {
    let show = |s: Option<u8>| s.map_or("-".to_string(), |s| s.to_string());
    let (before, after) = (namespace.score_before, namespace.score_after);
    match (before, after) {
        (Some(b), Some(a)) if a != b => {
            format!("{b} → {a} ({:+})", i16::from(a) - i16::from(b))
        }
        (Some(b), Some(_)) => b.to_string(),
        _ => format!("{} → {}", show(before), show(after)),
    }
}

/// What changed in a namespace, one line each: verdicts, checks, flows.
fn details(namespace: &NamespaceDiff) -> Vec<String> {
    let mut lines: Vec<String> = namespace
        .verdicts
        .iter()
        .map(|v| {
            format!(
                "{}: {} → {}",
                v.verdict.name(),
                side(&v.before),
                side(&v.after)
            )
        })
        .collect();
    for check in &namespace.checks {
        let status = |s: Option<CheckStatus>| s.map_or("-".to_string(), |s| format!("{s:?}"));
        let line = if check.before == check.after {
            format!(
                "check {}: {}, evidence now: {}",
                check.id,
                status(check.after),
                or_dash(check.evidence.join(", "))
            )
        } else if namespace.presence != Presence::Both
            && !check.before.or(check.after).is_some_and(not_passing)
        {
            // A namespace on one side only: its passing checks say nothing new.
            continue;
        } else {
            let mut line = format!(
                "check {}: {} → {}: {}",
                check.id,
                status(check.before),
                status(check.after),
                check.message
            );
            if !check.new_evidence.is_empty() {
                line.push_str(&format!(" (new: {})", check.new_evidence.join(", ")));
            }
            line
        };
        lines.push(line);
    }
    lines.extend(flow_lines(&namespace.flows));
    lines
}

fn not_passing(status: CheckStatus) -> bool {
    matches!(status, CheckStatus::Fail | CheckStatus::Warn)
}

fn flow_lines(flows: &FlowChanges) -> Vec<String> {
    let mut lines = Vec::new();
    for (sign, list, omitted) in [
        ("opened", &flows.opened, flows.opened_omitted),
        ("closed", &flows.closed, flows.closed_omitted),
    ] {
        lines.extend(
            list.iter()
                .map(|flow| format!("{sign}: {}", flow_line(flow))),
        );
        if omitted > 0 {
            lines.push(format!("{sign}: {omitted} more flow group(s)"));
        }
    }
    lines
}

fn flow_line(flow: &FlowChange) -> String {
    let labels = |labels: &[String]| {
        if labels.is_empty() {
            "(no labels)".to_string()
        } else {
            labels.join(",")
        }
    };
    let ports: Vec<String> = flow.ports.iter().map(super::port_range).collect();
    let protocols: Vec<String> = flow.protocols.iter().map(|p| p.to_string()).collect();
    let mut line = format!(
        "{}/{{{}}} → {}/{{{}}} {}/{}",
        flow.source_namespace,
        labels(&flow.source_labels),
        flow.destination_namespace,
        labels(&flow.destination_labels),
        protocols.join(","),
        ports.join(",")
    );
    if !flow.decided_by.is_empty() {
        line.push_str(&format!(" ({})", flow.decided_by.join("; ")));
    }
    line
}

/// Text safe in a Markdown table cell or list item: no pipes or raw HTML.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn or_dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}
