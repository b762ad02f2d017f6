//! Pods past their header: decoding and converting them is most of the work
//! of reading a cluster, so JSON input does it on a second thread while the
//! first goes on reading (see [`Manifests::read_json`](super::Manifests)).
//! Pods are applied in the order read, so of two with one name the later
//! still wins; other kinds do not depend on pods.

use std::sync::mpsc;

use netposture_engine::convert::{self, Rejected};
use netposture_engine::model::{self, Labels};

use super::{Manifests, Origin, Undecodable, decode};
use crate::input::lean_pod::LeanPod;

/// Pods handed to the second thread at a time.
const BATCH: usize = 256;
/// Batches waiting for it at most, which bounds the text held.
const QUEUED: usize = 8;

/// A Pod whose header is read: its text and what its header says.
pub struct PodJob<T> {
    pub text: T,
    /// From the header, for a Pod that does not decode.
    pub namespace: Option<String>,
    pub name: String,
    pub origin: Origin,
}

impl PodJob<&str> {
    /// With its own copy of the text, to go to the second thread.
    pub fn into_owned(self) -> PodJob<String> {
        PodJob {
            text: self.text.to_string(),
            namespace: self.namespace,
            name: self.name,
            origin: self.origin,
        }
    }
}

/// A Pod decoded and converted, or why it does not decode.
pub struct ReadPod {
    job: PodJob<()>,
    read: Result<Converted, String>,
}

struct Converted {
    namespace: String,
    name: String,
    pod: Result<model::Pod, Rejected>,
    /// The labels of a Pod the engine rejects, which the index does not keep.
    rejected_labels: Option<Labels>,
}

impl<T: AsRef<str>> PodJob<T> {
    pub fn run(self) -> ReadPod {
        let read = decode::<LeanPod>(self.text.as_ref()).map(|lean| {
            let pod = lean.into_pod();
            let converted = convert::pod(&pod);
            let metadata = pod.metadata;
            Converted {
                namespace: metadata.namespace.unwrap_or_else(|| "default".into()),
                name: metadata.name.unwrap_or_default(),
                rejected_labels: converted
                    .is_err()
                    .then(|| metadata.labels.unwrap_or_default()),
                pod: converted,
            }
        });
        let job = PodJob {
            text: (),
            namespace: self.namespace,
            name: self.name,
            origin: self.origin,
        };
        ReadPod { job, read }
    }
}

impl Manifests {
    /// Puts a read Pod into the index, or records why it is left out.
    pub(super) fn add_pod(&mut self, pod: ReadPod) {
        let read = match pod.read {
            Ok(read) => read,
            Err(error) => {
                self.undecodable.push(Undecodable {
                    kind: "Pod",
                    namespace: pod.job.namespace,
                    name: pod.job.name,
                    reason: format!("does not decode as a Pod: {error}"),
                    origin: pod.job.origin,
                });
                return;
            }
        };
        if let Some(labels) = read.rejected_labels {
            self.rejected_pod_labels
                .push((read.namespace.clone(), labels));
        }
        if !self.namespaces_with_pods.contains(&read.namespace) {
            self.namespaces_with_pods.insert(read.namespace.clone());
        }
        self.cluster.put_pod(&read.namespace, &read.name, read.pod);
    }
}

/// The reading thread's end of the second thread: pods go in batches, and
/// what comes back is applied as it comes and, at [`Self::finish`], to the last.
pub struct PodPipeline {
    batch: Vec<PodJob<String>>,
    jobs: Option<mpsc::SyncSender<Vec<PodJob<String>>>>,
    done: mpsc::Receiver<Vec<ReadPod>>,
}

impl PodPipeline {
    /// Starts the second thread in `scope`.
    pub fn start<'s>(scope: &'s std::thread::Scope<'s, '_>) -> Self {
        let (jobs, queue) = mpsc::sync_channel::<Vec<PodJob<String>>>(QUEUED);
        let (results, done) = mpsc::channel();
        scope.spawn(move || {
            for batch in queue {
                let read: Vec<ReadPod> = batch.into_iter().map(PodJob::run).collect();
                if results.send(read).is_err() {
                    return;
                }
            }
        });
        PodPipeline {
            batch: Vec::with_capacity(BATCH),
            jobs: Some(jobs),
            done,
        }
    }

    /// Queues a Pod; applies to `manifests` what the second thread has done.
    pub fn push(&mut self, job: PodJob<String>, manifests: &mut Manifests) {
        self.batch.push(job);
        if self.batch.len() < BATCH {
            return;
        }
        self.send();
        while let Ok(read) = self.done.try_recv() {
            read.into_iter().for_each(|pod| manifests.add_pod(pod));
        }
    }

    fn send(&mut self) {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(jobs) = &self.jobs {
            // Fails only when the thread panicked, which its scope raises again.
            let _ = jobs.send(batch);
        }
    }

    /// Sends the last batch and applies everything, once the thread is done.
    pub fn finish(mut self, manifests: &mut Manifests) {
        if !self.batch.is_empty() {
            self.send();
        }
        self.jobs = None;
        for read in self.done.iter() {
            read.into_iter().for_each(|pod| manifests.add_pod(pod));
        }
    }
}
