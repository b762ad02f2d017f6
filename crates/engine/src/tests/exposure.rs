//! Services exposed outside the cluster (LoadBalancer, NodePort,
//! externalIPs) and the `exposed-services` check on the pods behind them.

use super::*;
use crate::model::{Exposure, ServicePort, TargetPort};
use crate::posture::{Check, CheckStatus, Severity, ids};

const LOAD_BALANCER: &str =
    "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}";
const NODE_PORT: &str =
    "{type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}";
const DENY_INGRESS: &str = "{podSelector: {}, policyTypes: [Ingress]}";

fn exposure_check(cluster: &Cluster, namespace: &str) -> Check {
    posture(cluster, namespace)
        .check(ids::EXPOSED_SERVICES)
        .expect("the check is always reported")
        .clone()
}

fn web_pod_with_named_port() -> String {
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec: {containers: [{name: web, image: app, ports: [{name: http, containerPort: 8080}]}]}\n---\n".into()
}

#[test]
fn load_balancer_selecting_unisolated_pods_fails() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "worker", "app: worker"),
        service("a", "web", LOAD_BALANCER)
    ));
    let check = exposure_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::High);
    assert_eq!(
        check.evidence,
        ["service/web (LoadBalancer) -> pod/web: no ingress policy selects it"],
        "only the pods the Service selects"
    );
    assert!(!check.remediation.is_empty());
}

#[test]
fn service_selects_only_pods_carrying_every_selector_label() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web, tier: canary"),
        service(
            "a",
            "web",
            "{type: LoadBalancer, selector: {app: web, tier: stable}, ports: [{port: 80}]}"
        )
    ));
    let check = exposure_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Pass);
    assert!(check.message.contains("select no pod"), "{}", check.message);
}

#[test]
fn node_port_to_isolated_pods_passes() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny-in", DENY_INGRESS),
        policy(
            "a",
            "from-ingress-controller",
            "{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}], ports: [{port: 8080}]}]}"
        ),
        service("a", "web", NODE_PORT)
    ));
    let check = exposure_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
    assert_eq!(check.evidence, ["service/web (NodePort) -> pod/web"]);
    assert!(check.remediation.is_empty());
}

#[test]
fn external_ips_on_cluster_ip_count_as_exposure() {
    let c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        service(
            "a",
            "web",
            "{selector: {app: web}, externalIPs: [203.0.113.10], ports: [{port: 80}]}"
        )
    ));
    let indexed = &c.namespace("a").unwrap().services["web"];
    assert_eq!(indexed.exposure, [Exposure::ExternalIps]);
    let check = exposure_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Fail);
    assert!(
        check.evidence[0].starts_with("service/web (externalIPs) -> pod/web"),
        "{:?}",
        check.evidence
    );
}

#[test]
fn load_balancer_with_external_ips_lists_both_exposures() {
    let c = cluster(&service(
        "a",
        "web",
        "{type: LoadBalancer, selector: {app: web}, externalIPs: ['2001:db8::10'], ports: [{port: 80}]}",
    ));
    assert_eq!(
        c.namespace("a").unwrap().services["web"].exposure_description(),
        "LoadBalancer, externalIPs"
    );
}

#[test]
fn cluster_ip_service_is_not_exposure() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        service("a", "web", "{selector: {app: web}, ports: [{port: 80}]}"),
        service(
            "a",
            "headless",
            "{clusterIP: None, selector: {app: web}, ports: [{port: 80}]}"
        )
    ));
    let services = &c.namespace("a").unwrap().services;
    assert_eq!(services.len(), 2, "kept as possible Ingress backends");
    assert!(services.values().all(|s| !s.is_exposed()));
    assert_eq!(exposure_check(&c, "a").status, CheckStatus::NotApplicable);
}

