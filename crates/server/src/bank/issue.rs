//! Issuing a registration (steps 3–5): a fresh row, its sealed activation password, and the
//! step-6 mail in the same insert.

use rand_core::{OsRng, RngCore};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId, USER_ID_DIGITS};

use super::{Bank, Status};
use crate::error::{Error, Result};
use crate::storage::{Freshness, Inserted, Registration, RegistrationState};

/// Generated user IDs drawn before giving up (a collision needs ~10^6 registrations to be
/// likely even once).
const MAX_USER_ID_DRAWS: usize = 32;

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

impl IssueRequest {
    /// The request's own rules, before the database is asked: the trimmed mail address and the
    /// lifetime in seconds (`default_expiry_secs` when none was asked for).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a bad mail address or expiry;
    /// [`Error::WeakActivationPassword`] for a password on the weak list.
    pub(crate) fn checked(&self, default_expiry_secs: u64) -> Result<(String, u64)> {
        let mail = checked_mail(&self.mail)?;
        if let Some(why) = super::weakness(&self.password) {
            return Err(Error::WeakActivationPassword(why));
        }
        let lifetime = self.expires_in_secs.unwrap_or(default_expiry_secs);
        if lifetime == 0 || lifetime > 366 * 24 * 3600 {
            return Err(Error::InvalidRequest("the expiry must be 1 second to 366 days".into()));
        }
        Ok((mail, lifetime))
    }
}

pub(super) fn random_hex(bytes: usize) -> Result<String> {
    let mut b = vec![0u8; bytes];
    OsRng.try_fill_bytes(&mut b).map_err(|_| Error::Internal("OS random generator"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A uniformly random user ID with a non-zero first digit, so it never looks like a number
/// with its leading zeros dropped, and never sequential.
pub(super) fn random_user_id() -> Result<UserId> {
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

/// The mail address trimmed, or why it is refused.
pub(super) fn checked_mail(mail: &str) -> Result<String> {
    let mail = mail.trim();
    if !valid_mail(mail) {
        return Err(Error::InvalidRequest(
            "the mail address is not valid (name@domain, at most 254 characters)".into(),
        ));
    }
    Ok(mail.to_owned())
}

/// Whom a new registration is for.
pub(super) struct Applicant {
    pub(super) service_id: ServiceId,
    pub(super) user_id: UserId,
    pub(super) mail: String,
}

impl Bank {
    pub(super) fn new_registration(
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
            verify_window_failures: 0,
            verify_window_start: None,
            verify_locked: false,
            last_step: None,
            drift_steps: 0,
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

    /// Issues a registration (steps 3–5) and puts the step-6 mail in the outbox.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a bad mail address or expiry;
    /// [`Error::WeakActivationPassword`] for a password on the weak list;
    /// [`Error::RegistrationExists`] when the pair has a registration that has not ended;
    /// [`Error::ReissueTooSoon`] within the waiting period after the end of use;
    /// [`Error::Storage`]/[`Error::Internal`] on failures.
    pub async fn issue(&self, req: IssueRequest, now: u64) -> Result<Status> {
        let (mail, lifetime) = req.checked(self.policy.default_expiry_secs)?;
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
                    self.write_mail_file(&r, &outbox, "issued");
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
        // A refusal is given on the database's row, never on a cached copy another process
        // may have made stale (the admin CLI ending use).
        match self.storage.registration(service, user, Freshness::Database).await? {
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
