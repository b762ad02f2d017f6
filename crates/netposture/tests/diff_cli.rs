//! Runs `netposture diff` on the examples (base) against a head that
//! changes `shop` (its DNS policy gone, its database open to every
//! namespace) and adds a `preview` namespace behind a LoadBalancer; and
//! `scan -o sarif|junit`. Expected values come from `scan -o json` of each
//! side, not from the diff's own output.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;

use std::process::Output;

use common::{netposture, repo};
use serde_json::Value;

const EXAMPLE_FILES: [&str; 6] = [
    "00-namespaces.yaml",
    "analytics.yaml",
    "dev.yaml",
    "kube-system.yaml",
    "monitoring.yaml",
    "payments.yaml",
];

fn base() -> Vec<String> {
    vec![repo("examples/cluster").display().to_string()]
}

/// The examples with `shop.yaml` replaced and `preview.yaml` added.
fn head() -> Vec<String> {
    let examples = EXAMPLE_FILES
        .iter()
        .map(|f| repo(&format!("examples/cluster/{f}")));
    let fixtures = ["shop.yaml", "preview.yaml"]
        .iter()
        .map(|f| repo(&format!("crates/netposture/tests/fixtures/diff/{f}")));
    examples
        .chain(fixtures)
        .map(|p| p.display().to_string())
        .collect()
}

fn diff(base: &[String], head: &[String], extra: &[&str]) -> Output {
    let mut args = vec!["diff", "--base"];
    args.extend(base.iter().map(String::as_str));
    args.push("--head");
    args.extend(head.iter().map(String::as_str));
    args.extend(extra);
    netposture(&args)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `scan -o json` of `paths`: namespace name to report status.
fn scan(paths: &[String]) -> Vec<(String, Value)> {
    let mut args = vec!["scan", "-o", "json"];
    for path in paths {
        args.extend(["-f", path.as_str()]);
    }
    let out = netposture(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["spec"]["namespace"].as_str().unwrap().to_string(),
                i["status"].clone(),
            )
        })
        .collect()
}

fn check_status(status: &Value, id: &str) -> Option<String> {
    status["checks"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["status"].as_str().unwrap().to_string())
}

