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

# Run the module in Envoy's official image with docker compose (envoy/docker-compose.yml).
docker:
    bash scripts/docker.sh

# Build the Wasm OCI image for Istio and push it: `just oci ghcr.io/you/edge-optimizer:0.1.0`.
oci image:
    bash scripts/oci.sh {{image}}
