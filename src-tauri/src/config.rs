//! Where the app talks to and keeps its data, whether it runs as a kiosk, and whether the bank
//! requires the app lock.
//!
//! The server URL is fixed at build time (`SOFTTOKEN_SERVER_URL` in the build environment), and
//! so is a bank's demand for a PIN (`SOFTTOKEN_PIN_REQUIRED=1`). Only
//! a debug or `qa` build reads overrides at run time, so a customer's build cannot be pointed at
//! another server by its environment, made to trust another certificate authority, or made to
//! talk plain `http://` beyond its own computer.

use std::path::{Path, PathBuf};

use softtoken_core::client::PlainHttp;

/// The server a build talks to when none was given at build time: the reference server of the
/// demo on loopback (core's client allows `http://` to loopback only).
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:8080";

/// Idle seconds before a kiosk wipes its demo tokens.
pub const DEFAULT_KIOSK_IDLE_SECS: u32 = 180;

/// Shortest kiosk idle time accepted from the environment, so a typo cannot make the kiosk wipe
/// tokens while a visitor is still reading.
const MIN_KIOSK_IDLE_SECS: u32 = 10;

/// Keychain entry of the vault key when the data directory is the platform's own.
pub const VAULT_KEY_NAME: &str = "vault-key";

/// The keychain service this build files its vault key under: QA and debug builds (the
/// application ids `jp.softtoken.app.qa` and `.debug`) their own, so on a computer or phone that
/// also has the customer app neither ever reads or replaces the other's key.
pub const KEYCHAIN_SERVICE: &str = keychain_service(cfg!(any(debug_assertions, feature = "qa")));

/// The keychain service of a test build (QA or debug) or of the customer's.
pub const fn keychain_service(test_build: bool) -> &'static str {
    if test_build {
        softtoken_core::vault::TEST_BUILD_KEYCHAIN_SERVICE
    } else {
        softtoken_core::vault::KEYCHAIN_SERVICE
    }
}

/// File name of the vault inside the data directory.
pub const VAULT_FILE: &str = "tokens.vault";

/// Whether this build honours run-time overrides (server URL, data directory, QA certificate
/// authority, plain `http://` to the Android emulator's host).
pub const OVERRIDES_ALLOWED: bool = cfg!(any(debug_assertions, feature = "qa"));

/// A QA build (`--features qa`): every screen shows the "QA" badge. A debug build overrides the
/// same settings for developers but is never handed to a tester, and shows no badge so the
/// window tests picture the customer's screens.
pub const QA_BUILD: bool = cfg!(feature = "qa");

/// The app's settings, resolved once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Base URL of the bank's provisioning server.
    pub server_url: String,
    /// Directory of the vault file.
    pub data_dir: PathBuf,
    /// Name of the vault key's keychain entry.
    pub key_name: String,
    /// Fullscreen, and wipes tokens after `kiosk_idle_secs` without input.
    pub kiosk: bool,
    /// Idle seconds before a kiosk wipes its tokens.
    pub kiosk_idle_secs: u32,
    /// Where on the screen a kiosk's window goes; `None` covers its whole monitor.
    pub kiosk_area: Option<KioskArea>,
    /// Which servers the client trusts beyond the platform's rules.
    pub server_trust: ServerTrust,
    /// The bank's build requires the app lock: no code is shown before a PIN is chosen, and the
    /// lock cannot be turned off. A kiosk ignores it (it never locks).
    pub pin_required: bool,
}

/// A part of the screen in physical pixels, from X11's geometry notation `WxH+X+Y`: a kiosk
/// that shows the bank's pages beside the app gives the app one column of the screen, with no
/// window manager to arrange them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KioskArea {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
}

impl KioskArea {
    /// `WxH+X+Y` (`+X+Y` optional); `None` for anything else or an empty area.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (size, place) = match text.find('+') {
            Some(i) => (&text[..i], &text[i + 1..]),
            None => (text, "0+0"),
        };
        let (w, h) = size.split_once('x')?;
        let (x, y) = place.split_once('+')?;
        let area = Self {
            width: w.parse().ok()?,
            height: h.parse().ok()?,
            x: x.parse().ok()?,
            y: y.parse().ok()?,
        };
        (area.width > 0 && area.height > 0).then_some(area)
    }
}

/// What the client trusts beyond `https://` with the platform's roots. `Default` is a customer
/// build's: nothing more than loopback `http://` for the demo.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServerTrust {
    /// A PEM file of the QA servers' own certificate authority, trusted in addition to the
    /// platform's roots.
    pub qa_ca: Option<PathBuf>,
    /// Which hosts `http://` may name.
    pub plain_http: PlainHttp,
}

