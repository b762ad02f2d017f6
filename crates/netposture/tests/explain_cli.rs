//! Runs the real `netposture can-reach` and `netposture explain` on the
//! bundled example cluster: verdicts with the policy and rule behind them,
//! output formats, exit codes and usage errors.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;

use std::process::Output;

use common::{netposture, repo};
use serde_json::Value;

/// `netposture COMMAND ARGS... -f examples/cluster`.
fn on_examples(command: &str, args: &[&str]) -> Output {
    let path = repo("examples/cluster");
    let mut all = vec![command];
    all.extend_from_slice(args);
    all.extend(["-f", path.to_str().unwrap()]);
    netposture(&all)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The text line of one side (`egress`/`ingress`), without its alignment.
fn side_line(text: &str, direction: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(direction))
        .unwrap_or_else(|| panic!("no {direction} line in:\n{text}"));
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn allowed_flow_names_the_policy_and_rule_of_each_side() {
    let out = on_examples("can-reach", &["shop/frontend", "shop/api"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("shop/deployment/frontend -> shop/deployment/api 8080/TCP: allowed\n"),
        "{text}"
    );
    assert_eq!(
        side_line(&text, "egress"),
        "egress shop/deployment/frontend: allowed by networkpolicy/frontend egress[0]"
    );
    assert_eq!(
        side_line(&text, "ingress"),
        "ingress shop/deployment/api: allowed by networkpolicy/api ingress[0]"
    );
}

#[test]
fn reverse_flow_is_denied_by_the_policies_isolating_each_side() {
    let out = on_examples(
        "can-reach",
        &["shop/deployment/api", "shop/frontend", "--port", "http"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("80/TCP (http): denied"), "{text}");
    assert_eq!(
        side_line(&text, "egress"),
        "egress shop/deployment/api: denied: isolated by networkpolicy/allow-dns, networkpolicy/api, networkpolicy/default-deny; none admits 80/TCP to shop/deployment/frontend"
    );
    assert!(
        side_line(&text, "ingress")
            .contains("isolated by networkpolicy/default-deny, networkpolicy/frontend"),
        "{text}"
    );
}

#[test]
fn new_pod_of_another_namespace_cannot_reach_the_shop_database() {
    let out = on_examples("can-reach", &["dev", "shop/db"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("a new pod in dev -> shop/statefulset/db 5432/TCP (postgres): denied"),
        "{text}"
    );
    assert_eq!(
        side_line(&text, "egress"),
        "egress a new pod in dev: allowed: no policy selects it for egress"
    );
    assert!(
        side_line(&text, "ingress")
            .ends_with("5432/TCP is admitted only from other peers by networkpolicy/db ingress[0]"),
        "{text}"
    );
    let two_new_pods = on_examples("can-reach", &["shop", "shop", "-p", "80"]);
    assert_eq!(
        two_new_pods.status.code(),
        Some(1),
        "two new pods are not one pod reaching itself: {}",
        stdout(&two_new_pods)
    );
}

#[test]
fn analytics_dns_is_denied_by_its_own_dns_rule() {
    let out = on_examples(
        "can-reach",
        &[
            "analytics/etl",
            "kube-system/coredns",
            "-p",
            "53/UDP",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["allowed"], false);
    let connection = &answer["connections"][0];
    assert_eq!(connection["port"], 53);
    assert_eq!(connection["protocol"], "UDP");
    assert_eq!(connection["portName"], "dns");
    assert_eq!(connection["reach"], "Denied");
    let egress = &connection["egress"];
    assert_eq!(egress["reason"]["kind"], "noRuleAdmits");
    assert_eq!(
        egress["reason"]["portRules"],
        serde_json::json!([{"policy": "allow-dns", "rule": 0}]),
        "the DNS rule admits 53/UDP, but its namespaceSelector misses kube-system: {egress}"
    );
    assert!(
        egress["explanation"].as_str().unwrap().ends_with(
            "53/UDP is admitted only to other peers by networkpolicy/allow-dns egress[0]"
        ),
        "{egress}"
    );
    assert_eq!(connection["ingress"]["reason"]["kind"], "notIsolated");
}

#[test]
fn external_client_is_judged_by_the_destination_ingress_only() {
    let out = on_examples("can-reach", &["203.0.113.9", "shop/frontend"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        side_line(&text, "egress"),
        "egress 203.0.113.9: not applicable: a client outside the cluster"
    );
    assert!(
        side_line(&text, "ingress").starts_with(
            "ingress shop/deployment/frontend: denied: isolated by networkpolicy/default-deny, networkpolicy/frontend; none admits 80/TCP from 203.0.113.9"
        ),
        "{text}"
    );

    let open = on_examples("can-reach", &["203.0.113.9", "dev/preview"]);
    assert_eq!(open.status.code(), Some(0), "{}", stdout(&open));
}

#[test]
fn address_destination_is_judged_by_the_source_egress_only() {
    let public = on_examples("can-reach", &["payments/gateway", "1.1.1.1", "-p", "443"]);
    assert_eq!(public.status.code(), Some(0), "{}", stderr(&public));
    let text = stdout(&public);
    assert_eq!(
        side_line(&text, "egress"),
        "egress payments/deployment/gateway: allowed by networkpolicy/allow-https-egress egress[0]"
    );
    assert_eq!(
        side_line(&text, "ingress"),
        "ingress 1.1.1.1: not applicable: an address outside the cluster"
    );
    let private = on_examples("can-reach", &["payments/gateway", "10.1.2.3", "-p", "443"]);
    assert_eq!(private.status.code(), Some(1), "except: [10.0.0.0/8]");
}

#[test]
fn any_port_not_allowed_exits_1_and_every_port_is_answered() {
    let out = on_examples(
        "can-reach",
        &["shop/frontend", "shop/api", "-p", "8080", "-p", "9090/TCP"],
    );
    assert_eq!(out.status.code(), Some(1));
    let headers: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(String::from)
        .collect();
    assert_eq!(
        headers,
        [
            "shop/deployment/frontend -> shop/deployment/api 8080/TCP: allowed",
            "shop/deployment/frontend -> shop/deployment/api 9090/TCP: denied"
        ]
    );
}

#[test]
fn without_port_every_container_port_of_the_destination_is_answered() {
    let out = on_examples(
        "can-reach",
        &["monitoring", "kube-system/coredns", "-o", "yaml"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "metrics 9153 is not in the DNS rule"
    );
    let answer: Value = serde_norway::from_slice(&out.stdout).unwrap();
    let ports: Vec<(u64, &str, &str)> = answer["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["port"].as_u64().unwrap(),
                c["protocol"].as_str().unwrap(),
                c["reach"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            (53, "UDP", "Allowed"),
            (53, "TCP", "Allowed"),
            (9153, "TCP", "Denied")
        ]
    );
}

#[test]
fn ip_block_holding_a_pod_ip_depends_on_the_cni_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec: {containers: [{name: web, image: nginx}]}\nstatus: {podIP: 10.244.1.5}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: b, labels: {app: db}}\nspec: {containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]}\nstatus: {podIP: 10.244.2.7}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: to-pod-network, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16}}]}]}\n",
    )
    .unwrap();
    let out = netposture(&[
        "can-reach",
        "a/web",
        "b/db",
        "-f",
        file.to_str().unwrap(),
        "--cni",
        "calico",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("a/web -> b/db 5432/TCP: depends on the CNI\n"),
        "{text}"
    );
    assert_eq!(
        side_line(&text, "egress"),
        "egress a/web: depends on the CNI: allowed only through ipBlock 10.244.0.0/16 of networkpolicy/to-pod-network egress[0] matching a pod IP of b/db (Calico: allowed, Cilium: denied)"
    );
}

