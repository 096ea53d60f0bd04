//! The Linux packages as a customer's computer gets them: built by the Tauri CLI
//! (`scripts/tauri.sh build --bundles deb,rpm`), checked by lintian, the `.deb` installed with
//! `dpkg -i`, the installed program started from its desktop entry's command under Xvfb until
//! the welcome screen shows, then removed with `dpkg -r` — leaving nothing behind.
//!
//! The packages are built from the dev profile, stripped, so the test command builds on what
//! its other tests compiled; the release pipeline builds the same bundle configuration from the
//! customer profile (docs/RELEASE.md). Runs when `SOFTTOKEN_E2E=1` (scripts/test.sh), as root
//! or with password-less sudo, on a Debian or Ubuntu machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

// The window tests' machinery, of which this file uses the display, the bank and the driver.
#[allow(dead_code, unused_imports)]
mod app_e2e_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use app_e2e_support::*;
use softtoken_tests::skip;

const PACKAGE: &str = "softtoken";
const INSTALLED: &str = "/usr/bin/softtoken";
const DESKTOP_ENTRY: &str = "/usr/share/applications/softtoken.desktop";
/// Every icon the desktop finds by the entry's `Icon=softtoken`, with its pixel size.
const ICONS: [(&str, u32); 4] = [
    ("/usr/share/icons/hicolor/32x32/apps/softtoken.png", 32),
    ("/usr/share/icons/hicolor/128x128/apps/softtoken.png", 128),
    ("/usr/share/icons/hicolor/256x256@2/apps/softtoken.png", 256),
    ("/usr/share/icons/hicolor/512x512/apps/softtoken.png", 512),
];
const SHARED_FILES: [&str; 2] = ["/usr/share/man/man1/softtoken.1.gz", INSTALLED];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_installs_the_deb_opens_the_app_from_its_menu_entry_and_removes_it() {
    let Some(_serial) = e2e_guard().await else { return };
    if !root_available() {
        skip::missing(
            Some("SOFTTOKEN_E2E"),
            "installing a .deb needs root: run the test command as root or with sudo",
        );
        return;
    }
    if installed_version().is_some() {
        skip::missing(
            Some("SOFTTOKEN_E2E"),
            "a softtoken package is installed on this machine; this test installs and removes \
             its own: remove it first with `dpkg -r softtoken`",
        );
        return;
    }
    let packages = build_packages();

    step("lintian on the .deb");
    let lintian = run(Command::new("lintian")
        .args(["--info", "--fail-on", "error,warning"])
        .arg(&packages.deb));
    let findings: Vec<&str> =
        lintian.lines().filter(|l| l.starts_with("E:") || l.starts_with("W:")).collect();
    assert!(findings.is_empty(), "lintian finds problems in the .deb:\n{lintian}");

    step("the package's dependencies cover every library the program links");
    let control = run(Command::new("dpkg-deb").args(["--field"]).arg(&packages.deb));
    let field = |name: &str| {
        control
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in the .deb's control:\n{control}"))
            .to_owned()
    };
    assert_eq!(field("Package"), PACKAGE);
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"), "the version comes from Cargo.toml");
    assert!(field("Maintainer").contains('<'), "a maintainer with an address");
    let depends = field("Depends");
    let unpacked = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(&packages.deb).arg(unpacked.path()));
    let program = unpacked.path().join("usr/bin/softtoken");
    for needed in needed_libraries(&program) {
        let owner = owning_package(&needed);
        assert!(
            depends.split(", ").any(|d| d.split(' ').next() == Some(owner.as_str())),
            "{needed} comes from {owner}, which Depends ({depends}) does not name"
        );
    }
    let wanted_glibc = newest_glibc_symbol(&program);
    let declared = depends
        .split(", ")
        .find_map(|d| d.strip_prefix("libc6 (>= ").and_then(|v| v.strip_suffix(')')))
        .unwrap_or_else(|| panic!("Depends names no minimum libc6: {depends}"));
    assert!(
        version_at_least(declared, &wanted_glibc),
        "the program uses glibc {wanted_glibc} symbols but Depends asks for libc6 >= {declared}"
    );

    step("the SBOM lists every crate the shipped program names");
    let sbom = write_sbom(unpacked.path());
    let listed = sbom_crates(&sbom);
    let named = crates_named_in(&std::fs::read(&program).unwrap());
    assert!(named.len() > 50, "the program names only {} crates: {named:?}", named.len());
    let unlisted: Vec<_> = named.difference(&listed).collect();
    assert!(unlisted.is_empty(), "the program links crates its SBOM does not list: {unlisted:?}");

    step("the .rpm carries the same files and requires the same libraries");
    let rpm_files = run(Command::new("rpm").args(["-qpl"]).arg(&packages.rpm));
    for file in
        SHARED_FILES.iter().chain([DESKTOP_ENTRY].iter()).chain(ICONS.iter().map(|(f, _)| f))
    {
        assert!(rpm_files.lines().any(|l| l == *file), "the .rpm lacks {file}:\n{rpm_files}");
    }
    let requires = run(Command::new("rpm").args(["-qpR"]).arg(&packages.rpm));
    for needed in needed_libraries(&program) {
        if needed.starts_with("ld-linux") || needed == "libm.so.6" {
            continue; // glibc's own parts, required through libc.so.6
        }
        assert!(
            requires.lines().any(|l| l.starts_with(&format!("{needed}("))),
            "the .rpm does not require {needed}:\n{requires}"
        );
    }

    step("dpkg -i");
    let mut installed = Installed::new();
    run(root(&["dpkg", "-i"]).arg(&packages.deb));
    assert_eq!(installed_version().as_deref(), Some(env!("CARGO_PKG_VERSION")));
    let listed = run(Command::new("dpkg").args(["-L", PACKAGE]));
    for file in
        SHARED_FILES.iter().chain([DESKTOP_ENTRY, "/usr/share/doc/softtoken/copyright"].iter())
    {
        assert!(listed.lines().any(|l| l == *file), "the package does not install {file}");
    }

    step("the desktop entry and its icons");
    run(Command::new("desktop-file-validate").arg(DESKTOP_ENTRY));
    let entry = std::fs::read_to_string(DESKTOP_ENTRY).unwrap();
    let key =
        |k: &str| entry.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).map(str::to_owned);
    assert_eq!(key("Exec").as_deref(), Some("softtoken"));
    assert_eq!(key("Icon").as_deref(), Some("softtoken"));
    assert_eq!(key("Terminal").as_deref(), Some("false"));
    assert!(key("Categories").unwrap().split(';').any(|c| c == "Finance"));
    for localized in ["GenericName[ja]", "Comment[ja]", "Keywords[ja]"] {
        assert!(key(localized).is_some_and(|v| !v.is_empty()), "the entry has no {localized}");
    }
    let on_path = run(Command::new("sh").args(["-c", "command -v softtoken"]));
    assert_eq!(on_path.trim(), INSTALLED, "Exec=softtoken starts the installed program");
    for (icon, size) in ICONS {
        assert_eq!(png_size(Path::new(icon)), (size, size), "{icon}");
    }

    step("the installed program opens on the welcome screen");
    let world = World::start().await;
    let app = world
        .launch_app(Path::new(INSTALLED), &[("LANG", "ja_JP.UTF-8"), ("LANGUAGE", "ja")], &[])
        .await;
    app.wait_ready().await;
    app.wait_visible("empty").await;
    assert_eq!(app.text("add-token").await, "トークンを追加");
    app.quit().await;

    step("dpkg -r");
    installed.remove();
    assert_eq!(installed_version(), None);
    for gone in
        SHARED_FILES.iter().chain([DESKTOP_ENTRY].iter()).chain(ICONS.iter().map(|(f, _)| f))
    {
        assert!(!Path::new(gone).exists(), "{gone} is left behind after dpkg -r");
    }
}

