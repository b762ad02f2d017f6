//! The mutual TLS mode each pod gets from the PeerAuthentications of its
//! workload, namespace and the mesh root namespace.

use crate::cluster::{Cluster, NamespaceState};
use crate::mesh::{MtlsMode, PeerAuthentication};
use crate::model::Pod;
use crate::settings::Settings;

/// Which PeerAuthentication decides a pod's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source<'a> {
    Workload(&'a str),
    Namespace(&'a str),
    /// In the root namespace.
    Mesh(&'a str),
    /// No PeerAuthentication sets a mode.
    Default,
}

/// A pod's effective mTLS mode and what decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decision<'a> {
    pub mode: MtlsMode,
    pub source: Source<'a>,
    /// Ports whose mode (portLevelMtls) is weaker than STRICT while `mode` is STRICT.
    pub weaker_ports: Vec<(u32, MtlsMode)>,
}

/// What every namespace's mTLS verdict shares, when Istio is installed.
pub(crate) struct Mesh<'a> {
    /// The root namespace, whose PeerAuthentication without selector is mesh-wide.
    pub root_namespace: &'a str,
    /// With several, Istio takes the oldest; here the first by name.
    pub wide: Option<&'a PeerAuthentication>,
}

impl<'a> Mesh<'a> {
    pub fn find(cluster: &'a Cluster, settings: &'a Settings) -> Option<Self> {
        let root_namespace = settings.mesh_root_namespace.as_str();
        cluster.istio_installed().then(|| Mesh {
            root_namespace,
            wide: cluster.namespace(root_namespace).and_then(namespace_wide),
        })
    }
}

fn namespace_wide(state: &NamespaceState) -> Option<&PeerAuthentication> {
    state
        .peer_authentications
        .values()
        .find(|p| p.selector.is_none())
}

/// The mode a pod of `state` gets, level by level.
pub(crate) fn decide<'a>(state: &'a NamespaceState, mesh: &Mesh<'a>, pod: &Pod) -> Decision<'a> {
    let workload = state.peer_authentications.values().find(|p| p.selects(pod));
    let namespace = namespace_wide(state);
    let levels = [
        workload.map(|p| (p.mode, Source::Workload(p.name.as_str()))),
        namespace.map(|p| (p.mode, Source::Namespace(p.name.as_str()))),
        mesh.wide.map(|p| (p.mode, Source::Mesh(p.name.as_str()))),
    ];
    let (mode, source) = levels
        .into_iter()
        .flatten()
        .find(|(mode, _)| *mode != MtlsMode::Unset)
        .unwrap_or((MtlsMode::Permissive, Source::Default));
    let weaker_ports = match workload {
        Some(policy) if mode == MtlsMode::Strict => policy
            .ports
            .iter()
            .filter(|(_, m)| !matches!(m, MtlsMode::Strict | MtlsMode::Unset))
            .copied()
            .collect(),
        _ => Vec::new(),
    };
    Decision {
        mode,
        source,
        weaker_ports,
    }
}
