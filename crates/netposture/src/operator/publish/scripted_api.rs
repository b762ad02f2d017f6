//! Reconcile against a scripted API server: each test lists the requests one
//! reconcile must make, in order, with the answers; a request out of order
//! or beyond the script fails the test. Leases are answered apart, so a
//! leading replica comes from the real elector. What only a real server
//! shows (conflicts, RBAC, garbage collection) stays in e2e/.

use std::future::pending;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::{Method, Request, Response, StatusCode};
use k8s_openapi::api::core::v1::Namespace;
use kube::client::Body;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::Event;
use kube::{Client, Resource};
use netposture_api::NetworkPostureReport;
use netposture_engine::Settings;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tower_test::mock;

use super::super::context::{Context, ContextParts};
use super::super::health::Health;
use super::super::leader::{self, Leadership};
use super::super::metrics::Metrics;
use super::super::reconcile::reconcile;
use super::super::triggers::Triggers;
use super::report_object;
use crate::config::Exclusion;

type Handle = mock::Handle<Request<Body>, Response<Body>>;

/// One request the reconcile must make, and what the server answers.
struct Step {
    method: Method,
    path: String,
    status: StatusCode,
    /// The answer's body; `None` echoes the request's (a create or apply
    /// returns the object written).
    answer: Option<Value>,
}

fn reports_path() -> String {
    NetworkPostureReport::url_path(&(), None)
}

fn status_patch(answer: &NetworkPostureReport) -> Step {
    Step {
        method: Method::PATCH,
        path: format!("{}/a/status", reports_path()),
        status: StatusCode::OK,
        answer: Some(serde_json::to_value(answer).expect("a report is JSON")),
    }
}

fn event_create() -> Step {
    Step {
        method: Method::POST,
        path: "/apis/events.k8s.io/v1/namespaces/a/events".into(),
        status: StatusCode::CREATED,
        answer: None,
    }
}

/// Answers the script's requests in order and returns their bodies; any
/// request after the last step fails. Ends when every client is dropped.
fn serve(mut handle: Handle, script: Vec<Step>) -> JoinHandle<Vec<Value>> {
    tokio::spawn(async move {
        let mut bodies = Vec::new();
        let lease = Arc::new(Mutex::new(None));
        let mut steps = script.into_iter();
        while let Some((request, respond)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let body = body.collect().await.expect("a request body").to_bytes();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if parts.uri.path().contains("/leases") {
                respond.send_response(answer_lease(&lease, &parts.method, body));
                continue;
            }
            let Some(step) = steps.next() else {
                panic!("unexpected request {} {}", parts.method, parts.uri.path());
            };
            assert_eq!(
                (&parts.method, parts.uri.path()),
                (&step.method, step.path.as_str())
            );
            let answer = step.answer.unwrap_or_else(|| body.clone());
            respond.send_response(json_response(step.status, &answer));
            bodies.push(body);
        }
        assert!(steps.next().is_none(), "a scripted request was not made");
        bodies
    })
}

/// A Lease kept in memory: read, created and replaced as the elector asks.
fn answer_lease(lease: &Mutex<Option<Value>>, method: &Method, body: Value) -> Response<Body> {
    let mut lease = lease.lock().expect("the lease lock is never poisoned");
    if *method == Method::GET {
        return match &*lease {
            Some(held) => json_response(StatusCode::OK, held),
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}),
            ),
        };
    }
    let mut written = body;
    written["metadata"]["resourceVersion"] = json!("1");
    *lease = Some(written.clone());
    json_response(StatusCode::OK, &written)
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).expect("JSON encodes");
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(bytes))
        .expect("a valid response")
}

fn namespace() -> Namespace {
    serde_json::from_value(json!({"metadata": {"name": "a", "uid": "u-a"}})).expect("a Namespace")
}

/// A loaded index holding namespace `a`, reports as `stored` says.
fn context(
    client: Client,
    leadership: Leadership,
    stored: Option<NetworkPostureReport>,
) -> Arc<Context> {
    let (reports, mut writer): (Store<NetworkPostureReport>, _) = reflector::store();
    writer.apply_watcher_event(&Event::Init);
    if let Some(report) = stored {
        writer.apply_watcher_event(&Event::InitApply(report));
    }
    writer.apply_watcher_event(&Event::InitDone);
    let ctx = Context::new(ContextParts {
        client: client.clone(),
        settings: Settings::default(),
        exclusion: Exclusion::default(),
        resync: Duration::from_secs(300),
        reports,
        metrics: Arc::new(Metrics::new()),
        health: Arc::new(Health::new(&[])),
        leadership,
        recorder: Recorder::new(client, "netposture-test".into()),
        triggers: Arc::new(Triggers::new(Duration::from_secs(1))),
        policy_reports: None,
    });
    ctx.cluster_mut().apply_namespace(&namespace());
    assert!(ctx.mark_loaded_if_synced(), "no watch to wait for");
    Arc::new(ctx)
}

