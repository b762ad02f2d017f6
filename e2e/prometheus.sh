#!/usr/bin/env bash
# e2e/prometheus.sh - a real Prometheus server (Debian's `prometheus`
# package) on loopback that scrapes netposture operators and evaluates
# deploy/prometheus/rules.yaml, for the e2e suite and the demo.
#
#   e2e/prometheus.sh up DIR TARGET...   start it (TARGET: host:port of /metrics);
#                                        prints its URL; replaces DIR's previous one
#   e2e/prometheus.sh down DIR           stop the process recorded in DIR
#
# The rules are a copy of deploy/prometheus/rules.yaml whose `for:` durations
# are cut to FOR (default 5s), so alerts fire within a test or a demo rather
# than after 5-15 minutes; the expressions, labels and annotations are the
# shipped ones. Scrapes and rule evaluations run every second.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly PROG=prometheus.sh
readonly FOR=${FOR:-5s}
readonly READY_TIMEOUT=${NETPOSTURE_PROMETHEUS_TIMEOUT:-60}
readonly STOP_GRACE=10

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ensure_installed() {
  command -v prometheus >/dev/null 2>&1 && return
  log "installing Debian's prometheus package"
  local sudo=
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
}

cmd_down() {
  local dir=$1 pid
  [[ -s $dir/prometheus/pid ]] || return 0
  pid=$(<"$dir/prometheus/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_GRACE))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/prometheus/pid"
}

cmd_up() {
  local dir=$1
  shift
  (($#)) || die "usage: e2e/prometheus.sh up DIR TARGET..."
  ensure_installed
  cmd_down "$dir"
  local home=$dir/prometheus
  rm -rf "$home"
  mkdir -p "$home/data"
  sed -E "s/^( +for: ).*/\1$FOR/" deploy/prometheus/rules.yaml >"$home/rules.yaml"
  local targets
  targets=$(printf '"%s",' "$@")
  cat >"$home/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yaml]
scrape_configs:
  - job_name: netposture
    static_configs:
      - targets: [${targets%,}]
YAML
  local port
  port=$(free_port)
  setsid prometheus --config.file="$home/prometheus.yml" \
    --storage.tsdb.path="$home/data" \
    --web.listen-address="127.0.0.1:$port" \
    >"$home/prometheus.log" 2>&1 </dev/null &
  echo $! >"$home/pid"
  local url=http://127.0.0.1:$port deadline=$((SECONDS + READY_TIMEOUT))
  until curl -fsS "$url/-/ready" >/dev/null 2>&1; do
    kill -0 "$(<"$home/pid")" 2>/dev/null || die "prometheus exited; see $home/prometheus.log"
    ((SECONDS < deadline)) || die "prometheus not ready after ${READY_TIMEOUT}s; see $home/prometheus.log"
    sleep 0.2
  done
  echo "$url" >"$home/url"
  echo "$url"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) [[ $# -eq 2 ]] || die "usage: e2e/prometheus.sh down DIR"; cmd_down "$2" ;;
  *) die "usage: e2e/prometheus.sh up DIR TARGET... | down DIR" ;;
esac
