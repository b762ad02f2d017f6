//! The lease as the API server holds it: read, created, replaced.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::record::*;
use super::{Attempt, LeaseStore};

/// The lease on the API server.
pub(super) struct KubeLease {
    pub(super) api: Api<Lease>,
    pub(super) name: String,
    pub(super) identity: String,
    pub(super) lease_duration: Duration,
    pub(super) lease_duration_seconds: i32,
    pub(super) seen: Option<Seen>,
}

impl KubeLease {
    /// Remembers `lease`; returns when its spec was first seen as it is.
    fn observe(&mut self, lease: Lease) -> Instant {
        let changed_at = changed_at(self.seen.as_ref(), &lease, Instant::now());
        self.seen = Some(Seen { lease, changed_at });
        changed_at
    }

    async fn read(&mut self) -> Result<Option<(Lease, Instant)>, kube::Error> {
        let lease = self.api.get_opt(&self.name).await?;
        Ok(lease.map(|lease| {
            let changed_at = self.observe(lease.clone());
            (lease, changed_at)
        }))
    }

    async fn create(&mut self) -> Result<Attempt, kube::Error> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(held_spec(
                None,
                &self.identity,
                self.lease_duration_seconds,
                Timestamp::now(),
            )),
        };
        let write_sent_at = Instant::now();
        let created = self.api.create(&PostParams::default(), &lease).await?;
        self.observe(created);
        Ok(Attempt::Held { write_sent_at })
    }

    /// Writes `spec` over `lease` as read, so a concurrent write makes it fail.
    async fn replace(&mut self, lease: Lease, spec: LeaseSpec) -> Result<Attempt, kube::Error> {
        let lease = Lease {
            spec: Some(spec),
            ..lease
        };
        let write_sent_at = Instant::now();
        let written = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        self.observe(written);
        Ok(Attempt::Held { write_sent_at })
    }

    async fn attempt(&mut self) -> Result<Attempt, kube::Error> {
        let (lease, changed_at) = match self.read().await? {
            Some(read) => read,
            None => match self.create().await {
                Err(kube::Error::Api(status)) if status.is_already_exists() => {
                    // Someone else created it first: start watching it now.
                    match self.read().await? {
                        Some(read) => read,
                        None => return Ok(Attempt::Inconclusive),
                    }
                }
                created => return created,
            },
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let action = decide(
            &spec,
            changed_at,
            Instant::now(),
            &self.identity,
            self.lease_duration,
        );
        if action == Action::Wait {
            return Ok(Attempt::HeldByOther);
        }
        let new_spec = held_spec(
            Some(&spec),
            &self.identity,
            self.lease_duration_seconds,
            Timestamp::now(),
        );
        self.replace(lease, new_spec).await
    }
}

impl LeaseStore for KubeLease {
    async fn try_acquire_or_renew(&mut self) -> Attempt {
        match self.attempt().await {
            Ok(attempt) => attempt,
            Err(kube::Error::Api(status)) if status.is_conflict() => {
                debug!("lease changed while writing it; not held this round");
                Attempt::Inconclusive
            }
            Err(error) => {
                warn!(%error, "lease not acquired or renewed");
                Attempt::Inconclusive
            }
        }
    }

    async fn release(&mut self) {
        let lease = match self.api.get_opt(&self.name).await {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(error) => {
                warn!(%error, "lease not released: reading it failed");
                return;
            }
        };
        let Some(spec) = lease.spec.as_ref() else {
            return;
        };
        if holder(spec) != Some(self.identity.as_str()) {
            return;
        }
        let released = released_spec(spec, Timestamp::now());
        match self.replace(lease, released).await {
            Ok(_) => info!("released the lease"),
            Err(error) => warn!(%error, "lease not released; others take over once it expires"),
        }
    }
}
