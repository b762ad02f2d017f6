//! The realistic style's pods: named and labelled as their controllers
//! stamp them, so that almost every ReplicaSet, revision, StatefulSet
//! ordinal and Job run carries labels of its own, while the labels policies
//! select on (`app`, `tier`, `app.kubernetes.io/name`) stay few.

use serde_json::{Map, Value, json};

use crate::{Rng, TIERS};

/// The alphabet Kubernetes draws name suffixes and template hashes from
/// (no vowels, no look-alike digits).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Percent of workloads caught mid-rollout: two revisions' pods side by side.
const ROLLOUT_PERCENT: usize = 30;

/// Name, labels and controller of one generated pod.
pub(crate) struct Stamp {
    pub(crate) name: String,
    pub(crate) labels: Map<String, Value>,
    pub(crate) owner: Value,
}

#[derive(Clone, Copy)]
enum Controller {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
}

impl Controller {
    fn draw(rng: &mut Rng) -> Self {
        match rng.below(10) {
            0..=3 => Controller::Deployment,
            4..=6 => Controller::StatefulSet,
            7 => Controller::DaemonSet,
            _ => Controller::Job,
        }
    }
}

fn random_text(rng: &mut Rng, length: usize) -> String {
    (0..length)
        .map(|_| ALPHABET[rng.below(ALPHABET.len())] as char)
        .collect()
}

/// A pod name suffix: random, as the API server's `generateName`, with the
/// pod's ordinal after it so no two pods of a workload share a name.
fn pod_suffix(rng: &mut Rng, ordinal: usize) -> String {
    let mut suffix = random_text(rng, 3);
    let base = ALPHABET.len();
    let (mut rest, mut digits) = (ordinal, 0);
    while digits < 2 || rest > 0 {
        suffix.push(ALPHABET[rest % base] as char);
        rest /= base;
        digits += 1;
    }
    suffix
}

fn uid(rng: &mut Rng) -> String {
    let hex = |rng: &mut Rng, digits: usize| -> String {
        (0..digits)
            .map(|_| char::from_digit(rng.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    };
    format!(
        "{}-{}-4{}-8{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        hex(rng, 3),
        hex(rng, 12)
    )
}

fn owner(kind: &str, api_version: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
        "controller": true, "blockOwnerDeletion": true})
}

/// The labels a Helm chart puts on every pod of app `app`, at `version`.
/// Jobs carry no `tier`: selectors written with `NotIn`/`DoesNotExist` meet
/// pods without the key.
fn chart_labels(namespace: &str, app: usize, version: &str, tiered: bool) -> Map<String, Value> {
    let name = format!("app-{app}");
    let mut labels = Map::new();
    labels.insert("app".into(), json!(name));
    if tiered {
        labels.insert("tier".into(), json!(TIERS[app % TIERS.len()]));
    }
    labels.insert("app.kubernetes.io/name".into(), json!(name));
    labels.insert(
        "app.kubernetes.io/instance".into(),
        json!(format!("{namespace}-{name}")),
    );
    labels.insert("app.kubernetes.io/version".into(), json!(version));
    labels.insert("app.kubernetes.io/managed-by".into(), json!("Helm"));
    labels.insert(
        "helm.sh/chart".into(),
        json!(format!("{name}-{}", version.trim_start_matches('v'))),
    );
    labels
}

/// One revision of a workload: its version and the hash its controller stamps.
struct Revision {
    version: String,
    hash: String,
}

fn revisions(rng: &mut Rng) -> [Revision; 2] {
    let minor = rng.below(30);
    let patch = rng.below(10);
    let mut revision = |minor: usize| Revision {
        version: format!("v1.{minor}.{patch}"),
        hash: random_text(rng, 10),
    };
    [revision(minor), revision(minor + 1)]
}

/// The `count` pods of app `app` of `namespace`, in ordinal order.
pub(crate) fn app_pods(rng: &mut Rng, namespace: &str, app: usize, count: usize) -> Vec<Stamp> {
    let workload = format!("app-{app}");
    let controller = Controller::draw(rng);
    let [old, new] = revisions(rng);
    // Pods from this ordinal on run the new revision; all of them when no rollout is under way.
    let first_new = if rng.chance(ROLLOUT_PERCENT) {
        count / 2
    } else {
        0
    };
    let controller_uid = uid(rng);
    (0..count)
        .map(|ordinal| {
            let revision = if ordinal < first_new { &old } else { &new };
            let tiered = !matches!(controller, Controller::Job);
            let mut labels = chart_labels(namespace, app, &revision.version, tiered);
            let mut label = |key: &str, value: String| labels.insert(key.into(), json!(value));
            let (name, owner) = match controller {
                Controller::Deployment => {
                    let replica_set = format!("{workload}-{}", revision.hash);
                    label("pod-template-hash", revision.hash.clone());
                    let name = format!("{replica_set}-{}", pod_suffix(rng, ordinal));
                    (
                        name,
                        owner("ReplicaSet", "apps/v1", &replica_set, &controller_uid),
                    )
                }
                Controller::StatefulSet => {
                    let name = format!("{workload}-{ordinal}");
                    label(
                        "controller-revision-hash",
                        format!("{workload}-{}", revision.hash),
                    );
                    label("statefulset.kubernetes.io/pod-name", name.clone());
                    label("apps.kubernetes.io/pod-index", ordinal.to_string());
                    (
                        name,
                        owner("StatefulSet", "apps/v1", &workload, &controller_uid),
                    )
                }
                Controller::DaemonSet => {
                    label("controller-revision-hash", revision.hash.clone());
                    let generation = if ordinal < first_new { 1 } else { 2 };
                    label("pod-template-generation", generation.to_string());
                    let name = format!("{workload}-{}", pod_suffix(rng, ordinal));
                    (
                        name,
                        owner("DaemonSet", "apps/v1", &workload, &controller_uid),
                    )
                }
                Controller::Job => {
                    // One Job per pod, as a CronJob leaves them: each run has its own uid.
                    let job = format!("{workload}-{}", 29_000_000 + ordinal);
                    let job_uid = uid(rng);
                    for prefix in ["", "batch.kubernetes.io/"] {
                        label(&format!("{prefix}controller-uid"), job_uid.clone());
                        label(&format!("{prefix}job-name"), job.clone());
                    }
                    label("batch.kubernetes.io/job-completion-index", "0".into());
                    let name = format!("{job}-0-{}", random_text(rng, 5));
                    (name, owner("Job", "batch/v1", &job, &job_uid))
                }
            };
            Stamp {
                name,
                labels,
                owner,
            }
        })
        .collect()
}
