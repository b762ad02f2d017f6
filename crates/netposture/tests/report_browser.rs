//! `netposture report` loaded in a real browser: headless Chromium runs the
//! page's script, and the tests read the DOM it leaves (not pixels). Each
//! test keeps a screenshot under `CARGO_TARGET_TMPDIR/report-browser/`.
//! Chromium comes from `scripts/bootstrap`; without it these tests fail.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;
mod dom;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{netposture, repo};
use dom::Element;

/// Writes the report of `manifests` (with further `args`) to the artifact
/// directory as `NAME.html`, returns its path.
fn report(manifests: &Path, args: &[&str], name: &str) -> PathBuf {
    let mut all = vec!["report", "-f", manifests.to_str().unwrap()];
    all.extend(args);
    let out = netposture(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = artifacts().join(format!("{name}.html"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `page` with `args`; its profile lives in a
/// fresh directory so tests running at once do not share one.
fn chromium(page: &Path, args: &[&str]) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            // Lets the page's script run to completion before the DOM is read.
            "--virtual-time-budget=30000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap_or_else(|error| {
            panic!("cannot run chromium ({error}): scripts/bootstrap installs it (Debian package chromium)")
        });
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The DOM after the page's script ran, and a screenshot kept beside the page.
fn load(page: &Path, window: &str) -> Vec<Element> {
    let screenshot = page.with_extension("png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(
        page,
        &[
            &format!("--screenshot={}", screenshot.display()),
            &format!("--window-size={window}"),
        ],
    );
    let size = std::fs::metadata(&screenshot).map_or(0, |m| m.len());
    assert!(size > 0, "no screenshot at {}", screenshot.display());
    let html = String::from_utf8(chromium(page, &["--dump-dom"])).unwrap();
    dom::parse(&html)
}

/// Per ordered namespace pair, the ports the engine's pod-pair listing
/// (`connectivity -o pairs`) allows and those it calls CNI-dependent,
/// united over the pods, counted over TCP, UDP and SCTP.
fn reach_by_namespace(manifests: &Path) -> BTreeMap<(String, String), (u32, u32)> {
    let out = netposture(&[
        "connectivity",
        "-o",
        "pairs",
        "-f",
        manifests.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    // Per namespace pair: the (protocol, port)s allowed, and those CNI-dependent.
    type Ports = [BTreeSet<(String, u16)>; 2];
    let mut ports: BTreeMap<(String, String), Ports> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let namespace = |pod: &str| pod.split('/').next().unwrap().to_string();
        let entry = ports
            .entry((namespace(fields[0]), namespace(fields[1])))
            .or_default();
        for (set, ranges) in entry.iter_mut().zip(&fields[3..5]) {
            for range in ranges.split(',').filter(|r| *r != "-") {
                let (start, end) = range.split_once('-').unwrap_or((range, range));
                let (start, end): (u16, u16) = (start.parse().unwrap(), end.parse().unwrap());
                set.extend((start..=end).map(|port| (fields[2].to_string(), port)));
            }
        }
    }
    ports
        .into_iter()
        .map(|(pair, [allowed, cni])| {
            let cni_only = cni.difference(&allowed).count() as u32;
            (pair, (allowed.len() as u32, cni_only))
        })
        .collect()
}

fn matrix_cells(dom: &[Element]) -> BTreeMap<(String, String), &Element> {
    dom.iter()
        .filter(|e| e.name == "td" && e.has_class("cell"))
        .map(|e| ((e.attr("data-source"), e.attr("data-destination")), e))
        .collect()
}

#[test]
fn example_cluster_report_shows_each_namespace_and_the_engine_s_reach() {
    let manifests = repo("examples/cluster");
    let page = report(&manifests, &[], "example-cluster");
    let dom = load(&page, "1200,1000");
    let body = dom.iter().find(|e| e.name == "body").unwrap();
    assert_eq!(
        body.attr("data-matrix"),
        "drawn",
        "the page's script did not run"
    );

    // The namespace table: one row per namespace of `scan -o json`, same verdicts.
    let scan = netposture(&["scan", "-o", "json", "-f", manifests.to_str().unwrap()]);
    let scan: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    let items = scan["items"].as_array().unwrap();
    let rows: Vec<&Element> = dom
        .iter()
        .filter(|e| {
            e.name == "tr" && e.in_table("namespace-rows") && !e.attr("data-namespace").is_empty()
        })
        .collect();
    assert_eq!(rows.len(), items.len());
    for item in items {
        let name = item["spec"]["namespace"].as_str().unwrap();
        let row = rows
            .iter()
            .find(|r| r.attr("data-namespace") == name)
            .unwrap();
        let status = &item["status"];
        let expected = [
            name.to_string(),
            status["covered"].to_string(),
            status["defaultDenyIngress"].to_string(),
            status["defaultDenyEgress"].to_string(),
            status["egressOpen"].to_string(),
            status["dnsAllowed"].to_string(),
            status["score"].to_string(),
        ];
        assert_eq!(&row.cells()[..7], &expected[..], "row of {name}");
    }

    // The matrix: every namespace pair, as the engine's pod pairs add up.
    let cells = matrix_cells(&dom);
    assert_eq!(cells.len(), items.len() * items.len());
    let reach = reach_by_namespace(&manifests);
    for ((source, destination), cell) in &cells {
        let (allowed, cni) = reach
            .get(&(source.clone(), destination.clone()))
            .copied()
            .unwrap_or_default();
        assert_eq!(
            (cell.attr("data-ports"), cell.attr("data-cni-ports")),
            (allowed.to_string(), cni.to_string()),
            "{source} -> {destination}"
        );
    }
    // By hand, from the manifests: analytics denies both ways and its DNS
    // rule names a label kube-system lacks, so it reaches nothing and
    // nothing reaches it; shop reaches CoreDNS on 53/UDP and 53/TCP, and
    // within itself 8080 (frontend to api) and 5432 (api to db); dev has
    // no policy and reaches itself everywhere.
    let text = |source: &str, destination: &str| {
        cells[&(source.to_string(), destination.to_string())]
            .text
            .clone()
    };
    for other in [
        "analytics",
        "dev",
        "kube-system",
        "monitoring",
        "payments",
        "shop",
    ] {
        assert_eq!(text("analytics", other), "", "analytics -> {other}");
        assert_eq!(text(other, "analytics"), "", "{other} -> analytics");
    }
    assert_eq!(text("shop", "kube-system"), "2");
    assert_eq!(text("shop", "shop"), "2");
    assert_eq!(text("shop", "dev"), "");
    assert_eq!(text("dev", "dev"), "all");

    // Exposure: dev's LoadBalancer and its Ingress without TLS.
    let preview = dom
        .iter()
        .find(|e| e.attr("data-service") == "preview")
        .unwrap();
    assert_eq!(preview.cells()[..3], ["dev", "preview", "LoadBalancer"]);
    assert!(preview.text.contains("no ingress policy selects it"));
    let docs = dom
        .iter()
        .find(|e| e.attr("data-ingress") == "docs")
        .unwrap();
    assert!(docs.cells()[3].contains("docs.dev.example.com"));
    // Compliance: a table per framework; analytics fails DNS-related controls
    // no more than the engine's own summary says.
    for framework in ["pci-dss", "soc2", "cis", "nsa"] {
        let summary = netposture(&[
            "scan",
            "-o",
            "json",
            "--compliance",
            framework,
            "-f",
            manifests.to_str().unwrap(),
        ]);
        let summary: serde_json::Value = serde_json::from_slice(&summary.stdout).unwrap();
        let controls = summary
            .as_array()
            .or_else(|| summary["controls"].as_array())
            .unwrap();
        for control in controls {
            let id = control["control"].as_str().unwrap();
            let row = dom
                .iter()
                .find(|e| e.name == "tr" && e.attr("data-control") == id)
                .unwrap();
            assert_eq!(row.cells()[2], control["status"].as_str().unwrap(), "{id}");
        }
    }
    // Checks: every namespace's checks with evidence, as `scan` gives them.
    let analytics = &items
        .iter()
        .find(|i| i["spec"]["namespace"] == "analytics")
        .unwrap()["status"]["checks"];
    let dns = analytics
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "dns-allowed")
        .unwrap();
    let row = dom
        .iter()
        .find(|e| {
            e.name == "tr"
                && e.attr("data-check") == "dns-allowed"
                && e.ancestor_attr("data-namespace") == "analytics"
        })
        .unwrap();
    assert_eq!(row.cells()[1], dns["status"].as_str().unwrap());
    assert!(row.text.contains(dns["remediation"].as_str().unwrap()));
}

/// Names and annotations that would run script if written as markup; an
/// invalid name is left out of the evaluation's objects but still reported.
const HOSTILE: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: "<script>document.title='pwned'</script>"
---
apiVersion: v1
kind: Namespace
metadata:
  name: accepted
  annotations:
    netposture.io/accept: EgressOpen
    netposture.io/accept-reason: "<img src=x onerror=\"document.title='pwned'\">"
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: accepted}
spec: {containers: [{name: web, image: nginx}]}
"#;

#[test]
fn values_from_the_cluster_are_text_not_markup() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("hostile.yaml");
    std::fs::write(&manifests, HOSTILE).unwrap();
    let page = report(&manifests, &[], "hostile");
    let dom = load(&page, "1200,900");
    let hostile = "<script>document.title='pwned'</script>";

    let title = dom.iter().find(|e| e.name == "title").unwrap();
    assert_eq!(title.text, "netposture report", "an injected script ran");
    let scripts: Vec<&Element> = dom.iter().filter(|e| e.name == "script").collect();
    assert_eq!(
        scripts.len(),
        2,
        "only the data block and the page's script"
    );
    assert!(dom.iter().all(|e| e.name != "img"));
    // The name is shown as written: in the table, the matrix (drawn by the
    // script) and the checks; the reason of the accepted risk likewise.
    let row = dom.iter().find(|e| {
        e.name == "tr" && e.in_table("namespace-rows") && e.attr("data-namespace") == hostile
    });
    assert!(row.is_some_and(|r| r.cells()[0] == hostile));
    assert!(
        dom.iter()
            .any(|e| e.name == "th" && e.text == hostile && e.ancestor_attr("class") == "matrix")
    );
    assert!(
        dom.iter()
            .any(|e| e.name == "li" && e.text.contains("<img src=x onerror="))
    );
}

