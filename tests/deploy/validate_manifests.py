#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/: every document parses and has its identity; the
CRDs have Kthena's group, version, names and a schema with pdgate's fields (and accept the
example ModelServer/ModelRoute); RBAC grants get/list/watch on pods, modelservers, modelroutes;
the Deployment probes /healthz and /readyz on the admin port, has a preStop hook and a grace
period covering preStop + drainDelay + drain, requests and limits, runs as non-root with a
read-only root filesystem; the API Service is a LoadBalancer; metrics are annotated for scraping;
the ConfigMap's configuration passes `pdgate validate`.

Usage: validate_manifests.py SOURCE_DIR PDGATE_BINARY
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

import yaml

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def duration_seconds(text):
    total = 0.0
    for value, unit in re.findall(r"([0-9.]+)(ms|h|m|s)", str(text)):
        total += float(value) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def validate(value, schema, path, errors):
    """A small subset of OpenAPI v3 validation: type, properties, required, enum, bounds."""
    kind = schema.get("type")
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if kind == "object":
        if not isinstance(value, dict):
            errors.append(f"{path}: not an object")
            return
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}.{key}: required")
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if properties is not None and key in properties:
                validate(item, properties[key], f"{path}.{key}", errors)
            elif isinstance(extra, dict):
                validate(item, extra, f"{path}.{key}", errors)
            elif properties is not None and path != "":
                errors.append(f"{path}.{key}: unknown field")
    elif kind == "array":
        if not isinstance(value, list):
            errors.append(f"{path}: not an array")
            return
        for i, item in enumerate(value):
            validate(item, schema.get("items", {}), f"{path}[{i}]", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: not a string")
    elif kind == "integer":
        if not isinstance(value, int) or not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            errors.append(f"{path}: not an integer in range")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")


def main():
    source, pdgate = sys.argv[1], sys.argv[2]
    documents = []
    for path in sorted(glob.glob(os.path.join(source, "deploy", "**", "*.yaml"), recursive=True)):
        with open(path) as f:
            try:
                docs = [d for d in yaml.safe_load_all(f) if d is not None]
            except yaml.YAMLError as e:
                check(False, f"{path}: invalid YAML: {e}")
                continue
        for doc in docs:
            name = doc.get("metadata", {}).get("name")
            check(doc.get("apiVersion") and doc.get("kind") and name,
                  f"{path}: a document without apiVersion, kind or metadata.name")
            documents.append(doc)
    check(documents, "no manifests in deploy/")
    by_kind = {}
    for doc in documents:
        by_kind.setdefault(doc["kind"], []).append(doc)

    # --- CRDs --------------------------------------------------------------------------------
    crds = {d["spec"]["names"]["kind"]: d for d in by_kind.get("CustomResourceDefinition", [])}
    expected_fields = {
        "ModelServer": ["model", "inferenceEngine", "workloadSelector", "workloadPort",
                        "trafficPolicy", "kvConnector"],
        "ModelRoute": ["modelName", "loraAdapters", "parentRefs", "rules", "rateLimit"],
    }
    schemas = {}
    for kind, fields in expected_fields.items():
        crd = crds.get(kind)
        if not check(crd is not None, f"no CRD for {kind}"):
            continue
        spec = crd["spec"]
        plural = kind.lower() + "s"
        check(spec["group"] == "networking.serving.volcano.sh", f"{kind}: group")
        check(crd["metadata"]["name"] == f"{plural}.networking.serving.volcano.sh", f"{kind}: name")
        check(spec["names"].get("plural") == plural and spec["names"].get("listKind") == kind + "List",
              f"{kind}: names")
        check(spec.get("scope") == "Namespaced", f"{kind}: scope")
        versions = [v for v in spec["versions"] if v["name"] == "v1alpha1"]
        if not check(len(versions) == 1 and versions[0]["served"] and versions[0]["storage"],
                     f"{kind}: v1alpha1 served and stored"):
            continue
        schema = versions[0]["schema"]["openAPIV3Schema"]
        properties = schema["properties"]["spec"]["properties"]
        for field in fields:
            check(field in properties, f"{kind}: schema has no spec.{field}")
        schemas[kind] = schema
    pd = schemas.get("ModelServer", {}).get("properties", {}).get("spec", {})
    if pd:
        group = pd["properties"]["workloadSelector"]["properties"]["pdGroup"]
        check(set(group["required"]) == {"groupKey", "prefillLabels", "decodeLabels"},
              "ModelServer: pdGroup requirements")
        check(pd["properties"]["inferenceEngine"]["enum"] == ["vLLM", "SGLang"],
              "ModelServer: inferenceEngine enum")
    # The example's objects are valid against the schemas.
    with open(os.path.join(source, "examples", "kthena-pd", "kthena-pd.yaml")) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") in schemas:
                errors = []
                validate(doc, schemas[doc["kind"]], "", errors)
                check(not errors, f"example {doc['kind']}: {errors}")

    # --- RBAC --------------------------------------------------------------------------------
    roles = by_kind.get("ClusterRole", [])
    granted = set()
    for role in roles:
        for rule in role.get("rules", []):
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    for verb in rule.get("verbs", []):
                        granted.add((group, resource, verb))
    for group, resource in [("", "pods"), ("networking.serving.volcano.sh", "modelservers"),
                            ("networking.serving.volcano.sh", "modelroutes")]:
        for verb in ("get", "list", "watch"):
            check((group, resource, verb) in granted, f"RBAC: no {verb} on {resource}")
    accounts = {(a["metadata"]["namespace"], a["metadata"]["name"])
                for a in by_kind.get("ServiceAccount", [])}
    bound = {(s.get("namespace"), s["name"]) for b in by_kind.get("ClusterRoleBinding", [])
             for s in b.get("subjects", []) if s["kind"] == "ServiceAccount"}

    # --- ConfigMap: a valid configuration, and its drain settings -----------------------------
    config_text = None
    for config_map in by_kind.get("ConfigMap", []):
        config_text = config_map.get("data", {}).get("config.yaml", config_text)
    drain = drain_delay = 0
    if check(config_text, "no ConfigMap with config.yaml"):
        settings = yaml.safe_load(config_text)["spec"]
        timeouts = settings.get("timeouts", {})
        drain = duration_seconds(timeouts.get("drain", "300s"))
        drain_delay = duration_seconds(timeouts.get("drainDelay", "5s"))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(config_text)
        result = subprocess.run([pdgate, "validate", f.name], capture_output=True, text=True)
        os.unlink(f.name)
        check(result.returncode == 0, f"pdgate validate on the ConfigMap: {result.stderr}")

    # --- Deployment -----------------------------------------------------------------------------
    deployments = by_kind.get("Deployment", [])
    if check(len(deployments) == 1, "one Deployment"):
        deployment = deployments[0]
        pod = deployment["spec"]["template"]
        spec = pod["spec"]
        namespace = deployment["metadata"]["namespace"]
        account = (namespace, spec.get("serviceAccountName"))
        check(account in accounts and account in bound, "Deployment: its ServiceAccount is bound")
        container = spec["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}

        def port_of(value):
            return ports.get(value, value)

        live = container.get("livenessProbe", {}).get("httpGet", {})
        ready = container.get("readinessProbe", {}).get("httpGet", {})
        check(live.get("path") == "/healthz" and port_of(live.get("port")) == 9090,
              "Deployment: liveness probe on /healthz, admin port 9090")
        check(ready.get("path") == "/readyz" and port_of(ready.get("port")) == 9090,
              "Deployment: readiness probe on /readyz, admin port 9090")
        pre_stop = container.get("lifecycle", {}).get("preStop", {})
        pre_stop_seconds = 0
        if "exec" in pre_stop:
            command = pre_stop["exec"]["command"]
            pre_stop_seconds = float(command[-1]) if "sleep" in command[0] else 0
        elif "sleep" in pre_stop:
            pre_stop_seconds = pre_stop["sleep"]["seconds"]
        check(pre_stop_seconds > 0, "Deployment: preStop sleep")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        check(grace >= pre_stop_seconds + drain_delay + drain,
              f"Deployment: terminationGracePeriodSeconds {grace} < preStop {pre_stop_seconds}"
              f" + drainDelay {drain_delay} + drain {drain}")
        resources = container.get("resources", {})
        check(resources.get("requests") and resources.get("limits"), "Deployment: requests and limits")
        pod_security = spec.get("securityContext", {})
        security = container.get("securityContext", {})
        check(pod_security.get("runAsNonRoot") or security.get("runAsNonRoot"),
              "Deployment: runAsNonRoot")
        check(security.get("readOnlyRootFilesystem"), "Deployment: readOnlyRootFilesystem")
        check("--kubernetes" in container.get("args", []), "Deployment: --kubernetes")
        annotations = pod["metadata"].get("annotations", {})
        check(annotations.get("prometheus.io/scrape") == "true" and
              annotations.get("prometheus.io/port") == "9090", "Deployment: metrics annotated")
        check(ports.get("http") == 8080 and ports.get("admin") == 9090, "Deployment: ports")

        # --- Services ---------------------------------------------------------------------------
        services = by_kind.get("Service", [])
        balancers = [s for s in services if s["spec"].get("type") == "LoadBalancer"]
        check(len(balancers) == 1 and
              port_of(balancers[0]["spec"]["ports"][0]["targetPort"]) == 8080,
              "Service: a LoadBalancer to the API port 8080")
        scraped = [s for s in services
                   if s["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"]
        check(scraped and any(port_of(p["targetPort"]) == 9090 for p in scraped[0]["spec"]["ports"]),
              "Service: the metrics port annotated prometheus.io/scrape")

    for failure in failures:
        print("FAIL:", failure)
    print(f"{len(documents)} documents checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
