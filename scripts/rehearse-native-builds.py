#!/usr/bin/env python3
"""Rehearses the release pipeline's phone builds without a runner (docs/RELEASE.md, "The rehearsal").

Nothing here can build an APK or an iOS app, and a native build step calls back into commands
that only the pipeline ever runs: Gradle's Rust task (the exec line in gen/android/buildSrc) and
Xcode's script phases (gen/apple/project.yml). This walks every job of .github/workflows/*.yml
and proves, for each job whose steps reach a phone build, that every command those native steps
invoke is provided by that job's own setup steps, at the pinned version:

  1. the job's setup steps (every `run` before its first phone build) are run for real, under
     bash -eo pipefail as GitHub runs them, with the installers stubbed (rustup, cargo, apt-get,
     brew, sdkmanager, npm, sudo ...): what they install is read from what they asked for;
  2. the phone build's outer CLI call is found in the scripts the build step runs, and its
     version taken from where it comes from (scripts/tauri.sh: the npm lockfile; `cargo tauri`:
     a `cargo install tauri-cli --version`);
  3. the nested calls are read from the native projects (the Kotlin exec block, the Xcode
     phases), resolved from the directory they run in, and each program is looked up: a
     repository script must exist and what it needs (`command -v`) must be on the runner or
     installed; `cargo X` needs the pinned Rust toolchain and a `cargo install` of cargo-X; the
     nested Tauri CLI must be the very version of the outer one, and the Rust targets it builds
     must have been added by rustup.

What the runner images bring (Node.js, Python, a JDK, the Android SDK, Xcode) is declared in
RUNNER_TOOLS from GitHub's image lists: they are not pinned by us and not checkable here.

  rehearse-native-builds.py [--root DIR]   exit 0 when every job passes, 1 with every finding

Called by scripts/check-workflows.sh on the tree, and by tests/tests/pipeline_rehearsal.rs on
the tree and on the tree before issue 29 (tests/fixtures/pipeline-before-nested-cli), which
must fail. Needs python3 with PyYAML (Debian's python3-yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("rehearse-native-builds.py needs PyYAML: apt-get install python3-yaml")

# What GitHub's hosted images carry that the phone builds rely on (runner-images' lists). These
# are the image's, unpinned: the rehearsal can only say a job relies on them.
RUNNER_TOOLS = {
    "ubuntu-24.04": {"bash", "sh", "python3", "node", "npm", "curl", "unzip", "sha256sum", "java", "gradle",
                     "rustup"},
    "macos-15": {"bash", "sh", "python3", "node", "npm", "xcodebuild", "xcrun", "ditto", "rustup"},
    "windows-2025": {"bash", "sh", "python", "node", "npm", "rustup", "powershell"},
}
# Installers and privileged tools: stubbed while the setup steps are rehearsed, so they record
# what a job asks for and change nothing here.
STUBBED = ["rustup", "cargo", "sudo", "apt-get", "brew", "sdkmanager", "npm", "npx", "pip", "pip3",
           "udevadm", "tee", "curl", "gem", "choco", "winget"]
# What the setup scripts may use for real (the shell's own helpers).
COREUTILS = ["bash", "sh", "env", "cat", "printf", "echo", "sed", "grep", "yes", "id", "mktemp",
             "mkdir", "rm", "cp", "mv", "dirname", "basename", "tr", "head", "tail", "sort",
             "seq", "true", "false", "test", "uname", "ls", "touch", "wc", "cut", "awk", "find"]
# Cargo's own commands: anything else after `cargo` is a cargo-<name> program someone installs.
CARGO_BUILTINS = {"build", "check", "clean", "doc", "fetch", "install", "metadata", "new", "run",
                  "test", "tree", "update", "fmt", "clippy", "rustc", "version", "locate-project"}
# Crate -> the cargo subcommand its binary provides, where the two names differ.
CARGO_SUBCOMMAND_OF_CRATE = {"tauri-cli": "tauri"}
# The Tauri CLI's Android target names (RustPlugin.kt) and iOS architectures (Xcode's ARCHS)
# -> the Rust targets the nested `android-studio-script` / `xcode-script` compile for.
ANDROID_TRIPLES = {"aarch64": "aarch64-linux-android", "armv7": "armv7-linux-androideabi",
                   "i686": "i686-linux-android", "x86_64": "x86_64-linux-android"}
IOS_TRIPLES = {"arm64": "aarch64-apple-ios", "arm64-sim": "aarch64-apple-ios-sim"}
CLI_ENTRY = "scripts/tauri.sh"
CLI_LOCK = "scripts/tauri-cli/package-lock.json"
# At a command's start (after any VAR=value prefixes): not in a message that names the command.
PHONE_BUILD = re.compile(
    r"(?:^|[;&|(]|\bthen|\bdo)\s*(?:\w+=\S*\s+)*(?P<launcher>(?:bash|sh)\s+\S*scripts/tauri\.sh|cargo\s+tauri|npx\s+tauri)\s+(?P<platform>android|ios)\s+build\b")
SCRIPT_CALL = re.compile(r"(?:^|[\s;&|(])(?:bash|sh|python3?)\s+\"?(?P<path>[\w./-]+\.(?:sh|py))")


@dataclass
class Provided:
    """What a job's setup steps installed, as read from the stubbed installers' calls."""

    toolchains: set[str] = field(default_factory=set)
    default_toolchain: str | None = None
    rust_targets: set[str] = field(default_factory=set)
    cargo_subcommands: dict[str, str | None] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)

    def read(self, call: list[str]) -> None:
        while call and (call[0] in ("sudo", "env") or re.match(r"^\w+=", call[0])):
            call = call[1:]
        if not call:
            return
        tool, args = call[0], call[1:]
        words = [a for a in args if not a.startswith("-")]
        if tool == "rustup" and words[:2] == ["toolchain", "install"]:
            self.toolchains.update(words[2:])
        elif tool == "rustup" and words[:1] == ["default"] and len(words) > 1:
            self.default_toolchain = words[1]
        elif tool == "rustup" and words[:2] == ["target", "add"]:
            skip = {args[i + 1] for i, a in enumerate(args[:-1]) if a == "--toolchain"}
            self.rust_targets.update(w for w in words[2:] if w not in skip)
        elif tool == "cargo" and words[:1] == ["install"]:
            version = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--version"), None)
            for crate in words[1:]:
                if crate == version:
                    continue
                name, _, at = crate.partition("@")
                sub = CARGO_SUBCOMMAND_OF_CRATE.get(name, name.removeprefix("cargo-"))
                self.cargo_subcommands[sub] = (at or version or "").lstrip("=") or None
        elif tool in ("apt-get", "brew") and words[:1] == ["install"]:
            self.packages.update(f"{tool}:{w}" for w in words[1:])
        elif tool == "sdkmanager":
            self.packages.update(f"sdkmanager:{w}" for w in words)

    def pinned_rust(self) -> str | None:
        """The toolchain `cargo` runs, when it is an exact release the job installed."""
        tc = self.default_toolchain
        if tc and tc in self.toolchains and re.fullmatch(r"\d+\.\d+\.\d+", tc):
            return tc
        return None


@dataclass
class Job:
    workflow: str
    name: str
    runs_on: str
    env: dict[str, str]
    steps: list[dict]

    def label(self) -> str:
        return f"{self.workflow}: job {self.name}"


def expressions_out(value: object) -> str:
    """A workflow value with its ${{ }} expressions replaced: the rehearsal has no secrets."""
    return re.sub(r"\$\{\{.*?\}\}", "rehearsal", str(value))


def load_jobs(root: Path) -> list[Job]:
    jobs = []
    for path in sorted((root / ".github/workflows").glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        top_env = {k: expressions_out(v) for k, v in (doc.get("env") or {}).items()}
        for name, job in (doc.get("jobs") or {}).items():
            env = dict(top_env)
            env.update({k: expressions_out(v) for k, v in (job.get("env") or {}).items()})
            jobs.append(Job(path.name, name, str(job.get("runs-on")), env, job.get("steps") or []))
    return jobs


def code_lines(text: str) -> list[str]:
    return [line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#")]


def called_scripts(root: Path, text: str, seen: set[str] | None = None) -> list[str]:
    """The repository scripts a piece of shell runs, and the scripts they run, in order."""
    seen = set() if seen is None else seen
    for line in code_lines(text):
        for match in SCRIPT_CALL.finditer(line):
            rel = os.path.normpath(match.group("path"))
            if rel in seen or not (root / rel).is_file():
                continue
            seen.add(rel)
            called_scripts(root, (root / rel).read_text(), seen)
    return sorted(seen)


def phone_builds(root: Path, run: str) -> list[tuple[str, str, str]]:
    """(platform, launcher, script) for each phone build a step's shell reaches."""
    found = []
    sources = [("the step", run)] + [(s, (root / s).read_text()) for s in called_scripts(root, run)]
    for where, text in sources:
        for line in code_lines(text):
            for m in PHONE_BUILD.finditer(line):
                launcher = CLI_ENTRY if "tauri.sh" in m.group("launcher") else " ".join(m.group("launcher").split())
                found.append((m.group("platform"), launcher, where))
    return found


