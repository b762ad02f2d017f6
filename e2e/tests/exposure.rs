//! Ingresses in the operator's reports: hosts without TLS and backends
//! that admit more than the ingress controller, until both are fixed.

use netposture_e2e::*;

/// A ClusterIP Service in front of `WEB_POD`: reachable from outside only through the Ingress.
const WEB_SERVICE: &str = "apiVersion: v1
kind: Service
metadata: {name: web, namespace: NAMESPACE}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
";

const PLAIN_INGRESS: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: NAMESPACE}
spec:
  rules:
    - host: shop.example.com
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
";

const TLS_INGRESS: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: NAMESPACE}
spec:
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
    - host: shop.example.com
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
";

/// Isolates the web pod and admits only the ingress controller's namespace.
const FROM_CONTROLLER: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-ingress-controller, namespace: NAMESPACE}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
    - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
      ports: [{port: 80}]
";

fn check<'a>(report: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    report["status"]["checks"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == id)
}

fn status<'a>(report: &'a serde_json::Value, id: &str) -> Option<&'a str> {
    check(report, id)?["status"].as_str()
}

#[test]
fn ingress_without_tls_to_an_unisolated_pod_fails_until_tls_and_a_policy_fix_it() {
    install();
    let _operator = Operator::start_leading("exposure-ingress");
    let ns = TestNamespace::new("e2e-ingress");
    ns.apply(WEB_POD);
    ns.apply(WEB_SERVICE);
    report_where(&ns.name, "no Ingress yet", |r| {
        status(r, "ingress-tls") == Some("NotApplicable")
            && status(r, "ingress-backends") == Some("NotApplicable")
    });

    ns.apply(PLAIN_INGRESS);
    let open = report_where(&ns.name, "the Ingress fails both checks", |r| {
        status(r, "ingress-tls") == Some("Fail") && status(r, "ingress-backends") == Some("Fail")
    });
    assert_eq!(
        check(&open, "ingress-tls").unwrap()["evidence"][0],
        "ingress/shop: host shop.example.com without TLS"
    );
    assert_eq!(
        check(&open, "ingress-backends").unwrap()["evidence"][0],
        "ingress/shop -> service/web:80 -> pod/web: no ingress policy selects it"
    );

    ns.apply(TLS_INGRESS);
    ns.apply(FROM_CONTROLLER);
    let fixed = report_where(&ns.name, "TLS and the policy make both pass", |r| {
        status(r, "ingress-tls") == Some("Pass") && status(r, "ingress-backends") == Some("Pass")
    });
    assert_eq!(
        check(&fixed, "ingress-backends").unwrap()["evidence"][0],
        "ingress/shop -> service/web:80 -> pod/web"
    );
}
