#!/usr/bin/env python3
"""Presents src-tauri/ to the Tauri CLI as the app's folder.

The Tauri CLI (`cargo tauri build|dev|android build|ios build`) takes the folder that holds
tauri.conf.json as the app folder: it reads the app crate's Cargo.toml ([package], [lib]) and
gen/android, gen/apple from there, and resolves every relative path of the config against it.
This repository keeps tauri.conf.json at the root, beside a virtual workspace Cargo.toml, so the
CLI pointed at the root stops with "No package info in the config file".

This writes src-tauri/tauri.conf.json: the root config with its relative paths rebased onto
src-tauri/ ("ui" becomes "../ui"). Run the CLI with TAURI_APP_PATH=src-tauri. The crate's own
build (build.rs, generate_context!) keeps reading the root file, so the two always agree on
everything but the path prefix. The written file is a build product: never edit or commit it.

Fails, naming the key, when the config uses a path setting this script does not rebase, so a new
setting cannot silently point the bundler at the wrong folder.

    python3 .github/scripts/stage-tauri-config.py          # writes src-tauri/tauri.conf.json
    python3 .github/scripts/stage-tauri-config.py --check  # only checks it could
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
    ("bundle", "windows", "wix"),
    ("bundle", "windows", "nsis"),
    ("bundle", "windows", "webviewInstallMode"),
    ("bundle", "linux"),
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


def staged_config(conf):
    problems = []
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

    for path in [build.get("frontendDist")] + bundle.get("icon", []):
        if path and not path.startswith(("http://", "https://")) and not (APP_DIR / path).exists():
            problems.append(f"{path} (from src-tauri/) does not exist")
    return conf, problems


def main():
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
    STAGED.write_text(json.dumps(conf, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"stage-tauri-config: wrote {STAGED.relative_to(ROOT)}; run the CLI with TAURI_APP_PATH=src-tauri")
    return 0


if __name__ == "__main__":
    sys.exit(main())
