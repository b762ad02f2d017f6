#!/usr/bin/env python3
"""Watches NetworkPostureReports to time the netposture operator.

  report-watch.py wait --reports N --namespaces L --pods P --since EPOCH
      prints, as JSON, the seconds from EPOCH (a Unix time, e.g. bash's
      $EPOCHREALTIME) until N reports exist ("all_reports") and until the
      reports of load-0 .. load-(L-1) all count at least P pods ("complete").
  report-watch.py churn --namespaces L --pods P --seconds S --rate R [--kubelet-rate K]
      change-to-report latency under steady churn, see below; with
      --kubelet-rate, kubelet-like noise runs meanwhile (see kubelets).
  report-watch.py kubelets --seconds S --rate K
      only the noise: at K changes a second, what kubelets and controllers
      do to pods on a busy cluster, none of which changes a verdict except
      the labels of one kube-system pod (every namespace is checked against
      reaching it). In turn over every pod there at the start: its status
      (phase, Ready condition and container state with fresh timestamps; the
      IPs stay), an annotation (one change in ten), and the labels of
      kube-system/kubelet-noise (one in ten), a pod created if missing.
      Prints {"changes", "failed", "seconds", "rate"} as JSON.

Used by e2e/measure-operator.sh on the load it creates: namespaces load-0 ..
load-(N-1), each with PODS pods named APP-J (app=frontend|api|db for J mod 3)
and the policies default-deny (both ways), allow-dns (egress) and
allow-frontend-to-api (ingress to app=api).

At RATE changes a second it makes changes whose effect on one namespace's
report is known in advance, in turn:
  deny-off   delete default-deny       -> defaultDenyIngress false, and only
                                          app=api pods stay ingress-isolated
  label      relabel pod db-2 app=db <-> app=api in a namespace without
             default-deny              -> pods.ingressIsolated +1 / -1
  pod        create or delete pod churn-0 (app=db)  -> pods.total +1 / -1
  deny-on    re-create default-deny    -> every pod ingress-isolated again
It never touches a namespace whose previous change is not yet in its report,
so each expected report state belongs to exactly one change. The time of a
change is when the API server's response arrived; a watch on the reports
records when the report first shows the expected (defaultDenyIngress,
pods.total, pods.ingressIsolated). The state to start from is read from the
cluster, so runs can follow each other. Talks to the API server directly
(stdlib only) so that process start-up does not blur the timings.

Environment (written by e2e/cluster.sh up): NETPOSTURE_APISERVER_URL,
NETPOSTURE_CA_FILE, NETPOSTURE_ADMIN_TOKEN_FILE. Progress goes to stderr, one
JSON summary to stdout.
"""

import argparse
import collections
import http.client
import json
import math
import os
import random
import ssl
import sys
import threading
import time
import urllib.parse

REPORTS = "/apis/netposture.io/v1alpha1/networkpostures"
CHURN_LABEL = "netposture-churn"
RELABELLED_POD = "db-2"
CHURN_POD = "churn-0"
# A change not visible in its report after this long counts as missed.
GIVE_UP_SECONDS = 60.0


