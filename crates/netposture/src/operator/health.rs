//! Readiness from the watches: the operator is ready once every watched kind
//! has completed its initial list, and says which kind holds it back and why.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchState {
    /// The initial list has not completed yet.
    Starting,
    Synced,
    /// A human reason, e.g. `forbidden: ...` or `CRD networkpostures.netposture.io not installed`.
    Failing(String),
}

impl fmt::Display for WatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchState::Starting => f.write_str("starting (initial list not complete)"),
            WatchState::Synced => f.write_str("synced"),
            WatchState::Failing(reason) => write!(f, "failing: {reason}"),
        }
    }
}

pub struct Health {
    watches: Mutex<BTreeMap<String, WatchState>>,
}

impl Health {
    /// Every kind starts in [`WatchState::Starting`].
    pub fn new(kinds: &[&str]) -> Self {
        let watches = kinds
            .iter()
            .map(|kind| (kind.to_string(), WatchState::Starting))
            .collect();
        Health {
            watches: Mutex::new(watches),
        }
    }

    /// Records the state of a kind; a kind not given to [`Health::new`] is tracked from now on.
    pub fn set(&self, kind: &str, state: WatchState) {
        self.lock().insert(kind.to_string(), state);
    }

    /// Stops tracking a kind that is no longer watched (its CRD went away).
    pub fn remove(&self, kind: &str) {
        self.lock().remove(kind);
    }

    /// Ok when every kind is synced; otherwise one `kind: state` line per kind that is not.
    pub fn readiness(&self) -> Result<(), String> {
        let not_ready: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, state)| **state != WatchState::Synced)
            .map(|(kind, state)| format!("{kind}: {state}"))
            .collect();
        if not_ready.is_empty() {
            Ok(())
        } else {
            Err(not_ready.join("\n"))
        }
    }

    pub fn all_synced(&self) -> bool {
        self.lock()
            .values()
            .all(|state| *state == WatchState::Synced)
    }

    /// Probes must keep answering after a panic elsewhere: every write
    /// replaces one whole entry, so a poisoned map is still consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, WatchState>> {
        self.watches.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_starts_not_ready() {
        let health = Health::new(&["Pod", "NetworkPolicy"]);
        assert!(!health.all_synced());
        assert_eq!(
            health.readiness(),
            Err("NetworkPolicy: starting (initial list not complete)\n\
                 Pod: starting (initial list not complete)"
                .to_string())
        );
    }

    #[test]
    fn ready_once_every_kind_is_synced() {
        let health = Health::new(&["Pod", "NetworkPolicy"]);
        health.set("Pod", WatchState::Synced);
        assert!(!health.all_synced());
        health.set("NetworkPolicy", WatchState::Synced);
        assert!(health.all_synced());
        assert_eq!(health.readiness(), Ok(()));
    }

    #[test]
    fn readiness_lists_only_the_kinds_not_ready_with_their_reasons() {
        let health = Health::new(&["Pod", "NetworkPolicy", "NetworkPosture"]);
        health.set("Pod", WatchState::Synced);
        health.set(
            "NetworkPosture",
            WatchState::Failing("CRD networkpostures.netposture.io not installed".into()),
        );
        assert_eq!(
            health.readiness(),
            Err("NetworkPolicy: starting (initial list not complete)\n\
                 NetworkPosture: failing: CRD networkpostures.netposture.io not installed"
                .to_string())
        );
    }

    #[test]
    fn a_synced_kind_that_fails_again_makes_the_operator_not_ready() {
        let health = Health::new(&["Pod"]);
        health.set("Pod", WatchState::Synced);
        health.set(
            "Pod",
            WatchState::Failing("forbidden: pods is forbidden".into()),
        );
        assert!(!health.all_synced());
        assert_eq!(
            health.readiness(),
            Err("Pod: failing: forbidden: pods is forbidden".to_string())
        );
    }

    #[test]
    fn a_kind_set_without_being_declared_is_tracked() {
        let health = Health::new(&[]);
        assert!(health.all_synced());
        health.set("Namespace", WatchState::Starting);
        assert!(!health.all_synced());
    }
}
