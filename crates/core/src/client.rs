//! The app's provisioning client: runs the protocol of [`crate::protocol`] over HTTPS.
//!
//! `https://` only; `http://` is accepted for loopback hosts (demo kiosk, tests), and in QA builds
//! for the Android emulator's alias of its host computer ([`PlainHttp`]). Every failure
//! becomes a typed [`Error`] the app can show. A step is repeated only where the protocol makes
//! repeating safe (`docs/protocol.md` §8): start and confirm once after a transport failure
//! (the bank evaluates each attempt once), the ack a few times with backoff (idempotent).
//!
//! Activation flows one way, as a typestate the app walks through; the client never touches
//! the app's storage:
//!
//! 1. [`ProvisioningClient::handshake`] runs start and confirm and returns [`Confirmed`]: the
//!    token to store, and an [`UnsentAck`] that cannot be sent yet.
//! 2. The app stores the token (pending delivery) and turns the ack into a [`StoredToken`] with
//!    the id storage gave it ([`UnsentAck::stored`]).
//! 3. [`ProvisioningClient::ack`] sends the ack; [`ProvisionedToken::delivery`] says what to do
//!    with the stored token. If the ack cannot get through, the token stays pending and the app
//!    sends its ack again later ([`ProvisioningClient::send_ack`], e.g. at its next start).
//!
//! Transaction confirmation's fetch and answer run over the same client ([`confirm`]), and so
//! does the move of a token to a new phone ([`move_phone`]).
//!
//! Only with the `client` feature (on by default; the server builds core without it).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ids::{ActivationPassword, ServiceId, TokenId, UserId};
use crate::protocol::wire::{
    AckRequest, AckResponse, ConfirmRequest, ConfirmResponse, ErrorBody, ErrorCode, StartResponse,
    PATH_ACK, PATH_CONFIRM, PATH_START,
};
use crate::protocol::{ClientConfirmed, ClientHandshake, NewToken};
use crate::weak_number::Weakness;

/// Longest answer body read from the server; protocol answers are a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Timeouts and retry policy of a [`ProvisioningClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time allowed to open the TCP and TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, answer included.
    pub request_timeout: Duration,
    /// How often the ack is sent before the token is left pending.
    pub ack_attempts: u32,
    /// Wait before the second ack; doubled before each further one.
    pub ack_first_backoff: Duration,
    /// An extra trusted root certificate (PEM), for a bank's test lab with its own CA; trusted
    /// in addition to the platform's roots, never instead of them.
    pub extra_root_pem: Option<Vec<u8>>,
    /// Which hosts a `http://` base URL may name.
    pub plain_http: PlainHttp,
}

/// Which hosts an unencrypted `http://` base URL may name; every other server needs `https://`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PlainHttp {
    /// Loopback only (`127.0.0.0/8`, `::1`, `localhost`): the demo kiosk and tests. Every build.
    #[default]
    LoopbackOnly,
    /// Loopback and `10.0.2.2`, the Android emulator's alias of the computer it runs on, where a
    /// QA server listens. Only a QA build's configuration sets this; a customer build never.
    LoopbackAndEmulatorHost,
}

/// The Android emulator's address of its host computer.
const EMULATOR_HOST: &str = "10.0.2.2";

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            ack_attempts: 4,
            ack_first_backoff: Duration::from_millis(500),
            extra_root_pem: None,
            plain_http: PlainHttp::LoopbackOnly,
        }
    }
}

/// The bank confirmed the activation (start and confirm done, its key confirmation checked):
/// the token to store, then the ack to send once it is stored. Dropping this value sends
/// nothing more: the bank's registration stays open for another try.
#[derive(Debug)]
#[must_use = "store the token, then send the ack with ProvisioningClient::ack"]
pub struct Confirmed {
    /// What the app stores, pending delivery of this attempt.
    pub token: NewToken,
    /// The delivery ack, which may be sent only after `token` is stored.
    pub ack: UnsentAck,
}

