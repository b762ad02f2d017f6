//! The operator's command line: every flag, with its environment variable
//! where the deployment sets one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::config::{CniOverride, parse_duration, parse_duration_or_zero};

#[derive(Debug, Args)]
pub struct OperatorArgs {
    /// Configuration file (see config/netposture.yaml).
    #[arg(long, env = "NETPOSTURE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Declare the CNI instead of detecting it: NAME or NAME:True|False|Unknown.
    #[arg(long, env = "NETPOSTURE_CNI", value_name = "NAME[:CAPABLE]", value_parser = CniOverride::parse)]
    pub cni: Option<CniOverride>,
    /// Where /metrics, /healthz and /readyz are served: over HTTPS, /metrics
    /// only to those the API server allows `get` on that URL.
    #[arg(long, env = "NETPOSTURE_METRICS_ADDR", default_value = "0.0.0.0:8443")]
    pub metrics_addr: SocketAddr,
    /// Serve plain HTTP with /metrics open to anyone who can connect (local runs, the demo).
    #[arg(long, env = "NETPOSTURE_INSECURE_METRICS")]
    pub insecure_metrics: bool,
    /// tls.crt and tls.key for HTTPS, re-read when they change; without it a
    /// self-signed certificate is made at start-up.
    #[arg(
        long,
        env = "NETPOSTURE_METRICS_CERT_DIR",
        value_name = "DIR",
        conflicts_with = "insecure_metrics"
    )]
    pub metrics_cert_dir: Option<PathBuf>,
    /// Re-evaluate every namespace this often without a change (overrides resyncPeriod).
    #[arg(long, env = "NETPOSTURE_RESYNC_PERIOD", value_name = "DURATION")]
    pub resync_period: Option<String>,
    /// Namespace of the leader-election Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "netposture-system")]
    pub lease_namespace: String,
    #[arg(
        long,
        env = "NETPOSTURE_LEASE_NAME",
        default_value = "netposture-operator"
    )]
    pub lease_name: String,
    /// This replica's name in the Lease; defaults to the pod name or host name.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Reconciles running at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: u16,
    /// Collect changes for this long before re-evaluating a namespace (0s: re-evaluate at once).
    #[arg(long, default_value = "1s", value_parser = |s: &str| parse_duration_or_zero(s, "--debounce"))]
    pub debounce: Duration,
    /// How long one watch request lasts before it is renewed (and RBAC checked again).
    #[arg(long, default_value = "290s", value_parser = |s: &str| parse_duration(s, "--watch-timeout"))]
    pub watch_timeout: Duration,
    /// Also write a wgpolicyk8s.io/v1alpha2 PolicyReport per namespace (when that CRD exists).
    #[arg(long, env = "NETPOSTURE_POLICY_REPORTS")]
    pub policy_reports: bool,
    #[arg(long, env = "NETPOSTURE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub admission: super::admission::AdmissionArgs,
}

impl OperatorArgs {
    /// This replica's name in the Lease: `--identity`, else the host name
    /// with the process id (two replicas on one host stay apart).
    pub fn identity(&self) -> String {
        self.identity.clone().unwrap_or_else(default_identity)
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "netposture".into());
    format!("{host}-{}", std::process::id())
}