struct Packages {
    deb: PathBuf,
    rpm: PathBuf,
}

/// `scripts/tauri.sh build --debug --bundles deb,rpm`, with the program stripped as the
/// customer profile strips it (only the app crate is linked again for that).
fn build_packages() -> Packages {
    step("building the .deb and .rpm with the Tauri CLI");
    let root = workspace_root();
    let status = Command::new("bash")
        .arg(root.join("scripts/tauri.sh"))
        .args(["build", "--ci", "--debug", "--bundles", "deb,rpm", "--no-sign", "--"])
        .args(["--config", "profile.dev.package.softtoken-app.strip=\"symbols\""])
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success(), "scripts/tauri.sh build failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let version = env!("CARGO_PKG_VERSION");
    let bundle = target.join("debug/bundle");
    let packages = Packages {
        deb: bundle.join(format!("deb/softtoken_{version}_amd64.deb")),
        rpm: bundle.join(format!("rpm/softtoken-{version}-1.x86_64.rpm")),
    };
    assert!(packages.deb.is_file(), "{} missing", packages.deb.display());
    assert!(packages.rpm.is_file(), "{} missing", packages.rpm.display());
    packages
}

/// Removes the package when the test ends, passed or not, so a failure leaves no install.
struct Installed {
    removed: bool,
}

impl Installed {
    fn new() -> Self {
        Self { removed: false }
    }

    fn remove(&mut self) {
        self.removed = true;
        run(&mut root(&["dpkg", "-r", PACKAGE]));
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.removed {
            let _ = root(&["dpkg", "-r", PACKAGE]).status();
        }
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout == b"0\n")
}

fn root_available() -> bool {
    is_root() || Command::new("sudo").args(["-n", "true"]).status().is_ok_and(|s| s.success())
}

fn root(args: &[&str]) -> Command {
    let mut cmd = if is_root() {
        Command::new(args[0])
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", args[0]]);
        c
    };
    cmd.args(&args[1..]);
    cmd
}

