//! The bank's rules: issue, provision, verify, end use, unlock, status, and the demo
//! registration. HTTP handlers and the admin CLI are thin shells over [`Bank`].
//!
//! Every decision reads a registration, decides, and writes with a compare-and-swap on the
//! row's revision ([`Storage::update`]); when another request changed the row first, the
//! decision is taken again on the fresh row. So two concurrent confirms, a verify racing a
//! revoke, or a replayed code can never both win.

use std::path::PathBuf;
use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use serde::Serialize;
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId, USER_ID_DIGITS};
use softtoken_core::protocol::wire::{
    AckRequest, AckResponse, ConfirmRequest, ConfirmResponse, DeliveryState, StartRequest,
    StartResponse, TokenInfo,
};
use softtoken_core::protocol::{AttemptId, ServerAttempt, ServerHandshake};
use softtoken_core::totp::{ClockOffset, Seed, Totp, TotpParams};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sealed::{Purpose, Sealer};
use crate::storage::{
    Attempt, AttemptChange, AttemptStatus, Change, Inserted, OutboxMail, Registration,
    RegistrationState, Storage, Updated,
};

/// The demo registration's service ID (the manual's example).
pub const DEMO_SERVICE_ID: &str = "10112231";
/// The demo registration's user ID (the manual's example).
pub const DEMO_USER_ID: &str = "999800000001";

/// How often a decision is retaken when other requests keep changing the same registration.
/// Each retry means someone else's write succeeded, so this bounds only pathological races.
const MAX_RETRIES: usize = 16;

/// Generated user IDs drawn before giving up (a collision needs ~10^6 registrations to be
/// likely even once).
const MAX_USER_ID_DRAWS: usize = 32;

/// The bank's limits and token parameters.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Wrong activation passwords before the registration is locked (default 5).
    pub provision_max_tries: u32,
    /// Consecutive rejected codes before the token is locked (default 10).
    pub verify_max_failures: u32,
    /// Seconds an attempt waits for its confirm.
    pub attempt_ttl_secs: u64,
    /// Seconds after the end of use before the pair may be issued again (default a day).
    pub reissue_wait_secs: u64,
    /// Seconds a new registration may be fetched by the app (default 7 days).
    pub default_expiry_secs: u64,
    /// Code parameters of new registrations.
    pub params: TotpParams,
    /// The bank's name, sent to the app.
    pub issuer: String,
    /// The default display name, sent to the app.
    pub display_name: String,
    /// Where the app is downloaded (in the step-6 mail).
    pub download_url: String,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            provision_max_tries: 5,
            verify_max_failures: 10,
            attempt_ttl_secs: softtoken_core::protocol::DEFAULT_ATTEMPT_LIFETIME_SECS,
            reissue_wait_secs: 24 * 3600,
            default_expiry_secs: 7 * 24 * 3600,
            params: TotpParams::default(),
            issuer: "softtoken Demo Bank".into(),
            display_name: "Demo Bank".into(),
            download_url: "https://softtoken.example/download".into(),
        }
    }
}

/// What the bank web sends to issue a token (steps 3–5).
pub struct IssueRequest {
    /// The bank's service ID.
    pub service_id: ServiceId,
    /// The customer's user ID; `None` draws a random unused one.
    pub user_id: Option<UserId>,
    /// The customer's mail address (step 3).
    pub mail: String,
    /// The activation password the customer chose (step 3).
    pub password: ActivationPassword,
    /// Seconds the app may fetch the token; `None` for the policy's default.
    pub expires_in_secs: Option<u64>,
}

/// What the bank web shows about a registration (step 1's status screen). No secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The bank's service ID.
    pub service_id: String,
    /// The customer's user ID.
    pub user_id: String,
    /// Life-cycle state.
    pub state: RegistrationState,
    /// True when the app can no longer fetch the token because the registration expired.
    pub expired: bool,
    /// Locked after too many wrong activation passwords.
    pub provision_locked: bool,
    /// Locked after too many wrong codes.
    pub verify_locked: bool,
    /// Wrong activation passwords since the last success.
    pub failed_tries: u32,
    /// Consecutive wrong codes.
    pub verify_failures: u32,
    /// Where the step-6 mail went.
    pub mail: String,
    /// The demo registration.
    pub demo: bool,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub confirmed_at: Option<u64>,
    /// Unix seconds.
    pub delivered_at: Option<u64>,
    /// Unix seconds.
    pub in_use_at: Option<u64>,
    /// Unix seconds.
    pub ended_at: Option<u64>,
    /// Unix seconds from when a new token may be issued (after the end of use).
    pub reissue_allowed_at: Option<u64>,
}