class Api:
    """One keep-alive HTTPS connection to the API server, as the admin."""

    def __init__(self):
        url = urllib.parse.urlsplit(os.environ["NETPOSTURE_APISERVER_URL"])
        self.host, self.port = url.hostname, url.port
        self.context = ssl.create_default_context(cafile=os.environ["NETPOSTURE_CA_FILE"])
        with open(os.environ["NETPOSTURE_ADMIN_TOKEN_FILE"]) as f:
            self.token = f.read().strip()
        self.conn = None

    def connect(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def headers(self, content_type=None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    def request(self, method, path, body=None, content_type="application/json"):
        """Returns (status, parsed body); reconnects once on a dropped connection."""
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self.connect()
            try:
                self.conn.request(method, path, body=data, headers=self.headers(content_type if data else None))
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, (json.loads(payload) if payload else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def get(self, path):
        status, body = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {body}")
        return body


def report_state(report):
    status = report.get("status") or {}
    pods = status.get("pods") or {}
    return (status.get("defaultDenyIngress"), pods.get("total"), pods.get("ingressIsolated"))


class Namespace:
    """What the driver knows one load namespace holds."""

    def __init__(self, name, pods, api_pods):
        self.name = name
        self.pods = pods
        self.api_pods = api_pods
        self.deny = True
        self.churn_pod = False
        self.relabelled = False

    def expected(self):
        total = self.pods + (1 if self.churn_pod else 0)
        isolated = total if self.deny else self.api_pods + (1 if self.relabelled else 0)
        return (self.deny, total, isolated)


class Pending:
    def __init__(self, kind, namespace, expected):
        self.kind = kind
        self.namespace = namespace
        self.expected = expected
        self.sent = time.monotonic()
        self.acknowledged = None
        self.seen = None


class Watcher(threading.Thread):
    """Watches every report and resolves pending changes as their reports arrive."""

    def __init__(self, api):
        super().__init__(daemon=True)
        self.api = api
        self.lock = threading.Lock()
        self.pending = {}  # namespace -> Pending
        self.states = {}  # namespace -> report_state
        self.lists = 0
        self.stop = threading.Event()
        self.listed = threading.Event()

    def expect(self, change):
        with self.lock:
            self.pending[change.namespace] = change

    def busy(self, namespace):
        with self.lock:
            return namespace in self.pending

    def forget(self, namespace):
        with self.lock:
            self.pending.pop(namespace, None)

    def observe(self, namespace, state, now):
        with self.lock:
            self.states[namespace] = state
            change = self.pending.get(namespace)
            if change and change.acknowledged is not None and state == change.expected:
                change.seen = now
                del self.pending[namespace]

    def answered(self, change):
        """The API answered; the report may already show the change."""
        with self.lock:
            change.acknowledged = time.monotonic()
            if self.states.get(change.namespace) == change.expected:
                change.seen = change.acknowledged
                self.pending.pop(change.namespace, None)

    def run(self):
        while not self.stop.is_set():
            try:
                listing = self.api.get(REPORTS)
                now = time.monotonic()
                for item in listing["items"]:
                    self.observe(item["metadata"]["name"], report_state(item), now)
                self.listed.set()
                self.watch(listing["metadata"]["resourceVersion"])
            except (http.client.HTTPException, OSError, RuntimeError, ValueError) as error:
                print(f"churn: report watch: {error}; listing again", file=sys.stderr)
                time.sleep(0.5)
            self.lists += 1

    def watch(self, version):
        conn = self.api.connect(timeout=None)
        query = urllib.parse.urlencode({"watch": "1", "resourceVersion": version, "timeoutSeconds": "3600"})
        conn.request("GET", f"{REPORTS}?{query}", headers=self.api.headers())
        response = conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"watch: HTTP {response.status}")
        try:
            while not self.stop.is_set():
                line = response.readline()
                if not line:
                    return
                event = json.loads(line)
                if event["type"] in ("ADDED", "MODIFIED"):
                    obj = event["object"]
                    self.observe(obj["metadata"]["name"], report_state(obj), time.monotonic())
                elif event["type"] == "ERROR":
                    return
        finally:
            conn.close()


def load_namespaces(api, count, pods):
    """The load namespaces as the cluster has them now."""
    api_pods = sum(1 for j in range(pods) if j % 3 == 1)
    namespaces = {f"load-{i}": Namespace(f"load-{i}", pods, api_pods) for i in range(count)}
    with_deny = {
        item["metadata"]["namespace"]
        for item in api.get("/apis/networking.k8s.io/v1/networkpolicies?fieldSelector=metadata.name%3Ddefault-deny")["items"]
    }
    for ns in namespaces.values():
        ns.deny = ns.name in with_deny
    for item in api.get(f"/api/v1/pods?labelSelector={CHURN_LABEL}")["items"]:
        ns = namespaces.get(item["metadata"]["namespace"])
        if ns is None:
            continue
        if item["metadata"]["name"] == CHURN_POD:
            ns.churn_pod = True
        elif item["metadata"]["name"] == RELABELLED_POD:
            ns.relabelled = item["metadata"]["labels"].get("app") == "api"
    return namespaces


def deny_policy(namespace):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def churn_pod(namespace):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": CHURN_POD, "namespace": namespace, "labels": {"app": "db", CHURN_LABEL: "pod"}},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{"name": "db", "image": "registry.k8s.io/pause:3.9"}],
        },
    }


