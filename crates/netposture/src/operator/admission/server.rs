//! The webhook's HTTPS endpoint: AdmissionReview v1 in, AdmissionReview
//! out. Any path is served, so the configuration's `path` is free.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::Webhook;
use super::metrics::Outcome;
use super::review::{self, Answer};
use crate::operator::listener;

/// The API server sends at most an old and a new object of etcd's 1.5 MiB limit.
const MAX_BODY: usize = 4 * 1024 * 1024;

pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    webhook: Arc<Webhook>,
    shutdown: impl Future<Output = ()>,
) {
    let handle = move |request: Request<Incoming>| handle(request, webhook.clone());
    listener::serve(listener, Some(acceptor), "admission", handle, shutdown).await;
}

async fn handle(request: Request<Incoming>, webhook: Arc<Webhook>) -> Response<Full<Bytes>> {
    if request.method() != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "POST an AdmissionReview\n");
    }
    let started = Instant::now();
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => return plain(StatusCode::BAD_REQUEST, &format!("{error}\n")),
    };
    let parsed = serde_json::from_slice::<AdmissionReview<DynamicObject>>(&body)
        .map_err(|e| e.to_string())
        .and_then(|review| {
            let request: Result<AdmissionRequest<DynamicObject>, _> = review.try_into();
            request.map_err(|_| "no request in the review".to_string())
        });
    let response = match parsed {
        Ok(request) => {
            let answer = answer(request, &webhook).await;
            for condition in &answer.warned {
                webhook.metrics.warned(condition);
            }
            for condition in &answer.denied {
                webhook.metrics.denied(condition);
            }
            webhook
                .metrics
                .record(answer.outcome, started.elapsed().as_secs_f64());
            answer.response
        }
        Err(error) => {
            webhook
                .metrics
                .record(Outcome::Invalid, started.elapsed().as_secs_f64());
            AdmissionResponse::invalid(format!("netposture: unreadable AdmissionReview: {error}"))
        }
    };
    match serde_json::to_vec(&response.into_review()) {
        Ok(json) => {
            let mut reply = Response::new(Full::new(Bytes::from(json)));
            reply
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            reply
        }
        Err(error) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{error}\n")),
    }
}

/// Evaluates off the async threads: a change that reaches every namespace
/// takes a full evaluation.
async fn answer(request: AdmissionRequest<DynamicObject>, webhook: &Arc<Webhook>) -> Answer {
    if !webhook.ctx.loaded() {
        return review::not_synced(&request);
    }
    let webhook = webhook.clone();
    let fallback = AdmissionResponse::from(&request);
    tokio::task::spawn_blocking(move || {
        let cluster = webhook.ctx.cluster();
        review::review(
            &request,
            &review::Inputs {
                cluster: &cluster,
                settings: &webhook.ctx.settings,
                exclusion: &webhook.ctx.exclusion,
                rules: &webhook.rules,
            },
        )
    })
    .await
    .unwrap_or_else(|error| {
        tracing::error!(%error, "admission review failed");
        Answer {
            response: fallback,
            outcome: Outcome::Invalid,
            warned: Vec::new(),
            denied: Vec::new(),
        }
    })
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut reply = Response::new(Full::new(Bytes::from(text.to_string())));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}
