# shellcheck shell=bash disable=SC2034 # the variables are for the scripts that source this
# Shared by the bench/ scripts: the release binaries, /usr/bin/time and a
# cached NCA. Sourced, not run.

readonly NCA_VERSION=2.1.0
readonly NCA_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/netposture/nca-venv"
RELEASE_DIR="$("$(dirname "${BASH_SOURCE[0]}")/../scripts/target-dir")/release"
readonly RELEASE_DIR
readonly NETPOSTURE="$RELEASE_DIR/netposture"
readonly TESTGEN="$RELEASE_DIR/netposture-testgen"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

build_release() {
  log "building the release netposture and netposture-testgen"
  cargo build --release --locked --quiet -p netposture -p netposture-testgen
}

# GNU time (not the shell keyword) for peak RSS.
ensure_time() {
  [[ -x /usr/bin/time ]] && return
  log "installing GNU time (Debian package time)"
  local sudo=
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends time >/dev/null
}

# NCA from PyPI in its own virtualenv, once.
ensure_nca() {
  local installed=
  if [[ -x $NCA_VENV/bin/nca ]]; then
    installed=$("$NCA_VENV/bin/pip" show network-config-analyzer 2>/dev/null || true)
  fi
  [[ $installed == *"Version: $NCA_VERSION"* ]] && return
  log "installing network-config-analyzer $NCA_VERSION into $NCA_VENV (once)"
  python3 -m venv "$NCA_VENV"
  "$NCA_VENV/bin/pip" install --quiet "network-config-analyzer==$NCA_VERSION"
}

# nca_connectivity MANIFEST OUT: NCA's pod-to-pod connectivity map.
nca_connectivity() {
  "$NCA_VENV/bin/nca" --connectivity -r "$1" --output_format txt_no_fw_rules \
    --output_endpoints pods --file_out "$2"
}

# generate OUT NAMESPACES PODS_PER_NAMESPACE POLICIES_PER_NAMESPACE [testgen args...]
generate() {
  local out=$1 namespaces=$2 pods=$3 policies=$4
  shift 4
  "$TESTGEN" --namespaces "$namespaces" --pods-per-namespace "$pods" \
    --policies-per-namespace "$policies" --out "$out" "$@"
}

# measure RESULT CMD...: runs CMD, output discarded, writing "SECONDS MAX_RSS_KIB
# EXIT" to RESULT; an exit of 124 means the time cap (timeout) ended it.
measure() {
  local result=$1
  shift
  local status=0
  /usr/bin/time -f '%e %M' -o "$result.time" "$@" >/dev/null 2>"$result.stderr" || status=$?
  # GNU time prints "Command exited with non-zero status N" above its line.
  echo "$(tail -n 1 "$result.time") $status" >"$result"
}

# seconds/MiB of a measure result, or why there is none.
describe() {
  local seconds rss status
  read -r seconds rss status <"$1"
  case $status in
    0) awk -v s="$seconds" -v k="$rss" 'BEGIN { printf "%.2f s, %.0f MiB", s, k / 1024 }' ;;
    124) printf 'over the %s s cap' "$seconds" ;;
    *) printf 'failed (exit %s)' "$status" ;;
  esac
}
