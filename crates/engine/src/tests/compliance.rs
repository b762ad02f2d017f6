//! The compliance mapping: every check is evidence for a control or listed
//! as informational, and the per-control summary over namespaces.

use super::*;
use crate::compliance::{self, ControlStatus, Framework};
use crate::posture::ids;

#[test]
fn every_check_maps_to_a_control_or_is_informational() {
    for id in ids::ALL {
        let mapped = !compliance::labels_of(id).is_empty();
        let informational = compliance::INFORMATIONAL.contains(&id);
        assert!(
            mapped != informational,
            "{id}: mapped to a control {mapped}, informational {informational}; exactly one must hold"
        );
    }
}

#[test]
fn controls_name_only_known_checks_and_every_framework_has_controls() {
    for control in compliance::CONTROLS {
        for check in control.checks {
            assert!(ids::ALL.contains(check), "{}: {check}", control.label());
        }
    }
    for framework in Framework::ALL {
        assert!(compliance::controls(framework).next().is_some());
        assert_eq!(Framework::parse(framework.name()), Some(framework));
    }
}

#[test]
fn reports_list_the_controls_of_each_check() {
    let p = posture(&cluster(&pod("a", "web", "app: web")), "a");
    let deny = p.check(ids::DEFAULT_DENY_INGRESS).unwrap();
    for label in ["PCI-DSS 1.3.1", "SOC2 CC6.1", "CIS 5.3.2"] {
        assert!(
            deny.controls.contains(&label.to_string()),
            "{label}: {:?}",
            deny.controls
        );
    }
    assert!(p.check(ids::DNS_ALLOWED).unwrap().controls.is_empty());
}

#[test]
fn control_fails_with_the_failing_namespaces_and_passes_when_all_pass() {
    let deny = "{podSelector: {}, policyTypes: [Ingress, Egress]}";
    let c = cluster(&format!(
        "{CALICO}{}{}{}{}",
        pod("open", "web", "app: web"),
        pod("closed", "web", "app: web"),
        policy("closed", "deny", deny),
        pod("kube-system", "x", "app: x"),
    ));
    let postures: Vec<_> = Evaluator::new(&c, &Settings::default())
        .all()
        .into_iter()
        .filter(|(name, _)| name != "kube-system")
        .collect();
    let cis = compliance::summarize(Framework::Cis, &postures, 3);
    let row = |label: &str| cis.iter().find(|r| r.control == label).unwrap().clone();
    let policies = row("CIS 5.3.2");
    assert_eq!(policies.status, ControlStatus::Fail);
    assert_eq!(policies.failing_namespaces, 1);
    assert_eq!(policies.failing_examples, ["open"]);
    let cni = row("CIS 5.3.1");
    assert_eq!(cni.status, ControlStatus::Pass, "calico enforces");
    assert_eq!(cni.namespaces, 2);
}
