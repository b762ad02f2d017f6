//! The kube-runtime controller that runs reconciles, and what starts one:
//! a namespace's own events, its report's events, and namespaces sent by
//! [`Triggers`](super::triggers::Triggers) when their window ends.

use futures::Stream;
use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, controller, watcher};
use netposture_api::NetworkPostureReport;
use std::time::Duration;

/// Builds the controller. Its own debounce stays off: kube-runtime's is
/// trailing (every request pushes the run back), so a namespace asked for
/// more often than the debounce would never run; the triggers' window
/// already merges changes.
pub fn build(
    namespaces: impl Stream<Item = Result<Namespace, watcher::Error>> + Send + 'static,
    store: Store<Namespace>,
    reports: impl Stream<Item = Result<NetworkPostureReport, watcher::Error>> + Send + 'static,
    dispatched: impl Stream<Item = ObjectRef<Namespace>> + Send + 'static,
    concurrency: u16,
) -> Controller<Namespace> {
    Controller::for_stream(namespaces, store)
        .owns_stream(reports)
        .reconcile_on(dispatched)
        .with_config(
            controller::Config::default()
                .debounce(Duration::ZERO)
                .concurrency(concurrency),
        )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::StreamExt;
    use kube::runtime::controller::Action;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;
    use tokio::sync::mpsc;
    use tokio::time::Instant;
    use tokio_stream::wrappers::ReceiverStream;

    use super::super::triggers::Triggers;
    use super::*;

    const DEBOUNCE: Duration = Duration::from_secs(1);

    fn namespace(name: &str) -> Namespace {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap()
    }

    /// Runs the controller on namespaces a and b with a reconcile that
    /// notes when each namespace was evaluated.
    fn start(triggers: Arc<Triggers>) -> Arc<Mutex<Vec<(String, Instant)>>> {
        let (store, mut writer) = reflector::store();
        // A complete list: the controller runs nothing before its store is ready.
        writer.apply_watcher_event(&Event::Init);
        for name in ["a", "b"] {
            writer.apply_watcher_event(&Event::InitApply(namespace(name)));
        }
        writer.apply_watcher_event(&Event::InitDone);
        let (to_controller, dispatched) = mpsc::channel(16);
        tokio::spawn(async move { triggers.dispatch(to_controller).await });
        let evaluated = Arc::new(Mutex::new(Vec::new()));
        let reconciler = build(
            futures::stream::pending(),
            store,
            futures::stream::pending(),
            ReceiverStream::new(dispatched),
            4,
        )
        .run(
            |namespace: Arc<Namespace>, evaluated: Arc<Mutex<Vec<(String, Instant)>>>| async move {
                let name = namespace.metadata.name.clone().unwrap_or_default();
                evaluated.lock().unwrap().push((name, Instant::now()));
                Ok::<_, std::convert::Infallible>(Action::await_change())
            },
            |_, _, _| Action::await_change(),
            evaluated.clone(),
        )
        .for_each(|_| async {});
        tokio::spawn(reconciler);
        evaluated
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_is_evaluated_within_the_debounce_while_a_system_pod_flaps() {
        let triggers = Arc::new(Triggers::new(DEBOUNCE));
        let evaluated = start(triggers.clone());
        // A kube-system pod whose labels change every 0.5 s reaches every namespace.
        let flapping = triggers.clone();
        tokio::spawn(async move {
            loop {
                flapping.changed(["a".to_string(), "b".to_string()]);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        tokio::time::sleep(Duration::from_secs(10)).await;
        let changed = Instant::now();
        triggers.changed(["a".to_string()]);
        tokio::time::sleep(DEBOUNCE * 3).await;

        let evaluated = evaluated.lock().unwrap();
        let first_after = evaluated
            .iter()
            .filter(|(name, at)| name == "a" && *at >= changed)
            .map(|(_, at)| *at - changed)
            .min();
        assert!(
            first_after.is_some_and(|delay| delay <= DEBOUNCE),
            "a was first evaluated {first_after:?} after its change; evaluations: {evaluated:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_known_difference_is_evaluated_at_once() {
        let triggers = Arc::new(Triggers::new(DEBOUNCE));
        let evaluated = start(triggers.clone());
        triggers.changed(["a".to_string()]);
        let asked = Instant::now();
        triggers.now(["a".to_string(), "b".to_string()]);
        tokio::time::sleep(DEBOUNCE * 3).await;
        let mut evaluated = evaluated.lock().unwrap().clone();
        evaluated.sort();
        assert_eq!(
            evaluated,
            [("a".to_string(), asked), ("b".to_string(), asked)],
            "once each, at once: the earlier change joined the urgent request"
        );
    }
}