#[test]
fn allow_from_everywhere_behind_a_load_balancer_warns() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny-in", DENY_INGRESS),
        policy(
            "a",
            "public-web",
            "{podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: 8080}]}]}"
        ),
        service("a", "web", LOAD_BALANCER)
    ));
    let check = exposure_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Warn);
    assert_eq!(check.severity, Severity::Medium);
    assert_eq!(
        check.evidence,
        [
            "service/web (LoadBalancer) -> pod/web: networkpolicy/public-web admit every public IPv4 address on TCP/8080"
        ]
    );
}

#[test]
fn internet_ip_block_minus_private_ranges_still_admits_everyone() {
    // Excepting private ranges keeps the whole internet in; two halves add up.
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy(
            "a",
            "internet",
            "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 0.0.0.0/1, except: [10.0.0.0/8]}}]}, {from: [{ipBlock: {cidr: 128.0.0.0/1, except: [192.168.0.0/16]}}]}]}"
        ),
        service("a", "web", LOAD_BALANCER)
    ));
    assert_eq!(exposure_check(&c, "a").status, CheckStatus::Warn);
}

#[test]
fn ip_block_of_some_source_ranges_passes() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy(
            "a",
            "lb-ranges",
            "{podSelector: {}, ingress: [{from: [{ipBlock: {cidr: 198.51.100.0/24}}, {ipBlock: {cidr: '2001:db8::/32'}}]}]}"
        ),
        service("a", "web", LOAD_BALANCER)
    ));
    assert_eq!(exposure_check(&c, "a").status, CheckStatus::Pass);
}

#[test]
fn allow_from_everywhere_on_a_port_the_service_does_not_target_passes() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        policy(
            "a",
            "public-metrics",
            "{podSelector: {}, ingress: [{ports: [{port: 9090}]}]}"
        ),
        service("a", "web", LOAD_BALANCER)
    ));
    assert_eq!(exposure_check(&c, "a").status, CheckStatus::Pass);
}

#[test]
fn named_target_port_resolves_on_each_pod() {
    let named = "{type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: http}]}";
    let open_on = |port: u16| {
        cluster(&format!(
            "{}{}{}",
            web_pod_with_named_port(),
            policy(
                "a",
                "public",
                &format!("{{podSelector: {{}}, ingress: [{{ports: [{{port: {port}}}]}}]}}")
            ),
            service("a", "web", named)
        ))
    };
    assert_eq!(
        exposure_check(&open_on(8080), "a").status,
        CheckStatus::Warn
    );
    assert_eq!(exposure_check(&open_on(80), "a").status, CheckStatus::Pass);
}

#[test]
fn host_network_pod_behind_a_node_port_fails_as_unprotectable() {
    let c = cluster(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: agent, namespace: a, labels: {{app: web}}}}\nspec: {{hostNetwork: true, containers: [{{name: agent, image: app}}]}}\n---\n{}{}",
        policy("a", "deny-in", DENY_INGRESS),
        service("a", "web", NODE_PORT)
    ));
    let check = exposure_check(&c, "a");
    assert_eq!(
        check.status,
        CheckStatus::Fail,
        "a default deny does not help"
    );
    assert!(check.message.contains("host network"), "{}", check.message);
    assert_eq!(
        check.evidence,
        ["service/web (NodePort) -> pod/agent: hostNetwork, NetworkPolicy cannot protect it"]
    );
}

#[test]
fn service_without_selector_selects_nothing() {
    let c = cluster(&format!(
        "{}{}{}",
        pod("a", "web", "app: web"),
        service("a", "manual", "{type: LoadBalancer, ports: [{port: 80}]}"),
        service(
            "a",
            "empty",
            "{type: NodePort, selector: {}, ports: [{port: 80}]}"
        )
    ));
    assert_eq!(c.namespace("a").unwrap().services.len(), 2, "both are kept");
    let check = exposure_check(&c, "a");
    assert_eq!(
        check.status,
        CheckStatus::Pass,
        "the unisolated pod is not behind them"
    );
    assert_eq!(
        check.evidence,
        [
            "service/empty (NodePort): no selector, its endpoints are not evaluated",
            "service/manual (LoadBalancer): no selector, its endpoints are not evaluated"
        ]
    );
}

