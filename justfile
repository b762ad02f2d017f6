# netposture developer recipes; `just` lists them. CI runs `just test`.

set shell := ["bash", "-euo", "pipefail", "-c"]

export CARGO_TERM_COLOR := "never"

# Runs the release binary wherever CARGO_TARGET_DIR puts it.
netposture := "cargo run --release --locked --quiet -p netposture --"

# List the recipes.
default:
    @just --list

# Build the release binary (target/release/netposture).
build:
    cargo build --release --locked -p netposture

# The main job: scan the bundled example clusters and print their posture.
scan-examples: build
    @echo "== examples/cluster: a Calico cluster with the seed situations"
    @{{netposture}} scan -f examples/cluster
    @echo
    @echo "== examples/flannel-cluster: textbook policies on a CNI that ignores them"
    @{{netposture}} scan -f examples/flannel-cluster -o wide
    @echo
    @echo "Why a namespace is what it is: netposture explain analytics -f examples/cluster"
    @echo "Which policy decides a flow:   netposture can-reach analytics/etl kube-system/coredns -p 53/UDP -f examples/cluster"

# Every test: formatting, lints, unit and integration tests (incl. CRD drift), then the e2e suite.
test: unit e2e

# Formatting, lints, unit and integration tests; no cluster needed.
unit:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo test --locked

# The operator against a real local control plane (first run builds it, ~8 min);
# leading words pick test files (`just e2e faults`), the rest filter tests.
e2e *args:
    e2e/run.sh {{args}}

# Engine benchmarks at 2,000 namespaces / 100,000 pods / 20,000 policies, the
# admission webhook's preview at 10,000 and 100,000 pods, then `scan -f` end
# to end at that size and next to NCA (NCA_SIZES="500 1000 2000"), then the
# growth table from 1,000 to 200,000 pods (GROWTH_PODS, OPERATOR_PODS).
bench:
    cargo bench --locked -p netposture-engine --bench engine
    cargo bench --locked -p netposture-engine --bench admission
    bench/scan-e2e.sh
    bench/growth.sh

# Differential test: generated clusters through netposture and NCA, compared pod pair by pod pair.
nca-diff:
    bench/nca-diff.sh

# Regenerate the checked-in CRD from the Rust types.
crds:
    cargo run -q --locked -p netposture -- crd > crds/networkpostures.netposture.io.yaml

# The main job: a local control plane, the operator, the example cluster and its reports.
demo:
    e2e/demo.sh up

# Stop the demo's operator and control plane.
down:
    e2e/demo.sh down

# Start only the local control plane (first run builds it, ~8 min; then ~10 s).
cluster-up dir="/tmp/netposture-cluster":
    e2e/cluster.sh up {{dir}}