/// `netposture can-reach ARGS... -f FILE` on one manifest text.
fn on_manifest(text: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cluster.yaml");
    std::fs::write(&file, text).unwrap();
    let mut all = vec!["can-reach"];
    all.extend_from_slice(args);
    all.extend(["-f", file.to_str().unwrap(), "--cni", "calico"]);
    netposture(&all)
}

#[test]
fn ip_block_that_may_hold_a_template_pods_unknown_ip_depends_on_the_cni() {
    let out = on_manifest(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: a}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: nginx}]}}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: dns, namespace: a}\nspec: {podSelector: {}, policyTypes: [Egress], egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}], ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: coredns, namespace: kube-system}\nspec: {template: {metadata: {labels: {k8s-app: kube-dns}}, spec: {containers: [{name: coredns, image: coredns, ports: [{name: dns-tcp, containerPort: 53}]}]}}}\n",
        &["a/web", "kube-system/coredns", "-p", "53"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("a/deployment/web -> kube-system/deployment/coredns 53/TCP (dns-tcp): depends on the CNI\n"),
        "{text}"
    );
    let egress = side_line(&text, "egress");
    assert!(
        egress.contains("ipBlock 0.0.0.0/0 of networkpolicy/dns egress[0], which may hold the IP of kube-system/deployment/coredns")
            && egress.contains("assumed"),
        "{egress}"
    );
}

