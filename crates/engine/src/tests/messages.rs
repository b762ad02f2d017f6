//! Messages are written for people: no Rust debug text, the field a
//! person must fix named as the API names it.

use super::*;

#[test]
fn a_container_port_without_containerport_says_it_is_missing() {
    let c = cluster(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a}\nspec: {containers: [{name: main, image: app, ports: [{name: http}]}]}\n",
    );
    let finding = posture(&c, "a").check("invalid-object").cloned().unwrap();
    assert!(
        finding
            .message
            .ends_with("container main: containerPort is missing"),
        "{}",
        finding.message
    );
}

#[test]
fn an_unknown_calico_action_is_quoted_not_debug_printed() {
    let c = cluster(&format!(
        "{CALICO}apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: odd}}\nspec: {{selector: all(), types: [Egress], egress: [{{action: Accept}}, {{}}]}}\n---\n{}",
        pod("a", "web", "app: web")
    ));
    let layers = posture(&c, "a")
        .check("unevaluated-policies")
        .cloned()
        .unwrap();
    let evidence = layers.evidence.join("\n");
    assert!(
        evidence.contains("egress[0]: unknown action `Accept`"),
        "{evidence}"
    );
    assert!(
        evidence.contains("egress[1]: action is missing"),
        "{evidence}"
    );
    assert!(!evidence.contains("Some("), "{evidence}");
}
