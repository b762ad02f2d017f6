//! `netposture operator` refuses bad configuration before it contacts any
//! cluster, naming what is wrong; no cluster is needed for these.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

use std::process::{Command, Output};

fn operator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netposture"))
        .arg("operator")
        .args(args)
        // No cluster must be reached: a kubeconfig pointing nowhere would hang or fail differently.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("netposture runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn unknown_config_key_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, "resyncPeriod: 1m\nexclude:\n  namspaces: [a]\n").unwrap();
    let out = operator(&["--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("namspaces"), "{}", stderr(&out));
}

#[test]
fn bad_exclusion_selector_stops_start_up_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        "exclude:\n  namespaceSelector:\n    matchExpressions: [{key: a, operator: Near}]\n",
    )
    .unwrap();
    let out = operator(&["--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("exclude.namespaceSelector"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_duration_flag_is_a_usage_error() {
    let out = operator(&["--resync-period", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--resync-period"), "{}", stderr(&out));
    let out = operator(&["--debounce", "fast"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--debounce"), "{}", stderr(&out));
}

#[test]
fn missing_credentials_end_with_a_clear_error() {
    let out = operator(&["--metrics-addr", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("credentials"), "{}", stderr(&out));
}
