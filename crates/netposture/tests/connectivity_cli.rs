//! Runs `netposture connectivity` on small manifests: the grouped form
//! (classes, then class pairs) and the pair form say the same thing.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a test failure

mod common;

use common::{netposture, repo};

const SHOP: &str = "crates/netposture/tests/fixtures/connectivity.yaml";

fn connectivity(manifest: &str, format: &str) -> String {
    let path = repo(manifest);
    let out = netposture(&["connectivity", "-f", path.to_str().unwrap(), "-o", format]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn grouped_lists_classes_then_class_pairs() {
    let all_ports = |from: &str, to: &str| {
        ["TCP", "UDP", "SCTP"].map(|protocol| format!("{from} {to} {protocol} 1-65535 -\n"))
    };
    let mut expected = String::from(
        "# 3 pods in 2 classes: CLASS PODS LABELS MEMBERS\n\
         shop#1 1 app=db db-0\n\
         shop#2 2 app=web web-1,web-2\n\
         # SOURCE DESTINATION PROTOCOL ALLOWED CNI-DEPENDENT\n",
    );
    // The database's egress is not isolated; its ingress admits web on 5432/TCP only.
    expected.extend(all_ports("shop#1", "shop#2"));
    expected.push_str("shop#2 shop#1 TCP 5432 -\n");
    expected.extend(all_ports("shop#2", "shop#2"));
    assert_eq!(connectivity(SHOP, "grouped"), expected);
}

#[test]
fn pairs_expand_the_classes() {
    let pairs = connectivity(SHOP, "pairs");
    let lines: Vec<&str> = pairs.lines().collect();
    assert!(lines.contains(&"shop/web-1 shop/db-0 TCP 5432 -"));
    assert!(lines.contains(&"shop/web-2 shop/db-0 TCP 5432 -"));
    assert!(lines.contains(&"shop/web-1 shop/web-2 UDP 1-65535 -"));
    assert!(
        !lines
            .iter()
            .any(|line| line.starts_with("shop/web-1 shop/db-0 UDP"))
    );
    // db to both webs and webs to each other on 3 protocols, webs to db on TCP.
    assert_eq!(lines.len(), 2 * 3 + 2 * 3 + 2);
}

/// `SOURCE DESTINATION` of each class pair the grouped form lists.
fn grouped_class_pairs(grouped: &str) -> std::collections::BTreeSet<(String, String)> {
    grouped
        .lines()
        .skip_while(|line| !line.starts_with("# SOURCE"))
        .skip(1)
        .map(|line| {
            let mut words = line.split(' ');
            (
                words.next().unwrap().to_string(),
                words.next().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn dot_draws_every_class_as_a_node_and_every_grouped_pair_as_an_edge() {
    let dot = connectivity(SHOP, "dot");
    assert!(dot.starts_with("digraph connectivity {\n"), "{dot}");
    assert!(dot.ends_with("}\n"), "{dot}");
    assert_eq!(dot.matches('{').count(), dot.matches('}').count(), "{dot}");
    assert!(dot.contains("subgraph \"cluster_shop\" {"), "{dot}");
    let nodes: Vec<&str> = dot
        .lines()
        .filter(|line| line.contains(" [label=") && !line.contains("->"))
        .collect();
    assert_eq!(nodes.len(), 2, "{dot}");
    let edges: std::collections::BTreeSet<(String, String)> = dot
        .lines()
        .filter_map(|line| {
            let (from, rest) = line.trim().split_once(" -> ")?;
            let to = rest.split_once(" [")?.0;
            Some((from.trim_matches('"').into(), to.trim_matches('"').into()))
        })
        .collect();
    assert_eq!(
        edges,
        grouped_class_pairs(&connectivity(SHOP, "grouped")),
        "{dot}"
    );
    assert!(
        dot.contains("\"shop#2\" -> \"shop#1\" [label=\"TCP 5432\", style=solid];"),
        "{dot}"
    );
}
