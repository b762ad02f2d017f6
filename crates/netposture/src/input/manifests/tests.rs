use super::*;
use netposture_engine::cluster::NamespaceState;

fn read(text: &str) -> Result<Manifests, LoadError> {
    Manifests::from_text(text)
}

fn namespace<'m>(m: &'m Manifests, name: &str) -> &'m NamespaceState {
    m.cluster
        .namespace(name)
        .unwrap_or_else(|| panic!("namespace {name} is not indexed: {:?}", m.cluster))
}

fn pod_names(state: &NamespaceState) -> Vec<&str> {
    state.pods.keys().map(String::as_str).collect()
}

#[test]
fn multi_document_yaml_keeps_used_kinds_and_counts_the_rest() {
    let m = read("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {}}\n").unwrap();
    let a = namespace(&m, "a");
    assert!(a.declared);
    assert_eq!(a.policies.keys().collect::<Vec<_>>(), ["p"]);
    assert_eq!(m.skipped.get("ConfigMap"), Some(&1));
}

#[test]
fn services_are_kept_for_the_engine() {
    let m = read("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: a}\nspec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}\n").unwrap();
    assert!(namespace(&m, "a").services["web"].is_exposed());
    assert!(m.skipped.is_empty());
}

#[test]
fn ingresses_of_v1_and_peer_authentications_are_kept() {
    let m = read("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: shop, namespace: a}\nspec: {rules: [{host: shop.example.com}]}\n---\napiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old, namespace: a}\n---\napiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec:\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    8080: {mode: DISABLE}\n").unwrap();
    assert_eq!(
        namespace(&m, "a").ingresses.keys().collect::<Vec<_>>(),
        ["shop"]
    );
    let peer = &namespace(&m, "istio-system").peer_authentications["default"];
    assert_eq!(
        peer.ports.iter().map(|(port, _)| *port).collect::<Vec<_>>(),
        [8080]
    );
    assert_eq!(m.skipped.get("Ingress.extensions"), Some(&1));
}