def apply_change(api, kind, ns):
    """Makes the cluster hold what `ns` now says after a change of `kind`; returns the HTTP status."""
    base = f"/api/v1/namespaces/{ns.name}"
    policies = f"/apis/networking.k8s.io/v1/namespaces/{ns.name}/networkpolicies"
    if kind == "deny-off":
        status, _ = api.request("DELETE", f"{policies}/default-deny")
    elif kind == "deny-on":
        status, _ = api.request("POST", policies, deny_policy(ns.name))
    elif kind == "label":
        app = "api" if ns.relabelled else "db"
        patch = {"metadata": {"labels": {"app": app, CHURN_LABEL: "relabelled"}}}
        status, _ = api.request("PATCH", f"{base}/pods/{RELABELLED_POD}", patch, "application/merge-patch+json")
    elif ns.churn_pod:
        status, _ = api.request("POST", f"{base}/pods", churn_pod(ns.name))
    else:
        status, _ = api.request("DELETE", f"{base}/pods/{CHURN_POD}?gracePeriodSeconds=0")
    return status


def toggle(kind, ns):
    if kind == "deny-off":
        ns.deny = False
    elif kind == "deny-on":
        ns.deny = True
    elif kind == "label":
        ns.relabelled = not ns.relabelled
    else:
        ns.churn_pod = not ns.churn_pod


def next_change(tick, namespaces, watcher, rng, denyless):
    """The kind and namespace of change number `tick`, or None when every candidate is busy."""
    free = lambda names: [n for n in names if not watcher.busy(n)]
    kind = ["deny-off", "label", "pod", "deny-on"][tick % 4]
    # A handful of namespaces without default-deny give the label changes an effect.
    if kind == "deny-on" and len(denyless) <= 4:
        kind = "label"
    if kind == "deny-off":
        candidates = free(n for n in namespaces if namespaces[n].deny)
        return ("deny-off", namespaces[rng.choice(candidates)]) if candidates else None
    if kind == "deny-on":
        oldest = free(denyless)
        return ("deny-on", namespaces[oldest[0]]) if oldest else None
    if kind == "label":
        candidates = free(denyless)
        return ("label", namespaces[rng.choice(candidates)]) if candidates else None
    candidates = free(namespaces)
    return ("pod", namespaces[rng.choice(candidates)]) if candidates else None


NOISE_POD = "kubelet-noise"


def noise_pod():
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": NOISE_POD, "namespace": "kube-system", "labels": {"app": "kubelet-noise", "revision": "0"}},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{"name": "noise", "image": "registry.k8s.io/pause:3.9", "ports": [{"containerPort": 8443}]}],
        },
    }


