//! Which namespaces an object change reaches: the controller re-evaluates
//! exactly these, so a missed one is a stale report.

mod updates;

use std::collections::BTreeSet;

use super::*;
use crate::impact::Affected;

fn names(list: &[&str]) -> Affected {
    Affected::Namespaces(list.iter().map(|n| n.to_string()).collect())
}

fn three_tenants() -> String {
    format!(
        "{}{}{}{}",
        namespace("a", "team: blue"),
        namespace("b", "team: blue"),
        namespace("c", "team: red"),
        namespace("kube-system", "")
    )
}

#[test]
fn plain_pod_reaches_its_own_namespace_only() {
    let c = cluster(&format!(
        "{}{}",
        three_tenants(),
        pod("a", "web", "app: web")
    ));
    let settings = Settings::default();
    assert_eq!(c.affected_by_pod(&settings, "a", "web"), names(&["a"]));
    // Not yet indexed (an add judged before applying): still its namespace.
    assert_eq!(c.affected_by_pod(&settings, "b", "new"), names(&["b"]));
}

#[test]
fn dns_pod_reaches_every_namespace() {
    let c = cluster(&format!("{}{}", three_tenants(), COREDNS));
    let affected = c.affected_by_pod(&Settings::default(), "kube-system", "coredns-1");
    assert_eq!(affected, Affected::All);
    assert_eq!(
        affected.resolve(&c),
        BTreeSet::from(["a", "b", "c", "kube-system"].map(String::from))
    );
}

#[test]
fn cni_pod_reaches_every_namespace() {
    let c = cluster(&format!("{}{}", three_tenants(), CALICO));
    assert_eq!(
        c.affected_by_pod(&Settings::default(), "kube-system", "calico-node-1"),
        Affected::All
    );
}

#[test]
fn policy_reaches_its_own_namespace_whatever_its_peers_select() {
    let c = cluster(&format!(
        "{}{}{}",
        three_tenants(),
        policy(
            "a",
            "local",
            "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}"
        ),
        policy(
            "c",
            "from-blue",
            "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: blue}}}]}]}"
        )
    ));
    let settings = Settings::default();
    assert_eq!(c.affected_by_policy(&settings, "a", "local"), names(&["a"]));
    // Its peers select a and b, but it governs only c's pods.
    assert_eq!(
        c.affected_by_policy(&settings, "c", "from-blue"),
        names(&["c"])
    );
}

#[test]
fn policy_with_empty_namespace_selector_reaches_only_its_namespace() {
    let c = cluster(&format!(
        "{}{}",
        three_tenants(),
        policy(
            "a",
            "any-ns",
            "{podSelector: {}, egress: [{to: [{namespaceSelector: {}}]}]}"
        )
    ));
    assert_eq!(
        c.affected_by_policy(&Settings::default(), "a", "any-ns"),
        names(&["a"])
    );
}

#[test]
fn policy_in_the_dns_namespace_reaches_every_namespace() {
    let c = cluster(&format!(
        "{}{}",
        three_tenants(),
        policy(
            "kube-system",
            "dns-in",
            "{podSelector: {matchLabels: {k8s-app: kube-dns}}, ingress: [{from: [{podSelector: {}}]}]}"
        )
    ));
    assert_eq!(
        c.affected_by_policy(&Settings::default(), "kube-system", "dns-in"),
        Affected::All
    );
}

#[test]
fn namespace_label_change_reaches_namespaces_whose_policies_select_namespaces() {
    let c = cluster(&format!(
        "{}{}{}",
        three_tenants(),
        policy(
            "a",
            "local",
            "{podSelector: {}, ingress: [{from: [{podSelector: {}}]}]}"
        ),
        policy(
            "b",
            "from-red",
            "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}}]}]}"
        )
    ));
    assert_eq!(c.affected_by_namespace("c"), names(&["b", "c"]));
}

#[test]
fn merging_keeps_both_versions_and_all_wins() {
    assert_eq!(names(&["a"]).merge(names(&["b"])), names(&["a", "b"]));
    assert_eq!(Affected::Nothing.merge(names(&["a"])), names(&["a"]));
    assert_eq!(names(&["a"]).merge(Affected::All), Affected::All);
}

#[test]
fn service_reaches_its_own_namespace_only() {
    // Pods in b carry the selected labels too: a Service still selects only its own namespace.
    let c = cluster(&format!(
        "{}{}{}{}",
        three_tenants(),
        pod("a", "web", "app: web"),
        pod("b", "web", "app: web"),
        service(
            "a",
            "web",
            "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}"
        )
    ));
    assert_eq!(c.affected_by_service("a", "web"), names(&["a"]));
    let evaluate = |c: &Cluster| posture(c, "b");
    let before = evaluate(&c);
    let mut without = c.clone();
    without.delete_service("a", "web");
    assert_eq!(
        evaluate(&without),
        before,
        "b's verdicts do not depend on it"
    );
}

#[test]
fn service_reachable_only_inside_the_cluster_reaches_its_namespace_as_a_possible_ingress_backend() {
    let c = cluster(&format!(
        "{}{}",
        three_tenants(),
        service(
            "a",
            "internal",
            "{selector: {app: web}, ports: [{port: 80}]}"
        )
    ));
    assert_eq!(c.affected_by_service("a", "internal"), names(&["a"]));
    assert_eq!(c.affected_by_service("a", "unknown"), Affected::Nothing);
}

