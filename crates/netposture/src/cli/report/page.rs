//! The HTML document: head (inline style, a policy that forbids fetching
//! anything), the cluster summary, the namespace table and each
//! namespace's checks. Every value from the cluster goes through
//! [`Html`]; the matrix is data for the inline script.

use std::io::{self, Write};

use netposture_engine::{Check, CheckStatus, NamespacePosture};

use super::Report;
use super::escape::Html;
use super::sections;

const STYLE: &str = include_str!("page.css");
pub const SCRIPT: &str = include_str!("page.js");

/// Score buckets of the distribution: 0-9, 10-19, ..., 90-99, and 100.
const SCORE_BUCKETS: usize = 11;

pub fn write(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>")?;
    writeln!(out, "<meta charset=\"utf-8\">")?;
    // Inline styles and scripts only; nothing may be loaded or sent anywhere.
    writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(out, "<title>netposture report</title>")?;
    writeln!(out, "<style>\n{STYLE}</style>\n</head>\n<body>")?;
    writeln!(out, "<header><h1>Network posture report</h1>")?;
    writeln!(
        out,
        "<p class=\"meta\">Generated {} by netposture {} from {}.</p>",
        Html(&report.generated),
        env!("CARGO_PKG_VERSION"),
        Html(&report.source)
    )?;
    writeln!(
        out,
        "<nav><a href=\"#summary\">Summary</a> <a href=\"#matrix\">Reachability</a> <a href=\"#namespaces\">Namespaces</a> <a href=\"#exposure\">Exposure</a> <a href=\"#compliance\">Compliance</a> <a href=\"#checks\">Checks</a></nav></header>"
    )?;
    write_summary(out, report)?;
    sections::write_matrix(out, report)?;
    write_namespace_table(out, &report.postures)?;
    sections::write_exposure(out, report)?;
    sections::write_compliance(out, report)?;
    write_checks(out, &report.postures)?;
    writeln!(out, "<script>\n{SCRIPT}</script>\n</body>\n</html>")
}

fn write_summary(out: &mut impl Write, report: &Report<'_>) -> io::Result<()> {
    let postures = &report.postures;
    let covered = postures.iter().filter(|(_, p)| p.covered).count();
    let pods: u64 = postures.iter().map(|(_, p)| u64::from(p.pods.total)).sum();
    let unprotected: u64 = postures
        .iter()
        .map(|(_, p)| p.unprotected_pods.len() as u64 + u64::from(p.unprotected_pods_omitted))
        .sum();
    writeln!(
        out,
        "<section id=\"summary\"><h2>Cluster summary</h2>\n<div class=\"side-by-side\"><div>"
    )?;
    writeln!(out, "<dl class=\"facts\">")?;
    let facts = [
        ("Namespaces", postures.len().to_string()),
        ("Covered", format!("{covered} of {}", postures.len())),
        ("Pods", pods.to_string()),
        ("Unprotected pods", unprotected.to_string()),
        (
            "CNI",
            format!(
                "{} (enforces NetworkPolicy: {})",
                report.cni.name,
                report.cni.capable.as_str()
            ),
        ),
    ];
    for (name, value) in facts {
        writeln!(
            out,
            "<dt>{name}</dt><dd data-fact=\"{}\">{}</dd>",
            Html(&name.to_lowercase()),
            Html(&value)
        )?;
    }
    writeln!(out, "</dl>")?;
    writeln!(
        out,
        "<p class=\"note\">CNI evidence: {}</p></div><div>",
        Html(&report.cni.evidence)
    )?;
    writeln!(
        out,
        "<h3>Score distribution</h3>\n<table class=\"bars\"><tbody>"
    )?;
    let mut buckets = [0usize; SCORE_BUCKETS];
    for (_, posture) in postures {
        buckets[usize::from(posture.score / 10).min(SCORE_BUCKETS - 1)] += 1;
    }
    let most = buckets.iter().copied().max().unwrap_or(0).max(1);
    for (bucket, count) in buckets.iter().enumerate() {
        let label = if bucket == SCORE_BUCKETS - 1 {
            "100".to_string()
        } else {
            format!("{}-{}", bucket * 10, bucket * 10 + 9)
        };
        writeln!(
            out,
            "<tr data-scores=\"{label}\"><th>{label}</th><td><span class=\"bar\" style=\"width:{}em\"></span> {count}</td></tr>",
            count * 20 / most
        )?;
    }
    writeln!(out, "</tbody></table></div></div></section>")
}