/// The delivery ack of a [`Confirmed`] token. The protocol allows it only once the app has
/// stored the seed (`docs/protocol.md` §9, "store before ack"), so it cannot be sent as it is:
/// [`UnsentAck::stored`] turns it into a [`StoredToken`] with the id storage gave the token.
#[derive(Debug)]
#[must_use = "once the token is stored, call stored() and send the ack"]
pub struct UnsentAck(AckRequest);

impl UnsentAck {
    /// The token is stored under `id` (pending delivery): the ack may go now.
    pub fn stored(self, id: TokenId) -> StoredToken {
        StoredToken { id, ack: self.0 }
    }
}

/// A token the app has stored, with the delivery ack it owes the bank.
#[derive(Debug)]
#[must_use = "send the ack with ProvisioningClient::ack"]
pub struct StoredToken {
    id: TokenId,
    ack: AckRequest,
}

impl StoredToken {
    /// The id storage gave the token.
    pub fn id(&self) -> &TokenId {
        &self.id
    }
}

/// What became of a stored token's delivery ack.
#[derive(Debug)]
pub struct ProvisionedToken {
    /// The id storage gave the token.
    pub id: TokenId,
    /// The outcome of the ack:
    /// - `Ok(())`: the bank recorded the delivery; mark the token delivered
    ///   (`Vault::mark_delivered`).
    /// - `Err(Error::Superseded | Error::RegistrationEnded)`: the bank will never accept this
    ///   token; remove it.
    /// - any other `Err`: the token stays pending; send its ack again later (e.g. at the next
    ///   start of the app) with [`ProvisioningClient::send_ack`].
    pub delivery: Result<()>,
}

impl ProvisionedToken {
    /// True if the bank recorded the delivery.
    pub fn is_delivered(&self) -> bool {
        self.delivery.is_ok()
    }

    /// True if the stored token is useless and must be removed.
    pub fn must_remove(&self) -> bool {
        matches!(self.delivery, Err(Error::Superseded | Error::RegistrationEnded))
    }
}

/// The app's client for the bank's provisioning endpoints.
#[derive(Debug, Clone)]
pub struct ProvisioningClient {
    http: reqwest::Client,
    base: Url,
    options: ClientOptions,
}

/// True for a loopback host: 127.0.0.0/8, ::1 or `localhost`.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Checks and normalises the bank's base URL (a trailing `/` so paths join under it).
fn parse_base_url(input: &str, plain_http: PlainHttp) -> Result<Url> {
    let mut url = Url::parse(input.trim())
        .map_err(|_| Error::InsecureServerUrl(format!("{input:?} is not a URL")))?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(Error::InsecureServerUrl(
            "a server address must not contain a user name, password, query or fragment".into(),
        ));
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    match url.scheme() {
        "https" if !host.is_empty() => {}
        "http" if is_loopback_host(&host) => {}
        "http" if plain_http == PlainHttp::LoopbackAndEmulatorHost && host == EMULATOR_HOST => {}
        "http" => {
            return Err(Error::InsecureServerUrl(format!(
                "http://{host} is not encrypted; use https:// (http:// is only for this computer)"
            )))
        }
        other => {
            return Err(Error::InsecureServerUrl(format!("{other}: is not https://")));
        }
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Makes `ring` the process's TLS crypto provider, as every platform ships it (docs/PLATFORMS.md).
///
/// reqwest is built without a provider of its own (it has no `ring` feature), so any
/// `reqwest::Client` in the process needs this first; [`ProvisioningClient`] calls it itself.
/// Calling it again, or after another part of the process installed ring, changes nothing.
pub fn install_tls_provider() {
    // Every client construction calls this: build and offer the provider once per process.
    // An install fails only when a provider is already in place; that one is then used.
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// True if a TLS failure is somewhere in the error's causes.
fn is_tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    // hyper hands rustls's error up wrapped in io::Errors, whose `source()` skips the wrapped
    // error itself: look inside them explicitly.
    if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        return is_tls_failure(inner);
    }
    e.source().is_some_and(is_tls_failure)
}

/// The certificates of a PEM file given as an extra root.
fn extra_root_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let not_pem = || Error::Tls("the extra root certificate is not a PEM certificate".into());
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| not_pem())?;
    if certs.is_empty() {
        return Err(not_pem());
    }
    Ok(certs)
}

