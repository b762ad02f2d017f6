//! Helpers the integration tests share: paths in the repository and runs of
//! the real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

pub fn netposture(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netposture"))
        .args(args)
        .output()
        .expect("netposture runs")
}