class Kubelets(threading.Thread):
    """Patches pods the way kubelets and controllers do, at `rate` a second."""

    def __init__(self, api, rate, seconds):
        super().__init__(daemon=True)
        self.api = api
        self.rate = rate
        self.seconds = seconds
        self.stop = threading.Event()
        self.changes = 0
        self.failed = 0
        self.elapsed = 0.0

    def prepare(self):
        status, _ = self.api.request("POST", "/api/v1/namespaces/kube-system/pods", noise_pod())
        if status not in (201, 409):
            raise RuntimeError(f"creating kube-system/{NOISE_POD}: HTTP {status}")
        pods = self.api.get("/api/v1/pods")["items"]
        self.pods = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in pods]

    def change(self, tick):
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        merge = "application/merge-patch+json"
        if tick % 10 == 9:
            patch = {"metadata": {"labels": {"revision": str(tick)}}}
            return self.api.request("PATCH", f"/api/v1/namespaces/kube-system/pods/{NOISE_POD}", patch, merge)[0]
        namespace, name = self.pods[tick % len(self.pods)]
        path = f"/api/v1/namespaces/{namespace}/pods/{name}"
        if tick % 10 == 4:
            patch = {"metadata": {"annotations": {"netposture-churn/heartbeat": now}}}
            return self.api.request("PATCH", path, patch, merge)[0]
        ready = "True" if tick % 2 else "False"
        patch = {"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": ready, "lastProbeTime": now, "lastTransitionTime": now}],
            "containerStatuses": [{"name": "main", "ready": ready == "True", "restartCount": tick,
                                   "image": "registry.k8s.io/pause:3.9", "imageID": "",
                                   "state": {"running": {"startedAt": now}}}],
        }}
        return self.api.request("PATCH", f"{path}/status", patch, merge)[0]

    def run(self):
        started = time.monotonic()
        tick = 0
        while not self.stop.is_set():
            due = started + tick / self.rate
            if due - started >= self.seconds:
                break
            delay = due - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            try:
                status = self.change(tick)
            except (http.client.HTTPException, OSError) as error:
                print(f"kubelets: {error}", file=sys.stderr)
                status = 0
            # A pod deleted meanwhile (404) is what kubelets meet too.
            if 200 <= status < 300:
                self.changes += 1
            elif status != 404:
                self.failed += 1
            tick += 1
        self.elapsed = time.monotonic() - started

    def summary(self):
        return {
            "changes": self.changes,
            "failed": self.failed,
            "seconds": round(self.elapsed, 1),
            "rate": round(self.changes / self.elapsed, 1) if self.elapsed else 0,
        }


def kubelets(args):
    noise = Kubelets(Api(), args.rate, args.seconds)
    noise.prepare()
    noise.start()
    try:
        noise.join()
    except KeyboardInterrupt:
        noise.stop.set()
        noise.join()
    json.dump(noise.summary(), sys.stdout)
    print()


def percentile(sorted_values, fraction):
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


class ArrivalWatcher(Watcher):
    """Notes when every report is there, and when the load reports are complete."""

    def __init__(self, api, args):
        super().__init__(api)
        self.args = args
        self.load = {f"load-{i}" for i in range(args.namespaces)}
        self.counts = {}  # report name -> pods.total
        self.times = {}

    def observe(self, namespace, state, now):
        self.counts[namespace] = state[1] or 0
        since = round(time.time() - self.args.since, 2)
        if "all_reports" not in self.times and len(self.counts) >= self.args.reports:
            self.times["all_reports"] = since
        if "complete" not in self.times and self.complete() == len(self.load):
            self.times["complete"] = since
        if len(self.times) == 2:
            self.stop.set()

    def complete(self):
        return sum(1 for n in self.load if self.counts.get(n, 0) >= self.args.pods)


def wait(args):
    watcher = ArrivalWatcher(Api(), args)
    watcher.start()
    if not watcher.stop.wait(args.timeout):
        sys.exit(f"report-watch: after {args.timeout} s: {len(watcher.counts)} reports, "
                 f"{watcher.complete()} of {len(watcher.load)} load reports complete")
    json.dump(watcher.times, sys.stdout)
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    waiting = modes.add_parser("wait", help="time until every report is there")
    waiting.add_argument("--reports", type=int, required=True, help="reports to wait for")
    waiting.add_argument("--namespaces", type=int, required=True)
    waiting.add_argument("--pods", type=int, required=True)
    waiting.add_argument("--since", type=float, required=True, help="Unix time to count from")
    waiting.add_argument("--timeout", type=float, default=1200)
    churning = modes.add_parser("churn", help="change-to-report latency under churn")
    churning.add_argument("--namespaces", type=int, required=True)
    churning.add_argument("--pods", type=int, required=True)
    churning.add_argument("--seconds", type=float, default=60)
    churning.add_argument("--rate", type=float, default=2.0, help="changes a second")
    churning.add_argument("--seed", type=int, default=1)
    churning.add_argument("--kubelet-rate", type=float, default=0, help="kubelet-like changes a second meanwhile")
    noisy = modes.add_parser("kubelets", help="kubelet-like pod churn")
    noisy.add_argument("--seconds", type=float, default=60)
    noisy.add_argument("--rate", type=float, default=40.0, help="changes a second")
    args = parser.parse_args()
    if args.mode == "wait":
        wait(args)
    elif args.mode == "kubelets":
        kubelets(args)
    elif args.pods < 3:
        parser.error("--pods must be at least 3 (pod db-2 is relabelled)")
    else:
        churn(args)


