//! The shell scripts' path handling: the e2e runner, the demo and the
//! benchmarks hand the binary's path to processes that run elsewhere, so
//! `scripts/target-dir` must give an absolute path for any CARGO_TARGET_DIR.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn target_dir(cargo_target_dir: Option<&str>, cwd: &Path) -> PathBuf {
    let mut command = Command::new(repo("scripts/target-dir"));
    command
        .current_dir(cwd)
        .env_remove("CARGO_BUILD_TARGET_DIR");
    match cargo_target_dir {
        Some(dir) => command.env("CARGO_TARGET_DIR", dir),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    let output = command.output().expect("scripts/target-dir runs");
    assert!(
        output.status.success(),
        "scripts/target-dir failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).expect("utf-8").trim())
}

#[test]
fn target_dir_is_absolute_for_unset_relative_and_absolute_cargo_target_dir() {
    let root = repo("").canonicalize().expect("repository root");
    let elsewhere = std::env::temp_dir();
    let absolute = elsewhere.join("netposture-target-dir-test");

    assert_eq!(target_dir(None, &root), root.join("target"));
    // Scripts run from the workspace root, so a relative directory is taken
    // from there, also when the script is called from elsewhere.
    assert_eq!(
        target_dir(Some("build/t"), &elsewhere),
        root.join("build/t")
    );
    assert_eq!(
        target_dir(Some(absolute.to_str().expect("utf-8")), &elsewhere),
        absolute
    );
}
