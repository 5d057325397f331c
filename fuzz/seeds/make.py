#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/) from the engine's fixtures.

Run it again when the fixtures change: `python3 fuzz/seeds/make.py`. Each seed is named by the
SHA-1 of its bytes, as libFuzzer names corpus entries.

The listener's input is decoded by `arbitrary` (1.x): an enum is a little-endian u32 that picks
variant floor(u32 * count / 2^32), a bool or u8 is one byte, a Vec is a "one more" byte before
each element and a 0 after the last, and the last field (`&[u8]`) takes the rest. The seeds use
only those, so no length prefix is needed.
"""
import hashlib
import json
import shutil
from pathlib import Path

FUZZ = Path(__file__).resolve().parent.parent
FIXTURES = FUZZ.parent / "crates/engine/tests/fixtures"
STRATEGIC = FUZZ.parent / "crates/strategic-merge/tests/fixtures/strategic"


def write(target, data):
    folder = FUZZ / "seeds" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def variant(index, count):
    """The u32 `arbitrary` reads as variant `index` of `count`."""
    value = -(-(index << 32) // count)  # ceil(index * 2^32 / count)
    return value.to_bytes(4, "little")


def registry():
    for body in sorted((FIXTURES / "registry").glob("*.json")):
        if body.name.endswith(".expected.json"):
            continue
        headers = body.with_suffix(".headers").read_bytes()
        write("registry", headers.rstrip(b"\n") + b"\n\n" + body.read_bytes())


def patch():
    # Byte 0: bits 0-1 the type (resource, strategic, merge, json), bit 2 a target given,
    # bit 3 the web-stack template instead of seed-demo.
    write("patch", b"\x00" + (FIXTURES / "templates/seed-demo-patch.json").read_bytes())
    for case in sorted(STRATEGIC.iterdir()):
        body = case / "patch.json"
        if not body.is_file():
            continue
        write("patch", b"\x05" + body.read_bytes())
        write("patch", b"\x06" + body.read_bytes())
    json_patch = [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/labels/tier", "value": "web"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/ports"},
    ]
    write("patch", b"\x07" + json.dumps(json_patch).encode())
    write("patch", b"\x0f" + json.dumps(json_patch[:2]).encode())


def template():
    seen = set()
    for path in sorted((FIXTURES / "templates").glob("*.yaml")) + sorted(
        STRATEGIC.glob("*/original.yaml")
    ):
        data = path.read_bytes()
        if data not in seen:
            seen.add(data)
            write("template", data)


# The listener's `Call`: see fuzz_targets/listener.rs for the enums' variant order.
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "other"]
PATHS = ["trigger", "registry", "healthz", "metrics", "root", "other"]
TOKENS = ["trigger", "absent", "empty", "other"]
TRIGGERS = ["redeploy", "scale", "image-all", "image-regex", "image-tags", "signed", "disabled", "on-hold"]
PARAMS = ["type", "step", "kind", "name", "token", "secret", "other"]
VALUES = ["scale_out", "scale_in", "number", "Deployment", "demo", "other"]
NAMES = ["content-type", "content-length", "x-signature", "x-hub-signature-256", "x-github-event", "user-agent", "other"]
MEDIA = ["json", "merge", "json-patch", "strategic", "yaml", "form", "distribution", "other"]


def call(method, path, trigger, params=(), headers=(), sign=False, body=b""):
    data = variant(METHODS.index(method), len(METHODS))
    data += variant(PATHS.index(path), len(PATHS))
    if trigger is None:
        data += variant(TOKENS.index("absent"), len(TOKENS))
    else:
        data += variant(0, len(TOKENS)) + bytes([TRIGGERS.index(trigger)])
    data += b"\x00"  # ?token=, not ?secret=
    for name, value in params:
        data += b"\x01" + variant(PARAMS.index(name), len(PARAMS))
        if isinstance(value, int):
            data += variant(VALUES.index("number"), len(VALUES)) + bytes([value])
        else:
            data += variant(VALUES.index(value), len(VALUES))
    data += b"\x00"
    for name, value in headers:
        data += b"\x01" + variant(NAMES.index(name), len(NAMES)) + variant(MEDIA.index(value), len(MEDIA))
    data += b"\x00"
    data += b"\x01" if sign else b"\x00"
    data += b"\x01"  # peer 127.0.0.1
    data += variant(0, 2) + body  # Payload::Raw(rest)
    write("listener", data)


def listener():
    patch_body = (FIXTURES / "templates/seed-demo-patch.json").read_bytes()
    json_ = [("content-type", "json")]
    call("GET", "healthz", None)
    call("GET", "metrics", None)
    call("POST", "trigger", None)
    call("GET", "trigger", "redeploy")
    call("POST", "trigger", "redeploy", headers=json_, body=patch_body)
    call("POST", "trigger", "redeploy", headers=[("content-type", "merge")], body=b'{"kind":"Deployment","metadata":{"name":"demo"},"spec":{"replicas":2}}')
    call("POST", "trigger", "redeploy", headers=[("content-type", "strategic")], body=b'{"kind":"Deployment","metadata":{"name":"demo"},"spec":{"replicas":3}}')
    call("POST", "trigger", "scale", params=[("type", "scale_out"), ("step", 1)])
    call("POST", "trigger", "scale", params=[("type", "scale_in"), ("step", 2)])
    call("POST", "trigger", "signed", headers=json_, sign=True, body=patch_body)
    call("POST", "trigger", "signed", sign=False)
    call("POST", "trigger", "disabled")
    call("POST", "trigger", "on-hold")
    call("POST", "trigger", "image-all")
    for name in ["dockerhub-seed004", "acr-alibaba-push", "harbor-push-artifact", "distribution-v1-push", "generic-image", "github-ping"]:
        body = (FIXTURES / "registry" / f"{name}.json").read_bytes()
        media = "distribution" if name.startswith("distribution") else "json"
        for trigger in ["image-all", "image-regex", "image-tags"]:
            call("POST", "registry", trigger, headers=[("content-type", media)], body=body)
    call("POST", "registry", "redeploy", headers=json_, body=b'{"image":"nginx:1.27"}')


def sources():
    """URL, reference, path and a file's text, separated by 0x01 bytes."""
    deployment = (FIXTURES / "templates/seed-demo.yaml").read_bytes()
    write("sources", b"nginx\x01nginx:1.27\x01deploy\x01" + deployment)
    write(
        "sources",
        b"registry.example/shop:v1\x01registry.example/shop:v2\x01./deploy//prod/\x01"
        b"containers:\n  - name: web\n    image: 'registry.example/shop:v1'  # pinned\n",
    )
    write(
        "sources",
        b"https://git.example/a.git\x01main\x01../etc\x01image:\n  repository: nginx\n  tag: '1'\n",
    )
    write("sources", b"ssh://git@host/a.git\x01ma..in\x01\x00\x01image: [")


if __name__ == "__main__":
    for target in ["registry", "patch", "template", "listener", "sources"]:
        shutil.rmtree(FUZZ / "seeds" / target, ignore_errors=True)
    registry()
    patch()
    template()
    listener()
    sources()
