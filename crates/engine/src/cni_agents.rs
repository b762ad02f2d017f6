//! Reading the CNI from its agent pods (images, container names, arguments,
//! well-known labels), and combining every pod's signal into the cluster's.

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::cni::{Capability, CniKind, CniSignal, CniStatus};
use crate::model::Labels;

/// How each CNI (besides Calico, Flannel and Canal) is recognised, in the
/// order probed: a fragment of an image repository, or a label.
const MARKERS: [(CniKind, &str, (&str, &str)); 11] = [
    (CniKind::GkeDataplaneV2, "anetd", ("k8s-app", "anetd")),
    (CniKind::Cilium, "cilium/cilium", ("k8s-app", "cilium")),
    (CniKind::WeaveNet, "weaveworks/weave", ("name", "weave-net")),
    (CniKind::Antrea, "antrea", ("component", "antrea-agent")),
    (
        CniKind::KubeRouter,
        "kube-router",
        ("k8s-app", "kube-router"),
    ),
    (
        CniKind::OvnKubernetes,
        "ovn-kubernetes",
        ("app", "ovnkube-node"),
    ),
    (CniKind::KubeOvn, "kube-ovn", ("app", "kube-ovn-cni")),
    (CniKind::AzureNpm, "azure-npm", ("k8s-app", "azure-npm")),
    (
        CniKind::AwsVpcCni,
        "amazon-k8s-cni",
        ("k8s-app", "aws-node"),
    ),
    (CniKind::AzureCns, "azure-cns", ("k8s-app", "azure-cns")),
    // Only recent kindnet releases enforce NetworkPolicy; the image alone cannot tell.
    (CniKind::Kindnet, "kindnet", ("app", "kindnet")),
];

/// Reads one pod (or pod template). Images are matched on their repository
/// path, so registry mirrors and tags do not matter.
pub fn detect(labels: &Labels, spec: Option<&PodSpec>) -> Option<CniSignal> {
    let containers: Vec<&Container> = spec
        .map(|s| {
            s.containers
                .iter()
                .chain(s.init_containers.iter().flatten())
                .collect()
        })
        .unwrap_or_default();
    // Repository paths once per pod: detection probes them many times.
    let images: Vec<(&str, String)> = containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .map(|image| (image, repository(image)))
        .collect();
    let image_has = |needle: &str| {
        images
            .iter()
            .find(|(_, repo)| repo.contains(needle))
            .map(|(image, _)| format!("image {image}"))
    };
    let container_named = |name: &str| containers.iter().any(|c| c.name == name);
    let label_is = |key: &str, value: &str| {
        (labels.get(key).map(String::as_str) == Some(value)).then(|| format!("label {key}={value}"))
    };
    let signal = |kind, enforces, reason: String| {
        Some(CniSignal {
            kind,
            enforces,
            reason,
        })
    };

    let calico = image_has("calico/node").or_else(|| label_is("k8s-app", "calico-node"));
    let flannel = image_has("flannel").or_else(|| label_is("app", "flannel"));
    if let Some(reason) = label_is("k8s-app", "canal") {
        return signal(CniKind::Canal, Capability::True, reason);
    }
    match (calico, flannel) {
        (Some(c), Some(f)) => return signal(CniKind::Canal, Capability::True, format!("{c}, {f}")),
        (Some(c), None) => return signal(CniKind::Calico, Capability::True, c),
        (None, Some(f)) => return signal(CniKind::Flannel, Capability::False, f),
        (None, None) => {}
    }
    let (kind, reason) = MARKERS.iter().find_map(|(kind, needle, (key, value))| {
        image_has(needle)
            .or_else(|| label_is(key, value))
            .map(|reason| (*kind, reason))
    })?;
    // Setups that switch enforcement off (or, for AWS, on).
    let enforces = match kind {
        CniKind::Cilium if has_arg(spec, "--enable-policy", "never") => Capability::False,
        CniKind::KubeRouter if has_arg(spec, "--run-firewall", "false") => Capability::False,
        CniKind::WeaveNet if !container_named("weave-npc") && image_has("weave-npc").is_none() => {
            Capability::False
        }
        CniKind::AwsVpcCni
            if image_has("aws-network-policy-agent").is_some()
                && has_arg(spec, "--enable-network-policy", "true") =>
        {
            Capability::True
        }
        kind => kind.usual_capability(),
    };
    signal(kind, enforces, reason)
}