def rehearse_setup(root: Path, job: Job, steps: list[dict]) -> tuple[Provided, list[str]]:
    """Runs the job's setup steps with the installers stubbed; returns what they asked for."""
    provided, problems = Provided(), []
    with tempfile.TemporaryDirectory(prefix="rehearsal-") as tmp:
        tmp_path = Path(tmp)
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        log = tmp_path / "calls.log"
        stub = ("#!/bin/sh\n"
                "{ printf '%s' \"${0##*/}\"; for a in \"$@\"; do printf '\\037%s' \"$a\"; done; printf '\\n'; }"
                " >> \"$REHEARSAL_LOG\"\n"
                "case \"${0##*/} $1\" in 'tee '* | 'sudo tee') [ -p /dev/stdin ] && cat > /dev/null ;; esac\n"
                "exit 0\n")
        runner = RUNNER_TOOLS.get(job.runs_on, set())
        for name in set(STUBBED) | runner:
            if name in COREUTILS:
                continue
            (bin_dir / name).write_text(stub)
            (bin_dir / name).chmod(0o755)
        for name in COREUTILS:
            real = next((Path(d) / name for d in ("/usr/bin", "/bin") if (Path(d) / name).exists()), None)
            if real and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(real)
        sdk = tmp_path / "android-sdk/cmdline-tools/latest/bin"
        sdk.mkdir(parents=True)
        (sdk / "sdkmanager").write_text(stub)
        (sdk / "sdkmanager").chmod(0o755)
        home = tmp_path / "home"
        home.mkdir()
        for step in steps:
            run = step.get("run")
            if not run:
                continue
            env = {"PATH": str(bin_dir), "HOME": str(home), "REHEARSAL_LOG": str(log),
                   "ANDROID_HOME": str(tmp_path / "android-sdk"), "GITHUB_OUTPUT": str(tmp_path / "out"),
                   "GITHUB_ENV": str(tmp_path / "env"), "RUNNER_TEMP": str(tmp_path)}
            env.update(job.env)
            env.update({k: expressions_out(v) for k, v in (step.get("env") or {}).items()})
            done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                                   expressions_out(run)], cwd=root, env=env, capture_output=True,
                                  text=True, timeout=60, check=False)
            if done.returncode != 0:
                problems.append(f"setup step '{step.get('name', run.strip())}' failed in the rehearsal:"
                                f" {done.stderr.strip().splitlines()[-1:] or done.returncode}")
        if log.exists():
            for line in log.read_text().splitlines():
                provided.read(line.split("\x1f"))
    return provided, problems


