//! Reading pieces the layer APIs share: Kubernetes label selectors and CIDRs
//! inside untyped objects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde_json::Value;

use super::LabelMatch;
use crate::convert::parse_cidr;
use crate::model::IpBlock;
use crate::validate::compile_selector;

/// A Kubernetes label selector; a missing one selects everything, as the
/// APIs that make it optional define.
pub(super) fn kube_selector(value: &Value, field: &str) -> Result<LabelMatch, String> {
    let selector = if value.is_null() {
        LabelSelector::default()
    } else {
        LabelSelector::deserialize(value).map_err(|e| format!("{field}: {e}"))?
    };
    compile_selector(&selector, field).map(LabelMatch::Kube)
}

/// A CIDR peer without exceptions.
pub(super) fn cidr(value: &Value, field: &str) -> Result<IpBlock, String> {
    let text = value
        .as_str()
        .ok_or_else(|| format!("{field}: expected a CIDR string"))?;
    Ok(IpBlock {
        cidr: parse_cidr(text, field)?,
        except: Vec::new(),
    })
}

/// The elements of a list field; a missing field is an empty list.
pub(super) fn list<'v>(value: &'v Value, field: &str) -> Result<&'v [Value], String> {
    match value {
        Value::Null => Ok(&[]),
        Value::Array(items) => Ok(items),
        _ => Err(format!("{field}: expected a list")),
    }
}