fn run(cmd: &mut Command) -> String {
    let Output { status, stdout, stderr } = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{cmd:?} failed ({status}):\n{out}{}",
        String::from_utf8_lossy(&stderr)
    );
    out
}

fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status} ${Version}", PACKAGE])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("installed ").map(str::to_owned)
}

/// The shared libraries the program names (ELF `NEEDED`).
fn needed_libraries(program: &Path) -> BTreeSet<String> {
    run(Command::new("objdump").arg("-p").arg(program))
        .lines()
        .filter_map(|l| l.trim().strip_prefix("NEEDED"))
        .map(|l| l.trim().to_owned())
        .collect()
}

/// The Debian package that holds `soname` on this machine, without the 64-bit-time suffix
/// that newer releases add (their packages provide the old name).
fn owning_package(soname: &str) -> String {
    let out = run(Command::new("dpkg").args(["-S", &format!("*/{soname}")]));
    let line = out.lines().next().unwrap();
    let package = line.split(':').next().unwrap().trim();
    package.strip_suffix("t64").unwrap_or(package).to_owned()
}

fn newest_glibc_symbol(program: &Path) -> String {
    let out = run(Command::new("objdump").arg("-T").arg(program));
    let mut versions: Vec<&str> = out
        .split_whitespace()
        .filter_map(|w| w.trim_matches(['(', ')']).strip_prefix("GLIBC_"))
        .filter(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .collect();
    versions.sort_by(|a, b| compare_versions(a, b));
    versions.last().unwrap().to_string()
}

fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| v.split('.').map(|p| p.parse::<u32>().unwrap()).collect::<Vec<_>>();
    parts(a).cmp(&parts(b))
}

fn version_at_least(have: &str, want: &str) -> bool {
    compare_versions(have, want) != std::cmp::Ordering::Less
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(file: &Path) -> (u32, u32) {
    let bytes = std::fs::read(file).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", file.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The SBOM of the Linux program, written as the release pipeline writes it (.github/scripts/sbom.py).
fn write_sbom(dir: &Path) -> serde_json::Value {
    let out = dir.join("softtoken.cdx.json");
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    run(Command::new("python3")
        .arg(format!("{root}/.github/scripts/sbom.py"))
        .args(["--package", "softtoken-app", "--target", "x86_64-unknown-linux-gnu", "--out"])
        .arg(&out));
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

/// (name, version) of every component of a CycloneDX SBOM, after checking what each must carry:
/// a package URL, a licence, and for a crate from crates.io the SHA-256 that Cargo.lock pins.
fn sbom_crates(sbom: &serde_json::Value) -> BTreeSet<(String, String)> {
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["specVersion"], "1.5");
    assert_eq!(sbom["metadata"]["component"]["name"], "softtoken-app");
    let components = sbom["components"].as_array().unwrap();
    for c in components {
        let purl = c["purl"].as_str().unwrap();
        assert_eq!(
            purl,
            format!("pkg:cargo/{}@{}", c["name"].as_str().unwrap(), c["version"].as_str().unwrap())
        );
        assert!(c["licenses"][0]["expression"].is_string(), "{c}");
        if !purl.starts_with("pkg:cargo/softtoken-") {
            assert_eq!(c["hashes"][0]["content"].as_str().map(str::len), Some(64), "{c}");
        }
    }
    components
        .iter()
        .map(|c| {
            (c["name"].as_str().unwrap().to_owned(), c["version"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The crates.io crates whose source paths the program carries (its panic locations name
/// `…/index.crates.io-<hash>/<name>-<version>/src/…` even when stripped): a lower bound of what
/// it links, read from the program itself rather than from Cargo.
fn crates_named_in(program: &[u8]) -> BTreeSet<(String, String)> {
    const MARK: &[u8] = b"/index.crates.io-";
    let mut found = BTreeSet::new();
    let mut at = 0;
    while let Some(i) = program[at..].windows(MARK.len()).position(|w| w == MARK) {
        let start = at + i + MARK.len();
        at = start;
        let rest = &program[start..program.len().min(start + 200)];
        let Some(slash) = rest.iter().position(|&b| b == b'/') else { continue };
        let folder: Vec<u8> = rest[slash + 1..]
            .iter()
            .take_while(|&&b| b != b'/' && b.is_ascii_graphic())
            .copied()
            .collect();
        let Ok(folder) = String::from_utf8(folder) else { continue };
        // `name-1.2.3`: the version starts at the first dash followed by a dotted number.
        let split = folder.match_indices('-').map(|(d, _)| d).find(|&d| {
            let v = &folder[d + 1..];
            v.split(['.', '-', '+']).take(3).filter(|p| p.parse::<u64>().is_ok()).count() == 3
        });
        if let Some(d) = split {
            found.insert((folder[..d].to_owned(), folder[d + 1..].to_owned()));
        }
    }
    found
}
