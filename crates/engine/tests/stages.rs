//! The engine's stages go one way: every source file belongs to a stage
//! (docs/architecture.md) and may use only its own stage and those before
//! it. This test reads `src/`, resolves every `crate::`, `super::`, `self::`
//! and child-module path (following `pub use` re-exports to where the item
//! is defined) and fails naming each file that reaches a later stage.

#[path = "stages/source.rs"]
mod source;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use source::{ModulePath, SourceFile, defining_file, source_files, strip, tokens, use_tree};

/// The stages in order; a file may use its own and earlier ones.
const STAGES: [&str; 7] = [
    "model",
    "convert",
    "cluster index",
    "reach",
    "facts",
    "checks",
    "posture",
];

/// Each source file (relative to `src/`) and its stage. `lib.rs` is the
/// crate's facade, and `tests/` and `tests.rs` files hold unit tests: none
/// has a stage.
const FILES: &[(&str, &str)] = &[
    ("model.rs", "model"),
    ("posture.rs", "model"),
    ("settings.rs", "model"),
    ("intervals.rs", "model"),
    ("ipset.rs", "model"),
    ("cni.rs", "model"),
    ("cni_agents.rs", "convert"),
    ("validate.rs", "convert"),
    ("convert.rs", "convert"),
    ("annotations.rs", "convert"),
    ("dashboard.rs", "convert"),
    ("ingress.rs", "convert"),
    ("mesh.rs", "convert"),
    ("layers/mod.rs", "convert"),
    ("layers/policy.rs", "convert"),
    ("layers/calico.rs", "convert"),
    ("layers/calico_selector.rs", "convert"),
    ("layers/cilium.rs", "convert"),
    ("layers/cilium_selector.rs", "convert"),
    ("layers/selectors.rs", "convert"),
    ("layers/tiered.rs", "convert"),
    ("layers/tiered_validation.rs", "convert"),
    ("changes.rs", "cluster index"),
    ("cluster.rs", "cluster index"),
    ("changes.rs", "cluster index"),
    ("impact.rs", "cluster index"),
    ("pod_cidrs.rs", "cluster index"),
    ("reach.rs", "reach"),
    ("reach/explain.rs", "reach"),
    ("reach/external.rs", "reach"),
    ("reach/layer_defaults.rs", "reach"),
    ("reach/layer_matching.rs", "reach"),
    ("reach/layer_side.rs", "reach"),
    ("reach/layered.rs", "reach"),
    ("reach/open_egress.rs", "reach"),
    ("classes.rs", "reach"),
    ("connectivity.rs", "reach"),
    ("facts.rs", "facts"),
    ("facts/dns.rs", "facts"),
    ("facts/mesh.rs", "facts"),
    ("facts/default_deny.rs", "facts"),
    ("facts/pods.rs", "facts"),
    ("exposure.rs", "facts"),
    ("checks/mod.rs", "checks"),
    ("checks/dashboard.rs", "checks"),
    ("checks/dns.rs", "checks"),
    ("checks/exposure.rs", "checks"),
    ("checks/host_ports.rs", "checks"),
    ("checks/hygiene.rs", "checks"),
    ("checks/ingress.rs", "checks"),
    ("checks/isolation.rs", "checks"),
    ("checks/layers.rs", "checks"),
    ("checks/mesh.rs", "checks"),
    ("checks/system.rs", "checks"),
    ("compliance.rs", "checks"),
    ("evaluate.rs", "posture"),
    ("suggest.rs", "posture"),
    ("suggest/policies.rs", "posture"),
    ("diff/mod.rs", "posture"),
    ("diff/conditions.rs", "posture"),
    ("diff/flows.rs", "posture"),
    ("whatif.rs", "posture"),
];

#[test]
fn no_file_uses_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    source_files(&src, "", &mut names);
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| {
            n != "lib.rs"
                && !n.starts_with("tests/")
                && n != "tests.rs"
                && !n.ends_with("/tests.rs")
        })
        .collect();
    let stage_of: BTreeMap<&str, usize> = FILES
        .iter()
        .map(|(file, stage)| {
            let index = STAGES.iter().position(|s| s == stage);
            (
                *file,
                index.unwrap_or_else(|| panic!("{file}: no stage {stage}")),
            )
        })
        .collect();

    let mut problems = BTreeSet::new();
    for name in &names {
        if !stage_of.contains_key(name.as_str()) {
            problems.insert(format!("{name} has no stage: add it to FILES"));
        }
    }
    for (file, _) in FILES {
        if !names.iter().any(|n| n == file) {
            problems.insert(format!("{file} is in FILES but not in src/"));
        }
    }
    let mut files: BTreeMap<String, SourceFile> = names
        .iter()
        .map(|n| (n.clone(), SourceFile::read(&src, n)))
        .collect();
    files.insert("lib.rs".into(), SourceFile::read(&src, "lib.rs"));

    for file in files.values().filter(|f| f.name != "lib.rs") {
        let Some(&own) = stage_of.get(file.name.as_str()) else {
            continue;
        };
        for used in &file.uses {
            if used.first().map(String::as_str) == Some("tests") {
                continue;
            }
            let Some(target) = defining_file(used, &files, &src) else {
                continue;
            };
            let Some(&theirs) = stage_of.get(target.as_str()) else {
                continue;
            };
            if theirs > own {
                problems.insert(format!(
                    "{} ({}) uses crate::{} from {} ({})",
                    file.name,
                    STAGES[own],
                    used.join("::"),
                    target,
                    STAGES[theirs]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the engine's stages must go one way (docs/architecture.md):\n{}",
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn use_trees_flatten_to_each_path_and_the_name_it_binds() {
    let tokens = tokens("crate::{a::{b, c as d}, e::{self, f}, g::*};");
    let mut leaves = Vec::new();
    use_tree(&tokens, &mut 0, &[], &mut leaves);
    let path = |p: &str| p.split("::").map(String::from).collect::<ModulePath>();
    assert_eq!(
        leaves,
        vec![
            (path("crate::a::b"), "b".to_string()),
            (path("crate::a::c"), "d".to_string()),
            (path("crate::e"), "e".to_string()),
            (path("crate::e::f"), "f".to_string()),
            (path("crate::g"), "*".to_string()),
        ]
    );
}

#[test]
fn comments_strings_and_char_literals_name_no_path() {
    let stripped = strip(
        "let s = \"crate::in_string\"; // crate::in_comment\n/* crate::in_block */ let c = '\"'; crate::used::item(r#\"crate::raw\"#, s, c)",
    );
    assert!(!stripped.contains("in_string"), "{stripped}");
    assert!(!stripped.contains("in_comment"), "{stripped}");
    assert!(!stripped.contains("in_block"), "{stripped}");
    assert!(!stripped.contains("raw"), "{stripped}");
    assert!(stripped.contains("crate::used::item"), "{stripped}");
}
