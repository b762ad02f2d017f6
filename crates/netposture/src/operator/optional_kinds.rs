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
use kube::{Api, Client, ResourceExt};
use netposture_engine::layers::{LAYER_KINDS, LayerKind, LayerPolicy, layer_kind};
use netposture_engine::{Affected, Cluster};
use tokio::task::JoinHandle;

use super::context::Context;
use super::watch::{self, Handler, indexed_names};

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

    fn apply_layer(&self, kind: LayerKind, ctx: &Context, object: &DynamicObject) -> Affected {
        let namespace = object.namespace();
        let name = object.name_any();
        let affected = ctx
            .cluster()
            .affected_by_layer(&ctx.settings, kind, namespace.as_deref());
        let Some(value) = as_json(self, object) else {
            return Affected::Nothing;
        };
        let policy = LayerPolicy::from_object(kind, namespace.as_deref(), &name, &value);
        ctx.cluster_mut().apply_layer_policy(policy);
        affected
    }

    fn apply_peer_authentication(&self, ctx: &Context, object: &DynamicObject) -> Affected {
        let namespace = object.namespace().unwrap_or_default();
        let name = object.name_any();
        let Some(value) = as_json(self, object) else {
            return Affected::Nothing;
        };
        let mut cluster = ctx.cluster_mut();
        let before = cluster.affected_by_peer_authentication(&ctx.settings, &namespace, &name);
        cluster.apply_peer_authentication(&value);
        before.merge(cluster.affected_by_peer_authentication(&ctx.settings, &namespace, &name))
    }
}

fn as_json(kind: &OptionalKind, object: &DynamicObject) -> Option<serde_json::Value> {
    match serde_json::to_value(object) {
        Ok(value) => Some(value),
        // A DynamicObject is JSON already; this cannot fail in practice.
        Err(error) => {
            tracing::warn!(kind = kind.kind(), name = object.name_any(), %error, "unreadable object");
            None
        }
    }
}

impl Handler<DynamicObject> for OptionalKind {
    fn kind(&self) -> String {
        match self {
            OptionalKind::Layer(kind) => format!("{}.{}", kind.kind, kind.group),
            OptionalKind::PeerAuthentication => {
                format!("{PEER_AUTHENTICATION}.{ISTIO_SECURITY_GROUP}")
            }
        }
    }

    fn plural(&self) -> String {
        self.kind()
    }

    fn apply(&self, ctx: &Context, object: &DynamicObject) -> Affected {
        match *self {
            OptionalKind::Layer(kind) => self.apply_layer(kind, ctx, object),
            OptionalKind::PeerAuthentication => self.apply_peer_authentication(ctx, object),
        }
    }

    fn delete(&self, ctx: &Context, namespace: &str, name: &str) -> Affected {
        let mut cluster = ctx.cluster_mut();
        match *self {
            OptionalKind::Layer(kind) => {
                let namespace = Some(namespace).filter(|n| !n.is_empty());
                let affected = cluster.affected_by_layer(&ctx.settings, kind, namespace);
                cluster.delete_layer_policy(kind, namespace, name);
                affected
            }
            OptionalKind::PeerAuthentication => {
                let affected =
                    cluster.affected_by_peer_authentication(&ctx.settings, namespace, name);
                cluster.delete_peer_authentication(namespace, name);
                affected
            }
        }
    }

    fn indexed(&self, cluster: &Cluster) -> BTreeSet<(String, String)> {
        match *self {
            OptionalKind::Layer(kind) => cluster
                .layers()
                .filter(|policy| policy.kind == kind)
                .map(|policy| {
                    (
                        policy.namespace.clone().unwrap_or_default(),
                        policy.name.clone(),
                    )
                })
                .collect(),
            OptionalKind::PeerAuthentication => {
                indexed_names(cluster, PEER_AUTHENTICATION, |state| {
                    state.peer_authentications.keys()
                })
            }
        }
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
            tracing::info!(kind = kind.kind(), version = resource.version, "watching");
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
            let task = tokio::spawn(watch::run_with(
                api,
                self.config.clone(),
                self.ctx.clone(),
                None,
                strip_dynamic,
                kind,
            ));
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
                kind = kind.kind(),
                "no longer served; its policies are dropped"
            );
            self.ctx.health.remove(&kind.kind());
            let objects = kind.indexed(&self.ctx.cluster());
            for (namespace, name) in objects {
                self.ctx.trigger(kind.delete(&self.ctx, &namespace, &name));
            }
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
