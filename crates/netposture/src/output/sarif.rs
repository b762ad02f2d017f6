//! SARIF 2.1.0 (the OASIS static-analysis format code-scanning services
//! read): one result per failing check of a namespace, its rule the check
//! id, located at the manifest object its evidence names, else at the
//! Namespace object, and always by namespace as a logical location.

use std::collections::BTreeMap;
use std::io::Write;

use netposture_engine::{Check, Severity};
use serde_json::{Value, json};

use crate::locations::Locations;
use crate::manifests::Origin;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// A failing check and the namespace it fails in.
pub struct Finding<'a> {
    pub namespace: &'a str,
    pub check: &'a Check,
}

pub fn write(
    out: &mut impl Write,
    findings: &[Finding<'_>],
    locations: &Locations,
) -> anyhow::Result<()> {
    // One rule per check id, in id order; results point at them by index.
    let mut rules: BTreeMap<&str, &Check> = BTreeMap::new();
    for finding in findings {
        rules
            .entry(finding.check.id.as_str())
            .or_insert(finding.check);
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let rules: Vec<Value> = rules.values().map(|check| rule(check)).collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|finding| result(finding, index[finding.check.id.as_str()], locations))
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "netposture",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/netposture/netposture",
                "rules": rules,
            }},
            "results": results,
        }],
    });
    super::write_json(out, &log)
}

/// SARIF's levels: error, warning, note.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn rule(check: &Check) -> Value {
    let remediation = if check.remediation.is_empty() {
        check.message.as_str()
    } else {
        check.remediation.as_str()
    };
    json!({
        "id": check.id,
        "name": check.id,
        "shortDescription": {"text": format!("netposture check {}", check.id)},
        "help": {"text": remediation},
        "helpUri": "https://github.com/netposture/netposture/blob/main/docs/semantics.md#verdicts-and-checks",
        "defaultConfiguration": {"level": level(check.severity)},
        "properties": {"tags": check.controls},
    })
}

fn result(finding: &Finding<'_>, rule_index: usize, locations: &Locations) -> Value {
    let Finding { namespace, check } = finding;
    let object = locations.of_evidence(namespace, &check.evidence);
    let origin: Option<&Origin> = object
        .as_ref()
        .map(|(_, origin)| *origin)
        .or_else(|| locations.namespace(namespace));
    let logical = match &object {
        Some((name, _)) => {
            json!({"name": name, "fullyQualifiedName": format!("{namespace}/{name}"), "kind": "object"})
        }
        None => json!({"name": namespace, "fullyQualifiedName": namespace, "kind": "namespace"}),
    };
    let mut location = json!({"logicalLocations": [logical]});
    if let Some(origin) = origin {
        let mut physical = json!({"artifactLocation": {"uri": uri(&origin.file)}});
        if let Some(line) = origin.line {
            physical["region"] = json!({"startLine": line});
        }
        location["physicalLocation"] = physical;
    }
    let mut text = format!("namespace {namespace}: {}", check.message);
    if !check.evidence.is_empty() {
        text.push_str(&format!(" ({})", check.evidence.join(", ")));
    }
    json!({
        "ruleId": check.id,
        "ruleIndex": rule_index,
        "level": level(check.severity),
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"netposture/v1": format!("{namespace}/{}", check.id)},
    })
}

/// A path as a relative URI reference: forward slashes, no leading `./`.
fn uri(file: &str) -> String {
    let file = file.replace('\\', "/");
    file.strip_prefix("./").unwrap_or(&file).to_string()
}
