//! `mesh-mtls`: Istio's effective mutual TLS mode per pod (workload >
//! namespace > mesh-wide > PERMISSIVE) and sidecar injection.

use super::*;
use crate::mesh::{MtlsMode, PeerAuthentication};
use crate::posture::{Check, CheckStatus, Severity, ids};

const ISTIOD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: istiod-1, namespace: istio-system, labels: {app: istiod}}\nspec: {containers: [{name: discovery, image: 'istio/pilot:1.22.0'}]}\n---\n";
const INJECTED: &str = "istio-injection: enabled";
const STRICT: &str = "{mtls: {mode: STRICT}}";
const PERMISSIVE: &str = "{mtls: {mode: PERMISSIVE}}";

fn mtls(cluster: &Cluster, namespace: &str) -> Check {
    posture(cluster, namespace)
        .check(ids::MESH_MTLS)
        .unwrap()
        .clone()
}

fn mesh(extra: &str) -> Cluster {
    cluster(&format!(
        "{ISTIOD}{}{}{extra}",
        namespace("a", INJECTED),
        pod("a", "web", "app: web")
    ))
}

#[test]
fn without_istio_the_check_does_not_apply() {
    let c = cluster(&format!(
        "{}{}",
        namespace("a", INJECTED),
        pod("a", "web", "app: web")
    ));
    assert_eq!(mtls(&c, "a").status, CheckStatus::NotApplicable);
}

#[test]
fn no_peer_authentication_is_permissive_by_default_and_fails() {
    let check = mtls(&mesh(""), "a");
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::Medium);
    assert_eq!(
        check.evidence,
        ["no PeerAuthentication: PERMISSIVE by default for 1 injected pod(s)"]
    );
    assert!(!check.remediation.is_empty());
}

#[test]
fn mesh_wide_strict_in_the_root_namespace_passes() {
    let c = mesh(&peer_authentication("istio-system", "default", STRICT));
    let check = mtls(&c, "a");
    assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
}

#[test]
fn peer_authentication_alone_tells_istio_is_installed() {
    let c = cluster(&format!(
        "{}{}{}",
        namespace("a", INJECTED),
        pod("a", "web", "app: web"),
        peer_authentication("istio-system", "default", STRICT)
    ));
    assert_eq!(mtls(&c, "a").status, CheckStatus::Pass);
}

#[test]
fn namespace_policy_overrides_mesh_wide() {
    let c = mesh(&format!(
        "{}{}",
        peer_authentication("istio-system", "default", STRICT),
        peer_authentication("a", "legacy", PERMISSIVE)
    ));
    let check = mtls(&c, "a");
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(
        check.evidence,
        ["peerauthentication/legacy (namespace-wide): PERMISSIVE for 1 injected pod(s)"]
    );
}

#[test]
fn workload_policy_overrides_namespace_policy() {
    let c = mesh(&format!(
        "{}{}",
        peer_authentication("a", "default", STRICT),
        peer_authentication(
            "a",
            "web-plain",
            "{selector: {matchLabels: {app: web}}, mtls: {mode: DISABLE}}"
        )
    ));
    assert_eq!(
        mtls(&c, "a").evidence,
        ["peerauthentication/web-plain (workload): DISABLE for 1 injected pod(s)"]
    );
}

#[test]
fn unset_mode_inherits_from_the_level_above() {
    let c = mesh(&format!(
        "{}{}",
        peer_authentication("istio-system", "default", PERMISSIVE),
        peer_authentication("a", "default", "{mtls: {mode: UNSET}}")
    ));
    assert_eq!(
        mtls(&c, "a").evidence,
        ["peerauthentication/istio-system/default (mesh-wide): PERMISSIVE for 1 injected pod(s)"]
    );
}

#[test]
fn mesh_root_namespace_comes_from_the_settings() {
    let c = mesh(&peer_authentication("mesh-root", "default", STRICT));
    assert_eq!(
        mtls(&c, "a").status,
        CheckStatus::Fail,
        "not the root by default"
    );
    let settings = Settings {
        mesh_root_namespace: "mesh-root".into(),
        ..Settings::default()
    };
    let p = Evaluator::new(&c, &settings).namespace("a").unwrap();
    assert_eq!(p.check(ids::MESH_MTLS).unwrap().status, CheckStatus::Pass);
}

