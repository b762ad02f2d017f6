//! Kinds from other projects' CRDs (the cluster-wide and CNI policy layers,
//! Istio's PeerAuthentication) that a cluster may or may not serve. Discovery decides which are watched,
//! and is repeated, so CRDs installed or removed later are followed without a
//! restart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kube::api::{ApiResource, DynamicObject};
use kube::discovery::Discovery;
use kube::runtime::watcher;
use kube::{Api, Client};
use netposture_engine::Affected;
use netposture_engine::changes::{IndexKind, PeerAuthentications};
use netposture_engine::layers::{LAYER_KINDS, LayerKind, layer_kind};
use tokio::task::JoinHandle;

use super::context::Context;
use super::watch::{self, Watch};

const ISTIO_SECURITY_GROUP: &str = "security.istio.io";
const PEER_AUTHENTICATION: &str = "PeerAuthentication";

/// How often discovery is repeated.
const REDISCOVERY_PERIOD: Duration = Duration::from_secs(30);

/// A kind the operator watches only while the API server serves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OptionalKind {
    Layer(LayerKind),
    PeerAuthentication,
}

impl OptionalKind {
    fn of(resource: &ApiResource) -> Option<Self> {
        if resource.group == ISTIO_SECURITY_GROUP && resource.kind == PEER_AUTHENTICATION {
            return Some(OptionalKind::PeerAuthentication);
        }
        layer_kind(&resource.group, &resource.kind).map(OptionalKind::Layer)
    }

    /// The groups discovery looks at. Calico's API server serves the CRDs'
    /// objects again under projectcalico.org; only the CRD group is among
    /// these, so nothing counts twice.
    fn groups() -> BTreeSet<&'static str> {
        LAYER_KINDS
            .iter()
            .map(|k| k.group)
            .chain([ISTIO_SECURITY_GROUP])
            .collect()
    }

    /// The kind's name in logs, metrics and readiness.
    fn name(&self) -> String {
        match self {
            OptionalKind::Layer(kind) => kind.name(),
            OptionalKind::PeerAuthentication => PeerAuthentications.name(),
        }
    }

    /// Forgets every object of the kind and returns what that reaches.
    fn forget_all(&self, ctx: &Context) -> Affected {
        let mut cluster = ctx.cluster_mut();
        let none = BTreeSet::new();
        let relisted = match *self {
            OptionalKind::Layer(kind) => cluster.reset(&kind, &ctx.settings, &none),
            OptionalKind::PeerAuthentication => {
                cluster.reset(&PeerAuthentications, &ctx.settings, &none)
            }
        };
        relisted.affected
    }

    fn spawn(
        &self,
        api: Api<DynamicObject>,
        config: watcher::Config,
        ctx: Arc<Context>,
    ) -> JoinHandle<()> {
        match *self {
            OptionalKind::Layer(kind) => tokio::spawn(watch::run(api, config, ctx, dynamic(kind))),
            OptionalKind::PeerAuthentication => {
                tokio::spawn(watch::run(api, config, ctx, dynamic(PeerAuthentications)))
            }
        }
    }
}

/// A watch of a kind found by discovery: its name doubles as its plural in messages.
fn dynamic<I: IndexKind<Object = DynamicObject>>(kind: I) -> Watch<I> {
    Watch {
        plural: kind.name(),
        kind,
        strip: strip_dynamic,
        forward: None,
        gone: |_, _| {},
        counted: true,
    }
}

/// The optional kinds being watched, each with the resource version it was found at.
pub struct OptionalWatches {
    client: Client,
    config: watcher::Config,
    ctx: Arc<Context>,
    running: BTreeMap<OptionalKind, (ApiResource, JoinHandle<()>)>,
}

impl OptionalWatches {
    /// Discovers once and starts the watches, so their kinds count toward
    /// readiness before anything is published.
    pub async fn start(client: Client, config: watcher::Config, ctx: Arc<Context>) -> Self {
        let mut watches = OptionalWatches {
            client,
            config,
            ctx,
            running: BTreeMap::new(),
        };
        watches.refresh().await;
        watches
    }

    /// Repeats discovery until the process ends.
    pub async fn follow(mut self) {
        let mut ticks = tokio::time::interval(REDISCOVERY_PERIOD);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            self.refresh().await;
        }
    }

    async fn refresh(&mut self) {
        let groups: Vec<&str> = OptionalKind::groups().into_iter().collect();
        let discovery = match Discovery::new(self.client.clone())
            .filter(&groups)
            .run()
            .await
        {
            Ok(discovery) => discovery,
            Err(error) => {
                // Keep what runs: a failed discovery says nothing about the CRDs.
                tracing::warn!(%error, "API discovery failed; optional kinds unchanged");
                return;
            }
        };
        let served: BTreeMap<OptionalKind, ApiResource> = discovery
            .groups()
            .flat_map(|group| group.recommended_resources())
            .filter_map(|(resource, _)| OptionalKind::of(&resource).map(|kind| (kind, resource)))
            .collect();
        self.stop_gone(&served).await;
        for (kind, resource) in served {
            if self.running.get(&kind).is_some_and(|(r, _)| *r == resource) {
                continue;
            }
            if let Some((_, task)) = self.running.remove(&kind) {
                task.abort();
            }
            tracing::info!(kind = kind.name(), version = resource.version, "watching");
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
            let task = kind.spawn(api, self.config.clone(), self.ctx.clone());
            self.running.insert(kind, (resource, task));
        }
    }

    /// Kinds no longer served: their watch ends, their objects leave the
    /// index, and the namespaces they affected are re-evaluated.
    async fn stop_gone(&mut self, served: &BTreeMap<OptionalKind, ApiResource>) {
        let gone: Vec<OptionalKind> = self
            .running
            .keys()
            .filter(|kind| !served.contains_key(kind))
            .copied()
            .collect();
        for kind in gone {
            if let Some((_, task)) = self.running.remove(&kind) {
                task.abort();
            }
            tracing::info!(
                kind = kind.name(),
                "no longer served; its policies are dropped"
            );
            self.ctx.health.remove(&kind.name());
            self.ctx.trigger(kind.forget_all(&self.ctx));
            // A kind that never listed (forbidden, say) may be all that held the first load back.
            if self.ctx.mark_loaded_if_synced() {
                self.ctx.full_pass().await;
            }
        }
    }
}

fn strip_dynamic(object: &mut DynamicObject) {
    object.metadata.managed_fields = None;
    object.metadata.annotations = None;
}

impl Drop for OptionalWatches {
    fn drop(&mut self) {
        for (_, task) in self.running.values() {
            task.abort();
        }
    }
}
