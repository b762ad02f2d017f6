//! Where manifest objects were read (file, YAML document, line), so results
//! in SARIF and JUnit can point at the object behind them. Check evidence
//! names objects as `kind/name` (`networkpolicy/deny-all`, `pod/web-1`,
//! `pod/deployment/web` for a workload's template); those names are looked
//! up here.

use std::sync::OnceLock;

use crate::input::manifests::Origin;

/// Objects by lowercase kind, namespace (empty for a Namespace) and name,
/// joined into one key. Every object read is recorded, but only SARIF and
/// JUnit output look one up: the lookup order is built at the first lookup.
#[derive(Debug, Default)]
pub struct Locations {
    /// In the order read.
    read: Vec<(Box<str>, Origin)>,
    /// Positions in `read`, by key, the first read first.
    by_key: OnceLock<Vec<usize>>,
}

/// The key of `kind namespace/name`; NUL appears in no Kubernetes name.
fn key(kind: &str, namespace: &str, name: &str) -> Box<str> {
    let mut key = String::with_capacity(kind.len() + namespace.len() + name.len() + 2);
    key.extend(kind.chars().map(|c| c.to_ascii_lowercase()));
    for part in [namespace, name] {
        key.push('\0');
        key.push_str(part);
    }
    key.into_boxed_str()
}

impl Locations {
    /// Records `kind namespace/name`; namespaced objects without a namespace
    /// land in `default`, as kubectl applies them. The first read wins.
    pub fn insert(&mut self, kind: &str, namespace: Option<&str>, name: &str, origin: &Origin) {
        let namespace = match (kind, namespace) {
            ("Namespace", _) => "",
            (_, Some(namespace)) => namespace,
            (_, None) => "default",
        };
        self.read.push((key(kind, namespace, name), origin.clone()));
        self.by_key.take();
    }

    fn get(&self, key: &str) -> Option<&Origin> {
        let by_key = self.by_key.get_or_init(|| {
            let mut positions: Vec<usize> = (0..self.read.len()).collect();
            // Stable: of one key, the first read stays first.
            positions.sort_by(|a, b| self.read[*a].0.cmp(&self.read[*b].0));
            positions
        });
        let first = by_key.partition_point(|at| &*self.read[*at].0 < key);
        by_key
            .get(first)
            .map(|at| &self.read[*at])
            .filter(|(found, _)| &**found == key)
            .map(|(_, origin)| origin)
    }

    /// Where the Namespace object `name` was read.
    pub fn namespace(&self, name: &str) -> Option<&Origin> {
        self.get(&key("namespace", "", name))
    }

    /// The first evidence item of `namespace` that names an object read
    /// from a manifest, and where it was read.
    pub fn of_evidence<'a>(
        &self,
        namespace: &str,
        evidence: impl IntoIterator<Item = &'a String>,
    ) -> Option<(String, &Origin)> {
        evidence.into_iter().find_map(|item| {
            let reference = item.split_whitespace().next()?;
            let (kind, name) = reference.split_once('/')?;
            // A workload's template stands as `pod/KIND/NAME`.
            let (kind, name) = match (kind, name.split_once('/')) {
                ("pod", Some((workload, name))) => (workload, name),
                _ => (kind, name),
            };
            let name = name.trim_end_matches([':', ',', ';']);
            self.get(&key(kind, namespace, name))
                .map(|origin| (format!("{kind}/{name}"), origin))
        })
    }
}

/// The 1-based line where each YAML document of `text` starts, in order:
/// the first line of content before any `---`, then the line after each
/// `---` separator. Blank lines, comments and directives are no content.
pub fn document_lines(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut implicit_first = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let separator = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if separator {
            starts.push(number + 1);
        } else if starts.is_empty() && implicit_first.is_none() {
            let trimmed = line.trim();
            let content =
                !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('%');
            if content {
                implicit_first = Some(number);
            }
        }
    }
    if let Some(first) = implicit_first {
        starts.insert(0, first);
    }
    starts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::manifests::Manifests;

    #[test]
    fn each_document_starts_after_its_separator() {
        let text = "# comment\n\napiVersion: v1\nkind: Namespace\n---\nkind: Pod\n---\n---\nkind: Service\n";
        assert_eq!(document_lines(text), [3, 6, 8, 9]);
        assert_eq!(document_lines("---\nkind: Pod\n"), [2]);
        assert!(document_lines("").is_empty());
    }

    #[test]
    fn manifests_record_the_line_of_each_object() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# the web pod\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: a}\nspec: {selector: {matchLabels: {app: api}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c, image: i}]}}}\n";
        let manifests = Manifests::from_text(text).unwrap();
        let locations = &manifests.locations;
        assert_eq!(locations.namespace("a").and_then(|o| o.line), Some(1));
        let evidence = ["pod/web".to_string()];
        let (object, origin) = locations.of_evidence("a", &evidence).unwrap();
        assert_eq!((object.as_str(), origin.line), ("pod/web", Some(5)));
        let evidence = ["pod/deployment/api: no ingress policy".to_string()];
        let (object, origin) = locations.of_evidence("a", &evidence).unwrap();
        assert_eq!((object.as_str(), origin.line), ("deployment/api", Some(11)));
        assert!(
            locations.of_evidence("b", &evidence).is_none(),
            "another namespace"
        );
    }
}
