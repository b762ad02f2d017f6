//! The operator's HTTP endpoint: `/metrics` for Prometheus, `/healthz` and
//! `/readyz` for the kubelet's probes. Over HTTPS with `/metrics` behind the
//! API server's authentication and authorization (the default), or plain and
//! open for local runs. The probes are open either way and name no namespace.

use std::future::Future;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::args::OperatorArgs;
use super::health::Health;
use super::listener;
use super::metrics::Metrics;
use super::metrics_auth::{Access, ApiReviewer, METRICS_PATH, MetricsAuth, Reviewer};
use super::serving_cert::ServingCert;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// How the endpoint is guarded: both, or neither (`--insecure-metrics`).
pub struct Guard<R> {
    pub tls: TlsAcceptor,
    pub auth: Arc<MetricsAuth<R>>,
}

impl Guard<ApiReviewer> {
    /// HTTPS and the API server's say on /metrics, unless `--insecure-metrics`.
    pub fn for_args(args: &OperatorArgs, client: &kube::Client) -> anyhow::Result<Option<Self>> {
        if args.insecure_metrics {
            tracing::warn!("--insecure-metrics: /metrics is served over plain HTTP to anyone");
            return Ok(None);
        }
        let cert = match &args.metrics_cert_dir {
            Some(dir) => {
                let cert = ServingCert::from_dir(dir)?;
                tokio::spawn(Arc::clone(&cert).follow_dir(dir.clone()));
                cert
            }
            None => ServingCert::self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                format!("netposture-metrics.{}.svc", args.lease_namespace),
            ])?,
        };
        Ok(Some(Guard {
            tls: cert.acceptor()?,
            auth: Arc::new(MetricsAuth::new(ApiReviewer::new(client.clone()))),
        }))
    }
}

/// Serves until `shutdown` resolves (see [`listener::serve`]).
pub async fn serve<R: Reviewer + 'static>(
    listener: TcpListener,
    guard: Option<Guard<R>>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let (tls, auth) = match guard {
        Some(Guard { tls, auth }) => (Some(tls), Some(auth)),
        None => (None, None),
    };
    let answer = Arc::new(Answer {
        metrics,
        health,
        auth,
    });
    let respond = move |request: Request<Incoming>| {
        let answer = Arc::clone(&answer);
        async move { answer.respond(&request).await }
    };
    listener::serve(listener, tls, "metrics", respond, shutdown).await;
    Ok(())
}

/// What the endpoint answers with.
struct Answer<R> {
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    auth: Option<Arc<MetricsAuth<R>>>,
}

impl<R: Reviewer + 'static> Answer<R> {
    async fn respond<B>(&self, request: &Request<B>) -> Response<Full<Bytes>> {
        let path = request.uri().path();
        if let (METRICS_PATH, true, Some(auth)) = (path, readable(request.method()), &self.auth) {
            let header = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match auth.access(header).await {
                Ok(Access::Allowed) => {}
                Ok(Access::Unauthenticated) => {
                    let mut response = text(StatusCode::UNAUTHORIZED, "unauthorized");
                    response
                        .headers_mut()
                        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                    return response;
                }
                Ok(Access::Forbidden) => return text(StatusCode::FORBIDDEN, "forbidden"),
                Err(error) => {
                    tracing::warn!(%error, "cannot ask the API server who may read /metrics");
                    return text(StatusCode::SERVICE_UNAVAILABLE, "cannot authorize now");
                }
            }
        }
        respond(request.method(), path, &self.metrics, &self.health)
    }
}