#[test]
fn ingress_reaches_its_own_namespace_only() {
    let c = cluster(&format!(
        "{}{}",
        three_tenants(),
        ingress("a", "shop", "{rules: [{host: shop.example.com}]}")
    ));
    assert_eq!(c.affected_by_ingress("a", "shop"), names(&["a"]));
    assert_eq!(c.affected_by_ingress("a", "other"), Affected::Nothing);
}

#[test]
fn mesh_wide_peer_authentication_reaches_everyone_a_namespace_one_its_namespace() {
    let settings = Settings::default();
    let c = cluster(&format!(
        "{}{}{}{}",
        three_tenants(),
        peer_authentication("istio-system", "default", "{mtls: {mode: STRICT}}"),
        peer_authentication(
            "istio-system",
            "istiod-only",
            "{selector: {matchLabels: {app: istiod}}, mtls: {mode: STRICT}}"
        ),
        peer_authentication("a", "default", "{mtls: {mode: PERMISSIVE}}")
    ));
    assert_eq!(
        c.affected_by_peer_authentication(&settings, "istio-system", "default"),
        Affected::All
    );
    assert_eq!(
        c.affected_by_peer_authentication(&settings, "istio-system", "istiod-only"),
        names(&["istio-system"])
    );
    assert_eq!(
        c.affected_by_peer_authentication(&settings, "a", "default"),
        names(&["a"])
    );
}

#[test]
fn the_only_sign_of_istio_reaches_everyone() {
    let settings = Settings::default();
    let c = cluster(&format!(
        "{}{}",
        three_tenants(),
        peer_authentication("a", "default", "{mtls: {mode: STRICT}}")
    ));
    assert_eq!(
        c.affected_by_peer_authentication(&settings, "a", "default"),
        Affected::All,
        "it switches mesh-mtls on in every namespace"
    );
    let istiod = cluster(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: istiod-1, namespace: istio-system, labels: {app: istiod}}\nspec: {containers: [{name: discovery, image: 'istio/pilot:1.22.0'}]}\n",
    );
    assert_eq!(
        istiod.affected_by_pod(&settings, "istio-system", "istiod-1"),
        Affected::All
    );
}

#[test]
fn rule_22_layer_policies_reach_their_scope() {
    use crate::layers::layer_kind;
    let c = cluster(&three_tenants());
    let settings = Settings::default();
    let cnp = layer_kind("cilium.io", "CiliumNetworkPolicy").unwrap();
    let ccnp = layer_kind("cilium.io", "CiliumClusterwideNetworkPolicy").unwrap();
    let banp = layer_kind("policy.networking.k8s.io", "BaselineAdminNetworkPolicy").unwrap();
    assert_eq!(
        c.affected_by_layer(&settings, cnp, Some("a")),
        names(&["a"])
    );
    assert_eq!(
        c.affected_by_layer(&settings, cnp, Some("kube-system")),
        Affected::All
    );
    assert_eq!(c.affected_by_layer(&settings, ccnp, None), Affected::All);
    assert_eq!(
        c.affected_by_layer(&settings, banp, Some("a")),
        Affected::All
    );
}

#[test]
fn pod_reaches_namespaces_whose_peers_select_its_namespace() {
    // b's empty-peers verdict on "team: red" pods changes with c's pods.
    let c = cluster(&format!(
        "{}{}{}",
        three_tenants(),
        pod("c", "api", "app: api"),
        policy(
            "b",
            "from-red",
            "{podSelector: {}, ingress: [{from: [{namespaceSelector: {matchLabels: {team: red}}, podSelector: {matchLabels: {app: api}}}]}]}"
        )
    ));
    assert_eq!(
        c.affected_by_pod(&Settings::default(), "c", "api"),
        names(&["b", "c"])
    );
}

#[test]
fn system_namespace_pods_and_policies_reach_every_namespace() {
    let settings = Settings {
        system_namespaces: vec!["monitoring".into()],
        ..Settings::default()
    };
    let c = cluster(&format!(
        "{}{}{}",
        three_tenants(),
        pod("monitoring", "prometheus", "app: prometheus"),
        policy("monitoring", "deny", "{podSelector: {}}")
    ));
    assert_eq!(
        c.affected_by_pod(&settings, "monitoring", "prometheus"),
        Affected::All
    );
    assert_eq!(
        c.affected_by_policy(&settings, "monitoring", "deny"),
        Affected::All
    );
}

/// Found by the impact property test: a Service in a namespace no object
/// had named yet brings that namespace into the index, where another
/// namespace's `NotIn` selector now matches it (its `empty-peers` changes).
#[test]
fn an_object_implying_its_namespace_reaches_namespaces_that_select_namespaces() {
    let c = cluster(&format!(
        "{}{}{}",
        three_tenants(),
        policy(
            "a",
            "to-others",
            "{podSelector: {}, policyTypes: [Egress], egress: [{to: [{namespaceSelector: {matchExpressions: [{key: team, operator: NotIn, values: [blue, red]}]}}]}]}"
        ),
        service(
            "new",
            "web",
            "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}"
        )
    ));
    let affected = c.affected_by_service("new", "web");
    assert_eq!(affected, names(&["a", "new"]));
    // In a declared namespace the Service reaches that namespace alone.
    let declared = cluster(&format!(
        "{}{}",
        three_tenants(),
        service(
            "c",
            "web",
            "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}"
        )
    ));
    assert_eq!(declared.affected_by_service("c", "web"), names(&["c"]));
}
