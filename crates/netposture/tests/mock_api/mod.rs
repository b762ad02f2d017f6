//! An in-process stand-in for the API server's Lease endpoints, behind a real
//! `kube::Client`: GET, POST and PATCH (apply and strategic merge, both taken
//! as "set these spec fields, drop the null ones") on Leases in one
//! namespace, and a switch that makes every request fail as a partition would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use kube::client::Body;
use serde_json::{Value, json};

pub const NAMESPACE: &str = "default";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

#[derive(Clone, Default)]
pub struct MockApi {
    leases: Arc<Mutex<BTreeMap<String, Value>>>,
    cut_off: Arc<AtomicBool>,
    resource_version: Arc<AtomicU64>,
}

impl MockApi {
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let api = api.clone();
            async move { api.serve(request).await }
        });
        kube::Client::new(service, NAMESPACE)
    }

    /// Every request from now on fails before reaching the "server".
    pub fn cut_off(&self) {
        self.cut_off.store(true, Ordering::SeqCst);
    }

    /// Stores a Lease as another replica's write would leave it.
    pub fn put_lease(&self, name: &str, spec: Value) {
        let lease = self.versioned(json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": spec,
        }));
        self.leases
            .lock()
            .expect("leases")
            .insert(name.to_owned(), lease);
    }

    pub fn holder(&self, name: &str) -> Option<String> {
        let leases = self.leases.lock().expect("leases");
        leases.get(name)?["spec"]["holderIdentity"]
            .as_str()
            .map(str::to_owned)
    }

    fn versioned(&self, mut object: Value) -> Value {
        let version = self.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        object
    }

    async fn serve(self, request: Request<Body>) -> Result<Response<Full<Bytes>>, std::io::Error> {
        if self.cut_off.load(Ordering::SeqCst) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "the API server is unreachable (partition in the test)",
            ));
        }
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        let sent: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(std::io::Error::other)?
        };
        let path = parts.uri.path();
        let name = path
            .strip_prefix(LEASES)
            .and_then(|rest| rest.strip_prefix('/'));
        let mut leases = self.leases.lock().expect("leases");
        let answer = match (&parts.method, name) {
            (&Method::GET, Some(name)) => match leases.get(name) {
                Some(lease) => (StatusCode::OK, lease.clone()),
                None => not_found(name),
            },
            (&Method::POST, None) => {
                let name = sent["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let lease = self.versioned(sent);
                leases.insert(name, lease.clone());
                (StatusCode::CREATED, lease)
            }
            (&Method::PATCH, Some(name)) => {
                let Some(lease) = leases.get(name).cloned() else {
                    return Ok(reply(not_found(name)));
                };
                let mut lease = lease;
                merge_spec(&mut lease, &sent["spec"]);
                let lease = self.versioned(lease);
                leases.insert(name.to_owned(), lease.clone());
                (StatusCode::OK, lease)
            }
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                status_body(405, "MethodNotAllowed", &format!("{} {path}", parts.method)),
            ),
        };
        Ok(reply(answer))
    }
}

fn reply((status, body): (StatusCode, Value)) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a response from a status and a JSON body")
}

fn not_found(name: &str) -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        status_body(404, "NotFound", &format!("leases \"{name}\" not found")),
    )
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
           "reason": reason, "message": message, "code": code})
}

fn merge_spec(lease: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        return;
    };
    if !lease["spec"].is_object() {
        lease["spec"] = json!({});
    }
    let spec = lease["spec"].as_object_mut().expect("spec is an object");
    for (key, value) in fields {
        if value.is_null() {
            spec.remove(key);
        } else {
            spec.insert(key.clone(), value.clone());
        }
    }
}