/// What the environment and command line say; kept apart from reading them so the rules are
/// testable.
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    /// `SOFTTOKEN_SERVER_URL` at run time.
    pub server_url: Option<String>,
    /// `SOFTTOKEN_DATA_DIR` at run time.
    pub data_dir: Option<PathBuf>,
    /// `--kiosk` on the command line or `SOFTTOKEN_KIOSK=1`.
    pub kiosk: bool,
    /// `SOFTTOKEN_KIOSK_IDLE_SECS`.
    pub kiosk_idle_secs: Option<String>,
    /// `SOFTTOKEN_KIOSK_AREA` (`WxH+X+Y`).
    pub kiosk_area: Option<String>,
    /// `SOFTTOKEN_QA_CA`: the QA servers' certificate authority (PEM file).
    pub qa_ca: Option<PathBuf>,
    /// `SOFTTOKEN_PIN_REQUIRED` at run time (a debug or QA build testing a bank's build).
    pub pin_required: bool,
}

impl Inputs {
    /// Reads the process's arguments and environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            server_url: var("SOFTTOKEN_SERVER_URL"),
            data_dir: var("SOFTTOKEN_DATA_DIR").map(PathBuf::from),
            kiosk: std::env::args().any(|a| a == "--kiosk")
                || var("SOFTTOKEN_KIOSK").is_some_and(|v| v == "1" || v == "true"),
            kiosk_idle_secs: var("SOFTTOKEN_KIOSK_IDLE_SECS"),
            kiosk_area: var("SOFTTOKEN_KIOSK_AREA"),
            qa_ca: var("SOFTTOKEN_QA_CA").map(PathBuf::from),
            pin_required: var("SOFTTOKEN_PIN_REQUIRED").is_some_and(|v| is_yes(&v)),
        }
    }
}

/// The customer's language as the environment names it (`LANGUAGE`, `LC_ALL`, `LC_MESSAGES`,
/// `LANG`, in glib's order), as a BCP 47 tag (`ja-JP`). WebKitGTK derives `navigator.language`
/// from the C locale, which is "C" when the named locale is not installed; the screens use
/// this as well so a Japanese session gets Japanese either way. `None` for "C"/"POSIX"/unset.
pub fn env_language(get: impl Fn(&str) -> Option<String>) -> Option<String> {
    for var in ["LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"] {
        let Some(value) = get(var).filter(|v| !v.is_empty()) else { continue };
        // LANGUAGE may list several ("ja:en"); the first is the preferred one.
        let first = value.split(':').next().unwrap_or_default();
        let name = first.split(['.', '@']).next().unwrap_or_default();
        if name.is_empty() || name == "C" || name == "POSIX" {
            continue;
        }
        return Some(name.replace('_', "-"));
    }
    None
}

/// `1` or `true`, as the build and run-time switches are written.
fn is_yes(value: &str) -> bool {
    matches!(value.trim(), "1" | "true")
}

/// Whether this build was made for a bank that requires the app lock
/// (`SOFTTOKEN_PIN_REQUIRED=1` at build time). A run-time variable cannot turn it off.
pub fn built_in_pin_required() -> bool {
    option_env!("SOFTTOKEN_PIN_REQUIRED").is_some_and(is_yes)
}

/// The URL compiled into this build.
pub fn built_in_server_url() -> &'static str {
    option_env!("SOFTTOKEN_SERVER_URL").unwrap_or(DEFAULT_SERVER_URL)
}

impl Config {
    /// Resolves the settings; `platform_data_dir` is the OS's app data directory.
    /// `overrides_allowed` is [`OVERRIDES_ALLOWED`] outside tests.
    pub fn resolve(inputs: Inputs, platform_data_dir: &Path, overrides_allowed: bool) -> Self {
        let mut server_url = built_in_server_url().to_owned();
        let mut data_dir = platform_data_dir.to_path_buf();
        let mut key_name = VAULT_KEY_NAME.to_owned();
        let mut server_trust = ServerTrust::default();
        let mut pin_required = built_in_pin_required();
        if overrides_allowed {
            // Only ever adds the demand: what a bank's build requires stays required.
            pin_required |= inputs.pin_required;
            // A QA server runs on the tester's computer, which the Android emulator reaches as
            // 10.0.2.2, or elsewhere with TLS under the QA CA.
            server_trust =
                ServerTrust { qa_ca: inputs.qa_ca, plain_http: PlainHttp::LoopbackAndEmulatorHost };
            if let Some(url) = inputs.server_url {
                server_url = url;
            }
            if let Some(dir) = inputs.data_dir {
                // Another directory is another vault: give it its own keychain entry so a QA
                // run never replaces the key of the tester's own tokens.
                key_name = format!("{VAULT_KEY_NAME}@{}", dir.display());
                data_dir = dir;
            }
        }
        let kiosk_idle_secs = inputs
            .kiosk_idle_secs
            .and_then(|s| s.trim().parse::<u32>().ok())
            .map(|s| s.max(MIN_KIOSK_IDLE_SECS))
            .unwrap_or(DEFAULT_KIOSK_IDLE_SECS);
        let kiosk_area = inputs.kiosk_area.as_deref().and_then(KioskArea::parse);
        Self {
            server_url,
            data_dir,
            key_name,
            kiosk: inputs.kiosk,
            kiosk_idle_secs,
            kiosk_area,
            server_trust,
            pin_required,
        }
    }