/// `registry.example.com:5000/calico/node:v3.27@sha256:..` -> `calico/node`.
fn repository(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or_default();
    let mut parts: Vec<&str> = without_digest.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0);
    }
    let path = parts.join("/");
    let without_tag = match path.rsplit_once(':') {
        Some((repo, _tag)) => repo.to_string(),
        None => path,
    };
    without_tag.to_ascii_lowercase()
}

/// Whether any container passes `flag=value` or `flag value` on its command line.
fn has_arg(spec: Option<&PodSpec>, flag: &str, value: &str) -> bool {
    let Some(spec) = spec else { return false };
    spec.containers.iter().any(|c| {
        let args: Vec<&String> = c
            .command
            .iter()
            .flatten()
            .chain(c.args.iter().flatten())
            .collect();
        args.iter().enumerate().any(|(i, arg)| {
            arg.as_str() == format!("{flag}={value}")
                || (arg.as_str() == flag
                    && args.get(i + 1).is_some_and(|next| next.as_str() == value))
        })
    })
}

/// Combines every pod's signal: any enforcing agent makes the cluster capable
/// (Flannel plus Calico is Canal); only non-enforcing ones make it not capable.
pub fn combine<'a>(signals: impl IntoIterator<Item = (&'a str, &'a CniSignal)>) -> CniStatus {
    let mut kinds: Vec<(CniKind, Capability)> = Vec::new();
    let mut evidence: Vec<String> = Vec::new();
    let mut more = 0usize;
    for (pod, signal) in signals {
        if !kinds.iter().any(|(k, _)| *k == signal.kind) {
            kinds.push((signal.kind, signal.enforces));
            if evidence.len() < 4 {
                evidence.push(format!("pod {pod}: {}", signal.reason));
            } else {
                more += 1;
            }
        }
    }
    if kinds.is_empty() {
        return CniStatus {
            name: "unknown".into(),
            capable: Capability::Unknown,
            evidence: "no known CNI agent pod found".into(),
        };
    }
    let has = |kind| kinds.iter().any(|(k, _)| *k == kind);
    if has(CniKind::Calico) && has(CniKind::Flannel) {
        kinds.retain(|(k, _)| !matches!(k, CniKind::Calico | CniKind::Flannel));
        kinds.push((CniKind::Canal, Capability::True));
    }
    kinds.sort_by_key(|(kind, capable)| (*capable != Capability::True, *kind));
    let capable = if kinds.iter().any(|(_, c)| *c == Capability::True) {
        Capability::True
    } else if kinds.iter().all(|(_, c)| *c == Capability::False) {
        Capability::False
    } else {
        Capability::Unknown
    };
    let name = kinds
        .iter()
        .map(|(k, _)| k.name())
        .collect::<Vec<_>>()
        .join("+");
    if more > 0 {
        evidence.push(format!("and {more} more"));
    }
    CniStatus {
        name,
        capable,
        evidence: evidence.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(images: &[(&str, &str)]) -> PodSpec {
        PodSpec {
            containers: images
                .iter()
                .map(|(name, image)| Container {
                    name: name.to_string(),
                    image: Some(image.to_string()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn detect_images(images: &[(&str, &str)]) -> Option<CniSignal> {
        detect(&Labels::new(), Some(&spec(images)))
    }

    #[test]
    fn calico_node_image_behind_a_mirror_is_capable() {
        let s = detect_images(&[("calico-node", "mirror.example.com:5000/calico/node:v3.27.0")])
            .unwrap();
        assert_eq!((s.kind, s.enforces), (CniKind::Calico, Capability::True));
    }

    #[test]
    fn flannel_alone_is_not_capable() {
        let s = detect_images(&[("kube-flannel", "docker.io/flannel/flannel:v0.25.1")]).unwrap();
        assert_eq!((s.kind, s.enforces), (CniKind::Flannel, Capability::False));
        let status = combine([("kube-flannel/kube-flannel-ds-x", &s)]);
        assert_eq!(status.capable, Capability::False);
        assert_eq!(status.name, "flannel");
    }

    #[test]
    fn canal_pod_with_flannel_and_calico_is_capable() {
        let s = detect_images(&[
            ("calico-node", "calico/node:v3.27.0"),
            ("kube-flannel", "flannel/flannel:v0.25.1"),
        ])
        .unwrap();
        assert_eq!((s.kind, s.enforces), (CniKind::Canal, Capability::True));
    }

    #[test]
    fn flannel_and_calico_in_separate_pods_combine_to_canal() {
        let f = detect_images(&[("f", "flannel/flannel:v1")]).unwrap();
        let c = detect_images(&[("c", "calico/node:v3")]).unwrap();
        let status = combine([("a", &f), ("b", &c)]);
        assert_eq!(
            (status.name.as_str(), status.capable),
            ("canal", Capability::True)
        );
    }

    #[test]
    fn aws_vpc_cni_needs_its_policy_agent_enabled() {
        let plain = detect_images(&[(
            "aws-node",
            "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18",
        )])
        .unwrap();
        assert_eq!(plain.enforces, Capability::False);
        let mut with_agent = spec(&[
            (
                "aws-node",
                "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.18",
            ),
            (
                "aws-eks-nodeagent",
                "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.1",
            ),
        ]);
        with_agent.containers[1].args = Some(vec!["--enable-network-policy=true".into()]);
        let s = detect(&Labels::new(), Some(&with_agent)).unwrap();
        assert_eq!(s.enforces, Capability::True);
    }

    #[test]
    fn cilium_with_policy_enforcement_never_is_not_capable() {
        let mut s = spec(&[("cilium-agent", "quay.io/cilium/cilium:v1.16.0")]);
        s.containers[0].args = Some(vec!["--enable-policy=never".into()]);
        assert_eq!(
            detect(&Labels::new(), Some(&s)).unwrap().enforces,
            Capability::False
        );
    }

    #[test]
    fn weave_net_needs_its_policy_controller() {
        let with = detect_images(&[
            ("weave", "weaveworks/weave-kube:2.8.1"),
            ("weave-npc", "weaveworks/weave-npc:2.8.1"),
        ])
        .unwrap();
        assert_eq!(
            (with.kind, with.enforces),
            (CniKind::WeaveNet, Capability::True)
        );
        let without = detect_images(&[("weave", "weaveworks/weave-kube:2.8.1")]).unwrap();
        assert_eq!(without.enforces, Capability::False);
    }

    #[test]
    fn kube_router_with_its_firewall_off_is_not_capable() {
        let mut s = spec(&[(
            "kube-router",
            "docker.io/cloudnativelabs/kube-router:v2.1.0",
        )]);
        assert_eq!(
            detect(&Labels::new(), Some(&s)).unwrap().enforces,
            Capability::True
        );
        s.containers[0].args = Some(vec!["--run-firewall".into(), "false".into()]);
        assert_eq!(
            detect(&Labels::new(), Some(&s)).unwrap().enforces,
            Capability::False
        );
    }

    #[test]
    fn gke_dataplane_v2_is_capable() {
        let labels = Labels::from([("k8s-app".to_string(), "anetd".to_string())]);
        let s = detect(&labels, None).unwrap();
        assert_eq!(
            (s.kind, s.enforces),
            (CniKind::GkeDataplaneV2, Capability::True)
        );
    }

    #[test]
    fn nothing_recognised_is_unknown_never_capable() {
        assert!(detect_images(&[("web", "nginx:1.27")]).is_none());
        assert_eq!(combine([]).capable, Capability::Unknown);
        let kindnet =
            detect_images(&[("kindnet-cni", "docker.io/kindest/kindnetd:v20240513")]).unwrap();
        assert_eq!(combine([("p", &kindnet)]).capable, Capability::Unknown);
    }

    #[test]
    fn an_enforcing_agent_beside_a_non_enforcing_one_makes_the_cluster_capable() {
        let aws = detect_images(&[("aws-node", "amazon-k8s-cni:v1")]).unwrap();
        let calico = detect_images(&[("calico-node", "calico/node:v3")]).unwrap();
        let status = combine([("a", &aws), ("b", &calico)]);
        assert_eq!(status.capable, Capability::True);
        assert_eq!(status.name, "calico+aws-vpc-cni");
    }
}
