//! Reconcile one namespace: evaluate it with the engine, set its metrics on
//! every replica, and on the leader publish the result (`publish.rs`); the
//! error policy decides when a failed reconcile runs again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::context::Context;
use super::failure::Failure;

/// Retry delay after a failed reconcile; the controller adds no backoff of its own.
const RETRY_AFTER: Duration = Duration::from_secs(5);
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

pub async fn reconcile(
    namespace: Arc<Namespace>,
    ctx: Arc<Context>,
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
    ctx.metrics.set_namespace(&name, &posture);
    if ctx.leadership.is_leader() {
        ctx.publish(&namespace, posture).await?;
    }
    Ok(Action::await_change())
}

pub fn error_policy(
    namespace: Arc<Namespace>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let failure = error.failure();
    ctx.metrics.reconcile_error(failure.as_str());
    tracing::warn!(namespace = %namespace.name_any(), reason = failure.as_str(), %error, "reconcile failed; retrying");
    Action::requeue(RETRY_AFTER)
}
