#!/usr/bin/env python3
"""What of the phone builds can run here for real (docs/RELEASE.md, "The rehearsal").

  check-native-projects.py --cli <node_modules/@tauri-apps/cli/tauri.js>

1. The Gradle build files and the Kotlin sources of gen/android parse: Kotlin (.kt, .kts) with
   tree-sitter's Kotlin grammar, Groovy (settings.gradle) with its Groovy grammar. A syntax
   check only: whether Gradle resolves the plugins and AGP accepts the DSL is proven by the
   pipeline alone (no Gradle, no Android SDK here).
2. The pinned Tauri CLI reads the staged config offline: `tauri info` (with no network) reports
   the config's frontendDist as the CLI resolves it, and the CLI's version equals the tauri
   crate's in Cargo.lock (the CLI and the runtime the app links must be one release).
3. The Android nested call as Gradle's Rust task makes it (BuildTask.kt): every option and
   target it passes is one `android android-studio-script --help` of the pinned CLI lists, and
   run from src-tauri with no network it gets past finding the app, its config and gen/android
   to the point where it asks for the outer `android build` (which only a runner can start).
   The iOS nested call (`ios xcode-script`) exists only in the CLI's macOS build: its options
   are proven on the macOS runner alone.

Run by scripts/check-workflows.sh with its virtualenv's python (tree-sitter, pinned there).
Network: none; each CLI run is in a network namespace of its own (unshare -n, or -rn without
root), so nothing here can reach the registries the CLI would otherwise ask for newer versions.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import tree_sitter
import tree_sitter_groovy
import tree_sitter_kotlin

ROOT = Path(__file__).resolve().parent.parent
ANDROID = ROOT / "src-tauri/gen/android"
BUILD_TASK = ANDROID / "buildSrc/src/main/java/jp/softtoken/app/kotlin/BuildTask.kt"
RUST_PLUGIN = ANDROID / "buildSrc/src/main/java/jp/softtoken/app/kotlin/RustPlugin.kt"


def say(text: str) -> None:
    print(f"==> native projects: {text}")


def syntax_errors(parser: tree_sitter.Parser, path: Path) -> list[str]:
    tree = parser.parse(path.read_bytes())
    errors = []

    def walk(node: tree_sitter.Node) -> None:
        if node.is_error or node.is_missing:
            row, col = node.start_point
            errors.append(f"{path.relative_to(ROOT)}:{row + 1}:{col + 1}: {'missing' if node.is_missing else 'syntax error'} {node.type}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return errors


def check_parse() -> list[str]:
    kotlin = tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))
    groovy = tree_sitter.Parser(tree_sitter.Language(tree_sitter_groovy.language()))
    files = sorted(p for p in ANDROID.rglob("*") if p.is_file() and "build" not in p.relative_to(ANDROID).parts[:2])
    findings, count = [], 0
    for path in files:
        if path.suffix in (".kt", ".kts"):
            findings += syntax_errors(kotlin, path)
        elif path.suffix == ".gradle":
            findings += syntax_errors(groovy, path)
        else:
            continue
        count += 1
    if count == 0:
        findings.append("no Gradle or Kotlin file found under src-tauri/gen/android")
    say(f"{count} Gradle/Kotlin files parse (tree-sitter Kotlin and Groovy grammars)")
    return findings


def offline() -> list[str]:
    """The prefix that runs a command with no network at all."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if shutil.which(prefix[0]) and subprocess.run(prefix + ["true"], capture_output=True, check=False).returncode == 0:
            return prefix
    sys.exit("check-native-projects: cannot run the CLI without network (unshare -n / -rn failed)")


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # npm and cargo told they are offline, so the CLI's look-ups of newer versions fail at once.
    env = dict(os.environ, npm_config_offline="true", CARGO_NET_OFFLINE="true", NO_COLOR="1")
    return subprocess.run(offline() + ["bash", str(ROOT / "scripts/tauri.sh")] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def check_info() -> list[str]:
    done = run_cli(["info"], ROOT)
    out = done.stdout + done.stderr
    findings = []
    cli = re.search(r"@tauri-apps/cli\s+\S*:\s*(\d+\.\d+\.\d+)", out)
    crate = re.search(r"- tauri \S*:\s*(\d+\.\d+\.\d+)", out)
    dist = re.search(r"frontendDist:\s*(\S+)", out)
    if done.returncode != 0 or not (cli and crate and dist):
        return [f"`tauri info` did not report the CLI, the tauri crate and the app (exit {done.returncode}):\n{out}"]
    if cli.group(1) != crate.group(1):
        findings.append(f"the Tauri CLI is {cli.group(1)}, the tauri crate in Cargo.lock {crate.group(1)}: one release")
    if dist.group(1) != "../ui":
        findings.append(f"the CLI resolves frontendDist to {dist.group(1)}, not ../ui (stage-tauri-config.py)")
    say(f"`tauri info` offline: CLI {cli.group(1)} = tauri crate {crate.group(1)}; frontendDist {dist.group(1)}")
    return findings


def check_android_nested(cli: Path) -> list[str]:
    kt = BUILD_TASK.read_text()
    passed = {"-v", "-vv", "--release", "--target"} & set(re.findall(r'"(--?[a-z]+)"', kt))
    targets = re.search(r"allTargets\s*=\s*listOf\(([^)]*)\)", RUST_PLUGIN.read_text())
    target_names = re.findall(r'"([^"]+)"', targets.group(1)) if targets else []
    help_text = subprocess.run(["node", str(cli), "android", "android-studio-script", "--help"], capture_output=True,
                               text=True, check=False).stdout
    findings = []
    for option in sorted(passed):
        # -vv is -v twice (clap's counted flag).
        if not re.search(rf"(^|[\s,]){re.escape(option[:2] if option == '-vv' else option)}\b", help_text):
            findings.append(f"BuildTask.kt passes {option}, which `android android-studio-script --help` does not list")
    values = re.search(r"possible values: ([^\]]*)\]", help_text)
    known = {v.strip() for v in values.group(1).split(",")} if values else set()
    for name in target_names:
        if name not in known:
            findings.append(f"RustPlugin.kt's target {name} is not one the CLI accepts ({', '.join(sorted(known))})")
    if not target_names:
        findings.append("RustPlugin.kt names no allTargets")
    # As Gradle runs it: from the Rust crate, through scripts/tauri.sh.
    done = run_cli(["android", "android-studio-script", "--target", target_names[0] if target_names else "aarch64"],
                   ROOT / "src-tauri")
    out = done.stdout + done.stderr
    expected = "gen/android/.tauri/cli-options-server.json; the `tauri android dev` or `tauri android build` command must be running"
    if expected not in out:
        findings.append(f"the nested `android android-studio-script`, run as Gradle runs it, stopped before it found"
                        f" the Android project (expected it to ask for the outer build):\n{out}")
    say(f"BuildTask.kt's options {sorted(passed)} and targets {target_names} are the pinned CLI's;"
        " its nested call finds src-tauri/gen/android and waits for the outer `android build`")
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cli", type=Path, required=True, help="the pinned CLI's tauri.js")
    args = parser.parse_args()
    findings = check_parse() + check_info() + check_android_nested(args.cli)
    say("iOS: `ios xcode-script` is in the CLI's macOS build only; its options are proven on the macOS runner")
    for finding in findings:
        print(f"native projects: FINDING: {finding}", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
