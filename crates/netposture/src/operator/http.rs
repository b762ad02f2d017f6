//! The operator's HTTP endpoint: `/metrics` for Prometheus, `/healthz` and
//! `/readyz` for the kubelet's probes.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use super::health::Health;
use super::metrics::Metrics;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// A client that has not sent its request headers by then is dropped, so
/// idle or stalled connections cannot pile up.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Serves until `shutdown` resolves, then stops accepting; requests already
/// being answered finish on their own tasks. Accept errors are logged and
/// retried, since the probes must outlive a transient shortage.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, "accepting an HTTP connection failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        let health = Arc::clone(&health);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = respond(request.method(), request.uri().path(), &metrics, &health);
                async move { Ok::<_, Infallible>(response) }
            });
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            // Malformed requests and dropped clients end here, as hyper's 400 or a closed socket.
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
        });
    }
}

fn respond(
    method: &Method,
    path: &str,
    metrics: &Metrics,
    health: &Health,
) -> Response<Full<Bytes>> {
    let readable = method == Method::GET || method == Method::HEAD;
    match path {
        "/metrics" | "/healthz" | "/readyz" if !readable => {
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
        let server = tokio::spawn(serve(listener, metrics, Arc::clone(&health), async {
            stopped.await.ok();
        }));

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
}