def churn(args):
    api = Api()
    rng = random.Random(args.seed)
    namespaces = load_namespaces(api, args.namespaces, args.pods)
    denyless = [n for n in namespaces if not namespaces[n].deny]
    watcher = Watcher(Api())
    watcher.start()
    if not watcher.listed.wait(60):
        sys.exit("churn: could not list the reports")
    mismatched = [n for n, ns in namespaces.items() if watcher.states.get(n) != ns.expected()]
    if mismatched:
        print(f"churn: {len(mismatched)} reports do not match the cluster before the churn, e.g. "
              f"{mismatched[0]}: {watcher.states.get(mismatched[0])} != {namespaces[mismatched[0]].expected()}",
              file=sys.stderr)

    noise = None
    if args.kubelet_rate > 0:
        noise = Kubelets(Api(), args.kubelet_rate, args.seconds)
        noise.prepare()
        noise.start()

    changes, failed, skipped, late = [], 0, 0, 0
    started = time.monotonic()
    tick = 0
    while True:
        due = started + tick / args.rate
        now = time.monotonic()
        if due - started >= args.seconds:
            break
        if due > now:
            time.sleep(due - now)
        elif now - due > 1.0 / args.rate:
            late += 1
        choice = next_change(tick, namespaces, watcher, rng, denyless)
        tick += 1
        if choice is None:
            skipped += 1
            continue
        kind, ns = choice
        before = ns.expected()
        toggle(kind, ns)
        change = Pending(kind, ns.name, ns.expected())
        watcher.expect(change)
        status = apply_change(api, kind, ns)
        if status >= 300:
            toggle(kind, ns)  # undo in the model
            assert ns.expected() == before
            watcher.forget(ns.name)
            failed += 1
            print(f"churn: {kind} in {ns.name}: HTTP {status}", file=sys.stderr)
            continue
        watcher.answered(change)
        changes.append(change)
        if kind == "deny-off":
            denyless.append(ns.name)
        elif kind == "deny-on":
            denyless.remove(ns.name)
    churn_seconds = time.monotonic() - started
    if noise is not None:
        noise.stop.set()
        noise.join()

    deadline = time.monotonic() + GIVE_UP_SECONDS
    while time.monotonic() < deadline and any(c.seen is None for c in changes):
        time.sleep(0.1)
    watcher.stop.set()

    rounded = lambda seconds: None if seconds is None else round(seconds, 3)
    latencies = sorted(c.seen - c.acknowledged for c in changes if c.seen is not None)
    by_kind = collections.defaultdict(list)
    for c in changes:
        if c.seen is not None:
            by_kind[c.kind].append(c.seen - c.acknowledged)
    api_seconds = sorted(c.acknowledged - c.sent for c in changes)
    summary = {
        "changes": len(changes),
        "failed": failed,
        "skipped": skipped,
        "late_ticks": late,
        "seconds": round(churn_seconds, 1),
        "rate": round(len(changes) / churn_seconds, 2),
        "observed": len(latencies),
        "missed": len(changes) - len(latencies),
        "p50": rounded(percentile(latencies, 0.50)),
        "p90": rounded(percentile(latencies, 0.90)),
        "p99": rounded(percentile(latencies, 0.99)),
        "max": rounded(latencies[-1] if latencies else None),
        "api_p50": rounded(percentile(api_seconds, 0.50)),
        "by_kind": {
            k: {"n": len(v), "p50": rounded(percentile(sorted(v), 0.5)), "max": rounded(max(v))}
            for k, v in sorted(by_kind.items())
        },
        "watch_lists": watcher.lists,
        "mismatched_before": len(mismatched),
        "kubelets": noise.summary() if noise is not None else None,
    }
    json.dump(summary, sys.stdout)
    print()


if __name__ == "__main__":
    main()
