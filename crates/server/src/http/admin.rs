//! The bank's admin endpoints (`/metrics`, `/v1/admin/*`), each behind a credential whose
//! scope grants it (`crate::credential::Scope::grants`): the registrations and the outbox a
//! clerk's, `/v1/admin/verify` the web tier's verify scope too, the audit log an admin's,
//! `/metrics` the monitoring system's. Each action that changes a registration is written to
//! the audit log under the credential's name.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use softtoken_core::ids::{ActivationPassword, ServiceId, UserId};
use softtoken_core::verify::EnteredCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{Admin, ApiJson, Clerk, MetricsReader, SecretString, Verifier};
use super::state::AppState;
use crate::bank::{audit_query, AdminAction, IssueRequest, Subject, MAX_AUDIT_PAGE};
use crate::bank::{ResyncOutcome, Status, VerifyOutcome};
use crate::error::{ApiErrorBody, Error, Result};
use crate::metrics::VerifyResult;
use crate::storage::{AuditEntry, OutboxMail};

/// The admin listener's routes but the health checks. One line an endpoint: the route and its
/// place in the OpenAPI document come from the handler's `#[utoipa::path]`.
pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(admin_issue))
        .routes(routes!(admin_status))
        .routes(routes!(admin_revoke))
        .routes(routes!(admin_unlock))
        .routes(routes!(admin_verify))
        .routes(routes!(admin_resync))
        .routes(routes!(admin_outbox))
        .routes(routes!(admin_audit))
}

/// The path of one registration.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Read by the OpenAPI derive only; the handlers parse the path themselves.
struct Registration {
    /// The bank's service ID, 8 digits.
    service_id: ServiceId,
    /// The registration's user ID, 12 digits.
    user_id: UserId,
}

/// Prometheus' scrape, in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    responses((status = 200, description = "The metrics (docs/OPERATIONS.md).", content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(s): State<AppState>, _reader: MetricsReader) -> Response {
    ([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], s.metrics().render()).into_response()
}

/// `POST /v1/admin/registrations`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IssueBody {
    service_id: String,
    #[serde(default)]
    user_id: Option<String>,
    mail: String,
    #[schema(value_type = String, format = Password)]
    activation_password: SecretString,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

impl IssueBody {
    /// The typed request the bank issues from.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an ID or activation password that is not one.
    pub(crate) fn into_request(self) -> Result<IssueRequest> {
        Ok(IssueRequest {
            password: ActivationPassword::new(&self.activation_password.0)?,
            service_id: ServiceId::new(&self.service_id)?,
            user_id: self.user_id.as_deref().map(UserId::new).transpose()?,
            mail: self.mail,
            expires_in_secs: self.expires_in_days.map(|d| u64::from(d) * 24 * 3600),
        })
    }
}

pub(crate) fn ids(service: &str, user: &str) -> Result<(ServiceId, UserId)> {
    Ok((ServiceId::new(service)?, UserId::new(user)?))
}

fn pair(path: Result<Path<(String, String)>, PathRejection>) -> Result<(ServiceId, UserId)> {
    let Path((service, user)) = path.map_err(|_| {
        Error::InvalidRequest("the path must name a service ID and a user ID".into())
    })?;
    ids(&service, &user)
}

/// Issues a registration (the manual's steps 3–5); the step-6 mail goes to the outbox.
#[utoipa::path(post, path = "/v1/admin/registrations", tag = "registrations", security(("bearer" = [])),
    request_body = IssueBody,
    responses(
        (status = 201, description = "Issued: the new registration's status.", body = Status),
        (status = 400, description = "`invalid_request`, or `weak_activation_password` with its `reason`.", body = ApiErrorBody),
        (status = 409, description = "`registration_exists` (an unended one), `reissue_too_soon` (`retry_after`) or `demo_ids_taken`.", body = ApiErrorBody),
    ))]
