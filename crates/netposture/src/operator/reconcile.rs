//! Reconcile one namespace: evaluate it with the engine, set its metrics on
//! every replica, and on the leader publish the result (`publish.rs`); the
//! error policy decides when a failed reconcile runs again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::failure::Failure;

/// A change that waited longer than this for its evaluation is logged; the
/// debounce (1 s by default) and one evaluation should never come close.
const LATE_EVALUATION: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{action} report {name}: {source}")]
    Write {
        action: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl ReconcileError {
    pub fn failure(&self) -> Failure {
        match self {
            ReconcileError::Write { source, .. } => Failure::of(source),
        }
    }
}

/// Reconciles one namespace, counted and timed by its result.
pub async fn reconcile(
    namespace: Arc<Namespace>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let mut timer = ctx.metrics.reconciles.start();
    let result = evaluate_and_publish(&namespace, &ctx).await;
    if result.is_ok() {
        timer.succeeded();
    }
    result
}

async fn evaluate_and_publish(
    namespace: &Namespace,
    ctx: &Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = namespace.name_any();
    // Before every kind has listed, the index is partial; the full pass that
    // follows the last list reconciles whatever differs.
    if !ctx.loaded() {
        return Ok(Action::await_change());
    }
    // Every change made so far is in the index this evaluation reads.
    if let Some(waited) = ctx.metrics.changes.evaluated(&name, Instant::now())
        && waited > LATE_EVALUATION
    {
        tracing::warn!(namespace = %name, seconds = waited.as_secs_f64(), "a change waited long for its evaluation");
    }
    if namespace.meta().deletion_timestamp.is_some() {
        // Garbage collection removes the report with the namespace.
        return Ok(Action::await_change());
    }
    let evaluation = {
        let (ctx, name) = (ctx.clone(), name.clone());
        tokio::task::spawn_blocking(move || ctx.evaluate(&name)).await
    };
    let posture = match evaluation {
        Ok(posture) => posture,
        Err(error) => {
            tracing::error!(namespace = %name, %error, "evaluation failed");
            return Ok(Action::await_change());
        }
    };
    let Some(posture) = posture else {
        ctx.forget_namespace(&name);
        return Ok(Action::await_change());
    };
    ctx.metrics.posture.set_namespace(&name, &posture);
    if ctx.leadership.is_leader() {
        ctx.publish(namespace, posture).await?;
    }
    Ok(Action::await_change())
}

/// Runs a failed reconcile again after a delay that suits its reason.
pub fn error_policy(
    namespace: Arc<Namespace>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let failure = error.failure();
    ctx.metrics.reconciles.error(failure.as_str());
    let retry = retry_after(failure);
    tracing::warn!(namespace = %namespace.name_any(), reason = failure.as_str(), retry_seconds = retry.as_secs(), %error, "reconcile failed; retrying");
    Action::requeue(retry)
}

/// The controller adds no backoff of its own. Another writer came first
/// (conflict): the next try very likely succeeds. The server did not answer:
/// it usually returns within seconds. Refused (RBAC, the CRD, validation):
/// only someone's action helps, and a relist or the resync covers it too, so
/// trying often only adds load.
fn retry_after(failure: Failure) -> Duration {
    match failure {
        Failure::Conflict => Duration::from_secs(1),
        Failure::Unavailable | Failure::Expired => Duration::from_secs(5),
        Failure::Forbidden | Failure::NotFound | Failure::Rejected => Duration::from_secs(30),
    }
}

/// Logs what the controller reports besides successful reconciles.
pub fn log_outcome(
    outcome: Result<
        (ObjectRef<Namespace>, Action),
        controller::Error<ReconcileError, watcher::Error>,
    >,
) {
    match outcome {
        Ok(_) => {}
        // The error policy logged it, with its reason.
        Err(controller::Error::ReconcilerFailed(..)) => {}
        // A namespace deleted between its trigger and its turn: nothing to do.
        Err(controller::Error::ObjectNotFound(namespace)) => {
            tracing::debug!(%namespace, "namespace gone before its reconcile")
        }
        Err(error) => tracing::warn!(%error, "controller"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::context::test_context;
    use super::*;

    fn write_failed(code: u16) -> ReconcileError {
        let status = kube::core::Status {
            code,
            ..Default::default()
        };
        ReconcileError::Write {
            action: "apply",
            name: "a".into(),
            source: kube::Error::Api(Box::new(status)),
        }
    }

    // A tokio test: the context's client needs a runtime, though it sends nothing.
    #[tokio::test]
    async fn a_conflict_is_retried_sooner_than_an_outage_and_a_refusal_latest() {
        let ctx = test_context(&[]);
        let namespace = Arc::new(Namespace::default());
        let retry = |code| error_policy(namespace.clone(), &write_failed(code), ctx.clone());
        let (conflict, unavailable, forbidden) = (retry(409), retry(503), retry(403));
        assert_eq!(conflict, Action::requeue(Duration::from_secs(1)));
        assert_eq!(unavailable, Action::requeue(Duration::from_secs(5)));
        assert_eq!(forbidden, Action::requeue(Duration::from_secs(30)));
        assert!(
            ctx.metrics
                .encode()
                .contains("netposture_reconcile_errors_total{reason=\"conflict\"} 1")
        );
    }
}
