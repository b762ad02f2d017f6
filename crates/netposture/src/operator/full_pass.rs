//! The full pass: every namespace evaluated at once, gauges refreshed,
//! stale reports reconciled and reports of vanished namespaces deleted; and
//! what starts one besides a relist (gaining the lease, the resync period).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use netposture_engine::{Evaluator, NamespacePosture};

use super::context::Context;

impl Context {
    /// The engine's verdicts for a namespace that should be reported.
    pub fn evaluate(&self, name: &str) -> Option<NamespacePosture> {
        let cluster = self.cluster();
        let state = cluster.namespace(name)?;
        if !state.declared || self.exclusion.excludes(name, state) {
            return None;
        }
        let started = Instant::now();
        let evaluator = Evaluator::new(&cluster, &self.settings);
        let posture = evaluator.namespace(name);
        self.metrics
            .reconciles
            .observe_evaluation(started.elapsed().as_secs_f64());
        self.metrics.posture.set_cni(evaluator.cni());
        posture
    }

    /// Every namespace at once: refreshes all gauges, has namespaces whose
    /// report differs reconciled at once, and removes reports of namespaces
    /// that are gone. Runs once all watches have listed, after each relist,
    /// on gaining leadership, and every resync period. The evaluation runs
    /// on a blocking thread, off the async workers that serve watches and probes.
    pub async fn full_pass(self: &Arc<Self>) {
        let started = Instant::now();
        let ctx = Arc::clone(self);
        let pass = match tokio::task::spawn_blocking(move || ctx.evaluate_all()).await {
            Ok(pass) => pass,
            Err(error) => {
                tracing::error!(%error, "full pass failed");
                return;
            }
        };
        for report in self.reports.state() {
            let name = report.name_any();
            if !pass.reported.contains(&name) {
                self.forget_namespace(&name);
            }
        }
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            stale = pass.stale.len(),
            "full pass"
        );
        self.metrics.reconciles.full_evaluation_done();
        if self.leadership.is_leader() {
            // A report that lags is a change waiting for its evaluation too.
            self.metrics.changes.changed(&pass.stale, Instant::now());
            self.triggers.now(pass.stale);
        }
    }

    /// Evaluates every namespace, a batch at a time: between batches the
    /// read lock is released, so a watch waiting to update the index waits
    /// for one batch, not for the whole cluster.
    fn evaluate_all(&self) -> FullPass {
        let mut pass = FullPass::default();
        let names: Vec<String> = self
            .cluster()
            .namespaces()
            .map(|(n, _)| n.clone())
            .collect();
        for batch in names.chunks(FULL_PASS_BATCH) {
            let cluster = self.cluster();
            let evaluator = Evaluator::new(&cluster, &self.settings);
            self.metrics.posture.set_cni(evaluator.cni());
            for name in batch {
                let Some(state) = cluster.namespace(name) else {
                    continue;
                };
                if !state.declared || self.exclusion.excludes(name, state) {
                    self.metrics.remove_namespace(name);
                    continue;
                }
                let Some(posture) = evaluator.namespace(name) else {
                    continue;
                };
                self.metrics.posture.set_namespace(name, &posture);
                let report = self.reports.get(&ObjectRef::new(name));
                let current = report
                    .as_ref()
                    .and_then(|r| r.status.as_ref())
                    .map(|s| &s.posture);
                if current != Some(&posture) {
                    pass.stale.push(name.clone());
                }
                pass.reported.insert(name.clone());
            }
        }
        pass
    }
}

/// Namespaces per read-lock hold in a full pass.
const FULL_PASS_BATCH: usize = 64;

/// What a full pass found.
#[derive(Debug, Default)]
struct FullPass {
    /// Namespaces whose report says something else than their evaluation.
    stale: Vec<String>,
    /// Namespaces that should have a report.
    reported: BTreeSet<String>,
}

/// Gaining the lease (also lost and regained between two looks): take over
/// every report at once. Losing it: writes are already refused by the guard
/// in each write. The gauge reads 0 once the elector has stopped.
pub async fn follow_leadership(ctx: Arc<Context>) {
    ctx.metrics.set_leader(ctx.leadership.is_leader());
    let follower = ctx.clone();
    ctx.leadership
        .clone()
        .follow(move |leader| {
            let ctx = follower.clone();
            async move {
                ctx.metrics.set_leader(leader);
                tracing::info!(leader, "leadership changed");
                if leader && ctx.loaded() {
                    ctx.full_pass().await;
                }
            }
        })
        .await;
    ctx.metrics.set_leader(false);
}

pub async fn resync_loop(ctx: Arc<Context>) {
    let mut ticks = tokio::time::interval(ctx.resync);
    loop {
        ticks.tick().await;
        ctx.refresh_policy_reports().await;
        if ctx.loaded() {
            ctx.full_pass().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use netposture_engine::Cluster;
    use netposture_testgen::{Sizes, Style, generate};

    use super::super::context::test_context;

    /// On a runtime with one thread, another task only runs while the full
    /// pass waits: evaluated on that thread, the pass would starve the watch
    /// tasks and the probes until it ends.
    #[tokio::test(flavor = "current_thread")]
    async fn other_tasks_run_while_the_full_pass_evaluates() {
        let ctx = test_context(&[]);
        let objects = generate(&Sizes {
            seed: 7,
            namespaces: 100,
            pods_per_namespace: 10,
            policies_per_namespace: 5,
            style: Style::Mixed,
        });
        *ctx.cluster_mut() =
            Cluster::from_objects(&objects.namespaces, &objects.policies, &objects.pods);
        let ticks = std::sync::Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                }
            }
        });

        ctx.full_pass().await;
        let ticked_during_the_pass = ticks.load(Ordering::SeqCst);
        ticker.abort();

        assert!(
            ticked_during_the_pass > 0,
            "the pass held the only async thread"
        );
    }
}