#[test]
fn port_level_exception_under_strict_warns_with_the_port() {
    let c = mesh(&format!(
        "{}{}",
        peer_authentication("a", "default", STRICT),
        peer_authentication(
            "a",
            "web",
            "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}, portLevelMtls: {'8080': {mode: PERMISSIVE}}}"
        )
    ));
    let check = mtls(&c, "a");
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(
        check.evidence,
        ["peerauthentication/web (workload): port 8080 PERMISSIVE for 1 pod(s)"]
    );
}

#[test]
fn namespace_without_injection_warns_that_mtls_cannot_apply() {
    let c = cluster(&format!(
        "{ISTIOD}{}{}",
        namespace("b", ""),
        pod("b", "web", "app: web")
    ));
    let check = mtls(&c, "b");
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(check.evidence, ["pod/web: no Istio sidecar"]);
}

#[test]
fn injection_follows_namespace_revision_pod_opt_out_and_proxy_container() {
    let c = cluster(&format!(
        "{ISTIOD}{}{}{}{}{}",
        namespace("b", "istio.io/rev: canary"),
        pod("b", "web", "app: web"),
        pod("b", "batch", "app: batch, sidecar.istio.io/inject: 'false'"),
        namespace("c", ""),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: proxied, namespace: c}\nspec: {containers: [{name: app, image: app}, {name: istio-proxy, image: 'istio/proxyv2:1.22.0'}]}\n---\n",
    ));
    let b = mtls(&c, "b");
    assert_eq!(b.status, CheckStatus::Fail, "web is injected, PERMISSIVE");
    assert!(
        b.evidence
            .contains(&"pod/batch: no Istio sidecar".to_string()),
        "{:?}",
        b.evidence
    );
    assert_eq!(
        mtls(&c, "c").evidence,
        ["no PeerAuthentication: PERMISSIVE by default for 1 injected pod(s)"],
        "an istio-proxy container is a sidecar whatever the labels say"
    );
}

#[test]
fn pod_annotation_requests_injection() {
    let c = cluster(&format!(
        "{ISTIOD}{}{}",
        namespace("b", ""),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: b, annotations: {sidecar.istio.io/inject: 'true'}}\nspec: {containers: [{name: app, image: app}]}\n---\n",
    ));
    assert_eq!(mtls(&c, "b").status, CheckStatus::Fail);
}

#[test]
fn peer_authentication_converts_selector_mode_and_ports() {
    let c = cluster(&peer_authentication(
        "a",
        "web",
        "{selector: {matchLabels: {app: web}}, mtls: {mode: STRICT}, portLevelMtls: {'9090': {mode: DISABLE}, '8080': {}}}",
    ));
    assert_eq!(
        c.namespace("a").unwrap().peer_authentications["web"],
        PeerAuthentication {
            name: "web".into(),
            selector: Some([("app".to_string(), "web".to_string())].into()),
            mode: MtlsMode::Strict,
            ports: vec![(8080, MtlsMode::Unset), (9090, MtlsMode::Disable)],
        }
    );
}

#[test]
fn peer_authentication_with_an_unknown_mode_is_rejected_until_fixed() {
    let mut c = cluster(&peer_authentication("a", "p", "{mtls: {mode: STRICTEST}}"));
    let state = c.namespace("a").unwrap();
    assert!(state.peer_authentications.is_empty());
    assert!(
        state.rejected[&("PeerAuthentication", "p".to_string())]
            .reason
            .contains("STRICTEST")
    );
    let fixed: serde_json::Value =
        serde_norway::from_str(&peer_authentication("a", "p", STRICT).replace("---\n", ""))
            .unwrap();
    c.apply_peer_authentication(&fixed);
    assert!(c.namespace("a").unwrap().rejected.is_empty());
    c.delete_peer_authentication("a", "p");
    assert!(c.namespace("a").is_none());
}
