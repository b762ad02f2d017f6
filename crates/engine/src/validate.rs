//! The subset of the API server's validation that decides whether an object
//! would have been admitted. Offline input is held to the same rules, so a
//! manifest the server would reject never silently changes a verdict.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube_core::Selector;

/// A DNS-1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric.
pub fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// A DNS-1035 label, as Service names are: a DNS-1123 label starting with a letter.
pub fn is_dns_1035_label(value: &str) -> bool {
    is_dns_label(value) && value.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters.
pub fn is_dns_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_dns_label)
}

/// The name part of a qualified name (and a label value when non-empty).
fn is_qualified_name_part(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A label key: an optional DNS-subdomain prefix and '/', then a name part.
pub fn label_key_error(key: &str) -> Option<String> {
    let valid = match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty() && is_dns_subdomain(prefix) && is_qualified_name_part(name)
        }
        None => is_qualified_name_part(key),
    };
    (!valid).then(|| format!("invalid label key {key:?}"))
}

pub fn label_value_error(value: &str) -> Option<String> {
    let valid = value.is_empty() || is_qualified_name_part(value);
    (!valid).then(|| format!("invalid label value {value:?}"))
}

/// An IANA service name, as used for named container ports (at most 15
/// characters, lowercase alphanumerics and '-', at least one letter, no '--').
pub fn port_name_error(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!valid).then(|| format!("invalid port name {name:?}: must be an IANA service name"))
}

pub fn port_number_error(port: i32) -> Option<String> {
    (!(1..=65535).contains(&port)).then(|| format!("port {port} is out of range 1-65535"))
}

pub fn labels_errors<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Vec<String> {
    labels
        .into_iter()
        .flat_map(|(k, v)| label_key_error(k).into_iter().chain(label_value_error(v)))
        .collect()
}

/// Validates a label selector as the API server does, then compiles it with
/// kube-core's matcher. `field` names the selector in error messages.
pub fn compile_selector(selector: &LabelSelector, field: &str) -> Result<Selector, String> {
    let mut errors = Vec::new();
    if let Some(labels) = &selector.match_labels {
        errors.extend(labels_errors(labels));
    }
    for requirement in selector.match_expressions.iter().flatten() {
        errors.extend(label_key_error(&requirement.key));
        let values = requirement.values.as_deref().unwrap_or_default();
        match requirement.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errors.push(format!(
                "operator {} on key {:?} needs at least one value",
                requirement.operator, requirement.key
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errors.push(format!(
                "operator {} on key {:?} takes no values",
                requirement.operator, requirement.key
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errors.push(format!(
                "unknown operator {other:?} on key {:?} (expected In, NotIn, Exists or DoesNotExist)",
                requirement.key
            )),
        }
        errors.extend(values.iter().filter_map(|v| label_value_error(v)));
    }
    if !errors.is_empty() {
        return Err(format!("{field}: {}", errors.join("; ")));
    }
    Selector::try_from(selector.clone()).map_err(|e| format!("{field}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn requirement(key: &str, operator: &str, values: Option<&[&str]>) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: operator.into(),
                values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
            }]),
            match_labels: None,
        }
    }

    #[test]
    fn unknown_selector_operator_is_rejected_with_its_name() {
        let err = compile_selector(
            &requirement("app", "Equals", Some(&["x"])),
            "spec.podSelector",
        )
        .unwrap_err();
        assert!(
            err.contains("Equals") && err.contains("spec.podSelector"),
            "{err}"
        );
    }

    #[test]
    fn in_without_values_is_rejected() {
        assert!(compile_selector(&requirement("app", "In", Some(&[])), "s").is_err());
        assert!(compile_selector(&requirement("app", "NotIn", None), "s").is_err());
    }

    #[test]
    fn exists_with_values_is_rejected() {
        assert!(compile_selector(&requirement("app", "Exists", Some(&["x"])), "s").is_err());
    }

    #[test]
    fn valid_selector_compiles() {
        assert!(compile_selector(&requirement("app", "In", Some(&["web", "api"])), "s").is_ok());
        assert!(
            compile_selector(&requirement("example.com/tier", "DoesNotExist", None), "s").is_ok()
        );
    }

    #[test]
    fn label_keys_follow_qualified_name_rules() {
        assert!(label_key_error("app.kubernetes.io/name").is_none());
        assert!(label_key_error("-bad").is_some());
        assert!(label_key_error("/name").is_some());
        assert!(label_key_error("Example.com/name").is_some());
    }

    #[test]
    fn port_names_follow_iana_service_name_rules() {
        assert!(port_name_error("dns-tcp").is_none());
        assert!(port_name_error("53").is_some());
        assert!(port_name_error("a--b").is_some());
        assert!(port_name_error("much-too-long-port-name").is_some());
        assert!(port_name_error("HTTP").is_some());
    }
}