#[test]
fn identical_sides_report_nothing_and_exit_0() {
    let out = diff(
        &base(),
        &base(),
        &["--fail-on", "dns-broken,coverage-lost,score-drop:0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "no posture change");
    let json = diff(&base(), &base(), &["-o", "json"]);
    let value: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["namespaces"], serde_json::json!([]));
}

#[test]
fn a_condition_that_holds_exits_1_and_names_the_namespace() {
    let out = diff(&base(), &head(), &["--fail-on", "dns-broken,coverage-lost"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("fail-on: dns-broken: namespace shop loses DNS"),
        "{err}"
    );
    assert!(
        err.contains("fail-on: coverage-lost: namespace shop"),
        "{err}"
    );
    // The changes alone do not fail a run.
    assert_eq!(diff(&base(), &head(), &[]).status.code(), Some(0));
    // Nor do conditions that do not hold: shop's egress stays closed (the
    // new preview namespace's is open, which counts as opened).
    let shop_only = ["-n", "shop", "--fail-on", "egress-opened"];
    assert_eq!(diff(&base(), &head(), &shop_only).status.code(), Some(0));
    let all = diff(&base(), &head(), &["--fail-on", "egress-opened"]);
    assert!(
        stderr(&all).contains("egress-opened: namespace preview"),
        "{}",
        stderr(&all)
    );
    // A bare check id is check-failed:ID.
    let bare = diff(&base(), &head(), &["--fail-on", "exposed-services"]);
    assert_eq!(bare.status.code(), Some(1));
    assert!(
        stderr(&bare).contains("check-failed:exposed-services"),
        "{}",
        stderr(&bare)
    );
}

#[test]
fn usage_and_input_errors_exit_2() {
    let unknown = diff(&base(), &head(), &["--fail-on", "dns-brokn"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("unknown condition \"dns-brokn\""),
        "{}",
        stderr(&unknown)
    );
    let missing = diff(&base(), &["/nonexistent/head".into()], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("/nonexistent/head"),
        "{}",
        stderr(&missing)
    );
    let namespace = diff(&base(), &head(), &["-n", "nowhere"]);
    assert_eq!(namespace.status.code(), Some(2));
    assert!(
        stderr(&namespace).contains("\"nowhere\""),
        "{}",
        stderr(&namespace)
    );
    let no_head = netposture(&["diff", "--base", &base()[0]]);
    assert_eq!(no_head.status.code(), Some(2));
}

#[test]
fn json_reports_changed_added_and_removed_namespaces_with_each_sides_values() {
    let (before, after) = (scan(&base()), scan(&head()));
    let out = diff(&base(), &head(), &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let value: Value = serde_json::from_slice(&out.stdout).unwrap();
    let namespaces = value["namespaces"].as_array().unwrap();
    let find = |name: &str| namespaces.iter().find(|n| n["namespace"] == name).unwrap();
    let status = |side: &[(String, Value)], name: &str| {
        side.iter().find(|(n, _)| n == name).unwrap().1.clone()
    };
    let shop = find("shop");
    assert_eq!(shop["presence"], "both");
    assert_eq!(shop["scoreBefore"], status(&before, "shop")["score"]);
    assert_eq!(shop["scoreAfter"], status(&after, "shop")["score"]);
    let dns = shop["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["verdict"] == "dnsAllowed")
        .unwrap();
    assert_eq!(
        dns["before"],
        status(&before, "shop")["dnsAllowed"].to_string()
    );
    assert_eq!(
        dns["after"],
        status(&after, "shop")["dnsAllowed"].to_string()
    );
    let opened = shop["flows"]["opened"].as_array().unwrap();
    assert!(
        opened.iter().any(
            |f| f["destinationLabels"] == serde_json::json!(["app=shop", "tier=db"])
                && f["ports"] == serde_json::json!([[5432, 5432]])
        ),
        "{opened:#?}"
    );
    assert_eq!(find("preview")["presence"], "added");
    assert!(before.iter().all(|(n, _)| n != "preview"), "preview is new");
    // Namespaces whose posture is the same on both sides are not reported
    // unless their flows change; analytics has neither.
    assert!(namespaces.iter().all(|n| n["namespace"] != "analytics"));

    let reverse = diff(&head(), &base(), &["-o", "json"]);
    let value: Value = serde_json::from_slice(&reverse.stdout).unwrap();
    let preview = value["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["namespace"] == "preview")
        .unwrap()
        .clone();
    assert_eq!(preview["presence"], "removed");
}

#[test]
fn markdown_has_a_summary_line_a_table_and_folded_details() {
    let out = diff(
        &base(),
        &head(),
        &["-o", "markdown", "-n", "shop", "--fail-on", "dns-broken"],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("### netposture: 1 namespace(s)"),
        "{text}"
    );
    assert!(lines[0].contains("1 --fail-on condition(s) hold"), "{text}");
    assert!(text.contains("| namespace | change | score |"), "{text}");
    assert!(text.contains("| shop | changed |"), "{text}");
    assert!(
        text.contains("<details><summary>shop: details</summary>"),
        "{text}"
    );
    assert!(text.contains("`dns-broken` in `shop`"), "{text}");
}

/// The SARIF 2.1.0 fields code-scanning services require.
fn assert_sarif_structure(log: &Value) {
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "netposture");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for result in run["results"].as_array().unwrap() {
        let rule = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index], rule, "ruleIndex points at its rule");
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        assert!(!result["locations"].as_array().unwrap().is_empty());
    }
}

#[test]
fn sarif_has_one_result_per_newly_failing_check_at_its_object() {
    let (before, after) = (scan(&base()), scan(&head()));
    let out = diff(&base(), &head(), &["-o", "sarif"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_sarif_structure(&log);
    let mut expected = Vec::new();
    for (namespace, status) in &after {
        for check in status["checks"].as_array().unwrap() {
            let id = check["id"].as_str().unwrap();
            let was = before
                .iter()
                .find(|(n, _)| n == namespace)
                .and_then(|(_, s)| check_status(s, id));
            if check["status"] == "Fail" && was.as_deref() != Some("Fail") {
                expected.push(format!("{namespace} {id}"));
            }
        }
    }
    let results = log["runs"][0]["results"].as_array().unwrap();
    let mut found: Vec<String> = results
        .iter()
        .map(|r| {
            let name = r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                .as_str()
                .unwrap();
            let namespace = name.split('/').next().unwrap();
            format!("{namespace} {}", r["ruleId"].as_str().unwrap())
        })
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
    // The new LoadBalancer points at its own document in the head's file.
    let exposed = results
        .iter()
        .find(|r| r["ruleId"] == "exposed-services")
        .unwrap();
    let physical = &exposed["locations"][0]["physicalLocation"];
    let file = physical["artifactLocation"]["uri"].as_str().unwrap();
    assert!(file.ends_with("fixtures/diff/preview.yaml"), "{file}");
    let line = physical["region"]["startLine"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(file).unwrap();
    let document: Vec<&str> = text
        .lines()
        .skip(line - 1)
        .take_while(|l| *l != "---")
        .collect();
    assert!(document.contains(&"kind: Service"), "{document:?}");
}

#[test]
fn scan_sarif_and_junit_report_every_failing_check() {
    let examples = base();
    let statuses = scan(&examples);
    let failing: usize = statuses
        .iter()
        .map(|(_, s)| {
            s["checks"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["status"] == "Fail")
                .count()
        })
        .sum();
    assert!(failing > 0, "the examples have gaps");
    let sarif = netposture(&["scan", "-f", &examples[0], "-o", "sarif"]);
    assert!(sarif.status.success(), "{}", stderr(&sarif));
    let log: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_sarif_structure(&log);
    assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), failing);

    let junit = netposture(&["scan", "-f", &examples[0], "-o", "junit"]);
    assert!(junit.status.success(), "{}", stderr(&junit));
    let xml = stdout(&junit);
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
    assert!(xml.contains(&format!("failures=\"{failing}\"")), "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), statuses.len());
    assert_eq!(xml.matches("<failure ").count(), failing);
    let checks: usize = statuses
        .iter()
        .map(|(_, s)| s["checks"].as_array().unwrap().len())
        .sum();
    assert_eq!(xml.matches("<testcase ").count(), checks);
}
