#!/usr/bin/env python3
"""Writes the software bill of materials (CycloneDX 1.5, JSON) of one softtoken program for one
platform: every crate linked into it, with its version, licence, package URL and the SHA-256
that Cargo.lock pins for its download, and who depends on whom.

"Linked" is the packages' own definition (stage-tauri-config.py's `shipped_ids`): the normal
dependencies of the program's crate for that platform, without build scripts, proc macros and
dev-dependencies, which run at build time and ship nothing. The file depends only on the commit
(its time is the commit's, its serial number is derived from what it lists), so a rebuild
writes the same bytes. The test command checks it for the Linux package against the crates
whose source paths the shipped binary itself names (tests/tests/linux_package.rs); the release
pipeline writes one per artefact beside the checksums (docs/RELEASE.md).

    python3 .github/scripts/sbom.py --package softtoken-app --target x86_64-unknown-linux-gnu \\
        --out dist/softtoken-0.1.0-linux-x86_64.cdx.json
"""

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def stage_module():
    spec = importlib.util.spec_from_file_location("stage_tauri_config", HERE / "stage-tauri-config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spdx(expression):
    """A crate's `license` as an SPDX expression: crates.io still holds old `MIT/Apache-2.0`."""
    if not expression:
        return None
    return " OR ".join(part.strip() for part in expression.split("/"))


def purl(package):
    return f"pkg:cargo/{package['name']}@{package['version']}"


def commit_time():
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip() or "0"
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def lock_checksums():
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text(encoding="utf-8"))
    return {(p["name"], p["version"]): p.get("checksum") for p in lock["package"]}


def component(package, checksums):
    entry = {
        "type": "library",
        "bom-ref": purl(package),
        "name": package["name"],
        "version": package["version"],
        "purl": purl(package),
    }
    licence = spdx(package.get("license"))
    if licence:
        entry["licenses"] = [{"expression": licence}]
    checksum = checksums.get((package["name"], package["version"]))
    if checksum:
        entry["hashes"] = [{"alg": "SHA-256", "content": checksum}]
    if (package.get("source") or "").startswith("registry+"):
        entry["externalReferences"] = [{
            "type": "distribution",
            "url": f"https://crates.io/api/v1/crates/{package['name']}/{package['version']}/download",
        }]
    return entry


def bom(package_name, target):
    stage = stage_module()
    meta = stage.cargo_metadata(target)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    shipped = stage.shipped_ids(meta, package_name)
    root = next(p for p in meta["packages"] if p["name"] == package_name)
    checksums = lock_checksums()
    components = sorted((component(packages[i], checksums) for i in shipped),
                        key=lambda c: (c["name"], c["version"]))
    inside = shipped | {root["id"]}
    dependencies = []
    for pid in sorted(inside, key=lambda i: purl(packages[i])):
        on = sorted({purl(packages[d["pkg"]]) for d in nodes[pid]["deps"] if d["pkg"] in shipped})
        dependencies.append({"ref": purl(packages[pid]), "dependsOn": on})
    listed = "\n".join(c["purl"] for c in components)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"softtoken:{purl(root)}:{target}:"
                        + hashlib.sha256(listed.encode()).hexdigest())
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "timestamp": commit_time(),
            "tools": {"components": [{"type": "application", "name": "softtoken sbom.py"}]},
            "component": {
                "type": "application",
                "bom-ref": purl(root),
                "name": root["name"],
                "version": root["version"],
                "purl": purl(root),
                "licenses": [{"expression": spdx(root.get("license")) or "Apache-2.0"}],
            },
            "properties": [{"name": "softtoken:target", "value": target}],
        },
        "components": components,
        "dependencies": dependencies,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", required=True, help="softtoken-app or softtoken-server")
    parser.add_argument("--target", required=True, help="the Rust target triple of the artefact")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    document = bom(args.package, args.target)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"sbom: {args.out} lists {len(document['components'])} crates of {args.package} "
          f"for {args.target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
