//! Ingresses: hosts served without TLS (`ingress-tls`) and whether the pods
//! behind their backends admit more than the ingress controller
//! (`ingress-backends`).

use super::*;
use crate::ingress::Backend;
use crate::model::ServicePortRef;
use crate::posture::{Check, CheckStatus, Severity, ids};

const WEB_SERVICE: &str = "{selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9000, targetPort: 9000}]}";
const TO_WEB: &str = "{ingressClassName: nginx, rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}";
const TO_WEB_WITH_TLS: &str = "{ingressClassName: nginx, tls: [{hosts: [shop.example.com], secretName: shop-tls}], rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}";
const DENY_INGRESS: &str = "{podSelector: {}, policyTypes: [Ingress]}";
const FROM_CONTROLLER: &str = "{podSelector: {matchLabels: {app: web}}, ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}], ports: [{port: 8080}]}]}";

fn check_of(cluster: &Cluster, id: &str) -> Check {
    posture(cluster, "a")
        .check(id)
        .expect("the check is always reported")
        .clone()
}

#[test]
fn ingress_keeps_class_backends_and_hosts_without_tls() {
    let c = cluster(&ingress(
        "a",
        "shop",
        "{ingressClassName: nginx, defaultBackend: {service: {name: fallback, port: {name: http}}}, tls: [{hosts: [shop.example.com]}], rules: [{host: shop.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}, {path: /api, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}, {host: admin.example.com, http: {paths: [{path: /, pathType: Prefix, backend: {resource: {apiGroup: example.com, kind: Bucket, name: b}}}]}}]}",
    ));
    let indexed = &c.namespace("a").unwrap().ingresses["shop"];
    assert_eq!(indexed.class.as_deref(), Some("nginx"));
    assert_eq!(
        indexed.hosts_without_tls,
        ["*", "admin.example.com"],
        "the default backend serves any host; shop.example.com has TLS"
    );
    assert_eq!(
        indexed.backends,
        [
            Backend {
                service: "fallback".into(),
                port: ServicePortRef::Name("http".into())
            },
            Backend {
                service: "web".into(),
                port: ServicePortRef::Number(80)
            }
        ],
        "once each, resource backends left out"
    );
}

#[test]
fn ingress_without_tls_fails_naming_each_host() {
    let c = cluster(&format!(
        "{}{}",
        ingress("a", "shop", TO_WEB),
        ingress(
            "a",
            "catch-all",
            "{rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}"
        )
    ));
    let check = check_of(&c, ids::INGRESS_TLS);
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::Medium);
    assert_eq!(
        check.evidence,
        [
            "ingress/catch-all: any host (no host set) without TLS",
            "ingress/shop: host shop.example.com without TLS"
        ]
    );
    assert!(!check.remediation.is_empty());
}

#[test]
fn ingress_with_tls_for_every_host_passes() {
    let c = cluster(&ingress("a", "shop", TO_WEB_WITH_TLS));
    let check = check_of(&c, ids::INGRESS_TLS);
    assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
    assert!(check.remediation.is_empty());
}

#[test]
fn wildcard_tls_host_covers_one_label_only() {
    let c = cluster(&ingress(
        "a",
        "shop",
        "{tls: [{hosts: ['*.example.com']}], rules: [{host: shop.example.com}, {host: a.b.example.com}, {host: example.com}]}",
    ));
    assert_eq!(
        c.namespace("a").unwrap().ingresses["shop"].hosts_without_tls,
        ["a.b.example.com", "example.com"]
    );
}

#[test]
fn tls_entry_without_hosts_covers_rules_without_host() {
    let c = cluster(&ingress(
        "a",
        "shop",
        "{tls: [{secretName: default-cert}], rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]}",
    ));
    assert_eq!(
        check_of(&c, ids::INGRESS_TLS).status,
        CheckStatus::Pass,
        "a tls entry without hosts is the controller's default certificate"
    );
}

#[test]
fn no_ingress_leaves_both_checks_not_applicable() {
    let c = cluster(&pod("a", "web", "app: web"));
    assert_eq!(
        check_of(&c, ids::INGRESS_TLS).status,
        CheckStatus::NotApplicable
    );
    assert_eq!(
        check_of(&c, ids::INGRESS_BACKENDS).status,
        CheckStatus::NotApplicable
    );
}

#[test]
fn ingress_routing_to_unisolated_pods_fails() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        pod("a", "worker", "app: worker"),
        service("a", "web", WEB_SERVICE),
        ingress("a", "shop", TO_WEB)
    ));
    let check = check_of(&c, ids::INGRESS_BACKENDS);
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(check.severity, Severity::High);
    assert_eq!(
        check.evidence,
        ["ingress/shop -> service/web:80 -> pod/web: no ingress policy selects it"],
        "a ClusterIP Service resolves to the pods it selects, and only those"
    );
}

