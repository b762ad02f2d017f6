//! Renders reports: a kubectl-like table, or a `v1 List` of
//! `NetworkPostureReport` objects as JSON or YAML; and the formats of the
//! commands that explain (`can-reach`, `explain`); SARIF and JUnit for
//! code scanning and CI test reports.

pub mod diff_text;
pub mod junit;
pub mod sarif;

use std::io::Write;

use clap::ValueEnum;
use netposture_api::NetworkPostureReport;
use netposture_engine::compliance::{ControlSummary, Framework};
use netposture_engine::{CheckStatus, NamespacePosture};
use serde::Serialize;

use crate::input::locations::Locations;
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    /// The table plus the ids of failing and warning checks.
    Wide,
    Json,
    Yaml,
    /// SARIF 2.1.0: one result per failing check, at the object behind it.
    Sarif,
    /// JUnit XML: a test suite per namespace, a test case per check.
    Junit,
}

/// `locations`: where manifest objects were read, for SARIF and JUnit.
pub fn write(
    out: &mut impl Write,
    reports: &[NetworkPostureReport],
    format: Format,
    locations: &Locations,
) -> anyhow::Result<()> {
    let postures = || -> Vec<(&str, &NamespacePosture)> {
        reports
            .iter()
            .filter_map(|r| Some((r.spec.namespace.as_str(), &r.status.as_ref()?.posture)))
            .collect()
    };
    match format {
        Format::Table => write_table(out, reports, false)?,
        Format::Wide => write_table(out, reports, true)?,
        Format::Json => write_json(out, &as_list(reports))?,
        Format::Yaml => write_yaml(out, &as_list(reports))?,
        Format::Sarif => {
            let findings: Vec<sarif::Finding<'_>> = postures()
                .into_iter()
                .flat_map(|(namespace, posture)| {
                    let failing = posture
                        .checks
                        .iter()
                        .filter(|c| c.status == CheckStatus::Fail);
                    failing.map(move |check| sarif::Finding { namespace, check })
                })
                .collect();
            sarif::write(out, &findings, locations)?;
        }
        Format::Junit => junit::write(out, &postures(), locations)?,
    }
    Ok(())
}

/// Output of `can-reach` and `explain`: readable text, or the same facts as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DetailFormat {
    /// Readable text.
    Text,
    Json,
    Yaml,
}

pub fn write_json(out: &mut impl Write, value: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

pub fn write_yaml(out: &mut impl Write, value: &impl Serialize) -> anyhow::Result<()> {
    serde_norway::to_writer(&mut *out, value)?;
    Ok(())
}

fn as_list(reports: &[NetworkPostureReport]) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {},
        "items": reports,
    })
}

/// A port range as people write it: `53`, or `8000-8080`.
pub fn port_range(&(start, end): &(u16, u16)) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start}-{end}")
    }
}

fn yes_no(value: bool) -> String {
    if value { "true" } else { "false" }.into()
}

fn write_table(
    out: &mut impl Write,
    reports: &[NetworkPostureReport],
    wide: bool,
) -> std::io::Result<()> {
    let mut rows = vec![
        [
            "NAMESPACE",
            "COVERED",
            "DENY-IN",
            "DENY-OUT",
            "EGRESS-OPEN",
            "DNS",
            "CNI",
            "SCORE",
            "PODS",
            "UNPROTECTED",
            "CHECKS",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for report in reports {
        let Some(status) = &report.status else {
            continue;
        };
        let p = &status.posture;
        let unprotected = p.unprotected_pods.len() + p.unprotected_pods_omitted as usize;
        let not_passing: Vec<String> = p
            .checks
            .iter()
            .filter(|c| matches!(c.status, CheckStatus::Fail | CheckStatus::Warn))
            .map(|c| c.id.clone())
            .collect();
        rows.push(vec![
            report.spec.namespace.clone(),
            yes_no(p.covered),
            yes_no(p.default_deny_ingress),
            yes_no(p.default_deny_egress),
            yes_no(p.egress_open),
            yes_no(p.dns_allowed),
            format!("{}({})", p.cni.name, p.cni.capable),
            p.score.to_string(),
            p.pods.total.to_string(),
            unprotected.to_string(),
            if not_passing.is_empty() {
                "-".into()
            } else {
                not_passing.join(",")
            },
        ]);
    }
    let columns = if wide { 11 } else { 10 };
    write_columns(out, &rows, columns)
}

/// `scan --compliance`: one row per control; as data, the framework and its rows.
pub fn write_compliance(
    out: &mut impl Write,
    framework: Framework,
    summary: &[ControlSummary],
    format: Format,
) -> anyhow::Result<()> {
    let data = || json!({"framework": framework.name(), "controls": summary});
    match format {
        Format::Json => return write_json(out, &data()),
        Format::Yaml => return write_yaml(out, &data()),
        Format::Sarif | Format::Junit => {
            anyhow::bail!("--compliance prints table, wide, json or yaml, not {format:?}")
        }
        Format::Table | Format::Wide => {}
    }
    let mut rows = vec![
        [
            "CONTROL",
            "STATUS",
            "FAILING",
            "TITLE",
            "FAILING-NAMESPACES",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for row in summary {
        let mut examples = row.failing_examples.join(",");
        if row.failing_namespaces > row.failing_examples.len() {
            examples.push_str(",...");
        }
        rows.push(vec![
            row.control.clone(),
            format!("{:?}", row.status),
            format!("{}/{}", row.failing_namespaces, row.namespaces),
            row.title.clone(),
            if examples.is_empty() {
                "-".into()
            } else {
                examples
            },
        ]);
    }
    write_columns(out, &rows, 5)?;
    Ok(())
}

/// The first `columns` cells of each row, left-aligned in columns three spaces apart.
pub fn write_columns(
    out: &mut impl Write,
    rows: &[Vec<String>],
    columns: usize,
) -> std::io::Result<()> {
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let cells: Vec<String> = (0..columns)
            .map(|i| format!("{:<w$}", row[i], w = widths[i]))
            .collect();
        writeln!(out, "{}", cells.join("   ").trim_end())?;
    }
    Ok(())
}
