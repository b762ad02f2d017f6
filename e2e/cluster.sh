#!/usr/bin/env bash
# e2e/cluster.sh - a real Kubernetes control plane on 127.0.0.1 for netposture's
# e2e tests, demos and benchmarks, built from Debian packages only (no
# containers, nothing downloaded except through apt).
#
#   etcd                     from the etcd-server package
#   kube-apiserver           compiled from Debian's `kubernetes` source package
#   kube-controller-manager  (bookworm: 1.20.x), cached per source version
#
# There is no scheduler and no kubelet: pods stay Pending and get no IP; tests
# set status.podIP through the status subresource instead. Two consequences:
# the endpoint controllers only publish pods whose spec.nodeName names an
# existing Node object (create a dummy Node), and such node-bound pods are
# only removed by `kubectl delete --grace-period=0 --force`, without which
# their namespace stays Terminating.
# Run `e2e/cluster.sh help` for the subcommands.
set -euo pipefail

readonly PROG=cluster.sh
# Debian ships the `kubernetes` source package only up to bookworm.
readonly SUITE=bookworm
readonly APT_PACKAGES=(etcd-server golang-go rsync jq openssl curl make dpkg-dev
  golang-github-modern-go-reflect2-dev)
readonly DEB_SRC_FILE=/etc/apt/sources.list.d/netposture-deb-src.sources
readonly REFLECT2_DEBIAN=/usr/share/gocode/src/github.com/modern-go/reflect2
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/netposture"
readonly READY_TIMEOUT="${NETPOSTURE_CLUSTER_TIMEOUT:-90}"
readonly STOP_GRACE="${NETPOSTURE_STOP_GRACE:-10}"
# Start order; they are stopped in reverse.
readonly COMPONENTS=(etcd kube-apiserver kube-controller-manager)

# Set by cmd_build: directory holding kube-apiserver and kube-controller-manager.
KUBE_BIN=
# Cleanup state for the EXIT trap.
BUILD_WORK=
UP_DIR=
UP_STARTED=()

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  cat <<EOF
usage: e2e/cluster.sh COMMAND [DIR]

  install            apt-get install the tools and add a $SUITE deb-src entry
                     (does nothing when everything is already there)
  build              install, then compile kube-apiserver and
                     kube-controller-manager from Debian's kubernetes source
                     into $CACHE_ROOT/kubernetes-VERSION/bin
                     unless they are cached there already
  up [DIR]           build, then start etcd, kube-apiserver and
                     kube-controller-manager on free loopback ports and wait
                     until they serve; exits 0 at once if DIR already runs one,
                     otherwise DIR's previous state and logs are replaced
  down [DIR]         stop the processes recorded in DIR (logs are kept)
  restart-apiserver [DIR], restart-etcd [DIR]
                     stop and start that one process with its recorded command
                     line, then wait until the API server is ready again
  status [DIR]       print which processes run (exit 0 only if all do)
  kubeconfig NAMESPACE SERVICEACCOUNT [DIR]
                     mint a 24h token for that ServiceAccount (TokenRequest)
                     and write DIR/NAMESPACE-SERVICEACCOUNT.kubeconfig, which
                     authenticates as it; prints the file's path

