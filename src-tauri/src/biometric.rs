//! The phone's biometric store: where the secret that opens the locked vault in place of the app
//! PIN is kept, released only after the customer's fingerprint or face.
//!
//! Not a screen in front of a key the app could read anyway: on Android the secret is encrypted
//! by a Keystore key that needs strong biometrics for every use and that Android invalidates
//! when a fingerprint or face is enrolled (through `tauri-plugin-biometric`'s cipher, called from
//! Rust only); on iOS it is a Keychain item whose access control is the *current* biometric set
//! (`kSecAccessControlBiometryCurrentSet`), so a newly enrolled face opens nothing. A desktop has
//! no such store, and the app offers biometrics only where [`BiometricStore::available`] says so.
//!
//! The platform calls block until the customer answers the system prompt: they run on a
//! blocking thread, never on the async runtime or the main thread.

use std::path::PathBuf;

use softtoken_core::vault::BiometricSecret;

/// Why the platform did not release or keep the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BiometricFailure {
    /// The customer cancelled the prompt, or the system did (another app came forward): the
    /// lock screen stays, with the PIN and the button to try again.
    Cancelled,
    /// The platform's key or item is gone for good (a fingerprint or face was enrolled, the
    /// screen lock was removed): biometric unlock is off until the customer turns it on again.
    Invalidated,
    /// Biometrics cannot be used now (none enrolled, locked out after too many tries, no
    /// hardware): the PIN opens the app.
    Unavailable,
}

/// A platform's biometric store.
pub trait BiometricStore: Send + Sync {
    /// True where this device can keep a secret behind the customer's biometrics.
    fn available(&self) -> bool;
    /// Keeps `secret` behind the customer's biometrics (Android asks for them to encrypt it).
    fn keep(&self, secret: &BiometricSecret, prompt: &Prompt) -> Result<(), BiometricFailure>;
    /// The secret, once the customer's biometrics are accepted.
    fn release(&self, prompt: &Prompt) -> Result<BiometricSecret, BiometricFailure>;
    /// Forgets the secret (biometric unlock turned off, or the PIN changed). Best effort.
    fn forget(&self);
}

/// The system prompt's texts, in the customer's language.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// Why the app asks (the prompt's title or reason).
    pub reason: String,
    /// The cancel button: "use the PIN".
    pub cancel: String,
}

impl Prompt {
    /// The prompt for `lang` ("ja…" gives Japanese, anything else English).
    pub fn for_language(lang: &str) -> Self {
        if lang.starts_with("ja") {
            Prompt {
                reason: "ワンタイムパスワードを表示するため、本人確認をします".into(),
                cancel: "暗証番号を使う".into(),
            }
        } else {
            Prompt {
                reason: "Confirm it is you to show your one-time passwords".into(),
                cancel: "Use the PIN".into(),
            }
        }
    }
}

/// Where a device has no biometric store (the desktop, and a phone before set-up).
pub struct NoBiometrics;

impl BiometricStore for NoBiometrics {
    fn available(&self) -> bool {
        false
    }
    fn keep(&self, _: &BiometricSecret, _: &Prompt) -> Result<(), BiometricFailure> {
        Err(BiometricFailure::Unavailable)
    }
    fn release(&self, _: &Prompt) -> Result<BiometricSecret, BiometricFailure> {
        Err(BiometricFailure::Unavailable)
    }
    fn forget(&self) {}
}

/// File in the data directory that says biometric unlock is on (the secret itself is in the
/// platform's store).
pub const BIOMETRIC_ON_FILE: &str = "biometric-on";

/// Whether biometric unlock is on for the data directory `dir`.
pub fn is_on(dir: &std::path::Path) -> bool {
    dir.join(BIOMETRIC_ON_FILE).exists()
}

/// Turns biometric unlock off: the platform forgets the secret, and the flag goes. Best effort,
/// as a flag left behind only offers a button that then says it is off.
pub fn turn_off(store: &dyn BiometricStore, dir: &std::path::Path) {
    store.forget();
    let _ = std::fs::remove_file(dir.join(BIOMETRIC_ON_FILE));
}

/// The store of this platform, for the app's data directory `data_dir`.
#[cfg(target_os = "android")]
pub fn platform_store(app: &tauri::AppHandle, data_dir: PathBuf) -> Box<dyn BiometricStore> {
    Box::new(android::KeystoreCipher::new(app.clone(), data_dir))
}

/// The store of this platform, for the keychain service `service` and the vault's key name.
#[cfg(target_os = "ios")]
pub fn platform_store(service: &str, key_name: &str) -> Box<dyn BiometricStore> {
    Box::new(ios::CurrentBiometrySet::new(service, key_name))
}

/// The name of the file that holds the Keystore-encrypted secret on Android (never the secret
/// itself: only the Keystore key, behind biometrics, opens it).
pub const SEALED_FILE: &str = "biometric.sealed";

#[allow(dead_code)] // Used on Android only; kept here so the file name is defined once.
fn sealed_path(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join(SEALED_FILE)
}

#[cfg(target_os = "android")]
mod android {
    use std::path::PathBuf;

    use base64::Engine as _;
    use softtoken_core::vault::BiometricSecret;
    use tauri_plugin_biometric::{AuthOptions, BiometricExt};
    use zeroize::Zeroizing;

    use super::{BiometricFailure, BiometricStore, Prompt};

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    pub struct KeystoreCipher {
        app: tauri::AppHandle,
        sealed: PathBuf,
    }

    impl KeystoreCipher {
        pub fn new(app: tauri::AppHandle, data_dir: PathBuf) -> Self {
            Self { app, sealed: super::sealed_path(&data_dir) }
        }