fn write_namespace_table(
    out: &mut impl Write,
    postures: &[(String, NamespacePosture)],
) -> io::Result<()> {
    writeln!(out, "<section id=\"namespaces\"><h2>Namespaces</h2>")?;
    writeln!(
        out,
        "<p><input type=\"search\" class=\"filter\" data-filter=\"namespace-rows\" placeholder=\"filter namespaces\" aria-label=\"filter namespaces\"></p>"
    )?;
    writeln!(
        out,
        "<table id=\"namespace-rows\" class=\"grid\"><thead><tr><th>namespace</th><th>covered</th><th>deny-in</th><th>deny-out</th><th>egress-open</th><th>dns</th><th>score</th><th>pods</th><th>unprotected</th><th>failing checks</th></tr></thead><tbody>"
    )?;
    for (index, (name, posture)) in postures.iter().enumerate() {
        let failing: Vec<&str> = posture
            .checks
            .iter()
            .filter(|check| matches!(check.status, CheckStatus::Fail | CheckStatus::Warn))
            .map(|check| check.id.as_str())
            .collect();
        let unprotected =
            posture.unprotected_pods.len() as u64 + u64::from(posture.unprotected_pods_omitted);
        writeln!(
            out,
            "<tr data-namespace=\"{name}\"><td><a href=\"#ns-{index}\">{name}</a></td>{}{}{}{}{}<td class=\"score\">{}</td><td>{}</td><td>{unprotected}</td><td>{}</td></tr>",
            verdict(posture.covered, true),
            verdict(posture.default_deny_ingress, true),
            verdict(posture.default_deny_egress, true),
            verdict(posture.egress_open, false),
            verdict(posture.dns_allowed, true),
            posture.score,
            posture.pods.total,
            Html(&failing.join(", ")),
            name = Html(name),
        )?;
    }
    writeln!(out, "</tbody></table></section>")
}

/// A true/false cell, marked good or bad by which value is the good one.
fn verdict(value: bool, good: bool) -> String {
    let class = if value == good { "good" } else { "bad" };
    format!("<td class=\"{class}\">{value}</td>")
}

fn write_checks(out: &mut impl Write, postures: &[(String, NamespacePosture)]) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"checks\"><h2>Checks by namespace</h2>\n<p class=\"note\">Each namespace's checks with their evidence, remediation and the compliance controls they give evidence for. Failing and warning checks come first.</p>"
    )?;
    for (index, (name, posture)) in postures.iter().enumerate() {
        writeln!(
            out,
            "<details id=\"ns-{index}\" class=\"namespace\" data-namespace=\"{name}\"><summary><b>{name}</b> score {} {}</summary>",
            posture.score,
            if posture.covered {
                "covered"
            } else {
                "not covered"
            },
            name = Html(name),
        )?;
        if !posture.accepted_risks.is_empty() {
            writeln!(out, "<p>Accepted risks:</p><ul>")?;
            for risk in &posture.accepted_risks {
                writeln!(
                    out,
                    "<li>{} ({}): {}</li>",
                    Html(&risk.risk),
                    Html(&risk.check),
                    Html(&risk.reason)
                )?;
            }
            writeln!(out, "</ul>")?;
        }
        writeln!(
            out,
            "<table class=\"grid checks\"><thead><tr><th>check</th><th>status</th><th>severity</th><th>message and evidence</th><th>remediation</th><th>controls</th></tr></thead><tbody>"
        )?;
        let mut checks: Vec<&Check> = posture.checks.iter().collect();
        checks.sort_by_key(|check| status_rank(check.status));
        for check in checks {
            write_check(out, check)?;
        }
        writeln!(out, "</tbody></table></details>")?;
    }
    writeln!(out, "</section>")
}

/// Failing first, then warnings, accepted risks, passes and checks that do not apply.
fn status_rank(status: CheckStatus) -> u8 {
    match status {
        CheckStatus::Fail => 0,
        CheckStatus::Warn => 1,
        CheckStatus::Accepted => 2,
        CheckStatus::Pass => 3,
        CheckStatus::NotApplicable => 4,
    }
}

fn write_check(out: &mut impl Write, check: &Check) -> io::Result<()> {
    let status = format!("{:?}", check.status);
    write!(
        out,
        "<tr data-check=\"{}\"><td>{}</td><td class=\"status-{}\">{}</td><td>{:?}</td><td>{}",
        Html(&check.id),
        Html(&check.id),
        status.to_lowercase(),
        status,
        check.severity,
        Html(&check.message)
    )?;
    if !check.evidence.is_empty() {
        write!(out, "<ul>")?;
        for evidence in &check.evidence {
            write!(out, "<li>{}</li>", Html(evidence))?;
        }
        write!(out, "</ul>")?;
    }
    // Only a check that does not pass has something to remedy.
    let remediation = match check.status {
        CheckStatus::Pass | CheckStatus::NotApplicable => "",
        _ => check.remediation.as_str(),
    };
    writeln!(
        out,
        "</td><td>{}</td><td>{}</td></tr>",
        Html(remediation),
        Html(&check.controls.join(", "))
    )
}