#[test]
fn ingress_backends_admitting_only_the_controller_pass() {
    let c = cluster(&format!(
        "{}{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny-in", DENY_INGRESS),
        policy("a", "from-controller", FROM_CONTROLLER),
        service("a", "web", WEB_SERVICE),
        ingress("a", "shop", TO_WEB)
    ));
    let check = check_of(&c, ids::INGRESS_BACKENDS);
    assert_eq!(check.status, CheckStatus::Pass, "{check:?}");
    assert_eq!(
        check.evidence,
        ["ingress/shop -> service/web:80 -> pod/web"]
    );
}

#[test]
fn backend_port_open_to_every_address_fails_even_when_isolated() {
    let c = cluster(&format!(
        "{}{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny-in", DENY_INGRESS),
        policy(
            "a",
            "public",
            "{podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: 8080}]}]}"
        ),
        service("a", "web", WEB_SERVICE),
        ingress("a", "shop", TO_WEB)
    ));
    let check = check_of(&c, ids::INGRESS_BACKENDS);
    assert_eq!(check.status, CheckStatus::Fail);
    assert_eq!(
        check.evidence,
        [
            "ingress/shop -> service/web:80 -> pod/web: networkpolicy/public admit every public IPv4 address on TCP/8080"
        ]
    );
}

#[test]
fn only_the_backend_port_is_judged_not_every_service_port() {
    // Port 9000 is open to everyone, but the Ingress routes to port 80 (target 8080) only.
    let c = cluster(&format!(
        "{}{}{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny-in", DENY_INGRESS),
        policy("a", "from-controller", FROM_CONTROLLER),
        policy(
            "a",
            "public-admin",
            "{podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: 9000}]}]}"
        ),
        service("a", "web", WEB_SERVICE),
        ingress("a", "shop", TO_WEB)
    ));
    assert_eq!(
        check_of(&c, ids::INGRESS_BACKENDS).status,
        CheckStatus::Pass
    );
}

#[test]
fn backend_port_by_name_resolves_to_the_service_port() {
    let c = cluster(&format!(
        "{}{}{}{}",
        pod("a", "web", "app: web"),
        policy("a", "deny-in", DENY_INGRESS),
        service("a", "web", WEB_SERVICE),
        ingress(
            "a",
            "admin",
            "{rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {name: admin}}}}]}}]}"
        )
    ));
    let check = check_of(&c, ids::INGRESS_BACKENDS);
    assert_eq!(check.status, CheckStatus::Pass);
    assert_eq!(
        check.evidence,
        ["ingress/admin -> service/web:admin -> pod/web"]
    );
}

#[test]
fn backends_leading_nowhere_are_named() {
    let c = cluster(&format!(
        "{}{}",
        service("a", "web", WEB_SERVICE),
        ingress(
            "a",
            "shop",
            "{rules: [{http: {paths: [{path: /a, pathType: Prefix, backend: {service: {name: missing, port: {number: 80}}}}, {path: /b, pathType: Prefix, backend: {service: {name: web, port: {number: 81}}}}]}}]}"
        )
    ));
    let check = check_of(&c, ids::INGRESS_BACKENDS);
    assert_eq!(check.status, CheckStatus::Pass);
    assert!(
        check.message.contains("route to no pod"),
        "{}",
        check.message
    );
    assert_eq!(
        check.evidence,
        [
            "ingress/shop -> service/missing:80: no such Service",
            "ingress/shop -> service/web:81: the Service has no such port"
        ]
    );
}

#[test]
fn ingress_arriving_before_its_service_resolves_once_the_service_comes() {
    let mut c = cluster(&format!(
        "{}{}",
        pod("a", "web", "app: web"),
        ingress("a", "shop", TO_WEB)
    ));
    assert_eq!(
        check_of(&c, ids::INGRESS_BACKENDS).status,
        CheckStatus::Pass
    );
    let web: k8s_openapi::api::core::v1::Service =
        serde_norway::from_str(&service("a", "web", WEB_SERVICE).replace("---\n", "")).unwrap();
    c.apply_service(&web);
    assert_eq!(
        check_of(&c, ids::INGRESS_BACKENDS).status,
        CheckStatus::Fail
    );
}

#[test]
fn ingress_the_server_would_refuse_is_rejected_until_fixed() {
    let mut c = cluster(&ingress(
        "a",
        "shop",
        "{rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 70000}}}}]}}]}",
    ));
    let state = c.namespace("a").unwrap();
    assert!(state.ingresses.is_empty());
    let rejected = &state.rejected[&("Ingress", "shop".to_string())];
    assert!(
        rejected.reason.contains("port.number"),
        "{}",
        rejected.reason
    );
    assert_eq!(
        posture(&c, "a")
            .check(ids::INVALID_OBJECT)
            .unwrap()
            .evidence,
        ["ingress/shop"]
    );
    let fixed = serde_norway::from_str(&ingress("a", "shop", TO_WEB).replace("---\n", "")).unwrap();
    c.apply_ingress(&fixed);
    assert!(c.namespace("a").unwrap().rejected.is_empty());
    c.delete_ingress("a", "shop");
    assert!(c.namespace("a").is_none(), "nothing else held it");
}