#[test]
fn v1_list_items_are_read() {
    let m = read(r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x"},"spec":{"containers":[]}},{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}]}"#).unwrap();
    let x = namespace(&m, "x");
    assert!(x.declared);
    assert_eq!(pod_names(x), ["a"]);
}

#[test]
fn typed_list_items_without_kind_are_read_as_the_list_kind() {
    let m = read(
        "apiVersion: v1\nkind: NamespaceList\nitems:\n- metadata: {name: x, labels: {team: a}}\n",
    )
    .unwrap();
    assert_eq!(namespace(&m, "x").labels["team"], "a");
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
}

#[test]
fn typed_json_list_items_without_kind_are_read_as_the_list_kind() {
    let m = read(r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a","namespace":"x"},"spec":{"containers":[]}}]}"#).unwrap();
    assert_eq!(pod_names(namespace(&m, "x")), ["a"]);
}

#[test]
fn a_list_inside_a_list_gives_its_items() {
    let m = read(r#"[{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"a","namespace":"x"}}]}, null, 3]"#).unwrap();
    assert_eq!(pod_names(namespace(&m, "x")), ["a"]);
    assert_eq!(m.skipped.get(""), Some(&1), "{:?}", m.skipped);
}

#[test]
fn fields_of_an_unexpected_type_read_as_absent_in_the_header() {
    let m = read(r#"[{"kind":"Pod","apiVersion":"v1","metadata":"a"},{"kind":["Pod"],"apiVersion":"v1","metadata":{"name":"b"}}]"#).unwrap();
    let reasons: Vec<&str> = m.undecodable.iter().map(|u| u.reason.as_str()).collect();
    assert_eq!(reasons, ["has no metadata.name"]);
    assert_eq!(m.skipped.get(""), Some(&1), "{:?}", m.skipped);
}

#[test]
fn a_pod_without_api_version_or_name_is_rejected_not_read() {
    let m = read("kind: Pod\nmetadata: {name: a, namespace: x}\nspec: {containers: []}\n---\napiVersion: v1\nkind: Pod\nmetadata: {namespace: x}\nspec: {containers: []}\n").unwrap();
    assert!(m.cluster.namespace("x").is_none(), "{:?}", m.cluster);
    let reasons: Vec<(&str, &str, &str)> = m
        .undecodable
        .iter()
        .map(|u| (u.kind, u.name.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("Pod", "a", "has no apiVersion"),
            (
                "Pod",
                "(unnamed, test.yaml (document 2))",
                "has no metadata.name"
            )
        ]
    );
}

#[test]
fn a_generated_name_stands_for_the_name() {
    let m = read("apiVersion: v1\nkind: Pod\nmetadata: {generateName: job-, namespace: x}\nspec: {containers: []}\n").unwrap();
    assert!(m.undecodable.is_empty(), "{:?}", m.undecodable);
    assert_eq!(namespace(&m, "x").pods.len(), 1);
}

#[test]
fn a_used_kind_in_an_unknown_version_is_named_and_left_out() {
    let m = read("apiVersion: v2\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: c}\n").unwrap();
    assert!(m.cluster.namespace("default").is_none());
    assert!(m.workloads.is_empty());
    let named: Vec<String> = m.unread_versions.iter().map(ToString::to_string).collect();
    assert_eq!(
        named,
        [
            "test.yaml (document 1): Pod of apiVersion v2 is left out: netposture reads v1",
            "test.yaml (document 2): CronJob of apiVersion batch/v1beta1 is left out: netposture reads batch/v1"
        ]
    );
}

#[test]
fn yaml_syntax_error_names_the_line() {
    let err = read("apiVersion: v1\nkind: Pod\n---\nmetadata:\n  name: [unclosed\n").unwrap_err();
    match err {
        LoadError::Syntax { line, .. } => assert_eq!(line, 6, "{err}"),
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn json_syntax_error_names_line_and_column() {
    let err = read("{\n  \"kind\": \"Pod\",\n  oops\n}").unwrap_err();
    assert!(err.to_string().starts_with("test.yaml:3:"), "{err}");
}

#[test]
fn same_kind_in_another_api_group_is_not_a_kubernetes_network_policy() {
    let m = read("apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: c, namespace: a}\nspec: {selector: all()}\n---\napiVersion: example.com/v1\nkind: Pod\nmetadata: {name: p}\n").unwrap();
    assert!(
        matches!(&m.layers[..], [p] if p.kind.kind == "NetworkPolicy" && p.kind.group == "crd.projectcalico.org")
    );
    assert!(m.cluster.namespace("a").is_none());
    assert_eq!(m.skipped.get("Pod.example.com"), Some(&1));
}

#[test]
fn workload_templates_are_kept_with_their_kind() {
    let m = read("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly, namespace: jobs}\nspec: {schedule: '@daily', jobTemplate: {spec: {template: {metadata: {labels: {app: nightly}}, spec: {containers: [{name: c, image: busybox}]}}}}}\n").unwrap();
    let [workload] = &m.workloads[..] else {
        panic!("unexpected {:?}", m.workloads)
    };
    assert_eq!(
        (workload.kind, workload.name.as_str()),
        ("CronJob", "nightly")
    );
    assert_eq!(
        workload
            .template
            .metadata
            .as_ref()
            .unwrap()
            .labels
            .as_ref()
            .unwrap()["app"],
        "nightly"
    );
}

#[test]
fn object_of_a_used_kind_that_does_not_decode_is_reported_not_fatal() {
    let m = read("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {}, ingress: [{ports: [{port: {nested: 1}}]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: a}\nspec: {containers: [{name: c, ports: [{containerPort: http}]}]}\n").unwrap();
    assert!(m.cluster.namespace("a").is_none());
    let undecodable: Vec<(&str, &str)> = m
        .undecodable
        .iter()
        .map(|u| (u.name.as_str(), u.reason.as_str()))
        .collect();
    assert_eq!(
        undecodable,
        [
            (
                "p",
                "does not decode as a NetworkPolicy: invalid type: map, expected IntOrString"
            ),
            (
                "q",
                "does not decode as a Pod: invalid type: string \"http\", expected i32"
            )
        ]
    );
}

#[test]
fn a_lean_pod_keeps_what_the_engine_reads() {
    let m = read(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","namespace":"x","labels":{"app":"web"},"annotations":{"sidecar.istio.io/inject":"true"},"uid":"u"},"spec":{"hostNetwork":true,"volumes":[{"name":"v"}],"initContainers":[{"name":"proxy","restartPolicy":"Always","ports":[{"containerPort":15001,"name":"proxy"}]}],"containers":[{"name":"web","image":"nginx","env":[{"name":"A","value":"1"}],"ports":[{"containerPort":8080,"name":"http","protocol":"TCP","hostPort":80}]}]},"status":{"phase":"Running","podIP":"10.0.0.2","podIPs":[{"ip":"10.0.0.2"},{"ip":"fd00::2"}]}}"#).unwrap();
    let pod = &namespace(&m, "x").pods["a"];
    assert_eq!(pod.labels["app"], "web");
    assert!(pod.host_network);
    assert_eq!(
        pod.ports
            .iter()
            .map(|p| (p.name.as_deref(), p.port, p.host_port))
            .collect::<Vec<_>>(),
        [(Some("http"), 8080, Some(80)), (Some("proxy"), 15001, None)]
    );
    assert_eq!(pod.ips.len(), 2);
    assert_eq!(pod.sidecar, netposture_engine::model::Sidecar::Requested);
}

#[test]
fn pods_read_on_the_second_thread_are_applied_in_the_order_read() {
    let pod = |name: &str, app: &str, port: &str| {
        format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}","namespace":"a","labels":{{"app":"{app}"}}}},"spec":{{"containers":[{{"name":"c","ports":[{{"containerPort":{port}}}]}}]}}}}"#
        )
    };
    // Many batches' worth, with one name read twice far apart.
    let mut items = vec![pod("twice", "first", "80")];
    items.extend((0..1000).map(|i| pod(&format!("p{i}"), "web", "80")));
    items.push(pod("twice", "second", "80"));
    items.push(pod("refused", "odd", "70000"));
    items.push(pod("undecodable", "x", "\"http\""));
    let m = read(&format!(
        r#"{{"kind":"List","apiVersion":"v1","items":[{}]}}"#,
        items.join(",")
    ))
    .unwrap();
    let state = namespace(&m, "a");
    assert_eq!(state.pods.len(), 1001);
    assert_eq!(state.pods["twice"].labels["app"], "second");
    assert!(state.rejected.contains_key(&("Pod", "refused".to_string())));
    assert_eq!(m.rejected_pod_labels.len(), 1);
    assert_eq!(m.rejected_pod_labels[0].1["app"], "odd");
    let undecodable: Vec<(&str, usize)> = m
        .undecodable
        .iter()
        .map(|u| (u.name.as_str(), u.origin.document))
        .collect();
    assert_eq!(undecodable, [("undecodable", 1004)]);
}
