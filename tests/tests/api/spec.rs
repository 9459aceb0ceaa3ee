//! The committed spec matches the code, and every operation is complete.

use outpost_tests::{Auth, spawn_app};
use reqwest::Method;
use serde_json::Value;

const REGENERATE: &str = "cargo run -p outpost-openapi";

fn committed() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}; run `{REGENERATE}`"))
}

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = outpost_api::http::spec_json();
    assert!(
        committed() == generated,
        "openapi/openapi.json is out of date with the code: run `{REGENERATE}` and commit the result"
    );
}

#[test]
fn every_operation_has_an_id_a_tag_a_summary_and_its_own_problem_errors() {
    let spec: Value = serde_json::from_str(&outpost_api::http::spec_json()).unwrap();
    let mut ids = std::collections::HashSet::new();
    let mut count = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            count += 1;
            let name = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{name}: no operationId"));
            assert!(ids.insert(id.to_owned()), "{name}: duplicate operationId {id}");
            assert!(!op["tags"].as_array().is_none_or(Vec::is_empty), "{name}: no tag");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
            let responses = op["responses"].as_object().unwrap();
            // Each operation declares the errors it can answer (and the
            // test client checks every answer against them); all are
            // problem+json, and a server failure is possible everywhere.
            assert!(responses.contains_key("500"), "{name}: 500 undocumented");
            for (status, response) in responses.iter().filter(|(s, _)| s.as_str() >= "400") {
                assert!(
                    response["content"].get("application/problem+json").is_some(),
                    "{name}: {status} is not problem+json"
                );
            }
            let errors = responses.keys().filter(|s| s.as_str() >= "400").count();
            assert!(errors < 13, "{name}: declares every error status ({errors})");
            let public = ["/v1/auth/login", "/healthz", "/readyz"].contains(&path.as_str());
            assert_eq!(op.get("security").is_none(), public, "{name}: security scheme");
        }
    }
    assert!(count >= 20, "only {count} operations");
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("session_token") && schemes.contains_key("api_key"));
}

#[tokio::test]
async fn the_server_serves_its_spec_and_docs() {
    let app = spawn_app().await;
    let served = app.call(Method::GET, "/openapi.json", Auth::None, None).await;
    assert_eq!(served.status.as_u16(), 200);
    let committed: Value = serde_json::from_str(&committed()).unwrap();
    assert_eq!(served.body, committed);
    let docs = app.call(Method::GET, "/docs", Auth::None, None).await;
    assert_eq!(docs.status.as_u16(), 200);
    assert!(docs.text.contains("swagger"), "docs page: {}", &docs.text[..docs.text.len().min(200)]);
}

/// The docs page and the spec list the tags in the order a newcomer needs
/// them: signing in and syncing first, administration last.
#[tokio::test]
async fn tags_come_in_the_order_a_newcomer_needs_them() {
    let app = spawn_app().await;
    let spec = app.call(Method::GET, "/openapi.json", Auth::None, None).await.body;
    let names: Vec<&str> =
        spec["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(&names[..4], ["Auth", "Me", "Sync", "Records"], "{names:?}");
    assert_eq!(names.last(), Some(&"System"));
    let docs = app.call(Method::GET, "/docs", Auth::None, None).await.text;
    let at = |tag: &str| docs.find(&format!("\"name\": \"{tag}\"")).unwrap();
    assert!(at("Auth") < at("Sync") && at("Sync") < at("ApiKeys"), "the docs page's tag order");
}

/// Login's answers say what they mean there: a 401 is a wrong password
/// (not a bad token, as elsewhere), and the 200 is described.
#[tokio::test]
async fn login_answers_are_described_as_login_means_them() {
    let app = spawn_app().await;
    let spec = app.call(Method::GET, "/openapi.json", Auth::None, None).await.body;
    let answers = &spec["paths"]["/v1/auth/login"]["post"]["responses"];
    assert!(answers["200"]["description"].as_str().unwrap().starts_with("Signed in"));
    assert!(answers["401"]["description"].as_str().unwrap().contains("wrong email or password"));
    let me = &spec["paths"]["/v1/me"]["get"]["responses"]["401"]["description"];
    assert!(!me.as_str().unwrap().contains("password"), "{me}");
}

/// No string a request carries may hold NUL (the server's input rule, 422
/// `invalid_text`), and the spec says so: every string of a request (a
/// parameter, or a body field however deep) without a format or an
/// enumeration has a pattern, the one refusing NUL unless it has its own.
#[test]
fn every_string_a_request_carries_has_a_pattern_refusing_nul() {
    fn strings(spec: &Value, schema: &Value, seen: &mut Vec<String>, found: &mut Vec<Value>) {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/").to_owned();
            if !seen.contains(&name) {
                seen.push(name.clone());
                strings(spec, &spec["components"]["schemas"][&name], seen, found);
            }
            return;
        }
        if schema["type"] == "string" {
            found.push(schema.clone());
        }
        for (_, property) in schema["properties"].as_object().into_iter().flatten() {
            strings(spec, property, seen, found);
        }
        for key in ["items", "additionalProperties"] {
            if schema[key].is_object() {
                strings(spec, &schema[key], seen, found);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for inner in schema[key].as_array().into_iter().flatten() {
                strings(spec, inner, seen, found);
            }
        }
    }
    let spec: Value = serde_json::from_str(&outpost_api::http::spec_json()).unwrap();
    let (mut seen, mut found) = (Vec::new(), Vec::new());
    for operations in spec["paths"].as_object().unwrap().values() {
        for operation in operations.as_object().unwrap().values() {
            for param in operation["parameters"].as_array().into_iter().flatten() {
                strings(&spec, &param["schema"], &mut seen, &mut found);
            }
            for content in operation["requestBody"]["content"].as_object().into_iter().flatten() {
                strings(&spec, &content.1["schema"], &mut seen, &mut found);
            }
        }
    }
    let free: Vec<&Value> =
        found.iter().filter(|s| s.get("format").is_none() && s.get("enum").is_none()).collect();
    assert!(free.len() > 40, "only {} free strings", free.len());
    for string in free {
        let pattern = string["pattern"].as_str().unwrap_or_else(|| panic!("no pattern: {string}"));
        // `If-Match` has its own: digits and quotes only; text fields
        // (`text::Text`) refuse every control character but newline and tab.
        let own = pattern.starts_with("^(\"[1-9][0-9]") || pattern == outpost_api::text::PATTERN;
        assert!(pattern == outpost_api::http::input::NO_NUL || own, "{string}");
    }
}
