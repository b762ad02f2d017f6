//! Reading the engine's source for the stages test: comments and literals
//! stripped, `use` trees flattened, paths made absolute and followed
//! through `pub use` re-exports to the file that defines them.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

pub(crate) type ModulePath = Vec<String>;

/// One source file as this test reads it.
pub(crate) struct SourceFile {
    /// Path relative to `src/`, for messages.
    pub(crate) name: String,
    /// Every path the file names, resolved to absolute form, with the
    /// inline module it appears in (so `super` resolves from there).
    pub(crate) uses: Vec<ModulePath>,
    /// `pub use` items: the name it exports and the absolute path it names.
    pub(crate) reexports: BTreeMap<String, ModulePath>,
}

#[derive(Debug, PartialEq)]
pub(crate) enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Source text without comments, strings and character literals.
pub(crate) fn strip(source: &str) -> String {
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
pub(crate) fn raw_string(chars: &[char], i: usize) -> bool {
    let preceded_by_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    !preceded_by_ident && chars.get(j) == Some(&'"')
}

/// The index of the closing quote of a character literal starting at `i`,
/// or `None` for a lifetime.
pub(crate) fn char_literal_end(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\\') {
        (i + 2..chars.len()).find(|&j| chars[j] == '\'')
    } else if chars.get(i + 2) == Some(&'\'') {
        Some(i + 2)
    } else {
        None
    }
}

pub(crate) fn tokens(text: &str) -> Vec<Token> {
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
pub(crate) fn use_tree(
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
    pub(crate) fn read(src: &Path, name: &str) -> Self {
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
                    if path.len() > 1
                        && !after_sep
                        && let Some(absolute) = absolute(&here, &path, src)
                    {
                        uses.push(absolute);
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
pub(crate) fn module_of(name: &str) -> ModulePath {
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
pub(crate) fn absolute(here: &[String], path: &[String], src: &Path) -> Option<ModulePath> {
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
            file_of(&child, src)?;
        }
        None => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The file that defines `module`, if one does.
pub(crate) fn file_of(module: &[String], src: &Path) -> Option<String> {
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
pub(crate) fn defining_file(
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

pub(crate) fn source_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
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
