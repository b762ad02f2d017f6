//! Bad input on the wire: mutated and malformed objects (wrong types, missing
//! fields, huge values, deep nesting, broken text) fed to the operator's decode
//! path (typed decoding as kube does it, then the engine's index, and the
//! layer kinds read from untyped objects) and to `scan`'s reader. Nothing
//! panics; a bad object is left out with a message or a finding; everything
//! else is still evaluated.

mod common;

use std::collections::BTreeSet;
use std::fs;

use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use netposture_engine::layers::{LayerPolicy, layer_kind};
use netposture_engine::{Cluster, Evaluator, Settings};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

/// The objects the mutations start from: the example cluster, the layer
/// fixture, and one object of each Calico and Cilium kind.
fn seeds() -> Vec<Value> {
    let mut texts: Vec<String> = fs::read_dir(common::repo("examples/cluster"))
        .expect("examples/cluster")
        .map(|entry| fs::read_to_string(entry.expect("an entry").path()).expect("a manifest"))
        .collect();
    texts.push(
        fs::read_to_string(common::repo("crates/netposture/tests/fixtures/layers.yaml"))
            .expect("layers.yaml"),
    );
    texts.push(CALICO_AND_CILIUM.to_owned());
    let mut seeds = Vec::new();
    for text in texts {
        for document in serde_norway::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).expect("the seeds are valid YAML");
            if !value.is_null() {
                seeds.push(value);
            }
        }
    }
    seeds.sort_by_key(|v| v.to_string());
    seeds
}

const CALICO_AND_CILIUM: &str = "
apiVersion: crd.projectcalico.org/v1
kind: GlobalNetworkPolicy
metadata: {name: deny-egress}
spec: {order: 100, selector: \"app == 'web'\", types: [Egress], egress: [{action: Deny, destination: {nets: [10.0.0.0/8]}}]}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec: {endpointSelector: {matchLabels: {app: web}}, ingress: [{fromEndpoints: [{matchLabels: {app: api}}], toPorts: [{ports: [{port: '80', protocol: TCP}]}]}]}
";

/// One change to one node of an object.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(Value),
    Remove,
    Nest(usize),
}

fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!(65536)),
        Just(json!("")),
        Just(json!("x".repeat(1 << 20))),
        Just(json!("\u{0}\u{202e}ünï/cødé\n\t")),
        Just(json!("not a CIDR/99")),
        Just(json!("In")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{"key": "", "operator": "Exists", "values": ["a"]}])),
        "[a-zA-Z0-9./:*-]{0,12}".prop_map(Value::from),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => odd_value().prop_map(Mutation::Replace),
        2 => Just(Mutation::Remove),
        1 => (100usize..20_000).prop_map(Mutation::Nest),
    ]
}

/// Every node's path in `value`, the root first.
fn paths(value: &Value) -> Vec<Vec<PathStep>> {
    let mut all = vec![Vec::new()];
    let mut index = 0;
    while index < all.len() {
        let path = all[index].clone();
        match node(value, &path) {
            Some(Value::Object(map)) => {
                all.extend(map.keys().map(|k| extend(&path, PathStep::Key(k.clone()))))
            }
            Some(Value::Array(items)) => {
                all.extend((0..items.len()).map(|i| extend(&path, PathStep::Index(i))))
            }
            _ => {}
        }
        index += 1;
    }
    all
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn extend(path: &[PathStep], step: PathStep) -> Vec<PathStep> {
    let mut longer = path.to_vec();
    longer.push(step);
    longer
}

fn node<'v>(value: &'v Value, path: &[PathStep]) -> Option<&'v Value> {
    path.iter().try_fold(value, |v, step| match step {
        PathStep::Key(k) => v.get(k),
        PathStep::Index(i) => v.get(i),
    })
}

fn node_mut<'v>(value: &'v mut Value, path: &[PathStep]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        PathStep::Key(k) => v.get_mut(k),
        PathStep::Index(i) => v.get_mut(i),
    })
}