async fn admin_issue(
    State(s): State<AppState>,
    clerk: Clerk,
    body: Result<ApiJson<IssueBody>, Error>,
) -> Result<impl IntoResponse> {
    let ApiJson(body) = body?;
    let req = body.into_request()?;
    let subject =
        Subject { service_id: Some(req.service_id.clone()), user_id: req.user_id.clone() };
    let bank = s.bank();
    let work = bank.issue(req, s.now());
    let status = bank
        .audited(&clerk.actor(), AdminAction::Issue, subject, s.now(), work, |st| {
            Some(st.user_id.clone())
        })
        .await?;
    s.metrics().issued();
    Ok((StatusCode::CREATED, Json(status)))
}

/// A registration's status (the manual's step 1: 登録状況).
#[utoipa::path(get, path = "/v1/admin/registrations/{service_id}/{user_id}", tag = "registrations",
    security(("bearer" = [])), params(Registration),
    responses(
        (status = 200, description = "Its status.", body = Status),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
    ))]
async fn admin_status(
    State(s): State<AppState>,
    clerk: Clerk,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    // A registration's state is personal data: who read it is in the audit log.
    let subject = Subject::pair(&service, &user);
    let work = s.bank().status(&service, &user, s.now());
    let actor = clerk.actor();
    Ok(Json(
        s.bank().audited(&actor, AdminAction::ReadStatus, subject, s.now(), work, |_| None).await?,
    ))
}

/// Ends the use of a registration (利用終了): its codes stop at once.
#[utoipa::path(post, path = "/v1/admin/registrations/{service_id}/{user_id}/revoke", tag = "registrations",
    security(("bearer" = [])), params(Registration),
    responses(
        (status = 200, description = "Ended: the status after (the same answer when it had ended already: ending is idempotent).", body = Status),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
    ))]
async fn admin_revoke(
    State(s): State<AppState>,
    clerk: Clerk,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let work = s.bank().revoke(&service, &user, s.now());
    let status = s
        .bank()
        .audited(
            &clerk.actor(),
            AdminAction::End,
            Subject::pair(&service, &user),
            s.now(),
            work,
            |_| None,
        )
        .await?;
    s.metrics().ended();
    Ok(Json(status))
}

/// Clears the locks and failure counters of a registration.
#[utoipa::path(post, path = "/v1/admin/registrations/{service_id}/{user_id}/unlock", tag = "registrations",
    security(("bearer" = [])), params(Registration),
    responses(
        (status = 200, description = "Unlocked: the status after.", body = Status),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
        (status = 410, description = "`ended`.", body = ApiErrorBody),
    ))]
async fn admin_unlock(
    State(s): State<AppState>,
    clerk: Clerk,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let work = s.bank().unlock(&service, &user, s.now());
    let subject = Subject::pair(&service, &user);
    let actor = clerk.actor();
    Ok(Json(s.bank().audited(&actor, AdminAction::Unlock, subject, s.now(), work, |_| None).await?))
}

/// `POST /v1/admin/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyBody {
    pub(crate) service_id: String,
    pub(crate) user_id: String,
    pub(crate) code: String,
}

/// Checks a one-time code the customer typed on the bank web (the manual's steps 11–13; the
/// first accepted code starts the use, 利用開始).
#[utoipa::path(post, path = "/v1/admin/verify", tag = "verify", security(("bearer" = [])),
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Accepted or rejected (`accepted`, `reason`, `failures_left`).", body = VerifyOutcome),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`not_delivered`: the app has not fetched the token yet.", body = ApiErrorBody),
        (status = 410, description = "`expired` or `ended`.", body = ApiErrorBody),
        (status = 423, description = "`locked`: too many wrong codes; a clerk unlocks.", body = ApiErrorBody),
    ))]
async fn admin_verify(
    State(s): State<AppState>,
    _verifier: Verifier,
    body: Result<ApiJson<VerifyBody>, Error>,
) -> Result<impl IntoResponse> {
    let result = async {
        let ApiJson(body) = body?;
        let (service, user) = ids(&body.service_id, &body.user_id)?;
        let code = EnteredCode::without_separators(&body.code);
        s.bank().verify(&service, &user, &code, s.now()).await
    }
    .await;
    s.metrics().verified(match &result {
        Ok(o) if o.accepted => VerifyResult::Accepted,
        Ok(_) | Err(Error::Locked(_)) => VerifyResult::Rejected,
        Err(_) => VerifyResult::Refused,
    });
    result.map(Json)
}

