//! The reader against the k8s-openapi path the operator takes for live
//! objects: the same index, compared whole (every pod, policy, rejection
//! and CNI signal), for clusters of every generator style; and YAML
//! documents against the same objects in one JSON List.

use std::path::PathBuf;

use netposture_engine::Cluster;
use netposture_testgen::{Sizes, Style, generate};
use serde_json::json;

use super::*;
use crate::input::inventory;

fn index(manifests: Manifests) -> String {
    format!("{:#?}", inventory::from_manifests(manifests))
}

#[test]
fn generated_clusters_of_every_style_index_as_their_k8s_openapi_objects() {
    for style in Style::ALL {
        let objects = generate(&Sizes {
            seed: 3,
            namespaces: 12,
            pods_per_namespace: 8,
            policies_per_namespace: 4,
            style,
        });
        let text = String::from_utf8(objects.to_list_json().unwrap()).unwrap();
        let read = Manifests::from_text(&text).unwrap();
        assert!(read.undecodable.is_empty() && read.skipped.is_empty());
        let expected = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
        assert_eq!(
            index(read),
            format!("{expected:#?}"),
            "style {}",
            style.name()
        );
    }
}

#[test]
fn the_examples_index_the_same_as_yaml_and_as_one_json_list() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for example in ["cluster", "flannel-cluster"] {
        let paths = [examples.join(example)];
        let from_yaml = load(&paths).unwrap();
        let mut items = Vec::new();
        for file in files_under(&paths[0]).unwrap() {
            let text = std::fs::read_to_string(&file).unwrap();
            for document in serde_norway::Deserializer::from_str(&text) {
                items.push(Value::deserialize(document).unwrap());
            }
        }
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string();
        let from_json = Manifests::from_text(&list).unwrap();
        assert!(!from_yaml.workloads.is_empty() && from_yaml.undecodable.is_empty());
        assert_eq!(index(from_yaml), index(from_json), "examples/{example}");
    }
}
