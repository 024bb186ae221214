#!/bin/sh
# Starts Envoy in the container with envoy/envoy.yaml, changed in one way only: the edge
# (10000) and admin (9901) listeners bind 0.0.0.0 instead of 127.0.0.1, because a port bound
# to the container's loopback cannot be published to the host. docker-compose.yml publishes
# both on the host's loopback only. Arguments are passed on to Envoy.
#
# tests/deployment.rs runs this same script with ENVOY set to a local Envoy and
# `--mode validate`, so the check covers exactly the configuration the container runs.
set -eu

config=${EDGE_CONFIG_OUT:-/tmp/envoy-docker.yaml}
sed -e 's/{ address: 127\.0\.0\.1, port_value: 10000 }/{ address: 0.0.0.0, port_value: 10000 }/' \
    -e 's/{ address: 127\.0\.0\.1, port_value: 9901 }/{ address: 0.0.0.0, port_value: 9901 }/' \
    envoy/envoy.yaml >"$config"

exec "${ENVOY:-envoy}" --config-path "$config" "$@"
