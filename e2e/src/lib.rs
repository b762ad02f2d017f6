//! Harness for the end-to-end suite: a running local control plane (started
//! by `just e2e` through `e2e/cluster.sh`), the operator binary run as its own
//! ServiceAccount under the RBAC from `deploy/`, and helpers that poll the
//! API with deadlines. Everything talks to the cluster through `kubectl`, as
//! users do.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod operator;
pub mod prometheus;

pub use operator::{Operator, free_port};

pub const OPERATOR_NAMESPACE: &str = "netposture-system";
pub const SERVICE_ACCOUNT: &str = "netposture";

/// Read at run time: `cargo test` sets it for the checkout being tested,
/// while the compile-time value can name another checkout whose build a
/// shared target directory reused.
pub fn repo_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Path::new(&manifest_dir)
        .parent()
        .expect("e2e/ sits in the repository")
        .to_path_buf()
}

/// The control plane `just e2e` started; its state dir holds the kubeconfig.
pub fn cluster_dir() -> PathBuf {
    match std::env::var_os("NETPOSTURE_CLUSTER_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "NETPOSTURE_CLUSTER_DIR is not set: run the e2e suite with `just e2e`, which starts the local control plane"
        ),
    }
}

pub fn admin_kubeconfig() -> PathBuf {
    cluster_dir().join("kubeconfig")
}

/// The netposture binary under test (the operator and the CLI are one).
pub fn operator_binary() -> PathBuf {
    let bin = std::env::var_os("NETPOSTURE_BIN")
        .map(PathBuf::from)
        .expect("NETPOSTURE_BIN names the netposture binary under test (set by `just e2e`)");
    // The tests run in e2e/, not where whoever set the variable stood.
    assert!(
        bin.is_absolute(),
        "NETPOSTURE_BIN must be an absolute path, got {}",
        bin.display()
    );
    bin
}

/// Runs kubectl as the cluster admin.
pub fn kubectl(args: &[&str]) -> Output {
    kubectl_with_input(args, None)
}

pub fn kubectl_with_input(args: &[&str], input: Option<&str>) -> Output {
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", admin_kubeconfig())
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .expect("kubectl reads stdin");
    }
    child.wait_with_output().expect("kubectl finishes")
}

/// kubectl that must succeed; returns stdout.
pub fn kubectl_ok(args: &[&str]) -> String {
    let output = kubectl(args);
    assert!(
        output.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn apply(yaml: &str) {
    let output = kubectl_with_input(&["apply", "-f", "-"], Some(yaml));
    assert!(
        output.status.success(),
        "kubectl apply failed: {}\n{yaml}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls `probe` every 200 ms until it returns `Some`, or panics naming `what`.
pub fn eventually<T>(what: &str, deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if started.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// What the suite installs for real: the CRD, the namespace and the RBAC of
/// deploy/ (the operator itself runs as a local process).
pub fn apply_crd_and_rbac() {
    let root = repo_root();
    for file in [
        "crds/networkpostures.netposture.io.yaml",
        "deploy/base/namespace.yaml",
        "deploy/base/rbac.yaml",
        "deploy/base/view-role.yaml",
    ] {
        kubectl_ok(&["apply", "-f", root.join(file).to_str().expect("UTF-8 path")]);
    }
}

/// deploy/ installed once per test process: the whole kustomization is
/// validated by the API server (dry run), and its CRD and RBAC applied.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        apply_crd_and_rbac();
        // The namespaced objects need the namespace to exist, hence after the apply.
        let deploy = repo_root().join("deploy");
        kubectl_ok(&[
            "apply",
            "--dry-run=server",
            "-k",
            deploy.to_str().expect("UTF-8 path"),
        ]);
        kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "crd/networkpostures.netposture.io",
            "--timeout=30s",
        ]);
        // The token controller creates the ServiceAccount shortly after apply.
        eventually(
            "the operator's ServiceAccount",
            Duration::from_secs(30),
            || {
                kubectl(&[
                    "-n",
                    OPERATOR_NAMESPACE,
                    "get",
                    "serviceaccount",
                    SERVICE_ACCOUNT,
                ])
                .status
                .success()
                .then_some(())
            },
        );
    });
}

/// Finds `name{labels...} value` in an OpenMetrics text; labels may be a subset.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let wanted = series_name == name
            && labels
                .iter()
                .all(|(k, v)| series_labels.contains(&format!("{k}=\"{v}\"")));
        if wanted { value.parse().ok() } else { None }
    })
}

/// A fresh namespace for one test, deleted afterwards.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub fn new(prefix: &str) -> TestNamespace {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        kubectl_ok(&["create", "namespace", &name]);
        TestNamespace { name }
    }

    pub fn apply(&self, yaml: &str) {
        apply(&yaml.replace("NAMESPACE", &self.name));
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false"]);
    }
}