DIR defaults to \$NETPOSTURE_CLUSTER_DIR, else /tmp/netposture-cluster. After
'up' it holds: env (source it: KUBECONFIG, NETPOSTURE_APISERVER_URL, ...),
kubeconfig, admin-token, ca.crt, *.pid, *.cmdline, logs/*.log.
Environment: NETPOSTURE_CLUSTER_TIMEOUT (readiness deadline in seconds, default
90), NETPOSTURE_STOP_GRACE (seconds between TERM and KILL, default 10),
NETPOSTURE_KEEP_BUILD=1 (keep a failed build's directory), XDG_CACHE_HOME.
EOF
}

as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root (or sudo) for: $*"
  fi
}

on_exit() {
  local status=$?
  if [[ -n $BUILD_WORK && -d $BUILD_WORK ]]; then
    if [[ -n ${NETPOSTURE_KEEP_BUILD:-} ]]; then
      log "build: keeping $BUILD_WORK"
    else
      rm -rf "$BUILD_WORK"
    fi
  fi
  if [[ -n $UP_DIR && ${#UP_STARTED[@]} -gt 0 ]]; then
    # `up` did not finish: show why and leave nothing running.
    show_logs "$UP_DIR"
    local i
    for ((i = ${#UP_STARTED[@]} - 1; i >= 0; i--)); do
      stop_component "$UP_DIR" "${UP_STARTED[i]}"
    done
    log "up failed; stopped what it had started (logs stay in $UP_DIR/logs)"
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# install

missing_packages() {
  local pkg status
  for pkg in "${APT_PACKAGES[@]}"; do
    # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    [[ $status == installed ]] || printf '%s\n' "$pkg"
  done
}

# Prints the fields of each deb822 stanza of a *.sources file as one line:
# "types<TAB>uris<TAB>suites<TAB>components<TAB>enabled" (continuation lines
# folded, field names case-insensitive).
deb822_stanzas() {
  awk '
    function flush() {
      if (t != "" || u != "") printf "%s\t%s\t%s\t%s\t%s\n", t, u, s, c, e
      t = u = s = c = e = f = ""
    }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ {
      if (f == "types") t = t " " $0; else if (f == "uris") u = u " " $0
      else if (f == "suites") s = s " " $0; else if (f == "components") c = c " " $0
      next
    }
    {
      f = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1)
      if (f == "types") t = v; else if (f == "uris") u = v; else if (f == "suites") s = v
      else if (f == "components") c = v; else if (f == "enabled") e = v
    }
    END { flush() }' "$1"
}

# Lines "type uri suite components..." of the one-line *.list format.
list_entries() {
  sed -E -e 's/#.*//' -e 's/\[[^]]*\]//' "$1" | awk '$1 ~ /^deb(-src)?$/ && NF >= 3'
}

has_word() { [[ " $1 " == *[[:space:]]"$2"[[:space:]]* ]]; }

# True when an apt source already offers deb-src for $SUITE.
has_deb_src() {
  local f types uris suites comps enabled
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    list_entries "$f" | awk -v s="$SUITE" '$1 == "deb-src" && $3 == s { ok = 1 } END { exit !ok }' &&
      return 0
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    while IFS=$'\t' read -r types uris suites comps enabled; do
      [[ ${enabled,,} == *no* ]] && continue
      if has_word "$types" deb-src && has_word "$suites" "$SUITE"; then
        return 0
      fi
    done < <(deb822_stanzas "$f")
  done
  return 1
}

# The Debian mirror the machine already uses for $SUITE main (so a local
# mirror is honoured), else deb.debian.org.
debian_mirror() {
  local f types uris suites comps enabled uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    while IFS=$'\t' read -r types uris suites comps enabled; do
      [[ ${enabled,,} == *no* ]] && continue
      if ! { has_word "$types" deb && has_word "$suites" "$SUITE" && has_word "$comps" main; }; then
        continue
      fi
      for uri in $uris; do
        [[ $uri =~ /debian/?$ ]] && { echo "$uri"; return; }
      done
    done < <(deb822_stanzas "$f")
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    uri=$(list_entries "$f" |
      awk -v s="$SUITE" '$1 == "deb" && $3 == s && $2 ~ /\/debian\/?$/ && / main( |$)/ { print $2; exit }')
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  echo http://deb.debian.org/debian
}

apt_knows_kubernetes_source() {
  apt-cache showsrc kubernetes 2>/dev/null | grep -q '^Version:'
}

