#!/usr/bin/env python3
"""Presents src-tauri/ to the Tauri CLI as the app's folder.

The Tauri CLI (`cargo tauri build|dev|android build|ios build`) takes the folder that holds
tauri.conf.json as the app folder: it reads the app crate's Cargo.toml ([package], [lib]) and
gen/android, gen/apple from there, and resolves every relative path of the config against it.
This repository keeps tauri.conf.json at the root, beside a virtual workspace Cargo.toml, so the
CLI pointed at the root stops with "No package info in the config file".

This writes src-tauri/tauri.conf.json: the root config with its relative paths rebased onto
src-tauri/ ("ui" becomes "../ui") and the version of the workspace's Cargo.toml, the one place
a version is written (the root config has none, so the app's build takes the crate version). Run the CLI with TAURI_APP_PATH=src-tauri. The crate's own
build (build.rs, generate_context!) keeps reading the root file, so the two always agree on
everything but the path prefix. The written file is a build product: never edit or commit it.

Fails, naming the key, when the config uses a path setting this script does not rebase, so a new
setting cannot silently point the bundler at the wrong folder.

    python3 .github/scripts/stage-tauri-config.py          # writes src-tauri/tauri.conf.json
    python3 .github/scripts/stage-tauri-config.py --check  # only checks it could
    python3 .github/scripts/stage-tauri-config.py --version  # prints the version of the artefacts
"""

import email.utils
from datetime import datetime, timezone
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "src-tauri" / "packaging" / "linux"
SOURCE = ROOT / "tauri.conf.json"
APP_DIR = ROOT / "src-tauri"
STAGED = APP_DIR / "tauri.conf.json"

# Settings that hold file paths and are not rebased below: the config must not use them until
# this script learns them (each is resolved against the app folder by the CLI or the bundler).
UNHANDLED_PATH_SETTINGS = [
    ("bundle", "resources"),
    ("bundle", "externalBin"),
    ("bundle", "licenseFile"),
    ("bundle", "macOS", "frameworks"),
    ("bundle", "macOS", "files"),
    ("bundle", "macOS", "entitlements"),
    ("bundle", "macOS", "infoPlist"),
    ("bundle", "macOS", "dmg"),
    ("bundle", "windows", "wix", "template"),
    ("bundle", "windows", "wix", "fragmentPaths"),
    ("bundle", "windows", "wix", "bannerPath"),
    ("bundle", "windows", "wix", "dialogImagePath"),
    ("bundle", "windows", "nsis"),
    ("bundle", "windows", "webviewInstallMode"),
    ("bundle", "linux", "deb", "files"),
    ("bundle", "linux", "deb", "changelog"),
    ("bundle", "linux", "deb", "preInstallScript"),
    ("bundle", "linux", "deb", "postInstallScript"),
    ("bundle", "linux", "deb", "preRemoveScript"),
    ("bundle", "linux", "deb", "postRemoveScript"),
    ("bundle", "linux", "rpm", "files"),
    ("bundle", "linux", "rpm", "preInstallScript"),
    ("bundle", "linux", "rpm", "postInstallScript"),
    ("bundle", "linux", "rpm", "preRemoveScript"),
    ("bundle", "linux", "rpm", "postRemoveScript"),
    ("bundle", "linux", "appimage"),
    ("bundle", "iOS", "frameworks"),
    ("bundle", "iOS", "template"),
    ("bundle", "iOS", "infoPlist"),
    ("app", "trayIcon"),
]


def lookup(conf, keys):
    for key in keys:
        if not isinstance(conf, dict) or key not in conf:
            return None
        conf = conf[key]
    return conf


def rebase(path):
    """A path relative to the root, as seen from src-tauri/."""
    if Path(path).is_absolute():
        return path
    return "../" + path


def workspace_version():
    """[workspace.package] version of the root Cargo.toml: the version of every artefact."""
    text = (ROOT / "Cargo.toml").read_text(encoding="utf-8")
    found = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S)
    if not found:
        raise SystemExit("stage-tauri-config: no version in [workspace.package] of Cargo.toml")
    return found.group(1)


def cargo_metadata(target="x86_64-unknown-linux-gnu"):
    """Cargo's resolved graph of the workspace, for the platform `target`."""
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", target],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def shipped_ids(meta, package="softtoken-app"):
    """The package ids of every crate linked into `package`'s program, its own aside. The one
    definition of "what ships": the packages' copyright file and the SBOM (sbom.py) both use it."""
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == package)
    seen, todo = set(), [root]
    while todo:
        for dep in nodes[todo.pop()]["deps"]:
            # Build scripts and proc macros run at build time and ship nothing.
            if all(k["kind"] is not None for k in dep["dep_kinds"]) or dep["pkg"] in seen:
                continue
            if "proc-macro" in packages[dep["pkg"]]["targets"][0]["kind"]:
                continue
            seen.add(dep["pkg"])
            todo.append(dep["pkg"])
    return seen


