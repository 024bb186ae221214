#!/usr/bin/env bash
# Builds the module into a Wasm OCI image (envoy/istio/Dockerfile) and pushes it:
#
#   scripts/oci.sh ghcr.io/you/edge-optimizer:0.1.0
#
# Uses the first of buildah, docker (buildx, else the classic builder) and oras that is
# installed, and says so plainly when none is. Log in to the registry first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

image=${1:-}
if [ -z "$image" ]; then
    echo "usage: scripts/oci.sh REGISTRY/NAME:TAG (say ghcr.io/you/edge-optimizer:0.1.0)" >&2
    exit 2
fi
annotation=module.wasm.image/variant=compat

tool=""
for candidate in buildah docker oras; do
    if command -v "$candidate" >/dev/null 2>&1; then
        tool=$candidate
        break
    fi
done
if [ -z "$tool" ]; then
    echo "none of buildah, docker or oras is installed: install one to build and push $image" >&2
    exit 1
fi

cargo build --release --target wasm32-wasip1
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp target/wasm32-wasip1/release/edge_optimizer.wasm "$context/plugin.wasm"
cp envoy/istio/Dockerfile "$context/Dockerfile"
echo "building $image with $tool; sha256 of plugin.wasm (WasmPlugin spec.sha256 for http URLs):"
sha256sum "$context/plugin.wasm"

case $tool in
buildah)
    buildah build --format oci --annotation "$annotation" -t "$image" "$context"
    buildah push "$image" "docker://$image"
    ;;
docker)
    if ! docker info >/dev/null 2>&1; then
        echo "docker is installed but no Docker engine answers ('docker info' fails)" >&2
        exit 1
    fi
    if docker buildx version >/dev/null 2>&1; then
        docker buildx build --annotation "manifest:$annotation" \
            --output "type=image,name=$image,push=true" "$context"
    else
        # The classic builder writes Docker media types, for which the compat variant needs
        # no annotation.
        docker build -t "$image" "$context"
        docker push "$image"
    fi
    ;;
oras)
    # One gzipped tar layer with plugin.wasm at its root, in the compat layout.
    # TODO: not tried against Istio's image fetcher; buildah and docker are the paths we
    # expect users to take.
    tar -C "$context" -czf "$context/layer.tar.gz" plugin.wasm
    (cd "$context" && oras push "$image" --annotation "$annotation" \
        "layer.tar.gz:application/vnd.oci.image.layer.v1.tar+gzip")
    ;;
esac
echo "pushed $image: use oci://$image as the WasmPlugin url"
