//! One `netposture operator` process run as the operator's ServiceAccount,
//! and its HTTP endpoint.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{
    OPERATOR_NAMESPACE, SERVICE_ACCOUNT, cluster_dir, eventually, install, metric_value,
    operator_binary, repo_root,
};

/// A kubeconfig that authenticates as the operator's ServiceAccount, so the
/// operator runs with exactly the ClusterRole from deploy/.
fn operator_kubeconfig() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        install();
        let output = Command::new(repo_root().join("e2e/cluster.sh"))
            .args(["kubeconfig", OPERATOR_NAMESPACE, SERVICE_ACCOUNT])
            .arg(cluster_dir())
            .output()
            .expect("cluster.sh runs");
        assert!(
            output.status.success(),
            "e2e/cluster.sh kubeconfig failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
    .clone()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One `netposture operator` process. Dropping it kills the process.
pub struct Operator {
    pub identity: String,
    pub metrics_port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Operator {
    /// Starts a replica with the given extra flags, and a 3 s resync unless
    /// they set one; its /metrics is plain HTTP, open to the tests.
    pub fn start(identity: &str, extra: &[&str]) -> Operator {
        Operator::spawn(identity, &[&["--insecure-metrics"], extra].concat())
    }

    /// Starts a replica as deploy/ runs it: HTTPS, /metrics only for tokens
    /// the API server allows.
    pub fn start_guarded(identity: &str, extra: &[&str]) -> Operator {
        Operator::spawn(identity, extra)
    }

    fn spawn(identity: &str, extra: &[&str]) -> Operator {
        let kubeconfig = operator_kubeconfig();
        let metrics_port = free_port();
        let log = cluster_dir().join(format!("operator-{identity}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let resync: &[&str] = if extra.contains(&"--resync-period") {
            &[]
        } else {
            &["--resync-period", "3s"]
        };
        let child = Command::new(operator_binary())
            .arg("operator")
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(["--identity", identity])
            .args(resync)
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("POD_NAMESPACE", OPERATOR_NAMESPACE)
            .env("RUST_LOG", "info,netposture=debug")
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("operator starts");
        Operator {
            identity: identity.to_string(),
            metrics_port,
            child: Some(child),
            log,
        }
    }

    /// Starts one replica and waits until it is ready and leading.
    pub fn start_leading(identity: &str) -> Operator {
        Operator::start_leading_with(identity, &[])
    }

    pub fn start_leading_with(identity: &str, extra: &[&str]) -> Operator {
        let operator = Operator::start(identity, extra);
        operator.wait_ready();
        eventually(
            &format!("{identity} to lead"),
            Duration::from_secs(40),
            || (operator.metric("netposture_leader", &[]) == Some(1.0)).then_some(()),
        );
        operator
    }

    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.metrics_port, path)
    }

    pub fn wait_ready(&self) {
        eventually(
            &format!("{} /readyz", self.identity),
            Duration::from_secs(30),
            || {
                self.get("/readyz")
                    .filter(|(code, _)| *code == 200)
                    .map(|_| ())
            },
        );
    }

    /// The value of one series, with labels given as `key="value"` pairs.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let (_, body) = self.get("/metrics")?;
        metric_value(&body, name, labels)
    }

    pub fn metrics_text(&self) -> String {
        self.get("/metrics")
            .map(|(_, body)| body)
            .unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().ok()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        None
    }

    /// Freezes (SIGSTOP) or thaws (SIGCONT) the process: a stalled replica.
    pub fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("operator is running");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    /// SIGKILL: a crash, no lease release.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A panic in any task shows in the log even when the process survives it.
    pub fn assert_no_panic(&self) {
        let log = self.log();
        assert!(
            !log.contains("panicked"),
            "operator {} panicked:\n{log}",
            self.identity
        );
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- log of operator {} ---\n{}", self.identity, self.log());
        }
        self.kill();
    }
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((code, body))
}