def shipped_crates(meta):
    """(name, version, license) of every crate linked into the app on Linux, the app's own aside."""
    packages = {p["id"]: p for p in meta["packages"]}
    return sorted((packages[i]["name"], packages[i]["version"], packages[i].get("license") or
                   "see the crate's license file") for i in shipped_ids(meta))


def linux_packaging(conf, out):
    """The Linux packages' generated files: changelog, copyright (with the crates the program
    links and their licenses) and the compressed man page. Written into `out`, outside the tree."""
    meta = cargo_metadata()
    app = next(p for p in meta["packages"] if p["name"] == "softtoken-app")
    maintainer = app["authors"][0] if app["authors"] else ""
    if "<" not in maintainer:
        raise SystemExit("stage-tauri-config: Cargo.toml's authors must name the packages' "
                         "maintainer as 'Name <address>'")
    version = conf["version"]
    # The date of the release is the date of its commit, so a rebuild makes the same file.
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or subprocess.run(
        ["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip() or "0"
    out.mkdir(parents=True, exist_ok=True)
    changelog = out / "changelog"
    changelog.write_text(
        f"softtoken ({version}) stable; urgency=medium\n\n"
        f"  * softtoken {version}: what changed is in the release notes (docs/RELEASE.md).\n\n"
        f" -- {maintainer}  {email.utils.format_datetime(datetime.fromtimestamp(int(epoch), timezone.utc))}\n",
        encoding="utf-8",
    )
    crates = "\n".join(f" {name} {ver}: {lic}" for name, ver, lic in shipped_crates(meta))
    copyright_text = (LINUX / "copyright.in").read_text(encoding="utf-8")
    copyright_text = copyright_text.replace("@AUTHORS@", maintainer).replace("@CRATES@", crates)
    (out / "copyright").write_text(copyright_text, encoding="utf-8")
    with open(out / "softtoken.1.gz", "wb") as raw:
        # mtime 0 and no file name: the same page makes the same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            gz.write((LINUX / "softtoken.1").read_bytes())
    linux = conf.setdefault("bundle", {}).setdefault("linux", {})
    deb = linux.setdefault("deb", {})
    deb["changelog"] = str(changelog)
    deb["files"] = {
        "/usr/share/doc/softtoken/copyright": str(out / "copyright"),
        "/usr/share/man/man1/softtoken.1.gz": str(out / "softtoken.1.gz"),
    }
    linux.setdefault("rpm", {})["files"] = {
        "/usr/share/licenses/softtoken/copyright": str(out / "copyright"),
        "/usr/share/man/man1/softtoken.1.gz": str(out / "softtoken.1.gz"),
    }


def staged_config(conf):
    problems = []
    if "version" in conf:
        problems.append(
            "tauri.conf.json sets version: remove it, the version is written once, in Cargo.toml's "
            "[workspace.package]"
        )
    conf["version"] = workspace_version()
    for keys in UNHANDLED_PATH_SETTINGS:
        if lookup(conf, keys) is not None:
            problems.append(
                f"tauri.conf.json sets {'.'.join(keys)}, a path setting "
                "stage-tauri-config.py does not rebase yet: teach it, then build"
            )

    build = conf.get("build", {})
    dist = build.get("frontendDist")
    if isinstance(dist, str) and not dist.startswith(("http://", "https://")):
        build["frontendDist"] = rebase(dist)
    elif dist is not None and not isinstance(dist, str):
        problems.append("build.frontendDist is a list of files; only a folder is rebased")

    bundle = conf.get("bundle", {})
    if "icon" in bundle:
        bundle["icon"] = [rebase(icon) for icon in bundle["icon"]]
    templates = []
    for kind in ("deb", "rpm"):
        package = bundle.get("linux", {}).get(kind, {})
        if "desktopTemplate" in package:
            package["desktopTemplate"] = rebase(package["desktopTemplate"])
            templates.append(package["desktopTemplate"])

    for path in [build.get("frontendDist")] + bundle.get("icon", []) + templates:
        if path and not path.startswith(("http://", "https://")) and not (APP_DIR / path).exists():
            problems.append(f"{path} (from src-tauri/) does not exist")
    return conf, problems


def main():
    if sys.argv[1:] == ["--version"]:
        print(workspace_version())
        return 0
    check_only = sys.argv[1:] == ["--check"]
    if sys.argv[1:] not in ([], ["--check"]):
        print(__doc__, file=sys.stderr)
        return 2
    conf, problems = staged_config(json.loads(SOURCE.read_text(encoding="utf-8")))
    for problem in problems:
        print(f"stage-tauri-config: {problem}", file=sys.stderr)
    if problems:
        return 1
    if check_only:
        print("stage-tauri-config: tauri.conf.json can be staged for the Tauri CLI")
        return 0
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target").resolve()
    linux_packaging(conf, target / "packaging" / "linux")
    STAGED.write_text(json.dumps(conf, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"stage-tauri-config: wrote {STAGED.relative_to(ROOT)}; run the CLI with TAURI_APP_PATH=src-tauri")
    return 0


if __name__ == "__main__":
    sys.exit(main())
