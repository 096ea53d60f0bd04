//! The OpenAPI 3.1 document of both listeners, generated from the handlers' `#[utoipa::path]`
//! annotations and the bodies' `ToSchema` derives. A handler joins its router and the document
//! in the same `routes!(handler)` line (`public.rs`, `admin.rs`, `confirm.rs`, `mod.rs`), so a
//! route cannot be served undocumented or documented unserved. The public listener serves its
//! part at `/openapi.json`, the admin listener the whole; `softtoken-server openapi` prints the
//! whole, and `docs/openapi.json` is that output (`tests/openapi.rs` fails when they differ).

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::OpenApi;

use crate::error::{ApiErrorBody, Error, Result};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "softtoken server",
        description = "The bank-side API of softtoken. The public listener serves the app's \
            endpoints (provisioning, confirmations, end of use) and the health checks; the admin \
            listener, on the bank's own network, serves the web tier's and the clerks' endpoints \
            behind a bearer credential whose scope grants them. Every refusal is an `ErrorBody` \
            with a stable `code`. docs/INTEGRATION.md is the web tier's guide."
    ),
    components(schemas(ApiErrorBody)),
    tags(
        (name = "health", description = "Readiness and liveness, on both listeners."),
        (name = "provisioning", description = "The app fetches its token (protocol.md §3)."),
        (name = "confirmations", description = "Transaction and sign-in confirmations (confirmation.md §9)."),
        (name = "registrations", description = "Issue, status, end, unlock and resync (the bank web's steps)."),
        (name = "verify", description = "The web tier checks a one-time code."),
        (name = "operations", description = "Outbox, audit log and metrics."),
    )
)]
struct Base;

/// The document's head: title, tags, the error body and the bearer scheme.
pub(super) fn base() -> Document {
    let mut doc = Base::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc
}

/// Refusals every endpoint can give whatever it does, because the layers in `finish` (the body
/// limit, the request deadline) and the storage sit in front of every handler: written once
/// here rather than in each annotation. An annotation that names one of these keeps its own
/// wording.
const EVERY_ENDPOINT: [(&str, &str); 5] = [
    ("400", "`invalid_request`: the JSON, a field, a path segment or a query parameter is not one the endpoint accepts."),
    ("408", "`request_timeout`: the request took longer than the server's deadline."),
    ("413", "`body_too_large`: the body is larger than the server's limit."),
    ("500", "`internal`: the server failed; the detail is in its log, never in the body."),
    ("503", "`unavailable`: the storage does not answer or the server is stopping; `Retry-After` says when to try again."),
];

/// What a bearer-protected endpoint adds.
const BEARER: [(&str, &str); 2] = [
    ("401", "`unauthorized`: no bearer, not a valid credential, or one whose scope does not grant this endpoint."),
    ("429", "`rate_limited`: too many wrong bearers from this address or for this name; `retry_after` says how long to wait."),
];

/// Adds the shared refusals to every operation, and the bearer's to those that need one.
pub(super) fn complete(mut doc: Document) -> Document {
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let extra = if secured { &BEARER[..] } else { &[][..] };
            for (status, description) in EVERY_ENDPOINT.iter().chain(extra) {
                op.responses.responses.entry((*status).to_owned()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new()
                            .description(*description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build(),
                    )
                });
            }
            for (status, response) in &mut op.responses.responses {
                if let (true, RefOr::T(response)) =
                    (WAIT_SAYS_WHEN.contains(&status.as_str()), response)
                {
                    response.headers.entry("Retry-After".to_owned()).or_insert_with(retry_after);
                }
            }
        }
    }
    doc
}

/// Statuses whose answer always carries `Retry-After` (`error.rs`'s `into_response`): a
/// generated client or a load balancer can read the wait from the header as well as the body.
const WAIT_SAYS_WHEN: [&str; 2] = ["429", "503"];

fn retry_after() -> RefOr<utoipa::openapi::header::Header> {
    RefOr::T(
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
            .description(Some("Seconds to wait before trying again."))
            .build(),
    )
}

/// The document as served and written: pretty JSON with a final newline.
///
/// # Errors
/// [`Error::Internal`] if it does not serialize (it always does: it is plain data).
pub fn render(doc: &Document) -> Result<String> {
    let mut text = doc
        .to_pretty_json()
        .map_err(|_| Error::Internal("the OpenAPI document does not serialize"))?;
    text.push('\n');
    Ok(text)
}
