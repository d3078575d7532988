"""Checks the deployment files with what runs without Docker or a cluster: every YAML file
parses, the compose file names the five services with their stores and ports, and each
Kubernetes Deployment has its Service and gRPC probes on its port."""

import glob
import os
import sys

try:
    import yaml
except ImportError:
    print("deploy check skipped: python3 has no yaml module (pip install pyyaml)")
    sys.exit(0)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SERVICES = {
    "order-capture": 50051,
    "inventory-ledger": 50052,
    "routing": 50053,
    "store-fulfilment": 50054,
    "returns": 50055,
}
problems = []

compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml")))
for name, port in SERVICES.items():
    service = compose["services"].get(name)
    if service is None:
        problems.append(f"docker-compose.yml: no service {name}")
        continue
    env = service.get("environment", {})
    if not env.get("OMS_STORE_URL", "").startswith("postgres://"):
        problems.append(f"docker-compose.yml: {name} has no PostgreSQL store")
    if not env.get("OMS_KAFKA_BOOTSTRAP_SERVERS"):
        problems.append(f"docker-compose.yml: {name} has no Kafka")
    if not env.get("OMS_AUTH_JWKS_FILE"):
        problems.append(f"docker-compose.yml: {name} checks no tokens (OMS_AUTH_JWKS_FILE)")
    if f"{port}:{port}" not in service.get("ports", []):
        problems.append(f"docker-compose.yml: {name} does not publish {port}")

for path in sorted(glob.glob(os.path.join(ROOT, "deploy", "**", "*.yaml"), recursive=True)):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    for doc in docs:
        if doc.get("kind") != "Deployment":
            continue
        name = doc["metadata"]["name"]
        port = SERVICES.get(name)
        container = doc["spec"]["template"]["spec"]["containers"][0]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if container.get(probe, {}).get("grpc", {}).get("port") != port:
                problems.append(f"{path}: {name} {probe} is not a gRPC probe on {port}")
        mounts = [m.get("mountPath") for m in container.get("volumeMounts", [])]
        if "/etc/oms/auth" not in mounts:
            problems.append(f"{path}: {name} does not mount the oms-auth keys")
        if not any(d.get("kind") == "Service" and d["metadata"]["name"] == name for d in docs):
            problems.append(f"{path}: {name} has no Service")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print("deploy files check out")