/// `team-0000` ... `team-1999`, a pod each; even namespaces deny both ways.
fn two_thousand_namespaces() -> String {
    let mut yaml = String::new();
    for n in 0..2000 {
        let ns = format!("team-{n:04}");
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: app, namespace: {ns}, labels: {{app: web}}}}\nspec: {{containers: [{{name: app, image: i, ports: [{{containerPort: 8080}}]}}]}}\n"
        ));
        if n % 2 == 0 {
            yaml.push_str(&format!("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny, namespace: {ns}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n"));
        }
    }
    yaml
}

#[test]
fn two_thousand_namespaces_open_on_a_first_page_with_an_overview() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("teams.yaml");
    std::fs::write(&manifests, two_thousand_namespaces()).unwrap();
    // A CNI that enforces NetworkPolicy, so no cell is undetermined.
    let page = report(&manifests, &["--cni", "calico"], "two-thousand-namespaces");
    let dom = load(&page, "1400,2200");

    let namespace_rows = dom
        .iter()
        .filter(|e| {
            e.name == "tr" && e.in_table("namespace-rows") && !e.attr("data-namespace").is_empty()
        })
        .count();
    assert_eq!(namespace_rows, 2000);
    // The matrix shows one page of 40 by 40 and an overview square per page pair.
    let cells = matrix_cells(&dom);
    let sources: BTreeSet<&String> = cells.keys().map(|(s, _)| s).collect();
    let destinations: BTreeSet<&String> = cells.keys().map(|(_, d)| d).collect();
    assert_eq!((sources.len(), destinations.len()), (40, 40));
    assert_eq!(sources.first().map(|s| s.as_str()), Some("team-0000"));
    let blocks = dom
        .iter()
        .filter(|e| !e.attr("data-block").is_empty())
        .count();
    assert_eq!(blocks, 50 * 50);
    let status = dom.iter().find(|e| e.has_class("page-status")).unwrap();
    assert!(
        status.text.starts_with("2000 of 2000 namespaces"),
        "{}",
        status.text
    );
    // Odd namespaces have no policy: each reaches the other open ones everywhere;
    // even ones deny both ways; a lone pod makes no pair with itself.
    let text = |s: &str, d: &str| cells[&(s.to_string(), d.to_string())].text.clone();
    assert_eq!(text("team-0001", "team-0003"), "all");
    assert_eq!(text("team-0001", "team-0002"), "");
    assert_eq!(text("team-0002", "team-0003"), "");
    assert_eq!(text("team-0003", "team-0003"), "");
}