    /// Path of the vault file.
    pub fn vault_path(&self) -> PathBuf {
        self.data_dir.join(VAULT_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qa_inputs() -> Inputs {
        Inputs {
            server_url: Some("http://127.0.0.1:1".into()),
            data_dir: Some("/tmp/qa".into()),
            kiosk: false,
            kiosk_idle_secs: None,
            kiosk_area: None,
            qa_ca: Some("/tmp/qa/ca.pem".into()),
            pin_required: true,
        }
    }

    #[test]
    fn qa_and_debug_builds_keep_their_vault_key_under_a_service_of_their_own() {
        assert_eq!(keychain_service(false), "softtoken");
        assert_eq!(keychain_service(true), "softtoken-qa");
        // Tests are debug builds: this one files its keys as a test build does.
        assert_eq!(KEYCHAIN_SERVICE, "softtoken-qa");
    }

    #[test]
    fn customer_build_ignores_server_and_data_dir_overrides() {
        let c = Config::resolve(qa_inputs(), Path::new("/home/a/.local/share/app"), false);
        assert_eq!(c.server_url, built_in_server_url());
        assert_eq!(c.data_dir, Path::new("/home/a/.local/share/app"));
        assert_eq!(c.key_name, VAULT_KEY_NAME);
    }

    #[test]
    fn customer_build_trusts_no_qa_ca_and_no_plain_http_to_the_emulator_host() {
        let c = Config::resolve(qa_inputs(), Path::new("/home/a/.local/share/app"), false);
        assert_eq!(c.server_trust.qa_ca, None);
        assert_eq!(c.server_trust.plain_http, PlainHttp::LoopbackOnly);
        assert_eq!(c.server_trust, ServerTrust::default());
    }

    #[test]
    fn only_the_build_makes_a_customer_build_require_a_pin() {
        let customer = Config::resolve(qa_inputs(), Path::new("/d"), false);
        assert_eq!(customer.pin_required, built_in_pin_required(), "the environment is ignored");
        let qa = Config::resolve(qa_inputs(), Path::new("/d"), true);
        assert!(qa.pin_required, "a QA build may test a bank's demand for a PIN");
        let qa = Config::resolve(Inputs::default(), Path::new("/d"), true);
        assert_eq!(qa.pin_required, built_in_pin_required());
    }

    #[test]
    fn qa_build_trusts_the_qa_ca_and_the_emulator_host() {
        let c = Config::resolve(qa_inputs(), Path::new("/home/a/.local/share/app"), true);
        assert_eq!(c.server_trust.qa_ca.as_deref(), Some(Path::new("/tmp/qa/ca.pem")));
        assert_eq!(c.server_trust.plain_http, PlainHttp::LoopbackAndEmulatorHost);
    }

    #[test]
    fn qa_build_uses_overrides_with_a_separate_keychain_entry() {
        let c = Config::resolve(qa_inputs(), Path::new("/home/a/.local/share/app"), true);
        assert_eq!(c.server_url, "http://127.0.0.1:1");
        assert_eq!(c.vault_path(), Path::new("/tmp/qa").join(VAULT_FILE));
        assert_ne!(c.key_name, VAULT_KEY_NAME);
    }

    #[test]
    fn language_comes_from_the_environment_in_glibs_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(env_language(env(&[("LANG", "ja_JP.UTF-8")])).as_deref(), Some("ja-JP"));
        assert_eq!(
            env_language(env(&[("LANGUAGE", "ja:en"), ("LANG", "en_US.UTF-8")])).as_deref(),
            Some("ja")
        );
        assert_eq!(
            env_language(env(&[("LC_ALL", "C"), ("LANG", "en_GB.UTF-8")])).as_deref(),
            Some("en-GB")
        );
        assert_eq!(env_language(env(&[("LANG", "C.UTF-8")])), None);
    }

    #[test]
    fn kiosk_area_is_read_in_x11_geometry_and_ignored_when_malformed() {
        let area = |t: &str| {
            let i = Inputs { kiosk: true, kiosk_area: Some(t.into()), ..Inputs::default() };
            Config::resolve(i, Path::new("/d"), false).kiosk_area
        };
        assert_eq!(
            area("480x1080+1440+0"),
            Some(KioskArea { width: 480, height: 1080, x: 1440, y: 0 })
        );
        assert_eq!(area("800x600"), Some(KioskArea { width: 800, height: 600, x: 0, y: 0 }));
        for bad in ["", "0x600", "800", "800x600+1", "wide", "800x600+a+b"] {
            assert_eq!(area(bad), None, "{bad}");
        }
    }

    #[test]
    fn kiosk_idle_time_has_a_floor_and_a_default() {
        let mut i = Inputs { kiosk: true, kiosk_idle_secs: Some("2".into()), ..Inputs::default() };
        assert_eq!(Config::resolve(i.clone(), Path::new("/d"), false).kiosk_idle_secs, 10);
        i.kiosk_idle_secs = Some("nonsense".into());
        let c = Config::resolve(i, Path::new("/d"), false);
        assert_eq!((c.kiosk, c.kiosk_idle_secs), (true, DEFAULT_KIOSK_IDLE_SECS));
    }
}