/// The platform's verifier (the OS trust store, revocation) plus the extra roots.
#[cfg(not(target_os = "android"))]
fn with_trusted_roots(
    mut builder: reqwest::ClientBuilder,
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<reqwest::ClientBuilder> {
    for cert in extra_roots {
        let cert = reqwest::Certificate::from_der(&cert)
            .map_err(|e| Error::Tls(format!("the extra root certificate: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// Mozilla's roots (`webpki-roots`, as shipped with this release) plus the extra roots. On
/// Android the platform verifier must first be initialised through JNI, which needs `unsafe`;
/// docs/PLATFORMS.md ("Android: certificate roots") gives the trade-off.
#[cfg(target_os = "android")]
fn with_trusted_roots(
    builder: reqwest::ClientBuilder,
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<reqwest::ClientBuilder> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        roots.add(cert).map_err(|e| Error::Tls(format!("the extra root certificate: {e}")))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Error::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(builder.use_preconfigured_tls(tls))
}

/// Maps a transport failure (no HTTP answer) to the app's error.
fn transport_error(e: reqwest::Error) -> Error {
    let e = e.without_url();
    if is_tls_failure(&e) {
        return Error::Tls(e.to_string());
    }
    let mut reason = e.to_string();
    if e.is_timeout() {
        reason = "the server did not answer in time".into();
    } else if let Some(cause) = std::error::Error::source(&e) {
        reason = format!("{reason}: {cause}");
    }
    Error::ServerUnreachable(reason)
}

/// Maps a non-2xx answer to the app's error, by its code, else by its status.
fn answer_error(status: StatusCode, body: Option<ErrorBody>, retry_header: Option<u64>) -> Error {
    let code = body.as_ref().map_or(ErrorCode::Unknown, |b| b.code);
    let retry_after = body.as_ref().and_then(|b| b.retry_after).or(retry_header);
    match code {
        ErrorCode::WrongActivationPassword => match body.and_then(|b| b.tries_left) {
            Some(tries_left) => Error::WrongActivationPassword { tries_left },
            None => Error::ProtocolViolation("wrong_activation_password without tries_left"),
        },
        ErrorCode::Locked => Error::RegistrationLocked,
        ErrorCode::Expired => Error::RegistrationExpired,
        ErrorCode::AlreadyDelivered => Error::AlreadyDelivered,
        ErrorCode::Ended => Error::RegistrationEnded,
        ErrorCode::UnknownRegistration => Error::UnknownRegistration,
        ErrorCode::Superseded => Error::Superseded,
        ErrorCode::UnknownAttempt | ErrorCode::AttemptExpired => Error::AttemptExpired,
        ErrorCode::RateLimited => Error::RateLimited { retry_after },
        ErrorCode::NotAuthenticated => Error::ConfirmationNotAccepted,
        ErrorCode::UnknownConfirmation => Error::UnknownConfirmation,
        ErrorCode::MovesNotOffered => Error::MovesNotOffered,
        ErrorCode::NoPendingMove => Error::NoPendingMove,
        ErrorCode::WeakActivationPassword => {
            match body.and_then(|b| b.reason).as_deref().and_then(Weakness::from_code) {
                Some(why) => Error::WeakActivationPassword(why),
                None => Error::ProtocolViolation("weak_activation_password without a known reason"),
            }
        }
        ErrorCode::InvalidRequest | ErrorCode::BodyTooLarge => {
            Error::ProtocolViolation("the bank refused the app's request as malformed")
        }
        _ if status == StatusCode::TOO_MANY_REQUESTS => Error::RateLimited { retry_after },
        _ => Error::ServerError { status: status.as_u16() },
    }
}

pub(crate) fn retry_after_header(v: Option<&HeaderValue>) -> Option<u64> {
    v?.to_str().ok()?.trim().parse().ok()
}

/// Errors after which repeating the same request may succeed.
fn is_transient(e: &Error) -> bool {
    match e {
        Error::ServerUnreachable(_) => true,
        Error::ServerError { status } => *status >= 500,
        _ => false,
    }
}

impl ProvisioningClient {
    /// A client for the bank at `base_url` (e.g. `https://otp.example-bank.jp/`), with the
    /// default timeouts (connect 10 s, request 30 s).
    ///
    /// # Errors
    /// [`Error::InsecureServerUrl`] for anything but `https://`, or `http://` to a loopback
    /// host; [`Error::Tls`] if the TLS stack cannot be set up.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_options(base_url, ClientOptions::default())
    }

    /// [`ProvisioningClient::new`] with other timeouts, retries or an extra root certificate.
    ///
    /// # Errors
    /// As [`ProvisioningClient::new`]; [`Error::Tls`] also for an unreadable PEM.
    pub fn with_options(base_url: &str, options: ClientOptions) -> Result<Self> {
        let base = parse_base_url(base_url, options.plain_http)?;
        install_tls_provider();
        // Checked here: reqwest accepts any bytes and would fail only at the first connection.
        let extra_roots = match &options.extra_root_pem {
            Some(pem) => extra_root_certificates(pem)?,
            None => Vec::new(),
        };
        let builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            // A redirect could lead to plain http or another host: never follow one.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("softtoken/", env!("CARGO_PKG_VERSION")));
        let http = with_trusted_roots(builder, extra_roots)?
            .build()
            .map_err(|e| Error::Tls(e.without_url().to_string()))?;
        Ok(Self { http, base, options })
    }

    /// The normalised base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Steps 1 and 2 of provisioning the token of (`service`, `user`) with the activation
    /// password: start and confirm (a fresh attempt once if the first lapsed), then checks the
    /// bank's key confirmation and the token parameters. `device_now` is the device clock (Unix
    /// seconds) used for the clock offset. Nothing is stored and nothing acknowledged: store
    /// [`Confirmed::token`], then send the ack with [`ProvisioningClient::ack`].
    ///
    /// The password is used only inside this call.
    ///
    /// # Errors
    /// Every refusal of the bank as its typed variant ([`Error::WrongActivationPassword`],
    /// [`Error::RegistrationLocked`], [`Error::RegistrationExpired`],
    /// [`Error::AlreadyDelivered`], [`Error::RegistrationEnded`],
    /// [`Error::UnknownRegistration`], [`Error::RateLimited`], [`Error::AttemptExpired`]);
    /// [`Error::BankNotAuthenticated`] if the server's key confirmation is wrong;
    /// [`Error::TotpParameters`] for code parameters this app cannot use;
    /// [`Error::ServerUnreachable`], [`Error::Tls`], [`Error::ServerError`],
    /// [`Error::ProtocolViolation`].
    pub async fn handshake(
        &self,
        service: &ServiceId,
        user: &UserId,
        pw: &ActivationPassword,
        device_now: u64,
    ) -> Result<Confirmed> {
        let (confirmed, answer) = match self.authenticate(service, user, pw).await {
            // The attempt lapsed or the server forgot it: a fresh one costs no try.
            Err(Error::AttemptExpired) => self.authenticate(service, user, pw).await?,
            other => other?,
        };
        let (token, ack) = confirmed.finish(&answer, device_now)?;
        Ok(Confirmed { token, ack: UnsentAck(ack) })
    }

    /// Step 3: sends the delivery ack of a token the app has stored. Never fails as such: the
    /// outcome is [`ProvisionedToken::delivery`], which says whether to mark the token
    /// delivered, remove it or keep it pending.
    pub async fn ack(&self, stored: StoredToken) -> ProvisionedToken {
        let delivery = self.send_ack(&stored.ack).await;
        ProvisionedToken { id: stored.id, delivery }
    }

    /// Sends an ack, repeating it with backoff after transport failures and 5xx answers (the
    /// ack is idempotent). For a token left pending, the ack comes from the vault
    /// (`Vault::pending_ack`); send it without holding a lock on the vault.
    ///
    /// # Errors
    /// The last failure: [`Error::Superseded`] or [`Error::RegistrationEnded`] (remove the
    /// token), [`Error::AttemptExpired`] (the bank does not know the attempt), or transport and
    /// server errors (keep the token pending, try later).
    pub async fn send_ack(&self, ack: &AckRequest) -> Result<()> {
        let mut wait = self.options.ack_first_backoff;
        let mut tries_left = self.options.ack_attempts.max(1);
        loop {
            tries_left -= 1;
            match self.post::<_, AckResponse>(PATH_ACK, ack).await {
                Ok(_) => return Ok(()),
                Err(e) if tries_left > 0 && is_transient(&e) => {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Steps 1 and 2: start and confirm, each repeated once after a transport failure.
    async fn authenticate(
        &self,
        service: &ServiceId,
        user: &UserId,
        pw: &ActivationPassword,
    ) -> Result<(ClientConfirmed, ConfirmResponse)> {
        let (handshake, start) = ClientHandshake::start(service, user, pw)?;
        let started: StartResponse = self.post_retrying_once(PATH_START, &start).await?;
        let (confirmed, confirm) = handshake.confirm(&started)?;
        let answer = self.post_retrying_once::<ConfirmRequest, _>(PATH_CONFIRM, &confirm).await?;
        Ok((confirmed, answer))
    }

    async fn post_retrying_once<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp> {
        match self.post(path, body).await {
            Err(Error::ServerUnreachable(_)) => self.post(path, body).await,
            other => other,
        }
    }

    async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp> {
        let raw = self.post_raw(path, body).await?;
        read_answer(raw.status, &raw.bytes, raw.retry_header)
    }

    /// Sends `body` and reads the whole answer (up to [`MAX_ANSWER_BYTES`]) without judging it.
    async fn post_raw<Req: Serialize>(&self, path: &str, body: &Req) -> Result<RawAnswer> {
        let url = self.base.join(path.trim_start_matches('/')).map_err(|_| {
            Error::InsecureServerUrl("the server address cannot take a path".into())
        })?;
        let mut answer = self.http.post(url).json(body).send().await.map_err(transport_error)?;
        let status = answer.status();
        let retry_header = retry_after_header(answer.headers().get(RETRY_AFTER));
        let mut bytes = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(transport_error)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Error::ProtocolViolation("the bank's answer is too large"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(RawAnswer { status, bytes, retry_header })
    }
}

/// An answer as it came: its status, body and `Retry-After`.
struct RawAnswer {
    status: StatusCode,
    bytes: Vec<u8>,
    retry_header: Option<u64>,
}

/// Reads the bank's answer: the expected body on a 2xx, else the app's error for its code (or
/// status). The one path from the bank's bytes to a typed value, shared with the fuzz targets.
pub(crate) fn read_answer<Resp: DeserializeOwned>(
    status: StatusCode,
    bytes: &[u8],
    retry_header: Option<u64>,
) -> Result<Resp> {
    if status.is_success() {
        serde_json::from_slice(bytes)
            .map_err(|_| Error::ProtocolViolation("the bank's answer is not the expected JSON"))
    } else {
        Err(answer_error(status, serde_json::from_slice(bytes).ok(), retry_header))
    }
}

pub mod confirm;
pub mod move_phone;
#[cfg(test)]
mod tests;
