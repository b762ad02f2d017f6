//! The accept loop both HTTP endpoints share (`/metrics` and the probes, the
//! admission webhook): plain or TLS, every connection on its own task,
//! bounded so that silent or stalled clients cannot pile up.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its TLS handshake or sent its request
/// headers by then is dropped.
const HANDSHAKE_AND_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed accept (e.g. out of file descriptors) instead of spinning.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Serves `answer` on `listener` until `shutdown` resolves, then stops
/// accepting; requests already being answered finish on their own tasks.
/// Accept errors are logged and retried: a transient shortage must not end
/// the endpoint. `what` names the endpoint in logs.
pub async fn serve<F, A>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    what: &'static str,
    answer: F,
    shutdown: impl Future<Output = ()>,
) where
    F: Fn(Request<Incoming>) -> A + Clone + Send + Sync + 'static,
    A: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(endpoint = what, %error, "accepting a connection failed");
                tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                continue;
            }
        };
        let tls = tls.clone();
        let answer = answer.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => serve_connection(stream, answer).await,
                Some(tls) => {
                    let handshake = tls.accept(stream);
                    match tokio::time::timeout(HANDSHAKE_AND_HEADER_TIMEOUT, handshake).await {
                        Ok(Ok(stream)) => serve_connection(stream, answer).await,
                        Ok(Err(error)) => {
                            tracing::debug!(endpoint = what, %peer, %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    }
                }
            };
            // Malformed requests and dropped clients end here, as hyper's 400 or a closed socket.
            if let Err(error) = served {
                tracing::debug!(endpoint = what, %peer, %error, "connection ended with an error");
            }
        });
    }
}

async fn serve_connection<F, A>(
    io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
    answer: F,
) -> hyper::Result<()>
where
    F: Fn(Request<Incoming>) -> A + Send + 'static,
    A: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = service_fn(move |request| {
        let answered = answer(request);
        async move { Ok::<_, Infallible>(answered.await) }
    });
    http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HANDSHAKE_AND_HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await
}
