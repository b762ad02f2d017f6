//! A subset of Calico's selector language: `all()`, `k == 'v'`, `k != 'v'`,
//! `has(k)`, `!has(k)`, `k in {'a', 'b'}`, joined with `&&`. Anything else
//! is refused, so the policy is reported rather than guessed.

use crate::model::Labels;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Has(String),
    HasNot(String),
    In(String, Vec<String>),
}

/// Every term must hold; no term selects everything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr(Vec<Term>);

impl Expr {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Ok(Expr(terms));
        }
        for part in trimmed.split("&&").map(str::trim) {
            if part == "all()" {
                continue;
            }
            terms.push(term(part).ok_or_else(|| {
                format!("selector {text:?}: {part:?} is outside the evaluated subset (all(), ==, !=, has(), !has(), in {{...}}, &&)")
            })?);
        }
        Ok(Expr(terms))
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.iter().all(|term| match term {
            Term::Equals(k, v) => labels.get(k) == Some(v),
            // Calico: a missing label is not equal to any value.
            Term::NotEquals(k, v) => labels.get(k) != Some(v),
            Term::Has(k) => labels.contains_key(k),
            Term::HasNot(k) => !labels.contains_key(k),
            Term::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
        })
    }

    pub fn selects_all(&self) -> bool {
        self.0.is_empty()
    }
}

fn key(text: &str) -> Option<String> {
    let text = text.trim();
    let valid = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    valid.then(|| text.to_string())
}

fn quoted(text: &str) -> Option<String> {
    let text = text.trim();
    ['\'', '"'].into_iter().find_map(|quote| {
        text.strip_prefix(quote)
            .and_then(|t| t.strip_suffix(quote))
            .filter(|inner| !inner.contains(quote))
            .map(str::to_string)
    })
}

fn call<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.strip_prefix(name)?
        .trim()
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn term(text: &str) -> Option<Term> {
    if let Some(inner) = text.strip_prefix('!').and_then(|t| call(t.trim(), "has")) {
        return Some(Term::HasNot(key(inner)?));
    }
    if let Some(inner) = call(text, "has") {
        return Some(Term::Has(key(inner)?));
    }
    if let Some((k, v)) = text.split_once("!=") {
        return Some(Term::NotEquals(key(k)?, quoted(v)?));
    }
    if let Some((k, v)) = text.split_once("==") {
        return Some(Term::Equals(key(k)?, quoted(v)?));
    }
    let (k, set) = text.split_once(" in ")?;
    let inner = set.trim().strip_prefix('{')?.strip_suffix('}')?;
    let values = inner.split(',').map(quoted).collect::<Option<Vec<_>>>()?;
    Some(Term::In(key(k)?, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_subset_parses_and_matches() {
        let expr = Expr::parse(
            "app == 'web' && has(tier) && !has(debug) && env in {'prod', \"stage\"} && team != 'x'",
        )
        .unwrap();
        let web = labels(&[("app", "web"), ("tier", "1"), ("env", "prod")]);
        assert!(expr.matches(&web));
        let mut debug = web.clone();
        debug.insert("debug".into(), "1".into());
        assert!(!expr.matches(&debug));
        assert!(!expr.matches(&labels(&[("app", "web"), ("tier", "1"), ("env", "dev")])));
        assert!(Expr::parse("all()").unwrap().selects_all());
        assert!(Expr::parse("").unwrap().selects_all());
    }

    #[test]
    fn anything_else_is_refused() {
        for text in [
            "a == 'x' || b == 'y'",
            "!(a == 'x')",
            "a contains 'x'",
            "a == x",
            "has(a",
        ] {
            assert!(Expr::parse(text).is_err(), "{text}");
        }
    }
}