/// `POST /v1/admin/registrations/{service_id}/{user_id}/resync`: two consecutive codes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResyncBody {
    pub(crate) code1: String,
    pub(crate) code2: String,
}

/// Resyncs a token's clock from two consecutive codes.
#[utoipa::path(post, path = "/v1/admin/registrations/{service_id}/{user_id}/resync", tag = "registrations",
    security(("bearer" = [])), params(Registration), request_body = ResyncBody,
    responses(
        (status = 200, description = "Resynced or not (`resynced`) and the drift.", body = ResyncOutcome),
        (status = 404, description = "`unknown_registration`.", body = ApiErrorBody),
        (status = 409, description = "`not_delivered`.", body = ApiErrorBody),
        (status = 410, description = "`expired` or `ended`.", body = ApiErrorBody),
        (status = 423, description = "`locked`.", body = ApiErrorBody),
    ))]
async fn admin_resync(
    State(s): State<AppState>,
    clerk: Clerk,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<ApiJson<ResyncBody>, Error>,
) -> Result<impl IntoResponse> {
    let (service, user) = pair(path)?;
    let ApiJson(body) = body?;
    let (code1, code2) = (
        EnteredCode::without_separators(&body.code1),
        EnteredCode::without_separators(&body.code2),
    );
    let work = s.bank().resync(&service, &user, [&code1, &code2], s.now());
    let subject = Subject::pair(&service, &user);
    let actor = clerk.actor();
    Ok(Json(s.bank().audited(&actor, AdminAction::Resync, subject, s.now(), work, |_| None).await?))
}

/// `GET /v1/admin/audit`: one page of the audit log, newest first.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    #[serde(default)]
    before_id: Option<u64>,
    #[serde(default)]
    service_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    limit: Option<u32>,
}

/// The answer: the entries and the cursor of the next (older) page, `null` at the end.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct AuditPage {
    entries: Vec<AuditEntry>,
    next_before_id: Option<u64>,
}

/// One page of the audit log, newest first.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "operations", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, description = "The entries and the next page's cursor.", body = AuditPage)))]
async fn admin_audit(
    State(s): State<AppState>,
    _admin: Admin,
    query: Result<Query<AuditParams>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(q) = query.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_AUDIT_PAGE {
        return Err(Error::InvalidRequest(format!("limit must be 1 to {MAX_AUDIT_PAGE}")));
    }
    let query = audit_query(q.before_id, q.service_id.as_deref(), q.user_id.as_deref(), limit)?;
    let entries = s.bank().audit_log(query).await?;
    let next_before_id =
        if entries.len() == limit as usize { entries.last().map(|e| e.id) } else { None };
    Ok(Json(AuditPage { entries, next_before_id }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutboxQuery {
    #[serde(default)]
    pub(crate) limit: Option<u32>,
}

/// The step-6 mails the bank would send, oldest first.
#[utoipa::path(get, path = "/v1/admin/outbox", tag = "operations", security(("bearer" = [])),
    params(OutboxQuery),
    responses((status = 200, description = "The mails.", body = Vec<OutboxMail>)))]
async fn admin_outbox(
    State(s): State<AppState>,
    clerk: Clerk,
    query: Result<Query<OutboxQuery>, QueryRejection>,
) -> Result<impl IntoResponse> {
    let Query(q) = query.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    // The mails hold the customers' addresses and the activation instructions: every read is
    // in the audit log, with how many mails it returned.
    let work = s.bank().outbox(q.limit.unwrap_or(20).min(1000));
    let actor = clerk.actor();
    let read = s.bank().audited_as(
        &actor,
        AdminAction::ReadOutbox,
        Subject::default(),
        s.now(),
        work,
        |mails| (format!("ok: {} mails", mails.len()), None),
    );
    Ok(Json(read.await?))
}
