//! The OpenAPI document: the committed copy is what the handlers generate, and each listener
//! serves its part of it (`src/http/openapi.rs`, docs/INTEGRATION.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use serde_json::Value;
use softtoken_server::http::{openapi, openapi_document};

const COMMITTED: &str = include_str!("../../../docs/openapi.json");
const WRITE: &str = "cargo run -p softtoken-server --locked -- openapi > docs/openapi.json";

/// `METHOD path` of every operation of a document.
fn operations(doc: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
            out.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    out
}

#[test]
fn committed_openapi_document_is_what_the_handlers_generate() {
    let generated = openapi::render(&openapi_document()).unwrap();
    if generated == COMMITTED {
        return;
    }
    // Name what differs first: an endpoint added in code but not written to docs/, or gone.
    let (code, docs): (Value, Value) =
        (serde_json::from_str(&generated).unwrap(), serde_json::from_str(COMMITTED).unwrap());
    let (in_code, in_docs) = (operations(&code), operations(&docs));
    let missing: Vec<_> = in_code.difference(&in_docs).collect();
    let stale: Vec<_> = in_docs.difference(&in_code).collect();
    let changed: Vec<_> = in_code
        .intersection(&in_docs)
        .filter(|op| {
            let (method, path) = op.split_once(' ').unwrap();
            let m = method.to_lowercase();
            code["paths"][path][&m] != docs["paths"][path][&m]
        })
        .collect();
    panic!(
        "docs/openapi.json is not what the handlers generate.\n\
         in the code, not in docs/openapi.json: {missing:?}\n\
         in docs/openapi.json, no longer in the code: {stale:?}\n\
         changed: {changed:?}{}\n\
         write it again with: {WRITE}",
        if code["components"] != docs["components"] { " and the schemas" } else { "" }
    );
}

#[test]
fn every_operation_has_its_own_id_for_generated_clients() {
    // A generated client names its functions after the operation IDs: two alike clash.
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut seen = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(seen.insert(id.to_owned()), "two operations have the ID {id}");
        }
    }
}

#[tokio::test]
async fn public_listener_serves_the_app_part_and_admin_listener_the_whole() {
    let server = common::Server::start().await;
    let public: Value = server
        .http
        .get(format!("{}/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin: Value = server
        .http
        .get(format!("{}/openapi.json", server.admin_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let whole: Value = serde_json::from_str(COMMITTED).unwrap();
    let public_ops = operations(&public);
    assert!(public_ops.contains("POST /v1/provision/start"), "{public_ops:?}");
    assert!(public_ops.contains("POST /v1/confirmations/answer"), "{public_ops:?}");
    assert!(
        public_ops.iter().all(|op| !op.contains("/v1/admin/") && !op.ends_with("/metrics")),
        "the public listener's document shows admin endpoints: {public_ops:?}"
    );
    let admin_ops = operations(&admin);
    assert!(admin_ops.contains("POST /v1/admin/verify"), "{admin_ops:?}");
    assert!(
        admin_ops.contains("POST /v1/provision/start"),
        "the admin document lacks the app's part"
    );
    assert_eq!(admin_ops, operations(&whole), "the admin listener serves another document");
    common::close(&server).await;
}

#[tokio::test]
async fn every_documented_operation_is_routed_on_its_listener() {
    // The document names no path the routers answer with `not_found` (a typo in a
    // `#[utoipa::path]` would): each operation, called bare, reaches its handler.
    let server = common::Server::start().await;
    let whole: Value = serde_json::from_str(COMMITTED).unwrap();
    for op in operations(&whole) {
        let (method, path) = op.split_once(' ').unwrap();
        let path = path
            .replace("{service_id}", common::SERVICE)
            .replace("{user_id}", "000000000001")
            .replace("{id}", "AAAAAAAAAAAAAAAAAAAAAA");
        let app_side = !path.starts_with("/v1/admin/") && path != "/metrics";
        let base = if app_side && method == "POST" { &server.url } else { &server.admin_url };
        let request = match method {
            "GET" => server.http.get(format!("{base}{path}")),
            _ => server.http.post(format!("{base}{path}")).json(&serde_json::json!({})),
        };
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(
            !(status == 404 && body["code"] == "not_found") && status != 405,
            "{op} is documented but not routed ({status} {body})"
        );
    }
    common::close(&server).await;
}

#[test]
fn every_documented_429_and_503_tells_a_client_the_retry_after_header() {
    // The server sends `Retry-After` with every `429` and `503` (`error.rs`); a client
    // generated from the document reads it only if the document says so.
    let doc: Value = serde_json::from_str(COMMITTED).unwrap();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for status in ["429", "503"] {
                let Some(response) = op["responses"].get(status) else { continue };
                seen += 1;
                assert_eq!(
                    response["headers"]["Retry-After"]["schema"]["type"], "integer",
                    "{method} {path} {status} does not declare Retry-After"
                );
            }
        }
    }
    assert!(seen > 20, "only {seen} answers of 429 or 503 in the document");
}