/// The report the operator would write for namespace `a` now.
fn current_report() -> NetworkPostureReport {
    let mut cluster = netposture_engine::Cluster::default();
    cluster.apply_namespace(&namespace());
    let posture = netposture_engine::Evaluator::new(&cluster, &Settings::default())
        .namespace("a")
        .expect("a declared namespace has a posture");
    report_object(&namespace(), &posture, None)
}

/// Runs one reconcile of `a` as leader (or follower) against `script`;
/// returns the bodies of the scripted requests.
async fn reconcile_against(
    lead: bool,
    stored: Option<NetworkPostureReport>,
    script: Vec<Step>,
) -> Vec<Value> {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let server = serve(handle, script);
    let client = Client::new(service, "default");
    let (leadership, elector) = if lead {
        let lease = leader::LeaseSettings::new("netposture-system", "netposture", "test-replica");
        let (mut leadership, elector) =
            leader::spawn(client.clone(), lease, pending()).expect("valid lease settings");
        while !leadership.is_leader() {
            leadership.changed().await.expect("the elector runs");
        }
        (leadership, Some(elector))
    } else {
        (Leadership::never(), None)
    };
    let ctx = context(client, leadership, stored);
    let result = reconcile(Arc::new(namespace()), ctx.clone()).await;
    if let Some(elector) = elector {
        elector.abort();
        let _ = elector.await;
    }
    drop(ctx);
    // The script's verdict first: a request it refused also fails the reconcile.
    let bodies = server.await.expect("the script was followed");
    result.expect("the reconcile succeeds");
    bodies
}

#[tokio::test]
async fn an_unchanged_report_is_not_written() {
    let bodies = reconcile_against(true, Some(current_report()), Vec::new()).await;
    assert!(bodies.is_empty());
}

#[tokio::test]
async fn a_changed_verdict_is_one_status_patch_and_no_event() {
    let mut stored = current_report();
    let status = stored.status.as_mut().expect("a report has a status");
    status.posture.score = status.posture.score.wrapping_add(1);
    let desired = current_report();
    let bodies = reconcile_against(true, Some(stored), vec![status_patch(&desired)]).await;
    // The status holds the posture's fields flattened.
    let written = &bodies[0]["status"]["score"];
    assert_eq!(*written, json!(desired.status.unwrap().posture.score));
}

#[tokio::test]
async fn a_coverage_change_is_one_status_patch_and_one_event() {
    let mut stored = current_report();
    let status = stored.status.as_mut().expect("a report has a status");
    status.posture.covered = !status.posture.covered;
    let was_covered = status.posture.covered;
    let desired = current_report();
    let bodies = reconcile_against(
        true,
        Some(stored),
        vec![status_patch(&desired), event_create()],
    )
    .await;
    let reason = if was_covered {
        "CoverageLost"
    } else {
        "CoverageGained"
    };
    assert_eq!(bodies[1]["reason"], json!(reason));
    assert_eq!(bodies[1]["regarding"]["name"], json!("a"));
}

#[tokio::test]
async fn a_missing_report_is_created_then_given_its_status() {
    let desired = current_report();
    let create = Step {
        method: Method::POST,
        path: reports_path(),
        status: StatusCode::CREATED,
        answer: None,
    };
    let bodies = reconcile_against(true, None, vec![create, status_patch(&desired)]).await;
    assert_eq!(
        bodies[0]["metadata"]["ownerReferences"][0]["uid"],
        json!("u-a")
    );
    assert!(
        bodies[0].get("status").is_none_or(Value::is_null),
        "created without status"
    );
    assert!(bodies[1]["status"]["covered"].is_boolean());
}

#[tokio::test]
async fn a_follower_writes_nothing() {
    let bodies = reconcile_against(false, None, Vec::new()).await;
    assert!(bodies.is_empty());
}
