//! The engine's stages go one way: every source file belongs to a stage
//! (docs/architecture.md) and may use only its own stage and those before
//! it. This test reads `src/`, resolves every `crate::`, `super::`, `self::`
//! and child-module path (following `pub use` re-exports to where the item
//! is defined) and fails naming each file that reaches a later stage.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

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
/// crate's facade and `tests/` the unit test suite: neither has a stage.
const FILES: &[(&str, &str)] = &[
    ("model.rs", "model"),
    ("posture.rs", "model"),
    ("settings.rs", "model"),
    ("intervals.rs", "model"),
    ("ipset.rs", "model"),
    ("cni.rs", "model"),
    ("cni/signals.rs", "convert"),
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
    ("layers/selectors.rs", "convert"),
    ("layers/tiered.rs", "convert"),
    ("layers/tiered_validation.rs", "convert"),
    ("cluster.rs", "cluster index"),
    ("impact.rs", "cluster index"),
    ("pod_cidrs.rs", "cluster index"),
    ("reach.rs", "reach"),
    ("reach/explain.rs", "reach"),
    ("reach/external.rs", "reach"),
    ("reach/layered.rs", "reach"),
    ("reach/open_egress.rs", "reach"),
    ("layers/matching.rs", "reach"),
    ("layers/side.rs", "reach"),
    ("layers/defaults.rs", "reach"),
    ("classes.rs", "reach"),
    ("connectivity.rs", "reach"),
    ("facts.rs", "facts"),
    ("facts/dns.rs", "facts"),
    ("facts/default_deny.rs", "facts"),
    ("facts/pods.rs", "facts"),
    ("exposure.rs", "facts"),
    ("mesh/modes.rs", "facts"),
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
];

type ModulePath = Vec<String>;

/// One source file as this test reads it.
struct SourceFile {
    /// Path relative to `src/`, for messages.
    name: String,
    /// Every path the file names, resolved to absolute form, with the
    /// inline module it appears in (so `super` resolves from there).
    uses: Vec<ModulePath>,
    /// `pub use` items: the name it exports and the absolute path it names.
    reexports: BTreeMap<String, ModulePath>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Source text without comments, strings and character literals.
fn strip(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string(&chars, i) {
            i += 1;
            let mut hashes = 0;
            while chars[i] == '#' {
                hashes += 1;
                i += 1;
            }
            i += 1;
            loop {
                if chars[i] == '"' && (0..hashes).all(|h| chars.get(i + 1 + h) == Some(&'#')) {
                    i += 1 + hashes;
                    break;
                }
                i += 1;
            }
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && char_literal_end(&chars, i).is_some() {
            i = char_literal_end(&chars, i).unwrap_or(i) + 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `r` at `i` starts a raw string rather than ending an identifier.
fn raw_string(chars: &[char], i: usize) -> bool {
    let preceded_by_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    !preceded_by_ident && chars.get(j) == Some(&'"')
}

/// The index of the closing quote of a character literal starting at `i`,
/// or `None` for a lifetime.
fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\\') {
        (i + 2..chars.len()).find(|&j| chars[j] == '\'')
    } else if chars.get(i + 2) == Some(&'\'') {
        Some(i + 2)
    } else {
        None
    }
}

fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    tokens
}

/// A `use` tree flattened: each leaf path and the name it binds.
fn use_tree(
    tokens: &[Token],
    at: &mut usize,
    prefix: &[String],
    leaves: &mut Vec<(ModulePath, String)>,
) {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(*at) {
            Some(Token::Ident(ident)) if ident == "as" => {
                *at += 1;
                if let Some(Token::Ident(alias)) = tokens.get(*at) {
                    *at += 1;
                    let alias = alias.clone();
                    if let Some(last) = leaves.last_mut() {
                        last.1 = alias;
                    }
                }
                return;
            }
            Some(Token::Ident(ident)) => {
                *at += 1;
                // `{self, …}` names the module the braces are in.
                if ident == "self" && !path.is_empty() && tokens.get(*at) != Some(&Token::PathSep) {
                    let name = path.last().cloned().unwrap_or_default();
                    leaves.push((path.clone(), name));
                } else {
                    path.push(ident.clone());
                    if !matches!(tokens.get(*at), Some(Token::PathSep)) {
                        leaves.push((path.clone(), ident.clone()));
                    }
                }
            }
            Some(Token::PathSep) => *at += 1,
            Some(Token::Punct('*')) => {
                *at += 1;
                leaves.push((path.clone(), "*".into()));
                return;
            }
            Some(Token::Punct('{')) => {
                *at += 1;
                loop {
                    match tokens.get(*at) {
                        Some(Token::Punct('}')) => {
                            *at += 1;
                            return;
                        }
                        Some(Token::Punct(',')) => *at += 1,
                        None => return,
                        _ => use_tree(tokens, at, &path, leaves),
                    }
                }
            }
            _ => return,
        }
    }
}

