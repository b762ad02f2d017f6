//! Istio: whether it is installed, which pods carry its sidecar, and the
//! mutual TLS mode PeerAuthentications give each pod (workload > namespace >
//! mesh-wide > PERMISSIVE by default, UNSET inheriting from the level above).
//! This file reads pods and PeerAuthentications; `facts/mesh.rs` decides
//! each pod's mode.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::Value;

use crate::convert::Rejected;
use crate::model::{Labels, Pod, Sidecar};

/// Label and annotation by which a pod asks for or refuses the sidecar.
const INJECT: &str = "sidecar.istio.io/inject";
/// Namespace label enabling (or disabling) injection for its pods.
const NAMESPACE_INJECTION: &str = "istio-injection";
/// Namespace label selecting a revisioned control plane, which injects too.
const NAMESPACE_REVISION: &str = "istio.io/rev";
/// The sidecar container's name.
const PROXY_CONTAINER: &str = "istio-proxy";
/// Labels of the control plane (istiod) pods: `app: istiod` (istioctl and
/// Helm), `istio: pilot` (older installs).
const CONTROL_PLANE_LABELS: [(&str, &str); 2] = [("app", "istiod"), ("istio", "pilot")];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MtlsMode {
    /// Inherits from the level above.
    Unset,
    Disable,
    Permissive,
    Strict,
}

impl MtlsMode {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "UNSET" => Some(MtlsMode::Unset),
            "DISABLE" => Some(MtlsMode::Disable),
            "PERMISSIVE" => Some(MtlsMode::Permissive),
            "STRICT" => Some(MtlsMode::Strict),
            _ => None,
        }
    }
}

impl fmt::Display for MtlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MtlsMode::Unset => "UNSET",
            MtlsMode::Disable => "DISABLE",
            MtlsMode::Permissive => "PERMISSIVE",
            MtlsMode::Strict => "STRICT",
        })
    }
}

/// A `security.istio.io` PeerAuthentication (v1beta1 or v1), as far as mTLS goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerAuthentication {
    pub name: String,
    /// `spec.selector.matchLabels`; `None` (or empty) covers the whole
    /// namespace, and in the root namespace the whole mesh.
    pub selector: Option<Labels>,
    pub mode: MtlsMode,
    /// `spec.portLevelMtls`, by port (honoured on workload policies only).
    pub ports: Vec<(u32, MtlsMode)>,
}

impl PeerAuthentication {
    pub(crate) fn selects(&self, pod: &Pod) -> bool {
        self.selector.as_ref().is_some_and(|selector| {
            selector
                .iter()
                .all(|(key, value)| pod.labels.get(key) == Some(value))
        })
    }
}

/// `(namespace, PeerAuthentication)` from the object as JSON; the API server's
/// schema would refuse what is rejected here (an unknown mode, a bad port).
pub fn peer_authentication(object: &Value) -> (String, Result<PeerAuthentication, Rejected>) {
    let metadata = &object["metadata"];
    let namespace = metadata["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let name = metadata["name"].as_str().unwrap_or_default().to_string();
    let spec = &object["spec"];
    let mut errors: Vec<String> = Vec::new();
    let main = mode(&spec["mtls"]["mode"], "spec.mtls.mode")
        .map_err(|e| errors.push(e))
        .unwrap_or(MtlsMode::Unset);
    let mut ports = Vec::new();
    for (port, setting) in spec["portLevelMtls"].as_object().into_iter().flatten() {
        let port_mode = mode(
            &setting["mode"],
            &format!("spec.portLevelMtls[{port}].mode"),
        );
        match (port.parse::<u32>(), port_mode) {
            (Ok(number @ 1..=65535), Ok(port_mode)) => ports.push((number, port_mode)),
            (Ok(1..=65535), Err(e)) => errors.push(e),
            _ => errors.push(format!("spec.portLevelMtls: invalid port {port:?}")),
        }
    }
    ports.sort_unstable_by_key(|(port, _)| *port);
    let selector: Option<Labels> = match &spec["selector"]["matchLabels"] {
        Value::Null => None,
        Value::Object(labels) => {
            let mut selector = Labels::new();
            for (key, value) in labels {
                match value.as_str() {
                    Some(value) => {
                        selector.insert(key.clone(), value.to_string());
                    }
                    None => errors.push(format!(
                        "spec.selector.matchLabels[{key}]: value must be a string"
                    )),
                }
            }
            (!selector.is_empty()).then_some(selector)
        }
        _ => {
            errors.push("spec.selector.matchLabels: must be a map".into());
            None
        }
    };
    let result = if errors.is_empty() {
        Ok(PeerAuthentication {
            name,
            selector,
            mode: main,
            ports,
        })
    } else {
        Err(Rejected {
            kind: "PeerAuthentication",
            name,
            reason: errors.join("; "),
        })
    };
    (namespace, result)
}

/// A `mode` field; absent is UNSET.
fn mode(value: &Value, field: &str) -> Result<MtlsMode, String> {
    match value {
        Value::Null => Ok(MtlsMode::Unset),
        Value::String(text) => MtlsMode::parse(text).ok_or_else(|| {
            format!(
                "{field}: unsupported mode {text:?} (expected UNSET, DISABLE, PERMISSIVE or STRICT)"
            )
        }),
        other => Err(format!("{field}: mode must be a string, not {other}")),
    }
}

/// The pod's own say on its sidecar: an `istio-proxy` container (also as a
/// native sidecar) is decisive; then the label, then the annotation.
pub(crate) fn sidecar(
    labels: &Labels,
    annotations: Option<&BTreeMap<String, String>>,
    spec: Option<&PodSpec>,
) -> Sidecar {
    let proxy = spec.is_some_and(|spec| {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| c.name == PROXY_CONTAINER)
    });
    if proxy {
        return Sidecar::Present;
    }
    let asked = labels
        .get(INJECT)
        .or_else(|| annotations.and_then(|a| a.get(INJECT)));
    match asked.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("true") => Sidecar::Requested,
        Some("false") => Sidecar::Refused,
        _ => Sidecar::Unspecified,
    }
}

/// Whether a pod runs (or will run) with the sidecar, given its namespace's labels.
pub(crate) fn injected(pod: &Pod, namespace_labels: &Labels) -> bool {
    if pod.host_network {
        return false;
    }
    let namespace = namespace_labels
        .get(NAMESPACE_INJECTION)
        .map(String::as_str);
    match pod.sidecar {
        Sidecar::Present => true,
        Sidecar::Refused => false,
        Sidecar::Requested => namespace != Some("disabled"),
        Sidecar::Unspecified => match namespace {
            Some(value) => value == "enabled",
            None => namespace_labels.contains_key(NAMESPACE_REVISION),
        },
    }
}

/// Whether a pod is Istio's control plane; with PeerAuthentications, the
/// one signal that Istio is installed.
pub(crate) fn control_plane(labels: &Labels) -> bool {
    CONTROL_PLANE_LABELS
        .iter()
        .any(|(key, value)| labels.get(*key).is_some_and(|v| v == value))
}