#[test]
fn a_port_admitted_only_through_end_port_says_old_servers_drop_it() {
    let out = on_manifest(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a}\nspec: {containers: [{name: web, image: nginx}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: a}\nspec: {containers: [{name: db, image: postgres}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: range, namespace: a}\nspec: {podSelector: {}, policyTypes: [Ingress], ingress: [{ports: [{port: 5000, endPort: 6000}]}]}\n",
        &["a/web", "a/db", "-p", "5432", "-p", "5000"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.trim_start().starts_with("ingress"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "ingress a/db: allowed by networkpolicy/range ingress[0]; only through endPort, which API servers before 1.21 drop: there the rule admits port 5000 alone",
            "ingress a/db: allowed by networkpolicy/range ingress[0]"
        ]
    );
}

#[test]
fn cni_that_does_not_enforce_policy_is_noted() {
    let path = repo("examples/flannel-cluster");
    let out = netposture(&[
        "can-reach",
        "203.0.113.9",
        "web/site",
        "-p",
        "80",
        "-f",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "the policies' answer");
    assert!(
        stderr(&out).contains("the CNI (flannel) does not enforce NetworkPolicy"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_namespace_or_pod_exits_2_naming_it() {
    let namespace = on_examples("can-reach", &["nope/web", "shop/api"]);
    assert_eq!(namespace.status.code(), Some(2));
    assert!(
        stderr(&namespace).contains("namespace \"nope\" is not in the input"),
        "{}",
        stderr(&namespace)
    );
    let pod = on_examples("can-reach", &["shop/frontend", "shop/nope"]);
    assert_eq!(pod.status.code(), Some(2));
    assert!(
        stderr(&pod).contains("namespace shop has no pod \"nope\" (pods: deployment/api, deployment/frontend, statefulset/db)"),
        "{}",
        stderr(&pod)
    );
    assert!(pod.stdout.is_empty());
}

#[test]
fn port_usage_errors_exit_2_saying_what_to_give() {
    let no_port = on_examples("can-reach", &["shop/api", "1.1.1.1"]);
    assert_eq!(no_port.status.code(), Some(2));
    assert!(
        stderr(&no_port).contains("give --port PORT[/PROTO]"),
        "{}",
        stderr(&no_port)
    );
    let unknown_name = on_examples("can-reach", &["shop/frontend", "shop/api", "-p", "http"]);
    assert_eq!(unknown_name.status.code(), Some(2));
    assert!(
        stderr(&unknown_name)
            .contains("shop/deployment/api has no container port named \"http\" for TCP"),
        "{}",
        stderr(&unknown_name)
    );
    let bad_protocol = on_examples("can-reach", &["shop/frontend", "shop/api", "-p", "80/ICMP"]);
    assert_eq!(bad_protocol.status.code(), Some(2));
    let two_addresses = on_examples("can-reach", &["10.0.0.1", "10.0.0.2", "-p", "80"]);
    assert_eq!(two_addresses.status.code(), Some(2));
    assert!(
        stderr(&two_addresses).contains("both addresses"),
        "{}",
        stderr(&two_addresses)
    );
}

#[test]
fn explain_analytics_names_the_dns_problem_and_its_remediation() {
    let out = on_examples("explain", &["analytics"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "covered: false (not covered: DNS blocked)",
        "\ndnsAllowed: false\n  [Fail, High] dns-allowed: 1 pod(s) cannot send UDP/53 to any cluster DNS pod",
        "evidence: DNS pods kube-system/{deployment/coredns}, pod/deployment/etl",
        "remediation: Allow egress to the DNS pods on UDP and TCP 53 with `namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}`",
        "\ndefaultDenyEgress: true\n  [Pass] default-deny-egress",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let allow_dns = text
        .lines()
        .find(|l| l.starts_with("allow-dns "))
        .unwrap_or_else(|| panic!("no allow-dns row in:\n{text}"));
    assert_eq!(
        allow_dns.split_whitespace().collect::<Vec<_>>().join(" "),
        "allow-dns Egress {} every pod, including new ones: deployment/etl"
    );
}

#[test]
fn explain_shows_which_pods_each_policy_selects() {
    let text = stdout(&on_examples("explain", &["monitoring"]));
    let row = |name: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row in:\n{text}"));
        line.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        row("prometheus-scrapes-everything"),
        "prometheus-scrapes-everything Egress app=prometheus statefulset/prometheus"
    );
    assert_eq!(
        row("default-deny"),
        "default-deny Ingress,Egress {} every pod, including new ones: daemonset/statsd, statefulset/prometheus",
        "NetworkPolicy does not govern the hostNetwork node exporter"
    );
    assert!(text.contains("[Fail, High] host-network-pods"), "{text}");
    assert!(text.contains("[Fail, High] host-ports"), "{text}");
}

#[test]
fn explain_json_is_the_report_status_and_the_policy_selections() {
    let out = on_examples("explain", &["analytics", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let explanation: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(explanation["namespace"], "analytics");
    let status = &explanation["status"];
    assert_eq!(status["dnsAllowed"], false);
    assert!(
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Covered" && c["reason"] == "DnsBlocked"),
        "{status}"
    );
    let policies = explanation["policies"].as_array().unwrap();
    let allow_dns = policies.iter().find(|p| p["name"] == "allow-dns").unwrap();
    assert_eq!(allow_dns["policyTypes"], serde_json::json!(["Egress"]));
    assert_eq!(allow_dns["wholeNamespace"], true);
    assert_eq!(allow_dns["pods"], serde_json::json!(["deployment/etl"]));

    let yaml = on_examples("explain", &["analytics", "-o", "yaml"]);
    let from_yaml: Value = serde_norway::from_slice(&yaml.stdout).unwrap();
    assert_eq!(from_yaml["policies"], explanation["policies"]);
}

#[test]
fn explain_unknown_namespace_exits_2_naming_it() {
    let out = on_examples("explain", &["nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("namespace \"nope\" is not in the input"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}