cmd_install() {
  local missing
  missing=$(missing_packages)
  if [[ -z $missing ]] && has_deb_src && apt_knows_kubernetes_source; then
    log "install: packages and deb-src entry already present"
    return 0
  fi
  if ! has_deb_src; then
    local mirror keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mirror=$(debian_mirror)
    log "install: adding $DEB_SRC_FILE (deb-src $mirror $SUITE main)"
    {
      echo "# Added by netposture's e2e/cluster.sh for 'apt-get source kubernetes'."
      echo "Types: deb-src"
      echo "URIs: $mirror"
      echo "Suites: $SUITE"
      echo "Components: main"
      [[ -r $keyring ]] && echo "Signed-By: $keyring"
    } | as_root tee "$DEB_SRC_FILE" >/dev/null
  fi
  log "install: apt-get update"
  as_root apt-get update -q >&2
  if [[ -n $missing ]]; then
    # shellcheck disable=SC2086 # one package name per word
    log "install: apt-get install" $missing
    # Recommends would pull in a C toolchain that the CGO-free build never uses.
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends $missing >&2
  fi
  apt_knows_kubernetes_source ||
    die "install: apt knows no source package 'kubernetes' even with $DEB_SRC_FILE"
}

# ---------------------------------------------------------------------------
# build

# The version `apt-get source kubernetes` would fetch (it names the .dsc).
source_version() {
  local version
  version=$(apt-get source --print-uris kubernetes 2>/dev/null |
    awk '$2 ~ /^kubernetes_.*\.dsc$/ { v = $2; sub(/^kubernetes_/, "", v); sub(/\.dsc$/, "", v); print v; exit }')
  [[ -n $version ]] || die "build: cannot tell which kubernetes source version apt would fetch"
  echo "$version"
}

have_binaries() {
  [[ -x $1/kube-apiserver && -x $1/kube-controller-manager ]]
}

cmd_build() {
  cmd_install
  local version dest
  version=$(source_version)
  dest="$CACHE_ROOT/kubernetes-$version"
  KUBE_BIN="$dest/bin"
  if have_binaries "$KUBE_BIN"; then
    log "build: cached in $KUBE_BIN"
    return 0
  fi
  mkdir -p "$CACHE_ROOT"
  # One build at a time per cache; a second caller waits and reuses the result.
  exec 8>"$CACHE_ROOT/build.lock"
  if ! flock -n 8; then
    log "build: another build is running, waiting for it"
    flock 8
  fi
  if ! have_binaries "$KUBE_BIN"; then
    # Leftovers of interrupted builds (safe to remove while holding the lock).
    rm -rf "$CACHE_ROOT"/tmp-build.*
    build_kubernetes "$version" "$dest"
  fi
  exec 8>&-
}