/// The report of `namespace` as JSON, if it exists.
pub fn report(namespace: &str) -> Option<Value> {
    let output = kubectl(&["get", "networkposture", namespace, "-o", "json"]);
    if !output.status.success() {
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

/// Waits until the report exists and `check` holds on it; returns it.
pub fn report_where(namespace: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(
        &format!("report {namespace}: {what}"),
        Duration::from_secs(30),
        || report(namespace).filter(|r| check(r)),
    )
}

pub fn status_flag(report: &Value, field: &str) -> Option<bool> {
    report["status"][field].as_bool()
}

pub fn resource_versions() -> Vec<(String, String)> {
    let text = kubectl_ok(&[
        "get",
        "networkpostures",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}{end}",
    ]);
    let mut versions: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    versions.sort();
    versions
}

/// Notes how long the operator took to recover from `fault` (from the end of
/// the fault until the reports were right again): printed, and appended to
/// `$NETPOSTURE_RECOVERY_FILE`, from which `e2e/run.sh` prints a summary.
pub fn record_recovery(fault: &str, took: Duration) {
    let seconds = took.as_secs_f64();
    eprintln!("recovery {fault}: {seconds:.1} s");
    if let Some(path) = std::env::var_os("NETPOSTURE_RECOVERY_FILE") {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("the recovery file opens");
        writeln!(file, "{fault}\t{seconds:.1}").expect("the recovery file is written");
    }
}

/// Report spec and status by name, without what differs between two correct
/// evaluations (the evaluation time and the conditions' transition times).
/// A report without status keeps a null one.
fn normalized_reports(list: &Value) -> BTreeMap<String, Value> {
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items
        .into_iter()
        .filter_map(|mut report| {
            let name = report["metadata"]["name"].as_str()?.to_string();
            if let Some(status) = report["status"].as_object_mut() {
                status.remove("lastEvaluated");
                let conditions = status.get_mut("conditions").and_then(Value::as_array_mut);
                for condition in conditions.into_iter().flatten() {
                    condition
                        .as_object_mut()
                        .map(|c| c.remove("lastTransitionTime"));
                }
            }
            let kept = serde_json::json!({"spec": report["spec"], "status": report["status"]});
            Some((name, kept))
        })
        .collect()
}

/// Every report as `netposture scan` of the live cluster computes it now:
/// the same engine, evaluated from scratch.
pub fn scanned_reports() -> BTreeMap<String, Value> {
    let output = Command::new(operator_binary())
        .args(["scan", "-o", "json"])
        .env("KUBECONFIG", admin_kubeconfig())
        .output()
        .expect("netposture scan runs");
    assert!(
        output.status.success(),
        "netposture scan failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    normalized_reports(&serde_json::from_slice(&output.stdout).expect("scan prints JSON"))
}

/// Every report the operator wrote, normalized like `scanned_reports`.
pub fn written_reports() -> BTreeMap<String, Value> {
    let text = kubectl_ok(&["get", "networkpostures", "-o", "json"]);
    normalized_reports(&serde_json::from_str(&text).expect("kubectl prints JSON"))
}

/// Of `namespaces`, those whose report is missing or differs from a fresh scan.
pub fn reports_differing_from_scan(namespaces: &[&str]) -> Vec<String> {
    let scanned = scanned_reports();
    let written = written_reports();
    namespaces
        .iter()
        .filter(|ns| !scanned.contains_key(**ns) || scanned.get(**ns) != written.get(**ns))
        .map(|ns| ns.to_string())
        .collect()
}

/// Waits until the reports of `namespaces` (and of default and kube-system)
/// all exist and agree with a fresh scan.
pub fn reports_agree_with_scan(namespaces: &[&str]) {
    let mut all = vec!["default", "kube-system"];
    all.extend_from_slice(namespaces);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let differing = reports_differing_from_scan(&all);
        if differing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "reports still differ from a fresh scan after 30 s: {differing:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs an `e2e/cluster.sh` subcommand on the suite's control plane.
pub fn cluster_sh(command: &str) {
    let status = Command::new(repo_root().join("e2e/cluster.sh"))
        .args([command, cluster_dir().to_str().expect("UTF-8 path")])
        .status()
        .expect("cluster.sh runs");
    assert!(status.success(), "e2e/cluster.sh {command} failed");
}

/// A calico-node pod in kube-system: the engine then knows the CNI enforces policy.
pub const CALICO_NODE: &str = "apiVersion: v1
kind: Pod
metadata: {name: calico-node-e2e, namespace: kube-system, labels: {k8s-app: calico-node}}
spec:
  hostNetwork: true
  containers: [{name: calico-node, image: 'calico/node:v3.27.0'}]
";

pub const DENY_ALL: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: NAMESPACE}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
";

pub const ALLOW_DNS: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns, namespace: NAMESPACE}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]
";

pub const WEB_POD: &str = "apiVersion: v1
kind: Pod
metadata: {name: web, namespace: NAMESPACE, labels: {app: web}}
spec: {containers: [{name: web, image: nginx}]}
";

/// A NodePort Service in front of `WEB_POD`.
pub const WEB_NODE_PORT: &str = "apiVersion: v1
kind: Service
metadata: {name: web, namespace: NAMESPACE}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80}]
";
