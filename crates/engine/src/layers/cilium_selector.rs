//! Cilium endpoint selectors: label keys with Cilium's sources (`k8s:`,
//! `any:`), and namespace labels, sorted into a pod and a namespace selector.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use serde::Deserialize;
use serde_json::Value;

use super::{LabelMatch, PodSet, Scope};
use crate::model::NAMESPACE_NAME_LABEL;
use crate::validate::compile_selector;

const NAMESPACE_KEY: &str = "io.kubernetes.pod.namespace";
const NAMESPACE_LABELS_PREFIX: &str = "io.cilium.k8s.namespace.labels.";

/// A Cilium endpoint selector as a pod set: namespace labels go to the
/// namespace selector; a namespaced policy's selector without one means
/// its own namespace.
pub(super) fn endpoints(value: &Value, field: &str, own: Option<&str>) -> Result<PodSet, String> {
    let selector = if value.is_null() {
        LabelSelector::default()
    } else {
        LabelSelector::deserialize(value).map_err(|e| format!("{field}: {e}"))?
    };
    let mut pods = LabelSelector::default();
    let mut namespaces = LabelSelector::default();
    for (key, value) in selector.match_labels.unwrap_or_default() {
        let (target, key) = split(&key, field, &mut pods, &mut namespaces)?;
        target
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(key, value);
    }
    for requirement in selector.match_expressions.unwrap_or_default() {
        let (target, key) = split(&requirement.key, field, &mut pods, &mut namespaces)?;
        target
            .match_expressions
            .get_or_insert_with(Default::default)
            .push(LabelSelectorRequirement { key, ..requirement });
    }
    let namespace_given = namespaces != LabelSelector::default();
    let scope = match own {
        Some(namespace) if !namespace_given => Scope::Named(namespace.to_string()),
        _ => Scope::Selected(LabelMatch::Kube(compile_selector(&namespaces, field)?)),
    };
    Ok(PodSet {
        namespaces: scope,
        pods: LabelMatch::Kube(compile_selector(&pods, field)?),
    })
}

/// Which selector a Cilium label key belongs to, and its Kubernetes key.
fn split<'s>(
    key: &str,
    field: &str,
    pods: &'s mut LabelSelector,
    namespaces: &'s mut LabelSelector,
) -> Result<(&'s mut LabelSelector, String), String> {
    let bare = key
        .strip_prefix("k8s:")
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key);
    if bare == NAMESPACE_KEY {
        return Ok((namespaces, NAMESPACE_NAME_LABEL.to_string()));
    }
    if let Some(label) = bare.strip_prefix(NAMESPACE_LABELS_PREFIX) {
        return Ok((namespaces, label.to_string()));
    }
    if bare.contains(':') || bare.starts_with("io.cilium.") {
        return Err(format!("{field}: label {key:?} is not evaluated"));
    }
    Ok((pods, bare.to_string()))
}