        fn options(prompt: &Prompt) -> AuthOptions {
            AuthOptions {
                // Strong biometrics only: the device's own PIN would make the fingerprint moot.
                allow_device_credential: false,
                cancel_title: Some(prompt.cancel.clone()),
                title: Some(prompt.reason.clone()),
                confirmation_required: Some(false),
                ..AuthOptions::default()
            }
        }
    }

    /// The plugin's error, sorted: its codes for a cancel and for a lock-out, and its message
    /// when the Keystore key can no longer be used ("Failed to initialize the cipher").
    fn failure(e: &tauri_plugin_biometric::Error) -> BiometricFailure {
        let text = e.to_string();
        if text.contains("userCancel") || text.contains("systemCancel") {
            BiometricFailure::Cancelled
        } else if text.contains("initialize the cipher") {
            BiometricFailure::Invalidated
        } else {
            BiometricFailure::Unavailable
        }
    }

    impl BiometricStore for KeystoreCipher {
        fn available(&self) -> bool {
            self.app.biometric().status().is_ok_and(|s| s.is_available)
        }

        fn keep(&self, secret: &BiometricSecret, prompt: &Prompt) -> Result<(), BiometricFailure> {
            let plain = Zeroizing::new(B64.encode(secret.expose()));
            let options =
                AuthOptions { data_to_encrypt: Some(plain.to_string()), ..Self::options(prompt) };
            let sealed = self
                .app
                .biometric()
                .biometric_cipher(prompt.reason.clone(), options)
                .map_err(|e| failure(&e))?;
            std::fs::write(&self.sealed, sealed.data.as_bytes())
                .map_err(|_| BiometricFailure::Unavailable)
        }

        fn release(&self, prompt: &Prompt) -> Result<BiometricSecret, BiometricFailure> {
            let sealed =
                std::fs::read_to_string(&self.sealed).map_err(|_| BiometricFailure::Invalidated)?;
            let options = AuthOptions { data_to_decrypt: Some(sealed), ..Self::options(prompt) };
            let opened = self
                .app
                .biometric()
                .biometric_cipher(prompt.reason.clone(), options)
                .map_err(|e| failure(&e))?;
            let bytes = Zeroizing::new(
                B64.decode(opened.data.as_bytes()).map_err(|_| BiometricFailure::Invalidated)?,
            );
            BiometricSecret::from_bytes(&bytes).ok_or(BiometricFailure::Invalidated)
        }

        fn forget(&self) {
            let _ = std::fs::remove_file(&self.sealed);
        }
    }
}

#[cfg(target_os = "ios")]
mod ios {
    use security_framework::access_control::{ProtectionMode, SecAccessControl};
    use security_framework::passwords::{
        delete_generic_password_options, generic_password, set_generic_password_options,
        AccessControlOptions, PasswordOptions,
    };
    use softtoken_core::vault::BiometricSecret;
    use zeroize::Zeroizing;

    use super::{BiometricFailure, BiometricStore, Prompt};

    /// errSecUserCanceled, errSecAuthFailed, errSecItemNotFound, errSecInteractionNotAllowed.
    const USER_CANCELED: i32 = -128;
    const AUTH_FAILED: i32 = -25293;
    const ITEM_NOT_FOUND: i32 = -25300;

    pub struct CurrentBiometrySet {
        service: String,
        account: String,
    }

    impl CurrentBiometrySet {
        pub fn new(service: &str, key_name: &str) -> Self {
            Self { service: format!("{service}.biometric"), account: key_name.to_owned() }
        }

        fn options(&self) -> PasswordOptions {
            let mut options = PasswordOptions::new_generic_password(&self.service, &self.account);
            options.use_protected_keychain();
            options
        }
    }

    fn failure(code: i32) -> BiometricFailure {
        match code {
            USER_CANCELED => BiometricFailure::Cancelled,
            // The item was made for another biometric set, or is gone.
            AUTH_FAILED | ITEM_NOT_FOUND => BiometricFailure::Invalidated,
            _ => BiometricFailure::Unavailable,
        }
    }

    impl BiometricStore for CurrentBiometrySet {
        fn available(&self) -> bool {
            // Creating the access control needs no prompt; it fails where no passcode is set,
            // and then the item could not be kept either.
            SecAccessControl::create_with_protection(
                Some(ProtectionMode::AccessibleWhenPasscodeSetThisDeviceOnly),
                AccessControlOptions::BIOMETRY_CURRENT_SET.bits(),
            )
            .is_ok()
        }

        fn keep(&self, secret: &BiometricSecret, _: &Prompt) -> Result<(), BiometricFailure> {
            self.forget();
            let control = SecAccessControl::create_with_protection(
                Some(ProtectionMode::AccessibleWhenPasscodeSetThisDeviceOnly),
                AccessControlOptions::BIOMETRY_CURRENT_SET.bits(),
            )
            .map_err(|e| failure(e.code()))?;
            let mut options = self.options();
            options.set_access_control(control);
            set_generic_password_options(secret.expose(), options).map_err(|e| failure(e.code()))
        }

        fn release(&self, _: &Prompt) -> Result<BiometricSecret, BiometricFailure> {
            // Reading the item is what shows the system's Face ID / Touch ID prompt (its text is
            // the app's NSFaceIDUsageDescription).
            let bytes =
                Zeroizing::new(generic_password(self.options()).map_err(|e| failure(e.code()))?);
            BiometricSecret::from_bytes(&bytes).ok_or(BiometricFailure::Invalidated)
        }

        fn forget(&self) {
            let _ = delete_generic_password_options(self.options());
        }
    }
}
