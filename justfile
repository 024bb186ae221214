# Recipes for the common jobs; each is a thin wrapper over a script in scripts/.

# Build the module (target/wasm32-wasip1/release/edge_optimizer.wasm).
build:
    cargo build --release --target wasm32-wasip1

# Run the module in a local Envoy in front of the demo upstream.
run:
    bash scripts/run.sh

# Run every test: unit tests and end-to-end tests against a real Envoy.
test:
    bash scripts/test.sh

# Benchmark the module against Envoy's native filters; writes target/bench/.
bench *ARGS:
    bash scripts/bench.sh {{ARGS}}

# The long soak: 60 s of mixed traffic over 64 connections, Envoy with 2 workers.
soak:
    cargo build --release --target wasm32-wasip1
    EDGE_SOAK_SECONDS=60 EDGE_SOAK_CONNECTIONS=64 EDGE_SOAK_WORKERS=2 \
        cargo test --release --test soak -- --nocapture

# Fuzz every target in fuzz/ (60 s each by default).
fuzz SECONDS="60":
    bash scripts/fuzz.sh {{SECONDS}}

# Run the module in Envoy's official image with docker compose (envoy/docker-compose.yml).
docker:
    bash scripts/docker.sh

# Build the Wasm OCI image for Istio and push it: `just oci ghcr.io/you/edge-optimizer:0.1.0`.
oci image:
    bash scripts/oci.sh {{image}}