def cli_version_from_lock(root: Path) -> str | None:
    try:
        lock = json.loads((root / CLI_LOCK).read_text())
        return lock["packages"]["node_modules/@tauri-apps/cli"]["version"]
    except (OSError, KeyError, ValueError):
        return None


def cli_version(root: Path, launcher: str, provided: Provided) -> tuple[str | None, str]:
    """The Tauri CLI version a launcher runs in this job, and where it comes from."""
    if launcher == CLI_ENTRY:
        return cli_version_from_lock(root), f"{CLI_ENTRY} ({CLI_LOCK})"
    if launcher == "cargo tauri":
        return provided.cargo_subcommands.get("tauri"), "cargo install tauri-cli"
    return None, launcher


@dataclass
class Nested:
    """One command a native build step runs: where it is written, its argv and directory."""

    source: str
    argv: list[str]
    cwd: str


def kotlin_call_args(text: str, name: str) -> list[list[str]]:
    """The raw arguments of each `name(...)` call (one level of parentheses, as exec lines are)."""
    return [[a.strip() for a in re.split(r",\s*", m.group(1)) if a.strip()]
            for m in re.finditer(rf"\b{name}\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text)]


def android_nested(root: Path) -> list[Nested]:
    """Gradle's exec lines in buildSrc, resolved from the Rust crate's directory."""
    found = []
    app_gradle = root / "src-tauri/gen/android/app/build.gradle.kts"
    rel = re.search(r'rootDirRel\s*=\s*"([^"]*)"', app_gradle.read_text()) if app_gradle.exists() else None
    crate = os.path.normpath(os.path.join("src-tauri/gen/android/app", rel.group(1) if rel else "."))
    for kt in sorted((root / "src-tauri/gen/android/buildSrc").rglob("*.kt")):
        text = kt.read_text()
        for block in re.finditer(r"\bexec\s*\{(.*?)\n\s*\}\.", text, re.S):
            body = block.group(1)
            exe = kotlin_call_args(body, "executable")
            first_args = kotlin_call_args(body, "args")
            if not exe:
                continue
            argv = [exe[0][0].strip('"')]
            for arg in first_args[0] if first_args else []:
                if arg.startswith('"'):
                    argv.append(arg.strip('"'))
                    continue
                var = arg.removesuffix(".path")
                decl = re.search(rf"val\s+{var}\s*=\s*File\(\s*crateDir\s*,\s*\"([^\"]*)\"\s*\)", text)
                argv.append(os.path.normpath(os.path.join(crate, decl.group(1))) if decl else f"<{arg}>")
            # The other args(...) calls add options: only the target's value matters here.
            argv += ["--target", "<each target>"]
            found.append(Nested(str(kt.relative_to(root)), argv, crate))
    return found


def ios_nested(root: Path) -> list[Nested]:
    """Xcode's script phases in project.yml, with $(SRCROOT) the folder of project.yml."""
    project = root / "src-tauri/gen/apple/project.yml"
    if not project.exists():
        return []
    srcroot = "src-tauri/gen/apple"
    found = []
    for target in (yaml.safe_load(project.read_text()).get("targets") or {}).values():
        for phase in (target.get("preBuildScripts") or []) + (target.get("postBuildScripts") or []):
            script = re.sub(r"\$\{SRCROOT(:\?)?\}|\$\(SRCROOT\)|\$SRCROOT\b", srcroot, phase.get("script", ""))
            for line in code_lines(script):
                words = shlex.split(line)
                if words:
                    # Paths from $(SRCROOT) or relative to it (Xcode runs the phase there), as
                    # paths from the repository's root.
                    argv = [w if "/" not in w or w.startswith("-") else
                            os.path.normpath(w if w.startswith(srcroot) else os.path.join(srcroot, w))
                            for w in words]
                    found.append(Nested(f"{project.relative_to(root)} ({phase.get('name')})", argv, srcroot))
    return found


def needs_of_script(root: Path, rel: str) -> set[str]:
    """The programs a repository script checks for (`command -v X`) and execs directly."""
    text = (root / rel).read_text()
    needs = set(re.findall(r"command -v (\w+)", text))
    needs.update(re.findall(r"^\s*exec\s+(\w+)", text, re.M))
    return needs


def check_nested(root: Path, job: Job, provided: Provided, outer: tuple[str | None, str],
                 platform: str, nested: Nested) -> list[str]:
    findings = []
    runner = RUNNER_TOOLS.get(job.runs_on, set())
    where = f"{nested.source}: `{' '.join(nested.argv[:3])}`"
    argv = nested.argv
    cli_args: list[str] = []
    version: tuple[str | None, str] = (None, "")
    if argv[0] in ("bash", "sh"):
        script = argv[1] if len(argv) > 1 else ""  # root-relative: the extraction resolved it
        if argv[0] not in runner:
            findings.append(f"{where}: {argv[0]} is not on the {job.runs_on} runner")
        if not (root / script).is_file():
            findings.append(f"{where}: runs {script}, which is not in the repository")
            return findings
        missing = sorted(n for n in needs_of_script(root, script)
                         if n not in runner and n not in {"python"} and n not in provided.cargo_subcommands)
        if missing:
            findings.append(f"{where}: {script} needs {', '.join(missing)}, which neither the runner nor a setup step provides")
        if script == CLI_ENTRY:
            version = cli_version(root, CLI_ENTRY, provided)
            cli_args = argv[2:]
    elif argv[0] == "cargo":
        sub = argv[1] if len(argv) > 1 else ""
        if not provided.pinned_rust():
            findings.append(f"{where}: cargo is not a pinned Rust toolchain the job installed"
                            f" (rustup default {provided.default_toolchain or 'never set'})")
        if sub and sub not in CARGO_BUILTINS:
            if sub not in provided.cargo_subcommands:
                findings.append(f"{where}: `cargo {sub}` needs cargo-{sub}, which no setup step of this job"
                                f" installs (no `cargo install` of it) and the runner does not have:"
                                f" the step stops with \"no such command: {sub}\"")
                return findings
            if sub == "tauri":
                version = cli_version(root, "cargo tauri", provided)
                cli_args = argv[2:]
    elif argv[0] not in runner:
        findings.append(f"{where}: {argv[0]} is neither on the {job.runs_on} runner nor installed by a setup step")
    if cli_args:
        if version[0] is None:
            findings.append(f"{where}: the nested Tauri CLI ({version[1]}) has no pinned version")
        elif version[0] != outer[0]:
            findings.append(f"{where}: the nested Tauri CLI is {version[0]} ({version[1]}), the outer call"
                            f" {outer[0]} ({outer[1]}): they must be the same")
        triples = ANDROID_TRIPLES if platform == "android" else IOS_TRIPLES
        missing_targets = sorted(t for t in triples.values() if t not in provided.rust_targets)
        if missing_targets:
            findings.append(f"{where}: the nested CLI compiles for {', '.join(missing_targets)},"
                            " which no setup step adds (rustup target add)")
        if not provided.pinned_rust():
            findings.append(f"{where}: the nested CLI runs cargo, but the job pins no Rust toolchain")
    return findings


def rehearse(root: Path) -> tuple[list[str], list[str]]:
    """(report lines, findings) for every job of every workflow under root."""
    report, findings = [], []
    nested_of = {"android": android_nested(root), "ios": ios_nested(root)}
    for job in load_jobs(root):
        builds, first = [], None
        for i, step in enumerate(job.steps):
            found = phone_builds(root, step.get("run", "")) if step.get("run") else []
            if found and first is None:
                first = i
            builds += found
        if not builds:
            report.append(f"{job.label()}: no phone build")
            continue
        provided, problems = rehearse_setup(root, job, job.steps[:first])
        findings += [f"{job.label()}: {p}" for p in problems]
        for platform, launcher, script in sorted(set(builds)):
            outer = cli_version(root, launcher, provided)
            if outer[0] is None:
                findings.append(f"{job.label()}: {script}'s `{launcher} {platform} build` has no pinned CLI version ({outer[1]})")
            nested = nested_of[platform]
            if not nested:
                findings.append(f"{job.label()}: {platform} build, but no nested call was found in the native project")
            job_findings = [f"{job.label()}: {f}" for n in nested
                            for f in check_nested(root, job, provided, outer, platform, n)]
            findings += job_findings
            verdict = "FAIL" if job_findings else "ok"
            report.append(f"{job.label()}: {platform} build ({script}, CLI {outer[0]} via {outer[1]}, Rust "
                          f"{provided.pinned_rust()}): {len(nested)} nested call(s) {verdict}")
    return report, findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the tree to rehearse (default: this repository)")
    args = parser.parse_args()
    report, findings = rehearse(args.root.resolve())
    for line in report:
        print(f"rehearsal: {line}")
    for finding in findings:
        print(f"rehearsal: FINDING: {finding}", file=sys.stderr)
    if findings:
        print(f"rehearsal: {len(findings)} finding(s): the pipeline's phone builds would fail", file=sys.stderr)
        return 1
    print("rehearsal: every phone build's nested commands are provided by its job, at the pinned versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
