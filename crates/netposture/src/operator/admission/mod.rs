//! The validating admission webhook (`--admission-addr`): previews each
//! NetworkPolicy and policy-layer change on the operator's index and
//! answers allowed with warnings, or denied for the configured conditions.
//! Every replica serves it from its own index.

mod certs;
mod keeper;
pub mod metrics;
mod review;
mod server;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use kube::Client;
use tokio::task::JoinHandle;

use super::context::Context;
use super::serving_cert::ServingCert;
use crate::config::AdmissionRules;
use metrics::AdmissionMetrics;

#[derive(Debug, Args)]
pub struct AdmissionArgs {
    /// Serve the validating admission webhook (HTTPS) here, e.g. 0.0.0.0:8443; off when unset.
    #[arg(long, env = "NETPOSTURE_ADMISSION_ADDR")]
    admission_addr: Option<SocketAddr>,
    /// The ValidatingWebhookConfiguration whose caBundle the operator keeps current.
    #[arg(
        long,
        env = "NETPOSTURE_ADMISSION_WEBHOOK",
        default_value = "netposture"
    )]
    admission_webhook: String,
    /// Secret, in the operator's namespace, holding the issued CA and serving certificate.
    #[arg(
        long,
        env = "NETPOSTURE_ADMISSION_SECRET",
        default_value = "netposture-admission-tls"
    )]
    admission_secret: String,
    /// DNS names and IP addresses of the issued serving certificate, comma-separated.
    #[arg(
        long,
        env = "NETPOSTURE_ADMISSION_HOSTS",
        value_delimiter = ',',
        default_value = "netposture-admission.netposture-system.svc"
    )]
    admission_hosts: Vec<String>,
    /// Serve tls.crt and tls.key from this directory (e.g. a cert-manager
    /// Secret) instead of issuing them; caBundle is then left to cert-manager.
    #[arg(long, env = "NETPOSTURE_ADMISSION_CERT_DIR", value_name = "DIR")]
    admission_cert_dir: Option<PathBuf>,
}

/// What a request handler reads.
pub struct Webhook {
    ctx: Arc<Context>,
    rules: AdmissionRules,
    metrics: AdmissionMetrics,
}

/// Starts the webhook when `--admission-addr` is set: binds at once (a
/// taken port ends the operator at start), then serves and keeps the
/// certificate current until `shutdown`.
pub async fn start(
    args: AdmissionArgs,
    rules: AdmissionRules,
    ctx: Arc<Context>,
    metrics: AdmissionMetrics,
    namespace: &str,
    client: Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let Some(addr) = args.admission_addr else {
        return Ok(Vec::new());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --admission-addr {addr}"))?;
    let serving = Arc::new(ServingCert::default());
    let tls = serving
        .acceptor()
        .context("TLS settings of the admission webhook")?;
    let source = match args.admission_cert_dir {
        Some(dir) => keeper::Source::Files(dir),
        None => keeper::Source::Issued {
            client,
            namespace: namespace.to_string(),
            secret: args.admission_secret,
            webhook: args.admission_webhook,
            hosts: args.admission_hosts,
        },
    };
    tracing::info!(%addr, "admission webhook starting");
    let webhook = Arc::new(Webhook {
        ctx,
        rules,
        metrics,
    });
    Ok(vec![
        tokio::spawn(keeper::keep(source, serving)),
        tokio::spawn(server::serve(listener, tls, webhook, shutdown)),
    ])
}