impl SourceFile {
    fn read(src: &Path, name: &str) -> Self {
        let text = fs::read_to_string(src.join(name)).expect("source file reads");
        let module = module_of(name);
        let tokens = tokens(&strip(&text));
        let mut uses = Vec::new();
        let mut reexports = BTreeMap::new();
        // Inline modules (`mod tests { … }`) by the brace depth they opened at.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0;
        let mut i = 0;
        while i < tokens.len() {
            let here: ModulePath = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(name, _)| name.clone()))
                .collect();
            match &tokens[i] {
                Token::Punct('{') => {
                    depth += 1;
                    i += 1;
                }
                Token::Punct('}') => {
                    depth -= 1;
                    if inline.last().is_some_and(|(_, at)| *at == depth) {
                        inline.pop();
                    }
                    i += 1;
                }
                Token::Ident(word) if word == "mod" => {
                    if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) =
                        (tokens.get(i + 1), tokens.get(i + 2))
                    {
                        inline.push((name.clone(), depth));
                    }
                    i += 1;
                }
                Token::Ident(word) if word == "use" => {
                    let public = i > 0
                        && (tokens[i - 1] == Token::Ident("pub".into())
                            || (tokens[i - 1] == Token::Punct(')')
                                && tokens[..i].iter().rev().nth(3)
                                    == Some(&Token::Ident("pub".into()))));
                    i += 1;
                    let mut leaves = Vec::new();
                    use_tree(&tokens, &mut i, &[], &mut leaves);
                    for (path, bound) in leaves {
                        let Some(absolute) = absolute(&here, &path, src) else {
                            continue;
                        };
                        if public && inline.is_empty() {
                            reexports.insert(bound, absolute.clone());
                            // A module re-exporting its own descendants is
                            // their facade; callers are checked against them.
                            if absolute.starts_with(&module) && absolute.len() > module.len() {
                                continue;
                            }
                        }
                        uses.push(absolute);
                    }
                }
                Token::Ident(first) => {
                    let mut path = vec![first.clone()];
                    let mut j = i + 1;
                    while let (Some(Token::PathSep), Some(Token::Ident(next))) =
                        (tokens.get(j), tokens.get(j + 1))
                    {
                        path.push(next.clone());
                        j += 2;
                    }
                    let after_sep = i > 0 && tokens[i - 1] == Token::PathSep;
                    if path.len() > 1 && !after_sep {
                        if let Some(absolute) = absolute(&here, &path, src) {
                            uses.push(absolute);
                        }
                    }
                    i = j;
                }
                _ => i += 1,
            }
        }
        SourceFile {
            name: name.to_string(),
            uses,
            reexports,
        }
    }
}

/// The module a file under `src/` defines.
fn module_of(name: &str) -> ModulePath {
    let trimmed = name
        .trim_end_matches(".rs")
        .trim_end_matches("/mod")
        .trim_end_matches("lib");
    trimmed
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `path` as written in module `here`, made absolute; `None` for paths
/// outside this crate (std, dependencies) and for local names.
fn absolute(here: &[String], path: &[String], src: &Path) -> Option<ModulePath> {
    let mut base: ModulePath = here.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            // A relative path counts only when it names a child module.
            let child: ModulePath = here.iter().cloned().chain([first.to_string()]).collect();
            if file_of(&child, src).is_none() {
                return None;
            }
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file that defines `module`, if one does.
fn file_of(module: &[String], src: &Path) -> Option<String> {
    if module.is_empty() {
        return Some("lib.rs".into());
    }
    let joined = module.join("/");
    [format!("{joined}.rs"), format!("{joined}/mod.rs")]
        .into_iter()
        .find(|candidate| src.join(candidate).is_file())
}

/// Where `path` is defined: the file of its longest module prefix, after
/// following that module's re-exports.
fn defining_file(
    path: &[String],
    files: &BTreeMap<String, SourceFile>,
    src: &Path,
) -> Option<String> {
    let mut path = path.to_vec();
    for _ in 0..16 {
        let length = (0..=path.len())
            .rev()
            .find(|&n| file_of(&path[..n], src).is_some())?;
        let file = file_of(&path[..length], src)?;
        let followed = path
            .get(length)
            .and_then(|name| files.get(&file)?.reexports.get(name));
        match followed {
            Some(target) if *target != path[..=length] => {
                let mut next = target.clone();
                next.extend(path[length + 1..].iter().cloned());
                path = next;
            }
            _ => return Some(file),
        }
    }
    None
}

fn source_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let mut entries: Vec<_> = fs::read_dir(dir).expect("src reads").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            source_files(&entry.path(), &format!("{name}/"), out);
        } else if name.ends_with(".rs") {
            out.push(name);
        }
    }
}

#[test]
fn no_file_uses_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut names = Vec::new();
    source_files(&src, "", &mut names);
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| n != "lib.rs" && !n.starts_with("tests/") && n != "tests.rs")
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