fn readable(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

fn respond(
    method: &Method,
    path: &str,
    metrics: &Metrics,
    health: &Health,
) -> Response<Full<Bytes>> {
    match path {
        "/metrics" | "/healthz" | "/readyz" if !readable(method) => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            response
        }
        "/metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(metrics.encode())));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(OPENMETRICS));
            response
        }
        // Liveness: answering at all is the proof.
        "/healthz" => text(StatusCode::OK, "ok"),
        "/readyz" => match health.readiness() {
            Ok(()) => text(StatusCode::OK, "ok"),
            Err(reasons) => text(StatusCode::SERVICE_UNAVAILABLE, reasons),
        },
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PLAIN_TEXT));
    response
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::*;
    use crate::operator::health::WatchState;

    /// One request on a fresh connection, answered in full (the server closes it).
    async fn request(addr: SocketAddr, method: &str, path: &str) -> String {
        let stream = TcpStream::connect(addr).await.unwrap();
        let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut unsent = request.as_bytes();
        while !unsent.is_empty() {
            stream.writable().await.unwrap();
            match stream.try_write(unsent) {
                Ok(written) => unsent = &unsent[written..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("writing the request: {e}"),
            }
        }
        let mut response = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            stream.readable().await.unwrap();
            match stream.try_read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => response.extend_from_slice(&buffer[..read]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("reading the response: {e}"),
            }
        }
        String::from_utf8(response).unwrap()
    }

    fn status_line(response: &str) -> &str {
        response.lines().next().unwrap_or_default()
    }

    fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
        let head = response.split("\r\n\r\n").next().unwrap_or_default();
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    fn body(response: &str) -> &str {
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn endpoints_answer_with_their_status_and_content_type() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::new());
        metrics.set_leader(true);
        let health = Arc::new(Health::new(&["Pod", "NetworkPolicy"]));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve::<ApiReviewer>(
            listener,
            None,
            metrics,
            Arc::clone(&health),
            async {
                stopped.await.ok();
            },
        ));

        let scrape = request(addr, "GET", "/metrics").await;
        assert_eq!(status_line(&scrape), "HTTP/1.1 200 OK");
        assert_eq!(header(&scrape, "content-type"), Some(OPENMETRICS));
        assert!(body(&scrape).contains("netposture_leader 1\n"), "{scrape}");
        assert!(body(&scrape).ends_with("# EOF\n"));

        let live = request(addr, "GET", "/healthz").await;
        assert_eq!(status_line(&live), "HTTP/1.1 200 OK");
        assert_eq!(body(&live), "ok");

        health.set("Pod", WatchState::Synced);
        let not_ready = request(addr, "GET", "/readyz").await;
        assert_eq!(status_line(&not_ready), "HTTP/1.1 503 Service Unavailable");
        assert_eq!(
            body(&not_ready),
            "NetworkPolicy: starting (initial list not complete)"
        );

        health.set("NetworkPolicy", WatchState::Synced);
        let ready = request(addr, "GET", "/readyz").await;
        assert_eq!(status_line(&ready), "HTTP/1.1 200 OK");
        assert_eq!(body(&ready), "ok");

        let head = request(addr, "HEAD", "/healthz").await;
        assert_eq!(status_line(&head), "HTTP/1.1 200 OK");
        assert_eq!(body(&head), "");

        let unknown = request(addr, "GET", "/nope").await;
        assert_eq!(status_line(&unknown), "HTTP/1.1 404 Not Found");

        let post = request(addr, "POST", "/metrics").await;
        assert_eq!(status_line(&post), "HTTP/1.1 405 Method Not Allowed");
        assert_eq!(header(&post, "allow"), Some("GET, HEAD"));

        let garbage = request(addr, "\u{1}\u{2}", "??").await;
        assert_eq!(status_line(&garbage), "HTTP/1.1 400 Bad Request");

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }

    /// One request over TLS that trusts `cert` for "localhost".
    async fn request_tls(addr: SocketAddr, cert: &[u8], path: &str, token: Option<&str>) -> String {
        use rustls_pki_types::pem::PemObject;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from_pem_slice(cert).unwrap())
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        let authorization = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{authorization}Connection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        // A peer closing without close_notify is fine here: the body is read.
        let _ = tls.read_to_end(&mut response).await;
        String::from_utf8(response).unwrap()
    }

    #[tokio::test]
    async fn guarded_metrics_need_a_token_the_api_server_allows_and_probes_do_not() {
        use crate::operator::metrics_auth::MetricsAuth;
        use crate::operator::metrics_auth::scripted::Scripted;
        use crate::operator::serving_cert::{CERT_FILE, KEY_FILE, ServingCert};

        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CERT_FILE), made.cert.pem()).unwrap();
        std::fs::write(dir.path().join(KEY_FILE), made.signing_key.serialize_pem()).unwrap();
        let cert = ServingCert::from_dir(dir.path()).unwrap();
        let guard = Guard {
            tls: cert.acceptor().unwrap(),
            auth: Arc::new(MetricsAuth::new(Scripted::default())),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let health = Arc::new(Health::new(&["Pod"]));
        health.set("Pod", WatchState::Synced);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            Some(guard),
            Arc::new(Metrics::new()),
            health,
            async {
                stopped.await.ok();
            },
        ));
        let pem = made.cert.pem();

        let anonymous = request_tls(addr, pem.as_bytes(), "/metrics", None).await;
        assert_eq!(status_line(&anonymous), "HTTP/1.1 401 Unauthorized");
        assert_eq!(header(&anonymous, "www-authenticate"), Some("Bearer"));
        let forged = request_tls(addr, pem.as_bytes(), "/metrics", Some("forged")).await;
        assert_eq!(status_line(&forged), "HTTP/1.1 401 Unauthorized");
        let stranger = request_tls(addr, pem.as_bytes(), "/metrics", Some("stranger")).await;
        assert_eq!(status_line(&stranger), "HTTP/1.1 403 Forbidden");
        assert!(!body(&stranger).contains("netposture_"), "{stranger}");
        let reader = request_tls(addr, pem.as_bytes(), "/metrics", Some("reader")).await;
        assert_eq!(status_line(&reader), "HTTP/1.1 200 OK");
        assert!(body(&reader).contains("netposture_leader"), "{reader}");
        let ready = request_tls(addr, pem.as_bytes(), "/readyz", None).await;
        assert_eq!(status_line(&ready), "HTTP/1.1 200 OK");

        // Plain HTTP to the HTTPS port gets no metrics.
        let plain = request(addr, "GET", "/metrics").await;
        assert!(!plain.contains("netposture_"), "{plain}");

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
