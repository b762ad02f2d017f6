//! `just bench`: what the admission webhook costs per request. For clusters
//! of 10,000 and 100,000 pods (`netposture-testgen`, seed 42) it previews
//! policy changes as the webhook does (`whatif::preview`: the change on a
//! copy-on-write clone of the index, the affected namespaces evaluated
//! before and after) and prints p50 and p99 next to the full evaluation of
//! every namespace. Single-threaded by construction.

use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use netposture_engine::whatif::{Change, preview};
use netposture_engine::{Cluster, Evaluator, Settings};
use netposture_testgen::{Sizes, generate};

/// Requests per size: creates, updates and deletes in equal parts.
const REQUESTS: usize = 600;

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// A default deny of egress with no DNS rule: the change the webhook warns about.
fn deny_egress(namespace: &str) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some("bench-deny-egress".into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Egress".into()]),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// The same policy with its policy types flipped, as an update would.
fn updated(policy: &NetworkPolicy) -> NetworkPolicy {
    let mut policy = policy.clone();
    let spec = policy.spec.get_or_insert_with(Default::default);
    let both = spec.policy_types.as_ref().is_some_and(|t| t.len() == 2);
    spec.policy_types = Some(if both {
        vec!["Ingress".into()]
    } else {
        vec!["Ingress".into(), "Egress".into()]
    });
    policy
}

fn measure(label: &str, sizes: &Sizes) {
    let objects = generate(sizes);
    let cluster = Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
    let settings = Settings::default();
    let mut full: Vec<Duration> = (0..3)
        .map(|_| {
            let start = Instant::now();
            black_box(Evaluator::new(&cluster, &settings).all());
            start.elapsed()
        })
        .collect();
    full.sort();

    let namespaces: Vec<&str> = objects
        .namespaces
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .filter(|n| n.starts_with("ns-"))
        .collect();
    // Spread over the cluster: every k-th namespace and policy.
    let step = |len: usize| (len / (REQUESTS / 3)).max(1);
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut time = |change: Change<'_>| {
        let start = Instant::now();
        black_box(preview(&cluster, &settings, &change));
        latencies.push(start.elapsed());
    };
    for namespace in namespaces
        .iter()
        .step_by(step(namespaces.len()))
        .take(REQUESTS / 3)
    {
        time(Change::PutPolicy(deny_egress(namespace)));
    }
    let policies = objects
        .policies
        .iter()
        .step_by(step(objects.policies.len()));
    for policy in policies.take(REQUESTS / 3) {
        time(Change::PutPolicy(updated(policy)));
        time(Change::DeletePolicy {
            namespace: policy.metadata.namespace.as_deref().unwrap_or("default"),
            name: policy.metadata.name.as_deref().unwrap_or_default(),
        });
    }
    latencies.sort();
    println!(
        "{label:<10} {:>8} {:>8} {:>14} {:>14} {:>14} {:>14}",
        objects.pods.len(),
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[latencies.len() - 1]),
        ms(full[1]),
    );
}

fn main() {
    println!(
        "{:<10} {:>8} {:>8} {:>14} {:>14} {:>14} {:>14}",
        "cluster", "pods", "requests", "admission p50", "admission p99", "max", "full eval"
    );
    let large = Sizes::large();
    let small = Sizes {
        namespaces: large.namespaces / 10,
        ..large.clone()
    };
    measure("10k pods", &small);
    measure("100k pods", &large);
    println!("target: admission p99 <= 20 ms at 100,000 pods");
}