/// Why a code was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Not the code of any step within ±1 of the server's clock.
    WrongCode,
    /// The code of a step that was already accepted (replay).
    Replayed,
}

/// The answer to a verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyOutcome {
    /// True when the code was accepted; its step can never be accepted again.
    pub accepted: bool,
    /// Why not, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Rejection>,
    /// True for the first accepted code (利用開始: delivered → in use).
    pub first_use: bool,
    /// The state after this verify.
    pub state: RegistrationState,
    /// Rejected codes still accepted before the lock, when rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures_left: Option<u32>,
}

/// The demo registration's settings.
#[derive(Clone)]
pub struct Demo {
    /// Its activation password.
    pub password: ActivationPassword,
}

/// Writes step-6 mails as files too (for people and scripts to read).
#[derive(Debug, Clone, Default)]
pub struct OutboxDir(pub Option<PathBuf>);

/// The bank side of softtoken.
pub struct Bank {
    storage: Arc<dyn Storage>,
    sealer: Sealer,
    policy: Policy,
    outbox_dir: OutboxDir,
    demo: Option<Demo>,
}

impl std::fmt::Debug for Bank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bank").field("policy", &self.policy).finish_non_exhaustive()
    }
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    OsRng.try_fill_bytes(&mut b).map_err(|_| Error::Internal("OS random generator"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A uniformly random user ID with a non-zero first digit, so it never looks like a number
/// with its leading zeros dropped, and never sequential.
fn random_user_id() -> Result<UserId> {
    // 9 * 10^11 IDs from 100000000000 to 999999999999.
    const SPAN: u64 = 900_000_000_000;
    // Rejection sampling keeps every ID equally likely.
    const LIMIT: u64 = u64::MAX - (u64::MAX % SPAN);
    loop {
        let mut b = [0u8; 8];
        OsRng.try_fill_bytes(&mut b).map_err(|_| Error::Internal("OS random generator"))?;
        let v = u64::from_le_bytes(b);
        if v < LIMIT {
            let id = format!("{:0width$}", 100_000_000_000 + v % SPAN, width = USER_ID_DIGITS);
            return UserId::new(&id).map_err(|_| Error::Internal("generated user ID"));
        }
    }
}

fn valid_mail(mail: &str) -> bool {
    let Some((local, domain)) = mail.rsplit_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && mail.len() <= 254
        && !mail.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// `r` with its use ended at `now`: the seed is dropped and, with no confirmed attempt named,
/// the storage wipes every attempt's sealed state too (the change must set
/// `wipe_other_attempts`).
fn ended(r: &Registration, now: u64) -> Registration {
    let mut next = r.clone();
    next.state = RegistrationState::Ended;
    next.ended_at = Some(now);
    next.sealed_seed = None;
    next.confirmed_attempt = None;
    next
}

impl Bank {
    /// A bank over `storage`, sealing secrets with `sealer`.
    pub fn new(
        storage: Arc<dyn Storage>,
        sealer: Sealer,
        policy: Policy,
        outbox_dir: OutboxDir,
        demo: Option<Demo>,
    ) -> Self {
        Self { storage, sealer, policy, outbox_dir, demo }
    }

    /// The storage (for shutdown and the outbox listing).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn row(r: &Registration) -> [&str; 3] {
        [r.id.as_str(), r.service_id.as_str(), r.user_id.as_str()]
    }

    fn seal_password(&self, r: &Registration, pw: &ActivationPassword) -> Result<Vec<u8>> {
        self.sealer.seal(Purpose::ActivationPassword, &Self::row(r), pw.expose())
    }

    fn open_password(&self, r: &Registration) -> Result<ActivationPassword> {
        let bytes =
            self.sealer.open(Purpose::ActivationPassword, &Self::row(r), &r.sealed_password)?;
        let text = Zeroizing::new(
            String::from_utf8(bytes.to_vec()).map_err(|_| Error::SealedDataInvalid)?,
        );
        ActivationPassword::new(&text).map_err(|_| Error::SealedDataInvalid)
    }

    fn open_seed(&self, r: &Registration) -> Result<Seed> {
        let sealed = r.sealed_seed.as_ref().ok_or(Error::Internal("delivered without a seed"))?;
        let bytes = self.sealer.open(Purpose::Seed, &Self::row(r), sealed)?;
        Seed::new(bytes).map_err(|_| Error::SealedDataInvalid)
    }

    fn open_attempt(&self, a: &Attempt) -> Result<Option<ServerAttempt>> {
        let Some(sealed) = &a.sealed else { return Ok(None) };
        let bytes = self.sealer.open(
            Purpose::Attempt,
            &[a.id.as_str(), a.registration_id.as_str()],
            sealed,
        )?;
        ServerAttempt::from_bytes(&bytes).map(Some).map_err(|_| Error::SealedDataInvalid)
    }

    fn new_registration(
        &self,
        who: Applicant,
        password: &ActivationPassword,
        expires_at: u64,
        now: u64,
        demo: bool,
    ) -> Result<Registration> {
        let mut r = Registration {
            id: random_hex(16)?,
            service_id: who.service_id,
            user_id: who.user_id,
            mail: who.mail,
            state: RegistrationState::Issued,
            params: self.policy.params,
            failed_tries: 0,
            provision_locked: false,
            verify_failures: 0,
            verify_locked: false,
            last_step: None,
            sealed_password: Vec::new(),
            sealed_seed: None,
            confirmed_attempt: None,
            issued_at: now,
            expires_at,
            confirmed_at: None,
            delivered_at: None,
            in_use_at: None,
            ended_at: None,
            demo,
            rev: 0,
        };
        r.sealed_password = self.seal_password(&r, password)?;
        Ok(r)
    }

    fn mail_for(&self, r: &Registration, now: u64) -> OutboxMail {
        let expires = rfc3339(r.expires_at);
        let body = format!(
            "ソフトウェアトークンを発行しました。\n\
             アプリを開き、次のサービスIDとユーザID、およびお客様がお決めになった利用開始パスワードを入力してください。\n\
             \n\
             サービスID: {service}\n\
             ユーザID: {user}\n\
             アプリのダウンロード: {url}\n\
             有効期限: {expires}\n\
             \n\
             Your software token has been issued. Open the app and enter the service ID and\n\
             user ID above and the activation password you chose on our web site.\n\
             Download the app: {url}\n\
             Valid until: {expires}\n\
             \n\
             このメールに利用開始パスワードは記載されません。\n\
             This mail never contains the activation password.\n",
            service = r.service_id,
            user = r.user_id,
            url = self.policy.download_url,
        );
        OutboxMail {
            registration_id: r.id.clone(),
            to: r.mail.clone(),
            subject: "ソフトウェアトークン発行のお知らせ / Your software token".into(),
            body,
            created_at: now,
        }
    }

    fn write_mail_file(&self, r: &Registration, mail: &OutboxMail) {
        let Some(dir) = &self.outbox_dir.0 else { return };
        let name = format!("{}-{}-{}-{}.txt", mail.created_at, r.service_id, r.user_id, &r.id[..8]);
        let text = format!("To: {}\nSubject: {}\n\n{}", mail.to, mail.subject, mail.body);
        let result = std::fs::create_dir_all(dir).and_then(|()| {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, dir.join(&name))
        });
        // The mail is in the outbox table already; a missing file is an operator's problem,
        // not the customer's.
        if let Err(e) = result {
            tracing::error!(event = "outbox_file_failed", dir = %dir.display(), error = %e,
                "could not write the outbox file; the mail is in the outbox table");
        }
    }

    /// Issues a registration (steps 3–5) and puts the step-6 mail in the outbox.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a bad mail address or expiry;
    /// [`Error::RegistrationExists`] when the pair has a registration that has not ended;
    /// [`Error::ReissueTooSoon`] within the waiting period after the end of use;
    /// [`Error::Storage`]/[`Error::Internal`] on failures.
    pub async fn issue(&self, req: IssueRequest, now: u64) -> Result<Status> {
        let mail = req.mail.trim().to_owned();
        if !valid_mail(&mail) {
            return Err(Error::InvalidRequest(
                "the mail address is not valid (name@domain, at most 254 characters)".into(),
            ));
        }
        let lifetime = req.expires_in_secs.unwrap_or(self.policy.default_expiry_secs);
        if lifetime == 0 || lifetime > 366 * 24 * 3600 {
            return Err(Error::InvalidRequest("the expiry must be 1 second to 366 days".into()));
        }
        let expires_at = now.saturating_add(lifetime);
        let explicit = req.user_id.is_some();
        for _ in 0..MAX_USER_ID_DRAWS {
            let user_id = match &req.user_id {
                Some(u) => {
                    self.check_reissue(&req.service_id, u, now).await?;
                    u.clone()
                }
                None => random_user_id()?,
            };
            let who = Applicant { service_id: req.service_id.clone(), user_id, mail: mail.clone() };
            let r = self.new_registration(who, &req.password, expires_at, now, false)?;
            let outbox = self.mail_for(&r, now);
            match self.storage.insert_registration(r, Some(outbox.clone()), !explicit).await? {
                Inserted::Applied(r) => {
                    let r = *r;
                    self.write_mail_file(&r, &outbox);
                    tracing::info!(event = "registration_issued", service_id = %r.service_id,
                        user_id = %r.user_id, expires_at = r.expires_at, "registration issued");
                    return Ok(self.status_of(&r, now));
                }
                Inserted::ActiveExists if explicit => {
                    // Someone issued the same pair between our check and our insert.
                    return Err(Error::RegistrationExists { state: "issued" });
                }
                Inserted::ActiveExists | Inserted::UserIdTaken => {}
            }
        }
        Err(Error::Internal("could not draw an unused user ID"))
    }

    async fn check_reissue(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<()> {
        match self.storage.registration(service, user).await? {
            None => Ok(()),
            Some(r) if r.state != RegistrationState::Ended => {
                Err(Error::RegistrationExists { state: r.state.as_str() })
            }
            Some(r) => {
                let allowed = r.ended_at.unwrap_or(0).saturating_add(self.policy.reissue_wait_secs);
                if now < allowed {
                    Err(Error::ReissueTooSoon { retry_after: allowed - now })
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The status of a pair's newest registration (step 1).
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`] if the pair never had one.
    pub async fn status(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<Status> {
        let r =
            self.storage.registration(service, user).await?.ok_or(Error::UnknownRegistration)?;
        Ok(self.status_of(&r, now))
    }

    fn status_of(&self, r: &Registration, now: u64) -> Status {
        Status {
            service_id: r.service_id.to_string(),
            user_id: r.user_id.to_string(),
            state: r.state,
            expired: !r.state.is_delivered()
                && r.state != RegistrationState::Ended
                && now >= r.expires_at,
            provision_locked: r.provision_locked,
            verify_locked: r.verify_locked,
            failed_tries: r.failed_tries,
            verify_failures: r.verify_failures,
            mail: r.mail.clone(),
            demo: r.demo,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            confirmed_at: r.confirmed_at,
            delivered_at: r.delivered_at,
            in_use_at: r.in_use_at,
            ended_at: r.ended_at,
            reissue_allowed_at: r.ended_at.map(|t| t.saturating_add(self.policy.reissue_wait_secs)),
        }
    }

    /// Why a registration cannot be provisioned now, if it cannot.
    fn refuse_provisioning(&self, r: &Registration, now: u64) -> Option<Error> {
        if r.state == RegistrationState::Ended {
            Some(Error::Ended)
        } else if r.provision_locked {
            Some(Error::Locked(
                "too many wrong activation passwords: the registration is locked; ask the bank",
            ))
        } else if r.state.is_delivered() {
            Some(Error::AlreadyDelivered)
        } else if now >= r.expires_at {
            Some(Error::Expired)
        } else {
            None
        }
    }

    /// Provisioning step 1 (`POST /v1/provision/start`).
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`], [`Error::Ended`], [`Error::Locked`],
    /// [`Error::AlreadyDelivered`], [`Error::Expired`] as the registration is;
    /// [`Error::InvalidRequest`] for an invalid SPAKE2 message.
    pub async fn start(&self, req: &StartRequest, now: u64) -> Result<StartResponse> {
        let mut r = self
            .storage
            .registration(&req.service_id, &req.user_id)
            .await?
            .ok_or(Error::UnknownRegistration)?;
        if r.demo && self.demo.is_some() && self.demo_needs_rearm(&r, now) {
            r = self.rearm_demo(now).await?;
        }
        if let Some(refusal) = self.refuse_provisioning(&r, now) {
            return Err(refusal);
        }
        let pw = self.open_password(&r)?;
        let attempt_id = AttemptId::random()?;
        let id = attempt_id.to_string();
        let (server, mut resp) = ServerHandshake::respond(req, &pw, attempt_id)?;
        resp.attempt_expires_in = self.policy.attempt_ttl_secs;
        let sealed = self.sealer.seal(
            Purpose::Attempt,
            &[id.as_str(), r.id.as_str()],
            &server.to_bytes(),
        )?;
        self.storage
            .insert_attempt(Attempt {
                id,
                registration_id: r.id.clone(),
                created_at: now,
                expires_at: now.saturating_add(self.policy.attempt_ttl_secs),
                status: AttemptStatus::Pending,
                sealed: Some(sealed),
            })
            .await?;
        Ok(resp)
    }

    /// An attempt and its registration, as confirm and ack both need them.
    ///
    /// # Errors
    /// [`Error::UnknownAttempt`] for an attempt (or registration) the bank does not know;
    /// [`Error::Ended`] once use of the registration has ended.
    async fn live_attempt(&self, id: &str) -> Result<(Attempt, Registration)> {
        let attempt = self.storage.attempt(id).await?.ok_or(Error::UnknownAttempt)?;
        let r = self
            .storage
            .registration_by_id(&attempt.registration_id)
            .await?
            .ok_or(Error::UnknownAttempt)?;
        if r.state == RegistrationState::Ended {
            return Err(Error::Ended);
        }
        Ok((attempt, r))
    }

    /// Provisioning step 2 (`POST /v1/provision/confirm`): each attempt is evaluated at most
    /// once (one guess per attempt); a repeated confirm gets the same answer.
    ///
    /// # Errors
    /// [`Error::WrongActivationPassword`] (a try counted) or [`Error::Locked`] (the limit
    /// reached); [`Error::UnknownAttempt`], [`Error::AttemptExpired`] (no try counted);
    /// [`Error::InvalidRequest`] for a different confirmation of a confirmed attempt; the
    /// registration's refusals ([`Error::Ended`], [`Error::AlreadyDelivered`],
    /// [`Error::Expired`]).
    pub async fn confirm(&self, req: &ConfirmRequest, now: u64) -> Result<ConfirmResponse> {
        let id = req.attempt_id.to_string();
        for _ in 0..MAX_RETRIES {
            let (attempt, r) = self.live_attempt(&id).await?;
            let winning = r.confirmed_attempt.as_deref() == Some(id.as_str());
            if r.state.is_delivered() && !winning {
                return Err(Error::AlreadyDelivered);
            }
            match attempt.status {
                // Evaluated before: the same answer, without counting again.
                AttemptStatus::Spent => return Err(self.wrong_password_answer(&r)),
                AttemptStatus::Confirmed => {
                    let server = self.open_attempt(&attempt)?.ok_or(Error::AlreadyDelivered)?;
                    if !server.check_client_confirm(req) {
                        return Err(Error::InvalidRequest(
                            "this attempt was confirmed with another confirmation".into(),
                        ));
                    }
                    return Ok(server.confirm_response(self.token_info(&r), now));
                }
                AttemptStatus::Pending => {}
            }
            if r.provision_locked {
                return Err(self.wrong_password_answer(&r));
            }
            if now >= r.expires_at {
                return Err(Error::Expired);
            }
            if now >= attempt.expires_at {
                return Err(Error::AttemptExpired("the attempt timed out; start again"));
            }
            // Wiped after another attempt was delivered or the registration replaced.
            let server = self.open_attempt(&attempt)?.ok_or(Error::UnknownAttempt)?;
            let right = server.check_client_confirm(req);
            let mut next = r.clone();
            let change = if right {
                next.state = RegistrationState::Confirmed;
                next.confirmed_attempt = Some(id.clone());
                next.sealed_seed = Some(self.sealer.seal(
                    Purpose::Seed,
                    &Self::row(&r),
                    server.seed().expose(),
                )?);
                next.failed_tries = 0;
                next.confirmed_at = Some(now);
                AttemptChange {
                    id: id.clone(),
                    from: AttemptStatus::Pending,
                    to: AttemptStatus::Confirmed,
                    wipe: false,
                }
            } else {
                next.failed_tries = next.failed_tries.saturating_add(1);
                next.provision_locked = next.failed_tries >= self.policy.provision_max_tries;
                AttemptChange {
                    id: id.clone(),
                    from: AttemptStatus::Pending,
                    to: AttemptStatus::Spent,
                    wipe: true,
                }
            };
            let update = Change {
                registration: next,
                attempt: Some(change),
                wipe_other_attempts: false,
                insert: None,
            };
            match self.storage.update(update).await? {
                // Another request changed the registration or evaluated this attempt first:
                // decide again on what it left.
                Updated::Conflict => continue,
                Updated::Applied(saved) if right => {
                    tracing::info!(event = "provision_confirmed", service_id = %saved.service_id,
                        user_id = %saved.user_id, "activation password proven");
                    return Ok(server.confirm_response(self.token_info(&saved), now));
                }
                Updated::Applied(saved) => {
                    tracing::info!(event = "provision_wrong_password", service_id = %saved.service_id,
                        user_id = %saved.user_id, failed_tries = saved.failed_tries,
                        locked = saved.provision_locked, "wrong activation password");
                    return Err(self.wrong_password_answer(&saved));
                }
            }
        }
        Err(Error::Unavailable)
    }

    /// The answer to a wrong password: tries left, or locked.
    fn wrong_password_answer(&self, r: &Registration) -> Error {
        if r.provision_locked {
            Error::Locked("too many wrong activation passwords: the registration is locked")
        } else {
            Error::WrongActivationPassword {
                tries_left: self.policy.provision_max_tries.saturating_sub(r.failed_tries),
            }
        }
    }

    fn token_info(&self, r: &Registration) -> TokenInfo {
        TokenInfo {
            algorithm: r.params.algorithm,
            digits: r.params.digits,
            period: r.params.period,
            issuer: self.policy.issuer.clone(),
            display_name: self.policy.display_name.clone(),
        }
    }

    /// Provisioning step 3 (`POST /v1/provision/ack`): the registration becomes delivered.
    /// Idempotent for the winning attempt, which is accepted even if the registration expired
    /// or was locked since its confirm (the app holds the token the bank authenticated).
    ///
    /// # Errors
    /// [`Error::UnknownAttempt`]; [`Error::Ended`]; [`Error::Superseded`] when this is not
    /// the latest confirmed attempt; [`Error::InvalidRequest`] when the ack does not prove the
    /// seed.
    pub async fn ack(&self, req: &AckRequest, now: u64) -> Result<AckResponse> {
        let id = req.attempt_id.to_string();
        let delivered = AckResponse { state: DeliveryState::Delivered };
        for _ in 0..MAX_RETRIES {
            let (attempt, r) = self.live_attempt(&id).await?;
            let winning = attempt.status == AttemptStatus::Confirmed
                && r.confirmed_attempt.as_deref() == Some(id.as_str());
            if !winning {
                return Err(Error::Superseded);
            }
            let server = self.open_attempt(&attempt)?.ok_or(Error::Superseded)?;
            if !server.check_ack(req) {
                return Err(Error::InvalidRequest(
                    "the ack does not prove the seed of this attempt".into(),
                ));
            }
            if r.state != RegistrationState::Confirmed {
                // Delivered or in use through this attempt: the repeat of an ack.
                return Ok(delivered);
            }
            let mut next = r.clone();
            next.state = RegistrationState::Delivered;
            next.delivered_at = Some(now);
            let change = Change {
                registration: next,
                attempt: None,
                wipe_other_attempts: true,
                insert: None,
            };
            match self.storage.update(change).await? {
                Updated::Conflict => continue,
                Updated::Applied(saved) => {
                    tracing::info!(event = "provision_delivered", service_id = %saved.service_id,
                        user_id = %saved.user_id, "token delivered to the app");
                    return Ok(delivered);
                }
            }
        }
        Err(Error::Unavailable)
    }

    /// Checks a one-time code (steps 12–13, then every login and transfer): ±1 step around
    /// `now`, each step accepted at most once, the first acceptance starts use.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a code that is not 6–8 ASCII digits;
    /// [`Error::UnknownRegistration`], [`Error::Ended`], [`Error::NotDelivered`],
    /// [`Error::Locked`] (before or because of this code).
    pub async fn verify(
        &self,
        service: &ServiceId,
        user: &UserId,
        code: &str,
        now: u64,
    ) -> Result<VerifyOutcome> {
        if !(6..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequest("the code must be 6 to 8 ASCII digits".into()));
        }
        for _ in 0..MAX_RETRIES {
            let r = self
                .storage
                .registration(service, user)
                .await?
                .ok_or(Error::UnknownRegistration)?;
            match r.state {
                RegistrationState::Ended => return Err(Error::Ended),
                RegistrationState::Issued | RegistrationState::Confirmed => {
                    return Err(Error::NotDelivered)
                }
                RegistrationState::Delivered | RegistrationState::InUse => {}
            }
            if r.verify_locked {
                return Err(Error::Locked("too many wrong one-time codes: the token is locked"));
            }
            let matched = self.match_code(&r, code, now)?;
            let mut next = r.clone();
            let first_use =
                matches!(matched, Match::Fresh(_)) && r.state == RegistrationState::Delivered;
            match matched {
                Match::Fresh(step) => {
                    next.last_step = Some(step);
                    next.verify_failures = 0;
                    if first_use {
                        next.state = RegistrationState::InUse;
                        next.in_use_at = Some(now);
                    }
                }
                Match::Replayed | Match::None => {
                    next.verify_failures = next.verify_failures.saturating_add(1);
                    next.verify_locked = next.verify_failures >= self.policy.verify_max_failures;
                }
            }
            match self.storage.update(Change::registration(next)).await? {
                Updated::Conflict => continue,
                Updated::Applied(saved) => {
                    if first_use {
                        tracing::info!(event = "token_in_use", service_id = %saved.service_id,
                            user_id = %saved.user_id, "first code accepted: token in use");
                    }
                    return match matched {
                        Match::Fresh(_) => Ok(VerifyOutcome {
                            accepted: true,
                            reason: None,
                            first_use,
                            state: saved.state,
                            failures_left: None,
                        }),
                        _ if saved.verify_locked => {
                            tracing::warn!(event = "token_locked", service_id = %saved.service_id,
                                user_id = %saved.user_id, "too many wrong codes: token locked");
                            Err(Error::Locked(
                                "too many wrong one-time codes: the token is now locked",
                            ))
                        }
                        _ => Ok(VerifyOutcome {
                            accepted: false,
                            reason: Some(if matched == Match::Replayed {
                                Rejection::Replayed
                            } else {
                                Rejection::WrongCode
                            }),
                            first_use: false,
                            state: saved.state,
                            failures_left: Some(
                                self.policy
                                    .verify_max_failures
                                    .saturating_sub(saved.verify_failures),
                            ),
                        }),
                    };
                }
            }
        }
        Err(Error::Unavailable)
    }

    /// Compares the code with those of steps −1, 0, +1, all three always, in constant time.
    fn match_code(&self, r: &Registration, code: &str, now: u64) -> Result<Match> {
        if code.len() != usize::from(r.params.digits) {
            return Ok(Match::None);
        }
        let seed = self.open_seed(r)?;
        let totp = Totp::new(r.params, &seed, ClockOffset(0))?;
        let period = u64::from(r.params.period.max(1));
        let step = now / period;
        let mut fresh = None;
        let mut replayed = false;
        for s in [step.saturating_sub(1), step, step + 1] {
            let candidate = totp.code_at_bank_time(s * period);
            let same: bool = candidate.as_str().as_bytes().ct_eq(code.as_bytes()).into();
            if same {
                if r.last_step.is_none_or(|last| s > last) {
                    // The latest matching step wins, so a code can never re-open an older one.
                    fresh = Some(s);
                } else {
                    replayed = true;
                }
            }
        }
        Ok(match (fresh, replayed) {
            (Some(s), _) => Match::Fresh(s),
            (None, true) => Match::Replayed,
            (None, false) => Match::None,
        })
    }

    /// Ends the use of a pair's registration (利用終了): codes are refused at once, the seed
    /// is wiped. Idempotent.
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`].
    pub async fn revoke(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<Status> {
        for _ in 0..MAX_RETRIES {
            let r = self
                .storage
                .registration(service, user)
                .await?
                .ok_or(Error::UnknownRegistration)?;
            if r.state == RegistrationState::Ended {
                return Ok(self.status_of(&r, now));
            }
            let change = Change {
                registration: ended(&r, now),
                attempt: None,
                wipe_other_attempts: true,
                insert: None,
            };
            if let Updated::Applied(saved) = self.storage.update(change).await? {
                tracing::info!(event = "registration_ended", service_id = %saved.service_id,
                    user_id = %saved.user_id, "use ended");
                return Ok(self.status_of(&saved, now));
            }
        }
        Err(Error::Unavailable)
    }

    /// Clears the provisioning and verify locks and their counters. Idempotent.
    ///
    /// # Errors
    /// [`Error::UnknownRegistration`]; [`Error::Ended`] for an ended registration.
    pub async fn unlock(&self, service: &ServiceId, user: &UserId, now: u64) -> Result<Status> {
        for _ in 0..MAX_RETRIES {
            let r = self
                .storage
                .registration(service, user)
                .await?
                .ok_or(Error::UnknownRegistration)?;
            if r.state == RegistrationState::Ended {
                return Err(Error::Ended);
            }
            let mut next = r.clone();
            next.provision_locked = false;
            next.failed_tries = 0;
            next.verify_locked = false;
            next.verify_failures = 0;
            if next == r {
                return Ok(self.status_of(&r, now));
            }
            if let Updated::Applied(saved) = self.storage.update(Change::registration(next)).await?
            {
                tracing::info!(event = "registration_unlocked", service_id = %saved.service_id,
                    user_id = %saved.user_id, "locks cleared by an admin");
                return Ok(self.status_of(&saved, now));
            }
        }
        Err(Error::Unavailable)
    }

    fn demo_ids() -> Result<(ServiceId, UserId)> {
        Ok((
            ServiceId::new(DEMO_SERVICE_ID).map_err(|_| Error::Internal("demo service ID"))?,
            UserId::new(DEMO_USER_ID).map_err(|_| Error::Internal("demo user ID"))?,
        ))
    }

    /// True when the demo registration cannot take the next visitor as it is.
    fn demo_needs_rearm(&self, r: &Registration, now: u64) -> bool {
        r.state.is_delivered()
            || r.state == RegistrationState::Ended
            || r.provision_locked
            || now >= r.expires_at
    }

    /// Makes sure the demo registration exists and can be provisioned (demo mode at start).
    ///
    /// # Errors
    /// [`Error::NotFound`] when demo mode is off; storage failures.
    pub async fn arm_demo(&self, now: u64) -> Result<Status> {
        if self.demo.is_none() {
            return Err(Error::NotFound);
        }
        let (service, user) = Self::demo_ids()?;
        match self.storage.registration(&service, &user).await? {
            Some(r) if r.demo && !self.demo_needs_rearm(&r, now) => Ok(self.status_of(&r, now)),
            _ => self.rearm_demo(now).await.map(|r| self.status_of(&r, now)),
        }
    }

    /// Replaces the demo registration by a fresh one with the same IDs and password, whatever
    /// its state (demo reset).
    ///
    /// # Errors
    /// [`Error::NotFound`] when demo mode is off; storage failures.
    pub async fn rearm_demo(&self, now: u64) -> Result<Registration> {
        let demo = self.demo.as_ref().ok_or(Error::NotFound)?;
        let (service, user) = Self::demo_ids()?;
        for _ in 0..MAX_RETRIES {
            let who = Applicant {
                service_id: service.clone(),
                user_id: user.clone(),
                mail: "demo@softtoken.invalid".into(),
            };
            let fresh = self.new_registration(
                who,
                &demo.password,
                now.saturating_add(self.policy.default_expiry_secs),
                now,
                true,
            )?;
            match self.storage.registration(&service, &user).await? {
                Some(old) if old.state != RegistrationState::Ended => {
                    let change = Change {
                        registration: ended(&old, now),
                        attempt: None,
                        wipe_other_attempts: true,
                        insert: Some(fresh.clone()),
                    };
                    if let Updated::Applied(_) = self.storage.update(change).await? {
                        tracing::info!(event = "demo_rearmed", "demo registration re-armed");
                        return self.fresh_demo(&service, &user).await;
                    }
                }
                _ => match self.storage.insert_registration(fresh, None, false).await? {
                    Inserted::Applied(r) => {
                        tracing::info!(event = "demo_armed", "demo registration created");
                        return Ok(*r);
                    }
                    Inserted::ActiveExists | Inserted::UserIdTaken => {}
                },
            }
        }
        Err(Error::Unavailable)
    }

    async fn fresh_demo(&self, service: &ServiceId, user: &UserId) -> Result<Registration> {
        self.storage.registration(service, user).await?.ok_or(Error::Internal("demo vanished"))
    }

    /// The newest mails of the outbox.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn outbox(&self, limit: u32) -> Result<Vec<OutboxMail>> {
        self.storage.outbox(limit).await
    }
}

/// Whom a new registration is for.
struct Applicant {
    service_id: ServiceId,
    user_id: UserId,
    mail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Fresh(u64),
    Replayed,
    None,
}

/// Unix seconds as RFC 3339 UTC, for mails and the CLI.
pub fn rfc3339(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_user_ids_are_twelve_digits_and_not_sequential() {
        let ids: Vec<String> = (0..200).map(|_| random_user_id().unwrap().to_string()).collect();
        assert!(ids.iter().all(|i| i.len() == 12 && !i.starts_with('0')));
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len());
        let nums: Vec<u64> = ids.iter().map(|i| i.parse().unwrap()).collect();
        let adjacent = nums.windows(2).filter(|w| w[0].abs_diff(w[1]) < 1000).count();
        assert_eq!(adjacent, 0, "{nums:?}");
    }

    #[test]
    fn mail_addresses_are_checked_for_shape() {
        assert!(valid_mail("taro@example.jp"));
        for bad in ["", "taro", "@example.jp", "taro@", "taro@example", "a b@example.jp", "x@.jp"] {
            assert!(!valid_mail(bad), "{bad}");
        }
    }
}