build_kubernetes() {
  local version=$1 dest=$2 start=$SECONDS buildlog src
  buildlog="$CACHE_ROOT/build-$version.log"
  BUILD_WORK=$(mktemp -d "$CACHE_ROOT/tmp-build.XXXXXX")
  log "build: kube-apiserver and kube-controller-manager from kubernetes $version"
  log "build: this takes about 8-10 minutes on 2 cores; log: $buildlog"
  : >"$buildlog"

  (cd "$BUILD_WORK" && apt-get source -q kubernetes) >>"$buildlog" 2>&1 ||
    build_failed "$buildlog" "apt-get source kubernetes failed"
  [[ -f $BUILD_WORK/kubernetes_$version.dsc ]] ||
    build_failed "$buildlog" "apt-get source did not fetch version $version"
  src=$(find "$BUILD_WORK" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
  [[ -n $src && -d $src/vendor ]] || build_failed "$buildlog" "unpacked source or its vendor/ not found"

  # The vendored reflect2 v1.0.1 makes Go >= 1.18 binaries crash (SIGSEGV in
  # map iteration) once the API server serves real objects; Debian's 1.0.2 is
  # fixed and API compatible.
  local vendored="$src/vendor/github.com/modern-go/reflect2"
  [[ -d $vendored && -d $REFLECT2_DEBIAN ]] || build_failed "$buildlog" "reflect2 sources not found"
  rm -f "$vendored"/*.go "$vendored"/*.s
  find "$REFLECT2_DEBIAN" -maxdepth 1 -type f \( -name '*.go' -o -name '*.s' \) \
    ! -name '*_test.go' -exec cp -t "$vendored" {} +

  (
    cd "$src"
    # GOPATH layout as in Debian's rules; GOPROXY=off makes sure that nothing is
    # fetched from outside, the build uses vendor/ only.
    export GOPATH="$src/.go" GOCACHE="$BUILD_WORK/go-cache" GOPROXY=off CGO_ENABLED=0
    mkdir -p .go/src/k8s.io
    ln -sfn ../../.. .go/src/k8s.io/kubernetes
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager"
  ) >>"$buildlog" 2>&1 || build_failed "$buildlog" "make failed"

  local out="$BUILD_WORK/result/bin" name bin
  mkdir -p "$out"
  for name in kube-apiserver kube-controller-manager; do
    bin=$(find "$src/_output" -type f -name "$name" -perm -u+x | head -n 1)
    [[ -n $bin ]] || build_failed "$buildlog" "make produced no $name"
    cp "$bin" "$out/"
  done
  "$out/kube-apiserver" --version >>"$buildlog" 2>&1 ||
    build_failed "$buildlog" "the built kube-apiserver does not run"
  # The rename is atomic, so the cache is either complete or absent.
  rm -rf "$dest"
  mv -T "$BUILD_WORK/result" "$dest"
  rm -rf "$BUILD_WORK"
  BUILD_WORK=
  local took=$((SECONDS - start))
  log "build: done in $((took / 60))m$((took % 60))s, cached in $dest/bin"
}

build_failed() {
  tail -n 40 "$1" >&2 || true
  die "build: $2 (full log: $1)"
}

# ---------------------------------------------------------------------------
# processes

# The absolute state dir: $1, else $NETPOSTURE_CLUSTER_DIR, else the default.
state_dir() {
  local dir=${1:-${NETPOSTURE_CLUSTER_DIR:-/tmp/netposture-cluster}}
  if [[ -d $dir ]]; then
    (cd "$dir" && pwd -P)
  else
    realpath -m "$dir"
  fi
}

# Serialises up/down/restarts on one state dir (fd 9; closed in the daemons).
lock_dir() {
  exec 9>"$1/.lock"
  if ! flock -n 9; then
    log "waiting for another cluster.sh working on $1"
    flock 9
  fi
}

# Prints the PID of component $2 of state dir $1 if it is alive and runs
# exactly the recorded command line (guards against stale pid files and
# recycled PIDs; a zombie has an empty cmdline and counts as dead).
component_pid() {
  local dir=$1 name=$2 pid
  [[ -s $dir/$name.pid && -s $dir/$name.cmdline ]] || return 1
  pid=$(<"$dir/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  # Through a pipe: cmp trusts st_size, which is 0 for files in /proc.
  # shellcheck disable=SC2002
  cat "/proc/$pid/cmdline" 2>/dev/null | cmp -s - "$dir/$name.cmdline" || return 1
  echo "$pid"
}

# Starts component $2 from its recorded DIR/NAME.cmdline (NUL-separated, the
# format of /proc/PID/cmdline), detached in its own session, output appended
# to DIR/logs/NAME.log, and records its PID in DIR/NAME.pid.
start_component() {
  local dir=$1 name=$2 cmd i
  mapfile -d '' -t cmd <"$dir/$name.cmdline"
  rm -f "$dir/$name.pid"
  printf '\n==== %s: started by cluster.sh\n' "$(date -Is)" >>"$dir/logs/$name.log"
  # setsid forks when its caller leads a process group, so $! is not always
  # the daemon; the inner shell records its own PID and then execs the daemon.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid sh -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$dir/$name.pid" "${cmd[@]}" \
    </dev/null >>"$dir/logs/$name.log" 2>&1 8>&- 9>&- &
  for ((i = 0; i < 50; i++)); do
    [[ -s $dir/$name.pid ]] && break
    sleep 0.1
  done
  [[ -s $dir/$name.pid ]] || die "$name did not start (see $dir/logs/$name.log)"
  log "started $name (pid $(<"$dir/$name.pid"))"
}

# Stops component $2 by its recorded PID: TERM, up to $STOP_GRACE s, then KILL.
# (kube-apiserver drains open watches for up to 60 s after TERM, so with
# clients still connected it usually ends up killed.)
stop_component() {
  local dir=$1 name=$2 pid i
  if pid=$(component_pid "$dir" "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_GRACE * 10; i++)); do
      component_pid "$dir" "$name" >/dev/null || break
      sleep 0.1
    done
    if component_pid "$dir" "$name" >/dev/null; then
      log "$name (pid $pid) still runs ${STOP_GRACE}s after TERM, killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        component_pid "$dir" "$name" >/dev/null || break
        sleep 0.1
      done
    fi
    log "stopped $name (pid $pid)"
  elif [[ -e $dir/$name.pid ]]; then
    log "$name was not running any more"
  fi
  rm -f "$dir/$name.pid"
}

show_logs() {
  local name
  for name in "${COMPONENTS[@]}"; do
    [[ -s $1/logs/$name.log ]] || continue
    printf '%s: ---- last lines of %s\n' "$PROG" "$1/logs/$name.log" >&2
    tail -n 25 "$1/logs/$name.log" >&2
  done
}

# Polls "$@" until it succeeds. Fails when the deadline ($SECONDS value)
# passes or a process named in WATCH dies.
WATCH=()
wait_for() {
  local dir=$1 deadline=$2 what=$3 name
  shift 3
  until "$@"; do
    for name in "${WATCH[@]}"; do
      component_pid "$dir" "$name" >/dev/null || {
        log "$name exited while waiting for $what"
        return 1
      }
    done
    if ((SECONDS >= deadline)); then
      log "timed out after ${READY_TIMEOUT}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# Ports for this run: below the kernel's ephemeral range (32768+) so outgoing
# connections do not take them, and nothing listening on them right now.
free_ports() {
  local want=$1 picked=() port tries=0
  while ((${#picked[@]} < want)); do
    ((++tries < 2000)) || die "no free port found"
    port=$((20000 + RANDOM % 12000))
    [[ " ${picked[*]} " == *" $port "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
    picked+=("$port")
  done
  echo "${picked[*]}"
}

# curl for loopback: never through a proxy from the environment.
lcurl() { curl --noproxy '*' -fsS --max-time 3 "$@"; }

etcd_ready() { lcurl "$NETPOSTURE_ETCD_URL/health" 2>/dev/null | grep -q '"health":"true"'; }

api_get() {
  lcurl --cacert "$NETPOSTURE_CA_FILE" -H "Authorization: Bearer $(<"$NETPOSTURE_ADMIN_TOKEN_FILE")" \
    "$NETPOSTURE_APISERVER_URL$1"
}
apiserver_ready() { [[ $(api_get /readyz 2>/dev/null) == ok ]]; }
default_sa_exists() { api_get /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1; }

write_kubeconfig() {
  local file=$1 user=$2 token=$3
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: netposture-e2e
  cluster:
    server: $NETPOSTURE_APISERVER_URL
    certificate-authority-data: $(base64 -w0 <"$NETPOSTURE_CA_FILE")
users:
- name: $user
  user:
    token: $token
contexts:
- name: netposture-e2e
  context:
    cluster: netposture-e2e
    user: $user
current-context: netposture-e2e
EOF
  chmod 600 "$file"
}

record_cmdline() {
  local file=$1
  shift
  printf '%s\0' "$@" >"$file"
}

# Running state of a dir: "running", "partial" or "stopped".
cluster_state() {
  local name alive=0
  for name in "${COMPONENTS[@]}"; do
    component_pid "$1" "$name" >/dev/null && alive=$((alive + 1))
  done
  if ((alive == ${#COMPONENTS[@]})); then
    echo running
  elif ((alive > 0)); then
    echo partial
  else
    echo stopped
  fi
}

cmd_up() {
  local dir
  dir=$(state_dir "${1:-}")
  mkdir -p "$dir"
  lock_dir "$dir"
  case $(cluster_state "$dir") in
  running)
    log "up: a cluster is already running in $dir (. $dir/env)"
    return 0
    ;;
  partial)
    cmd_status "$dir" >&2 || true
    die "up: $dir has a partly running cluster; run 'e2e/cluster.sh down $dir' first"
    ;;
  esac

  cmd_build
  local start=$SECONDS etcd_bin
  etcd_bin=$(command -v etcd) || die "up: etcd not found"

  # Fresh state; logs are truncated below, other files in dir are left alone.
  rm -rf "$dir/etcd-data" "$dir/certs" "$dir/pki"
  rm -f "$dir"/*.pid "$dir"/*.cmdline "$dir"/kubeconfig "$dir"/controller-manager.kubeconfig \
    "$dir"/admin-token "$dir"/ca.crt "$dir"/env
  mkdir -p "$dir/logs" "$dir/pki" "$dir/certs"
  chmod 700 "$dir/pki"
  local name
  for name in "${COMPONENTS[@]}"; do : >"$dir/logs/$name.log"; done

  local etcd_port peer_port api_port
  read -r etcd_port peer_port api_port <<<"$(free_ports 3)"

  openssl genrsa -out "$dir/pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
  local admin_token kcm_token
  admin_token=$(openssl rand -hex 32)
  kcm_token=$(openssl rand -hex 32)
  printf '%s\n' "$admin_token" >"$dir/admin-token"
  chmod 600 "$dir/admin-token"
  # Static tokens: user,uid,"groups". The controller-manager runs all its
  # controllers under its own identity (no --use-service-account-credentials),
  # which the 1.20 bootstrap RBAC roles do not cover, so it is a master too.
  {
    printf '%s,admin,admin,"system:masters"\n' "$admin_token"
    printf '%s,system:kube-controller-manager,system:kube-controller-manager,"system:masters"\n' "$kcm_token"
  } >"$dir/pki/tokens.csv"

  export NETPOSTURE_CLUSTER_DIR=$dir
  export NETPOSTURE_ETCD_URL="http://127.0.0.1:$etcd_port"
  export NETPOSTURE_APISERVER_URL="https://127.0.0.1:$api_port"
  export NETPOSTURE_CA_FILE="$dir/ca.crt"
  export NETPOSTURE_ADMIN_TOKEN_FILE="$dir/admin-token"
  {
    local var
    for var in NETPOSTURE_CLUSTER_DIR NETPOSTURE_ETCD_URL NETPOSTURE_APISERVER_URL \
      NETPOSTURE_CA_FILE NETPOSTURE_ADMIN_TOKEN_FILE; do
      printf 'export %s=%q\n' "$var" "${!var}"
    done
    printf 'export KUBECONFIG=%q\n' "$dir/kubeconfig"
  } >"$dir/env"

  record_cmdline "$dir/etcd.cmdline" "$etcd_bin" --name=netposture \
    --data-dir="$dir/etcd-data" \
    --listen-client-urls="$NETPOSTURE_ETCD_URL" --advertise-client-urls="$NETPOSTURE_ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="netposture=http://127.0.0.1:$peer_port" \
    --logger=zap --log-outputs=stderr
  record_cmdline "$dir/kube-apiserver.cmdline" "$KUBE_BIN/kube-apiserver" \
    --etcd-servers="$NETPOSTURE_ETCD_URL" \
    --bind-address=127.0.0.1 --secure-port="$api_port" --advertise-address=127.0.0.1 \
    --cert-dir="$dir/certs" \
    --token-auth-file="$dir/pki/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --endpoint-reconciler-type=none
  record_cmdline "$dir/kube-controller-manager.cmdline" "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$dir/controller-manager.kubeconfig" \
    --service-account-private-key-file="$dir/pki/sa.key" \
    --root-ca-file="$dir/ca.crt" \
    --controllers=namespace,garbagecollector,endpoint,endpointslice,serviceaccount,serviceaccount-token,clusterrole-aggregation \
    --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port=0 --port=0

  UP_DIR=$dir
  local deadline=$((SECONDS + READY_TIMEOUT))
  UP_STARTED+=(etcd)
  start_component "$dir" etcd
  WATCH=(etcd)
  wait_for "$dir" "$deadline" "etcd health" etcd_ready || exit 1

  UP_STARTED+=(kube-apiserver)
  start_component "$dir" kube-apiserver
  WATCH=(etcd kube-apiserver)
  # --cert-dir: the API server writes its self-signed certificate (with the
  # CA that signed it) before it starts serving.
  wait_for "$dir" "$deadline" "the serving certificate" test -s "$dir/certs/apiserver.crt" || exit 1
  cp "$dir/certs/apiserver.crt" "$NETPOSTURE_CA_FILE"
  write_kubeconfig "$dir/kubeconfig" admin "$admin_token"
  write_kubeconfig "$dir/controller-manager.kubeconfig" system:kube-controller-manager "$kcm_token"
  wait_for "$dir" "$deadline" "kube-apiserver /readyz" apiserver_ready || exit 1

  UP_STARTED+=(kube-controller-manager)
  start_component "$dir" kube-controller-manager
  WATCH=("${COMPONENTS[@]}")
  # The serviceaccount controller creating this proves the controller-manager works.
  wait_for "$dir" "$deadline" "ServiceAccount default/default" default_sa_exists || exit 1

  UP_STARTED=()
  UP_DIR=
  log "up: ready in $((SECONDS - start))s at $NETPOSTURE_APISERVER_URL; use: . $dir/env"
}

cmd_down() {
  local dir i
  dir=$(state_dir "${1:-}")
  if [[ ! -d $dir ]]; then
    log "down: $dir does not exist, nothing to stop"
    return 0
  fi
  lock_dir "$dir"
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "$dir" "${COMPONENTS[i]}"
  done
  log "down: nothing of $dir runs any more (logs kept in $dir/logs)"
}

cmd_restart() {
  local name=$1 dir
  dir=$(state_dir "${2:-}")
  [[ -s $dir/$name.cmdline && -s $dir/env ]] || die "restart: no cluster was started in $dir"
  lock_dir "$dir"
  [[ $(cluster_state "$dir") != stopped ]] || die "restart: the cluster in $dir is not running"
  # shellcheck disable=SC1091 # written by cmd_up
  . "$dir/env"
  local start=$SECONDS
  stop_component "$dir" "$name"
  start_component "$dir" "$name"
  local deadline=$((SECONDS + READY_TIMEOUT))
  WATCH=("$name")
  if [[ $name == etcd ]]; then
    wait_for "$dir" "$deadline" "etcd health" etcd_ready || exit 1
  fi
  # Watch only what this command started: the others were not ours to judge.
  wait_for "$dir" "$deadline" "kube-apiserver /readyz" apiserver_ready || {
    show_logs "$dir"
    exit 1
  }
  log "restart: $name is back, API server ready after $((SECONDS - start))s"
}

cmd_status() {
  local dir name pid all=0
  dir=$(state_dir "${1:-}")
  for name in "${COMPONENTS[@]}"; do
    if pid=$(component_pid "$dir" "$name"); then
      printf '%-24s running (pid %s)\n' "$name" "$pid"
    else
      printf '%-24s not running\n' "$name"
      all=3
    fi
  done
  if [[ -s $dir/env ]]; then
    printf '%-24s %s\n' "state dir" "$dir" "env" "$dir/env"
  fi
  return "$all"
}

cmd_kubeconfig() {
  local namespace=${1:?kubeconfig: NAMESPACE missing} account=${2:?kubeconfig: SERVICEACCOUNT missing} dir token
  dir=$(state_dir "${3:-}")
  [[ -s $dir/env ]] || die "kubeconfig: no cluster was started in $dir"
  # shellcheck disable=SC1091 # written by cmd_up
  . "$dir/env"
  token=$(kubectl -n "$namespace" create token "$account" --duration=24h)
  write_kubeconfig "$dir/$namespace-$account.kubeconfig" "$account" "$token"
  printf '%s\n' "$dir/$namespace-$account.kubeconfig"
}

main() {
  local sub=${1:-help}
  shift || true
  case $sub in
  install) cmd_install ;;
  build) cmd_build ;;
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  restart-apiserver) cmd_restart kube-apiserver "$@" ;;
  restart-etcd) cmd_restart etcd "$@" ;;
  status) cmd_status "$@" ;;
  kubeconfig) cmd_kubeconfig "$@" ;;
  help | -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
