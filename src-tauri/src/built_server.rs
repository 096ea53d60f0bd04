//! Which server URL a build may compile in. Shared by the build script (`build.rs` includes this
//! file) and the app's tests, so the rule that stops a customer build from shipping without the
//! bank's address is tested like any other.
//!
//! A build for customers (optimised, without the `qa` feature) must be given its server in
//! `SOFTTOKEN_SERVER_URL` at build time: the bank's `https://` address, or, for the branch demo
//! and the packaging test only, an explicit `http://` loopback address (core's client refuses
//! plain HTTP beyond the device itself, so such a build can reach nothing but its own machine).
//! Without one, the build fails: the fallback `http://127.0.0.1:8080` is for developers' debug
//! builds and QA builds, which may be pointed elsewhere at run time.

/// Why the build refuses the URL it was given, in words for the person running the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltServerError {
    /// No `SOFTTOKEN_SERVER_URL` in an optimised customer build.
    Missing,
    /// A URL that is neither `https://` nor `http://` to loopback.
    NotHttps(String),
}

impl std::fmt::Display for BuiltServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuiltServerError::Missing => write!(
                f,
                "a customer build needs the bank's server: set SOFTTOKEN_SERVER_URL=https://… \
                 when building (debug and `--features qa` builds default to the demo server on \
                 127.0.0.1:8080)"
            ),
            BuiltServerError::NotHttps(url) => write!(
                f,
                "SOFTTOKEN_SERVER_URL={url} is not an https:// URL: a customer build talks to \
                 the bank over HTTPS only (http:// is accepted for 127.0.0.1, [::1] or localhost, \
                 for the demo)"
            ),
        }
    }
}

/// Checks the build's `SOFTTOKEN_SERVER_URL`. `customer_build` is an optimised build without
/// the `qa` feature (no debug assertions).
pub fn check_built_server_url(
    url: Option<&str>,
    customer_build: bool,
) -> Result<(), BuiltServerError> {
    let url = match url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) => url,
        None if customer_build => return Err(BuiltServerError::Missing),
        None => return Ok(()),
    };
    if !customer_build {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("https://") {
        if !rest.is_empty() && !rest.starts_with('/') {
            return Ok(());
        }
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        if matches!(host, "127.0.0.1" | "::1" | "localhost") {
            return Ok(());
        }
    }
    Err(BuiltServerError::NotHttps(url.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_build_without_a_server_url_is_refused() {
        assert_eq!(check_built_server_url(None, true), Err(BuiltServerError::Missing));
        assert_eq!(check_built_server_url(Some("  "), true), Err(BuiltServerError::Missing));
    }

    #[test]
    fn customer_build_with_the_banks_https_url_builds() {
        assert_eq!(check_built_server_url(Some("https://otp.example-bank.jp"), true), Ok(()));
    }

    #[test]
    fn customer_build_with_plain_http_beyond_loopback_is_refused() {
        for url in ["http://otp.example-bank.jp", "http://10.0.2.2:8080", "ftp://x", "https://"] {
            assert!(
                matches!(
                    check_built_server_url(Some(url), true),
                    Err(BuiltServerError::NotHttps(_))
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn demo_build_with_an_explicit_loopback_url_builds() {
        for url in ["http://127.0.0.1:8080", "http://[::1]:8090/", "http://localhost:8080"] {
            assert_eq!(check_built_server_url(Some(url), true), Ok(()), "{url}");
        }
    }

    #[test]
    fn debug_and_qa_builds_may_use_the_default() {
        assert_eq!(check_built_server_url(None, false), Ok(()));
        assert_eq!(check_built_server_url(Some("http://10.0.2.2:8080"), false), Ok(()));
    }
}