#[test]
fn service_turned_cluster_ip_is_no_longer_exposed() {
    let mut c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        service("a", "web", LOAD_BALANCER)
    ));
    assert_eq!(exposure_check(&c, "a").status, CheckStatus::Fail);
    let cluster_ip: k8s_openapi::api::core::v1::Service = serde_norway::from_str(
        &service("a", "web", "{selector: {app: web}, ports: [{port: 80}]}").replace("---\n", ""),
    )
    .unwrap();
    c.apply_service(&cluster_ip);
    assert!(!c.namespace("a").unwrap().services["web"].is_exposed());
    assert_eq!(exposure_check(&c, "a").status, CheckStatus::NotApplicable);
}

#[test]
fn deleting_the_last_service_forgets_an_undeclared_namespace() {
    let mut c = cluster(&service("a", "web", LOAD_BALANCER));
    assert!(c.namespace("a").is_some());
    c.delete_service("a", "web");
    assert!(c.namespace("a").is_none());
}

#[test]
fn service_with_an_invalid_selector_label_is_rejected_until_fixed() {
    let mut c = cluster(&service(
        "a",
        "web",
        "{type: LoadBalancer, selector: {app: 'not valid!'}, ports: [{port: 80}]}",
    ));
    let state = c.namespace("a").unwrap();
    assert!(state.services.is_empty());
    let rejected = &state.rejected[&("Service", "web".to_string())];
    assert!(
        rejected.reason.contains("spec.selector"),
        "{}",
        rejected.reason
    );
    let p = posture(&c, "a");
    assert_eq!(
        p.check(ids::INVALID_OBJECT).unwrap().evidence,
        ["service/web"]
    );

    let fixed: k8s_openapi::api::core::v1::Service =
        serde_norway::from_str(&service("a", "web", LOAD_BALANCER).replace("---\n", "")).unwrap();
    c.apply_service(&fixed);
    let state = c.namespace("a").unwrap();
    assert!(state.rejected.is_empty());
    assert!(state.services.contains_key("web"));
}

#[test]
fn service_ports_the_server_would_refuse_are_rejected() {
    for spec in [
        "{type: NodePort, selector: {app: web}, ports: [{port: 0}]}",
        "{type: NodePort, selector: {app: web}, ports: [{port: 80, protocol: ICMP}]}",
        "{type: NodePort, selector: {app: web}, ports: [{port: 80, targetPort: NOT_A_NAME}]}",
        "{type: Public, selector: {app: web}, ports: [{port: 80}]}",
        "{selector: {app: web}, externalIPs: [not-an-ip], ports: [{port: 80}]}",
    ] {
        let c = cluster(&service("a", "web", spec));
        assert!(
            c.namespace("a")
                .unwrap()
                .rejected
                .contains_key(&("Service", "web".to_string())),
            "{spec}"
        );
    }
}

#[test]
fn target_port_defaults_to_the_port_and_protocol_to_tcp() {
    let c = cluster(&service(
        "a",
        "dns",
        "{type: NodePort, selector: {app: dns}, ports: [{port: 53}, {port: 5353, protocol: UDP, targetPort: dns}]}",
    ));
    assert_eq!(
        c.namespace("a").unwrap().services["dns"].ports,
        [
            ServicePort {
                name: None,
                port: 53,
                target: TargetPort::Number(53),
                protocol: TCP
            },
            ServicePort {
                name: None,
                port: 5353,
                target: TargetPort::Name("dns".into()),
                protocol: UDP
            }
        ]
    );
}

#[test]
fn exposed_services_risk_can_be_accepted() {
    let c = cluster(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: a, annotations: {{netposture.io/accept: ExposedServices, netposture.io/accept-reason: 'public demo'}}}}\n---\n{}{}",
        pod("a", "web", "app: web"),
        service("a", "web", LOAD_BALANCER)
    ));
    let check = exposure_check(&c, "a");
    assert_eq!(check.status, CheckStatus::Accepted);
    assert!(check.message.contains("public demo"), "{}", check.message);
}
