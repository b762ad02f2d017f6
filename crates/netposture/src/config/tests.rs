use super::*;

fn parse(text: &str) -> Result<Settings, String> {
    let config: Config = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    config.settings()
}

#[test]
fn documented_default_file_parses_to_the_built_in_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/netposture.yaml");
    let loaded = Config::load(&path).unwrap().settings().unwrap();
    let defaults = Config::default().settings().unwrap();
    assert_eq!(loaded.dns_namespace, defaults.dns_namespace);
    assert_eq!(loaded.dns_selector, defaults.dns_selector);
    assert_eq!(
        loaded.node_local_dns_addresses,
        defaults.node_local_dns_addresses
    );
    assert_eq!(loaded.weights, defaults.weights);
    assert_eq!(loaded.unprotected_pods_cap, defaults.unprotected_pods_cap);
    assert_eq!(loaded.system_namespaces, defaults.system_namespaces);
    assert_eq!(loaded.mesh_root_namespace, defaults.mesh_root_namespace);
    assert_eq!(loaded.pod_cidrs, defaults.pod_cidrs);
    assert!(loaded.cni_override.is_none());
    let rules = Config::load(&path).unwrap().admission.rules().unwrap();
    assert_eq!(rules, Config::default().admission.rules().unwrap());
    assert!(rules.deny.is_empty() && rules.bypass_annotation.is_none());
}

#[test]
fn admission_conditions_are_diff_conditions_and_a_bad_one_is_named() {
    let config: Config =
        serde_norway::from_str("admission: {deny: [dns-broken, score-drop:10]}").unwrap();
    let rules = config.admission.rules().unwrap();
    assert_eq!(
        rules.deny,
        [Condition::DnsBroken, Condition::ScoreDrop(10)].to_vec()
    );
    let config: Config = serde_norway::from_str("admission: {deny: [dns-brokn]}").unwrap();
    let error = config.admission.rules().unwrap_err();
    assert!(
        error.starts_with("admission.deny[0]: unknown condition \"dns-brokn\""),
        "{error}"
    );
}

#[test]
fn pod_cidrs_are_read_and_a_bad_one_is_named() {
    let settings = parse("podCIDRs: [10.244.0.0/16, 'fd00:10:244::/56']\n").unwrap();
    let cidrs: Vec<String> = settings.pod_cidrs.iter().map(ToString::to_string).collect();
    assert_eq!(cidrs, ["10.244.0.0/16", "fd00:10:244::/56"]);
    let err = parse("podCIDRs: [10.244.0.0/16, 10.1.2.3]\n").unwrap_err();
    assert!(
        err.contains("podCIDRs[1]") && err.contains("10.1.2.3"),
        "{err}"
    );
}

#[test]
fn durations_too_long_for_a_timer_are_refused_not_overflowed() {
    assert_eq!(
        parse_duration("8760h", "x").unwrap().as_secs(),
        365 * 24 * 3600
    );
    for huge in [
        "8761h",
        "18446744073709551615h",
        "5124095576030432m",
        "99999999999999999999s",
    ] {
        let err = parse_duration(huge, "--resync-period").unwrap_err();
        assert!(err.starts_with("--resync-period: "), "{huge}: {err}");
    }
}

#[test]
fn durations_take_seconds_minutes_and_hours_and_name_the_field() {
    assert_eq!(parse_duration("90s", "x").unwrap().as_secs(), 90);
    assert_eq!(parse_duration("5m", "x").unwrap().as_secs(), 300);
    assert_eq!(parse_duration("1h", "x").unwrap().as_secs(), 3600);
    for bad in ["5", "m", "0s", "5 min", "-1s"] {
        let err = parse_duration(bad, "resyncPeriod").unwrap_err();
        assert!(err.starts_with("resyncPeriod:"), "{bad}: {err}");
    }
}

#[test]
fn zero_turns_off_only_where_allowed() {
    assert!(parse_duration_or_zero("0s", "x").unwrap().is_zero());
    assert_eq!(parse_duration_or_zero("2s", "x").unwrap().as_secs(), 2);
    assert!(parse_duration_or_zero("soon", "--debounce").is_err());
}

#[test]
fn bad_resync_period_in_the_file_is_rejected_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, "resyncPeriod: soon\n").unwrap();
    let err = Config::load(&path).unwrap_err().to_string();
    assert!(err.contains("resyncPeriod"), "{err}");
}

#[test]
fn exclusion_by_name_label_and_annotation() {
    let config: Config = serde_norway::from_str(
        "exclude: {namespaces: [scratch], namespaceSelector: {matchLabels: {tier: sandbox}}}\n",
    )
    .unwrap();
    let exclusion = config.exclusion().unwrap();
    let cluster = netposture_engine::Cluster::from_objects(
        &[
            serde_json::from_value(serde_json::json!({"metadata": {"name": "scratch"}})).unwrap(),
            serde_json::from_value(serde_json::json!({"metadata": {"name": "play", "labels": {"tier": "sandbox"}}})).unwrap(),
            serde_json::from_value(serde_json::json!({"metadata": {"name": "opt-out", "annotations": {"netposture.io/exclude": "true"}}})).unwrap(),
            serde_json::from_value(serde_json::json!({"metadata": {"name": "shop"}})).unwrap(),
        ],
        &[],
        &[],
    );
    let excluded: Vec<&String> = cluster
        .namespaces()
        .filter(|(name, state)| exclusion.excludes(name, state))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(excluded, ["opt-out", "play", "scratch"]);
}

#[test]
fn unknown_key_is_an_error_naming_it() {
    let err = parse("dns:\n  namespce: kube-system\n").unwrap_err();
    assert!(err.contains("namespce"), "{err}");
}

#[test]
fn invalid_dns_selector_is_an_error_naming_the_field() {
    let err = parse("dns:\n  podSelector:\n    matchExpressions: [{key: a, operator: Like}]\n")
        .unwrap_err();
    assert!(
        err.contains("dns.podSelector") && err.contains("Like"),
        "{err}"
    );
}

#[test]
fn unknown_weight_is_an_error_naming_it() {
    let err = parse("scoreWeights: {default-deny: 5}\n").unwrap_err();
    assert!(err.contains("scoreWeights.default-deny"), "{err}");
}

#[test]
fn weights_merge_over_the_defaults() {
    let settings = parse("scoreWeights: {egress-restricted: 0}\n").unwrap();
    assert_eq!(settings.weights["egress-restricted"], 0);
    assert_eq!(settings.weights["default-deny-ingress"], 20);
}

#[test]
fn cni_flag_knows_usual_capabilities_and_takes_explicit_ones() {
    assert_eq!(
        CniOverride::parse("flannel").unwrap().capable,
        Capability::False
    );
    assert_eq!(
        CniOverride::parse("calico").unwrap().capable,
        Capability::True
    );
    assert_eq!(
        CniOverride::parse("mycni:True").unwrap().capable,
        Capability::True
    );
    assert!(CniOverride::parse("mycni").is_err());
    assert!(CniOverride::parse("calico:maybe").is_err());
}
