//! Provisioning (step 7, `docs/protocol.md`): start, confirm, ack. One guess per attempt; the
//! latest confirmed attempt is the only one whose ack is accepted.

use softtoken_core::protocol::wire::{
    AckRequest, AckResponse, ConfirmRequest, ConfirmResponse, DeliveryState, StartRequest,
    StartResponse, TokenInfo,
};
use softtoken_core::protocol::{AttemptId, ServerHandshake};

use super::{Bank, Decision};
use crate::error::{Error, Result};
use crate::sealed::Purpose;
use crate::storage::{
    Attempt, AttemptChange, AttemptStatus, Change, Registration, RegistrationState,
};

impl Bank {
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
        let mut r = self.registration(&req.service_id, &req.user_id).await?;
        if r.demo && self.demo.is_some() && self.demo_needs_rearm(&r, now) {
            r = self.rearm_demo(now).await?;
        }
        if self.refuse_provisioning(&r, now).is_some() {
            // Refused on a copy that may be cached: the database's row decides (the admin
            // CLI may have unlocked it or issued anew meanwhile).
            r = self.registration_from_database(&req.service_id, &req.user_id).await?;
            if let Some(refusal) = self.refuse_provisioning(&r, now) {
                return Err(refusal);
            }
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
            .insert_attempt(
                Attempt {
                    id,
                    registration_id: r.id.clone(),
                    created_at: now,
                    expires_at: now.saturating_add(self.policy.attempt_ttl_secs),
                    status: AttemptStatus::Pending,
                    sealed: Some(sealed),
                },
                self.policy.max_open_attempts,
            )
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
    /// once (one guess per attempt); a repeated confirm gets the same outcome without a second
    /// count (for a confirmed attempt: `200` with the current `server_time` and a
    /// `server_confirm` over it).
    ///
    /// # Errors
    /// [`Error::WrongActivationPassword`] (a try counted) or [`Error::Locked`] (the limit
    /// reached); [`Error::UnknownAttempt`], [`Error::AttemptExpired`] (no try counted);
    /// [`Error::InvalidRequest`] for a different confirmation of a confirmed attempt; the
    /// registration's refusals ([`Error::Ended`], [`Error::AlreadyDelivered`],
    /// [`Error::Expired`]).
    pub async fn confirm(&self, req: &ConfirmRequest, now: u64) -> Result<ConfirmResponse> {
        let id = req.attempt_id.to_string();
        // Another request may change the registration or evaluate this attempt first: the
        // decision is then taken again on what it left.
        self.retry_on_conflict(
            || self.live_attempt(&id),
            |(attempt, r)| self.decide_confirm(req, &id, &attempt, &r, now),
        )
        .await
    }

    fn decide_confirm<'a>(
        &'a self,
        req: &ConfirmRequest,
        id: &str,
        attempt: &Attempt,
        r: &Registration,
        now: u64,
    ) -> Result<Decision<'a, ConfirmResponse>> {
        let winning = r.confirmed_attempt.as_deref() == Some(id);
        if r.state.is_delivered() && !winning {
            return Err(Error::AlreadyDelivered);
        }
        match attempt.status {
            // Evaluated before: the same answer, without counting again.
            AttemptStatus::Spent => return Err(self.wrong_password_answer(r)),
            AttemptStatus::Confirmed => {
                let server = self.open_attempt(attempt)?.ok_or(Error::AlreadyDelivered)?;
                if !server.check_client_confirm(req) {
                    return Err(Error::InvalidRequest(
                        "this attempt was confirmed with another confirmation".into(),
                    ));
                }
                return Ok(Decision::Answer(server.confirm_response(self.token_info(r), now)));
            }
            AttemptStatus::Pending => {}
        }
        if r.provision_locked {
            return Err(self.wrong_password_answer(r));
        }
        if now >= r.expires_at {
            return Err(Error::Expired);
        }
        if now >= attempt.expires_at {
            return Err(Error::AttemptExpired("the attempt timed out; start again"));
        }
        // Wiped after another attempt was delivered or the registration replaced.
        let server = self.open_attempt(attempt)?.ok_or(Error::UnknownAttempt)?;
        let mut next = r.clone();
        let change = |to, wipe, notice| AttemptChange {
            id: id.to_owned(),
            from: AttemptStatus::Pending,
            to,
            wipe,
            notice,
        };
        if server.check_client_confirm(req) {
            // Another app proved the password before and has not acknowledged: it loses, and
            // the customer hears of it (a second device they do not know of is a takeover).
            let superseded = r.confirmed_attempt.is_some().then(|| self.superseded_notice(r, now));
            next.state = RegistrationState::Confirmed;
            next.confirmed_attempt = Some(id.to_owned());
            next.sealed_seed =
                Some(self.sealer.seal(Purpose::Seed, &Self::row(r), server.seed().expose())?);
            // Wrong tries are not forgiven by a right one before delivery: while an ack is
            // lost, the registration still takes starts, and a guesser would get fresh tries.
            next.confirmed_at = Some(now);
            let change = Change {
                registration: next,
                attempt: Some(change(AttemptStatus::Confirmed, false, superseded.clone())),
                wipe_other_attempts: false,
                insert: None,
                moved: None,
            };
            Ok(Decision::Write(
                Box::new(change),
                Box::new(move |saved| {
                    if let Some(notice) = &superseded {
                        self.write_mail_file(&saved, notice, &format!("superseded-{now}"));
                    }
                    tracing::info!(event = "provision_confirmed", service_id = %saved.service_id,
                        user_id = %saved.user_id, superseded = superseded.is_some(),
                        "activation password proven");
                    Ok(server.confirm_response(self.token_info(&saved), now))
                }),
            ))
        } else {
            next.failed_tries = next.failed_tries.saturating_add(1);
            next.provision_locked = next.failed_tries >= self.policy.provision_max_tries;
            let notice = self.wrong_password_notice(&next, now);
            let change = Change {
                registration: next,
                attempt: Some(change(AttemptStatus::Spent, true, Some(notice.clone()))),
                wipe_other_attempts: false,
                insert: None,
                moved: None,
            };
            Ok(Decision::Write(
                Box::new(change),
                Box::new(move |saved| {
                    self.write_mail_file(
                        &saved,
                        &notice,
                        &format!("wrong-password-{}", saved.failed_tries),
                    );
                    tracing::info!(event = "provision_wrong_password", service_id = %saved.service_id,
                        user_id = %saved.user_id, failed_tries = saved.failed_tries,
                        locked = saved.provision_locked, "wrong activation password");
                    Err(self.wrong_password_answer(&saved))
                }),
            ))
        }
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
        let completed = std::sync::atomic::AtomicBool::new(false);
        let answer = self.retry_on_conflict(
            || async {
                let (attempt, r) = self.live_attempt(&id).await?;
                // A move's prepared registration: its ack ends the old one in the same write.
                let moved = match r.state {
                    RegistrationState::Confirmed => self.move_completion(&r, now).await?,
                    _ => None,
                };
                Ok((attempt, r, moved))
            },
            |(attempt, r, moved)| {
                completed.store(false, std::sync::atomic::Ordering::Relaxed);
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
                    return Ok(Decision::Answer(delivered.clone()));
                }
                let mut next = r;
                next.state = RegistrationState::Delivered;
                next.delivered_at = Some(now);
                // Never needed again, and customers reuse their PINs elsewhere.
                next.sealed_password = Vec::new();
                completed.store(moved.is_some(), std::sync::atomic::Ordering::Relaxed);
                let change = Change {
                    registration: next,
                    attempt: None,
                    wipe_other_attempts: true,
                    insert: None,
                    moved: moved.map(Box::new),
                };
                let delivered = delivered.clone();
                Ok(Decision::Write(
                    Box::new(change),
                    Box::new(move |saved| {
                        tracing::info!(event = "provision_delivered", service_id = %saved.service_id,
                            user_id = %saved.user_id, "token delivered to the app");
                        Ok(delivered)
                    }),
                ))
            },
        )
        .await?;
        if completed.load(std::sync::atomic::Ordering::Relaxed) {
            self.record_move_completed(&id, now).await;
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
    use softtoken_core::protocol::wire::Bytes;

    use super::*;
    use crate::bank::{IssueRequest, OutboxDir, Policy};
    use crate::sealed::{MasterKey, Sealer};
    use crate::storage::sqlite::{SqliteOptions, SqliteStorage};
    use crate::storage::{Freshness, Storage};

    /// The length of an attempt stored in format 1: version, attempt ID, client_confirm, the
    /// finished server_confirm, seed.
    const FORMAT_1_BYTES: usize = 1 + 16 + 32 + 32 + 32;

    #[tokio::test]
    async fn a_setup_started_before_the_banks_upgrade_is_asked_to_start_again() {
        let dir = tempfile::tempdir().unwrap();
        let storage: Arc<dyn Storage> =
            Arc::new(SqliteStorage::open(SqliteOptions::new(dir.path().join("bank.db"))).unwrap());
        let key = MasterKey::generate().unwrap();
        let bank =
            Bank::new(storage.clone(), Sealer::new(&key), Policy::default(), OutboxDir(None), None);
        let now = 1_800_000_000;
        let service = ServiceId::new("10112231").unwrap();
        let user = UserId::new("123456789012").unwrap();
        bank.issue(
            IssueRequest {
                service_id: service.clone(),
                user_id: Some(user.clone()),
                mail: "taro@example.jp".into(),
                password: ActivationPassword::new("4391").unwrap(),
                expires_in_secs: None,
            },
            now,
        )
        .await
        .unwrap();
        let registration =
            storage.registration(&service, &user, Freshness::Cached).await.unwrap().unwrap();
        // What the bank before the upgrade left in its store for an attempt in flight.
        let attempt_id = AttemptId::random().unwrap();
        let id = attempt_id.to_string();
        let mut old = vec![1u8; FORMAT_1_BYTES];
        old[1..17].copy_from_slice(attempt_id.as_bytes());
        let sealed =
            bank.sealer.seal(Purpose::Attempt, &[id.as_str(), registration.id.as_str()], &old);
        storage
            .insert_attempt(
                Attempt {
                    id: id.clone(),
                    registration_id: registration.id.clone(),
                    created_at: now,
                    expires_at: now + 300,
                    status: AttemptStatus::Pending,
                    sealed: Some(sealed.unwrap()),
                },
                5,
            )
            .await
            .unwrap();

        let answer = bank
            .confirm(&ConfirmRequest { attempt_id, client_confirm: Bytes([7; 32]) }, now + 10)
            .await;

        assert!(matches!(answer, Err(Error::AttemptExpired(_))), "{answer:?}");
        let after =
            storage.registration(&service, &user, Freshness::Cached).await.unwrap().unwrap();
        assert_eq!(after.failed_tries, 0, "no try is counted for it");
    }
}
