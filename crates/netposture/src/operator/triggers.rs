//! Which namespaces wait for re-evaluation, and when each is due. A change
//! opens a window of `debounce` for its namespace; later changes inside the
//! window join it, and when the window ends the namespace goes to the
//! controller once. A trailing debounce restarts with every change, so a
//! namespace that keeps changing (a pod flapping in kube-system touches them
//! all) would never be evaluated; here a change waits at most one window.
//! One entry per namespace: what waits is bounded by the cluster, not by the
//! rate of events.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

pub struct Triggers {
    debounce: Duration,
    waiting: Mutex<Waiting>,
    /// Signalled when a namespace becomes due earlier than before.
    wake: Notify,
}

#[derive(Debug, Default)]
struct Waiting {
    due: HashMap<String, Instant>,
    /// The entries of `due`, earliest first.
    queue: BTreeSet<(Instant, String)>,
}

impl Waiting {
    /// Keeps the earlier of the namespace's due times; true if `at` is it.
    fn request(&mut self, name: String, at: Instant) -> bool {
        match self.due.get(&name) {
            Some(due) if *due <= at => return false,
            Some(due) => {
                self.queue.remove(&(*due, name.clone()));
            }
            None => {}
        }
        self.due.insert(name.clone(), at);
        self.queue.insert((at, name));
        true
    }

    fn pop_due(&mut self, now: Instant) -> Vec<String> {
        let mut ready = Vec::new();
        while let Some(first) = self.queue.first().filter(|(at, _)| *at <= now) {
            let (_, name) = first.clone();
            self.queue.pop_first();
            self.due.remove(&name);
            ready.push(name);
        }
        ready
    }

    fn next_due(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }
}

impl Triggers {
    pub fn new(debounce: Duration) -> Self {
        Triggers {
            debounce,
            waiting: Mutex::default(),
            wake: Notify::new(),
        }
    }

    /// Something these namespaces depend on changed: each is evaluated at
    /// most one debounce from now (sooner if it already waits).
    pub fn changed(&self, names: impl IntoIterator<Item = String>) {
        self.request(names, Instant::now() + self.debounce);
    }

    /// These namespaces' reports are known to differ (a full pass found
    /// them): no reason to wait.
    pub fn now(&self, names: impl IntoIterator<Item = String>) {
        self.request(names, Instant::now());
    }

    fn request(&self, names: impl IntoIterator<Item = String>, at: Instant) {
        let earlier = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            names
                .into_iter()
                .fold(false, |earlier, name| waiting.request(name, at) | earlier)
        };
        if earlier {
            self.wake.notify_one();
        }
    }

    /// Sends each namespace to the controller when it is due, until the
    /// controller is gone. The channel is bounded: while the controller
    /// lags, namespaces keep waiting here, merged, instead of piling up.
    pub async fn dispatch(&self, controller: mpsc::Sender<ObjectRef<Namespace>>) {
        loop {
            let (ready, next) = {
                let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                (waiting.pop_due(Instant::now()), waiting.next_due())
            };
            if !ready.is_empty() {
                for name in ready {
                    if controller.send(ObjectRef::new(&name)).await.is_err() {
                        return;
                    }
                }
                continue;
            }
            // A request made since the lock was released left a permit in `wake`.
            match next {
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_repeated_change_keeps_its_first_due_time() {
        let start = Instant::now();
        let mut waiting = Waiting::default();
        assert!(waiting.request("a".into(), start + Duration::from_secs(1)));
        assert!(!waiting.request("a".into(), start + Duration::from_secs(2)));
        assert_eq!(
            waiting.pop_due(start + Duration::from_millis(999)),
            names(&[])
        );
        assert_eq!(
            waiting.pop_due(start + Duration::from_secs(1)),
            names(&["a"])
        );
        assert_eq!(waiting.next_due(), None);
    }

    #[test]
    fn an_urgent_request_moves_a_waiting_namespace_forward() {
        let start = Instant::now();
        let mut waiting = Waiting::default();
        waiting.request("a".into(), start + Duration::from_secs(1));
        waiting.request("b".into(), start + Duration::from_secs(1));
        assert!(waiting.request("b".into(), start));
        assert_eq!(waiting.pop_due(start), names(&["b"]));
        assert_eq!(waiting.next_due(), Some(start + Duration::from_secs(1)));
        assert_eq!(waiting.queue.len(), waiting.due.len());
    }
}
