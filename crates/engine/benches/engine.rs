//! `just bench`: the engine's performance targets on a generated cluster of
//! 2,000 namespaces, 100,000 pods and 20,000 policies, each figure printed
//! next to its target, plus the ratio to serde_json deserialization of the
//! same objects measured in the same run. Single-threaded by construction.

use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use netposture_engine::{Cluster, Evaluator, Settings};
use netposture_testgen::{Sizes, generate};

/// Median wall time of `runs` calls.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let sizes = Sizes::large();
    let objects = generate(&sizes);
    let namespaces_json = serde_json::to_vec(&objects.namespaces).expect("serializable");
    let pods_json = serde_json::to_vec(&objects.pods).expect("serializable");
    let policies_json = serde_json::to_vec(&objects.policies).expect("serializable");
    let total_bytes = namespaces_json.len() + pods_json.len() + policies_json.len();
    println!(
        "generated cluster (seed {}): {} namespaces, {} pods, {} policies, {:.1} MiB of JSON",
        sizes.seed,
        objects.namespaces.len(),
        objects.pods.len(),
        objects.policies.len(),
        total_bytes as f64 / (1024.0 * 1024.0)
    );

    let deserialize = median(3, || {
        let n: Vec<Namespace> = serde_json::from_slice(&namespaces_json).expect("valid JSON");
        let p: Vec<Pod> = serde_json::from_slice(&pods_json).expect("valid JSON");
        let q: Vec<NetworkPolicy> = serde_json::from_slice(&policies_json).expect("valid JSON");
        black_box((n, p, q));
    });

    let build = || Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
    let index = median(3, || {
        black_box(build());
    });
    let mut cluster = build();
    let settings = Settings::default();

    let full = median(5, || {
        black_box(Evaluator::new(&cluster, &settings).all());
    });
    let postures = Evaluator::new(&cluster, &settings).all();
    let covered = postures.iter().filter(|(_, p)| p.covered).count();

    // One change: a policy of one namespace is replaced, then that namespace is re-evaluated.
    let target = "ns-01000";
    let mut changed = objects
        .policies
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some(target))
        .expect("generated namespace has policies")
        .clone();
    let mut flip = false;
    let one = median(101, || {
        flip = !flip;
        let spec = changed.spec.get_or_insert_with(Default::default);
        spec.policy_types = Some(if flip {
            vec!["Ingress".into()]
        } else {
            vec!["Ingress".into(), "Egress".into()]
        });
        cluster.apply_policy(&changed);
        black_box(Evaluator::new(&cluster, &settings).namespace(target));
    });

    println!("{covered} of {} namespaces covered", postures.len());
    println!();
    println!(
        "{:<48} {:>14} {:>12} {:>8}",
        "measure", "measured", "target", "met"
    );
    let row = |name: &str, measured: Duration, target: Duration| {
        let met = if measured <= target { "yes" } else { "NO" };
        println!(
            "{name:<48} {:>14} {:>12} {met:>8}",
            ms(measured),
            ms(target)
        );
    };
    row(
        "full evaluation (all namespaces)",
        full,
        Duration::from_secs(1),
    );
    row(
        "full evaluation, below serde_json deserialize",
        full,
        deserialize,
    );
    row(
        "one-namespace re-evaluation after one change",
        one,
        Duration::from_millis(5),
    );
    println!(
        "{:<48} {:>14}",
        "serde_json deserialize of the same objects",
        ms(deserialize)
    );
    println!(
        "{:<48} {:>14}",
        "index build from k8s-openapi objects",
        ms(index)
    );
    println!();
    println!(
        "ratio full evaluation / serde_json deserialize: {:.3}",
        full.as_secs_f64() / deserialize.as_secs_f64()
    );
}