fn mutate(object: &mut Value, pick: usize, mutation: &Mutation) {
    let all = paths(object);
    let path = &all[pick % all.len()];
    match mutation {
        Mutation::Replace(odd) => {
            if let Some(target) = node_mut(object, path) {
                *target = odd.clone();
            }
        }
        Mutation::Remove => match path.split_last() {
            Some((PathStep::Key(key), parent)) => {
                if let Some(Value::Object(map)) = node_mut(object, parent) {
                    map.remove(key);
                }
            }
            Some((PathStep::Index(i), parent)) => {
                if let Some(Value::Array(items)) = node_mut(object, parent) {
                    items.remove(*i);
                }
            }
            None => *object = Value::Null,
        },
        Mutation::Nest(depth) => {
            if let Some(target) = node_mut(object, path) {
                *target = Value::from(nest_marker(*depth));
            }
        }
    }
}

/// Deep nesting is written into the text, never built as a `Value`: the
/// test's own (recursive) encoding would overflow its stack first.
fn nest_marker(depth: usize) -> String {
    format!("NEST{depth}NEST")
}

fn expand_nesting(mut text: String, quote: &str) -> String {
    while let Some(start) = text.find("NEST") {
        let end = start + 4 + text[start + 4..].find("NEST").expect("a closed marker") + 4;
        let depth: usize = text[start + 4..end - 4].parse().expect("a depth");
        let (start, end) = (start - quote.len(), end + quote.len());
        text.replace_range(
            start..end,
            &format!("{}0{}", "[".repeat(depth), "]".repeat(depth)),
        );
    }
    text
}

fn json_text(object: &Value) -> String {
    expand_nesting(
        serde_json::to_string(object).expect("a Value encodes"),
        "\"",
    )
}

fn api_version_and_kind(object: &Value) -> (String, String) {
    let field = |name: &str| {
        object
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (field("apiVersion"), field("kind"))
}

/// Applies one object to the index as the operator would after kube decoded
/// it: typed kinds only when they decode (kube refuses the rest), layer kinds
/// from the untyped object.
fn apply_as_operator(cluster: &mut Cluster, object: &Value) {
    let text = json_text(object);
    let (api_version, kind) = api_version_and_kind(object);
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    if let Some(layer) = layer_kind(group, &kind) {
        // kube lists layer kinds as untyped objects; text it cannot read is an
        // error of the list, not an object.
        let Ok(object) = serde_json::from_str::<Value>(&text) else {
            return;
        };
        let namespace = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str);
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        cluster.apply_layer_policy(LayerPolicy::from_object(layer, namespace, name, &object));
        return;
    }
    match kind.as_str() {
        "Namespace" => {
            if let Ok(o) = serde_json::from_str::<Namespace>(&text) {
                cluster.apply_namespace(&o)
            }
        }
        "Pod" => {
            if let Ok(o) = serde_json::from_str::<Pod>(&text) {
                cluster.apply_pod(&o)
            }
        }
        "NetworkPolicy" => {
            if let Ok(o) = serde_json::from_str::<NetworkPolicy>(&text) {
                cluster.apply_policy(&o)
            }
        }
        "Service" => {
            if let Ok(o) = serde_json::from_str::<Service>(&text) {
                cluster.apply_service(&o)
            }
        }
        "Ingress" => {
            if let Ok(o) = serde_json::from_str::<Ingress>(&text) {
                cluster.apply_ingress(&o)
            }
        }
        _ => {}
    }
}

fn evaluated_namespaces(objects: &[Value]) -> BTreeSet<String> {
    let mut cluster = Cluster::default();
    objects
        .iter()
        .for_each(|object| apply_as_operator(&mut cluster, object));
    let settings = Settings::default();
    Evaluator::new(&cluster, &settings)
        .all()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// What the operator evaluates without the object, it still evaluates with
/// the object however broken.
fn evaluated_without(objects: &[Value], left_out: usize) -> BTreeSet<String> {
    let rest: Vec<Value> = objects
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != left_out)
        .map(|(_, o)| o.clone())
        .collect();
    evaluated_namespaces(&rest)
}

/// How the mutated object reaches `scan`: as JSON or YAML text, or that text
/// broken (cut short, or invalid UTF-8 in a label).
#[derive(Clone, Debug)]
enum Text {
    Json,
    Yaml,
    Truncated(usize),
    InvalidUtf8,
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        3 => Just(Text::Json),
        3 => Just(Text::Yaml),
        1 => any::<usize>().prop_map(Text::Truncated),
        1 => Just(Text::InvalidUtf8),
    ]
}

fn encoded(object: &Value, text: &Text) -> (Vec<u8>, &'static str, bool) {
    let json = serde_json::to_string(object).expect("a Value encodes");
    match text {
        Text::Json => (json.into_bytes(), "json", false),
        Text::Yaml => (
            serde_norway::to_string(object)
                .expect("a Value encodes")
                .into_bytes(),
            "yaml",
            false,
        ),
        Text::Truncated(at) => {
            let cut = json.len().saturating_sub(1).min(1 + at % json.len().max(1));
            (json.as_bytes()[..cut].to_vec(), "json", true)
        }
        Text::InvalidUtf8 => {
            let mut bytes =
                b"apiVersion: v1\nkind: Namespace\nmetadata: {name: broken, labels: {team: \""
                    .to_vec();
            bytes.extend([0xff, 0xfe]);
            bytes.extend(b"\"}}\n");
            (bytes, "yaml", true)
        }
    }
}

fn scanned_namespaces(dir: &std::path::Path) -> (Option<i32>, BTreeSet<String>, String) {
    let out = common::netposture(&[
        "scan",
        "-f",
        dir.to_str().expect("a UTF-8 path"),
        "-o",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let names = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|list| list["items"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            item.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    (out.status.code(), names, stderr)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_operator_index_evaluates_every_other_namespace_whatever_one_object_holds(
        seed in any::<prop::sample::Index>(), pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut objects = seeds();
        let target = seed.index(objects.len());
        let expected = evaluated_without(&objects, target);
        for (n, m) in mutations.iter().enumerate() {
            mutate(&mut objects[target], pick.wrapping_add(n * 7919), m);
        }
        let evaluated = evaluated_namespaces(&objects);
        prop_assert!(expected.is_subset(&evaluated), "lost: {:?}", expected.difference(&evaluated).collect::<Vec<_>>());
    }
}

proptest! {
    // Each case runs the binary twice.
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn scan_leaves_out_a_broken_object_and_reports_the_rest(
        seed in any::<prop::sample::Index>(), pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..3), text in text(),
    ) {
        let mut objects = seeds();
        let target = seed.index(objects.len());
        let rest: Vec<&Value> = objects.iter().enumerate().filter(|(i, _)| *i != target).map(|(_, o)| o).collect();
        let rest_yaml: String = rest.iter().map(|o| format!("---\n{}", serde_norway::to_string(o).expect("encodes"))).collect();
        let dir = tempfile::tempdir().expect("a temp dir");
        fs::write(dir.path().join("rest.yaml"), &rest_yaml).expect("written");
        let (code, expected, stderr) = scanned_namespaces(dir.path());
        prop_assert!(matches!(code, Some(0 | 1)), "the untouched objects scan: {stderr}");

        for (n, m) in mutations.iter().enumerate() {
            mutate(&mut objects[target], pick.wrapping_add(n * 7919), m);
        }
        let (bytes, extension, text_broken) = encoded(&objects[target], &text);
        let file = format!("mutated.{extension}");
        fs::write(dir.path().join(&file), bytes).expect("written");
        let (code, scanned, stderr) = scanned_namespaces(dir.path());

        prop_assert!(!stderr.contains("panicked"), "{stderr}");
        match code {
            Some(0 | 1) => prop_assert!(expected.is_subset(&scanned), "lost {:?}; stderr: {stderr}", expected.difference(&scanned).collect::<Vec<_>>()),
            // An input error names the file, and only text that is not YAML or
            // JSON (or too deeply nested to read) is one.
            Some(2) => {
                prop_assert!(stderr.contains("error:") && stderr.contains(&file), "{stderr}");
                let nested = mutations.iter().any(|m| matches!(m, Mutation::Nest(_)));
                prop_assert!(text_broken || nested, "a well-formed object failed the whole scan: {stderr}");
            }
            other => prop_assert!(false, "exit {other:?}: {stderr}"),
        }
    }
}
