//! NUL bytes in every string input the spec declares. Postgres refuses NUL
//! in text, and a lookup or insert that carries one must be refused (422
//! `invalid_text`, or 400 where it makes the request malformed), never
//! answered with a 500.
//!
//! The spec is read from the running server; for each operation, one
//! request per input with `x\0y` in it: path and query parameters
//! (percent-encoded), header parameters, and every string property of the
//! JSON body, reached through `$ref`s, nested objects and array items, in a
//! body otherwise minimal and plausible. Every answer must be below 500 and,
//! unless 2xx, `application/problem+json`.
//!
//! One exception: HTTP forbids NUL in a header value, so no client library
//! sends one and the server's HTTP parser (hyper) refuses it before the
//! application sees the request, with a bodiless 400. Those requests are
//! written by hand and only need a 4xx.

use std::collections::{BTreeMap, HashMap};

use outpost_tests::{
    Answer, TestApp,
    device::{Device, contact_fields},
    spawn_app,
};
use reqwest::Method;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::support::{
    ADMIN, RawAnswer, WORKER1, WORKER1_SITE, WORKER2, incident_fields, raw_http, referral_fields,
    sites, user_id,
};

const NUL: &str = "x\u{0}y";
const NUL_IN_URL: &str = "x%00y";

/// A step into a JSON body: a property, or the first item of an array.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Item,
}

/// The spec, for resolving schemas.
struct Spec(Value);

impl Spec {
    /// `schema` with `$ref`s and one-element `allOf` wrappers resolved.
    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..8 {
            if let Some(reference) = schema["$ref"].as_str() {
                let name = reference.trim_start_matches("#/components/schemas/");
                schema = &self.0["components"]["schemas"][name];
            } else if let Some([inner]) = schema["allOf"].as_array().map(Vec::as_slice) {
                schema = inner;
            } else {
                break;
            }
        }
        schema
    }

    /// Every place in a body of `schema` that holds a string.
    fn string_paths(&self, schema: &Value, depth: usize) -> Vec<Vec<Step>> {
        let schema = self.resolve(schema);
        if depth == 0 {
            return Vec::new();
        }
        let prefixed = |step: Step, paths: Vec<Vec<Step>>| {
            paths.into_iter().map(move |mut path| {
                path.insert(0, step.clone());
                path
            })
        };
        match schema["type"].as_str() {
            Some("string") => vec![Vec::new()],
            Some("array") => {
                prefixed(Step::Item, self.string_paths(&schema["items"], depth - 1)).collect()
            }
            _ => schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .flat_map(|(name, property)| {
                    prefixed(Step::Key(name.clone()), self.string_paths(property, depth - 1))
                })
                .collect(),
        }
    }

    /// A minimal plausible value of `schema` (required properties only),
    /// with `NUL` at `target` when one is given.
    fn build(&self, schema: &Value, name: &str, target: Option<&[Step]>) -> Value {
        let schema = self.resolve(schema);
        if let Some([]) = target {
            return json!(NUL);
        }
        match schema["type"].as_str() {
            Some("string") => plausible(schema, name),
            Some("integer" | "number") => json!(schema["minimum"].as_f64().unwrap_or(1.0) as i64),
            Some("boolean") => json!(false),
            Some("array") => match target {
                Some([Step::Item, rest @ ..]) => {
                    json!([self.build(&schema["items"], name, Some(rest))])
                }
                _ => {
                    let min = schema["minItems"].as_u64().unwrap_or(0);
                    (0..min).map(|_| self.build(&schema["items"], name, None)).collect()
                }
            },
            _ => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let mut object = Map::new();
                for (key, property) in schema["properties"].as_object().into_iter().flatten() {
                    if required.contains(&key.as_str()) {
                        object.insert(key.clone(), self.build(property, key, None));
                    }
                }
                if let Some([Step::Key(key), rest @ ..]) = target {
                    let property = &schema["properties"][key];
                    object.insert(key.clone(), self.build(property, key, Some(rest)));
                }
                Value::Object(object)
            }
        }
    }
}

/// A plausible string for a property or parameter called `name`.
fn plausible(schema: &Value, name: &str) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    let text = match (schema["format"].as_str(), name) {
        (Some("uuid"), _) => Uuid::now_v7().to_string(),
        (Some("date-time"), _) => "2026-11-20T23:15:00Z".to_owned(),
        (Some("date"), _) => "2026-11-20".to_owned(),
        (_, "email") => "nul-probe@demo.outpost.test".to_owned(),
        (_, "password") => "a-long-password".to_owned(),
        (_, "code") => "nul_probe".to_owned(),
        (_, "If-Match") => "\"1\"".to_owned(),
        _ => "probe".to_owned(),
    };
    json!(text)
}

/// One request of the run.
struct Case {
    /// Where the NUL is: `path`, `query`, `header`, `body` or `fields`.
    place: &'static str,
    label: String,
    method: Method,
    /// Path and query, percent-encoded.
    target: String,
    headers: Vec<(String, String)>,
    body: Option<Value>,
}

/// Real ids to put in path parameters, by collection (`sites`, ...), so
/// requests reach past the lookup; none of them is the admin's own.
async fn real_ids(app: &TestApp, admin: &str) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    for collection in ["sites", "kit-items", "substances", "partner-services"] {
        let answer = app.get(&format!("/v1/{collection}"), admin).await;
        if let Some(id) = answer.ok()["items"][0]["id"].as_str() {
            ids.insert(collection.to_owned(), id.to_owned());
        }
    }
    ids.insert("users".to_owned(), user_id(app, admin, WORKER2).await);
    let phone = Device::sign_in(app, WORKER1).await;
    ids.insert("devices".to_owned(), phone.id.to_string());
    let key = app.post("/v1/api-keys", admin, json!({ "name": "probe", "scopes": ["users:read"] }));
    let key = key.await;
    ids.insert(
        "api-keys".to_owned(),
        key.ok()["api_key"]["id"].as_str().expect("a key id").to_owned(),
    );

    let mut desk = Device::sign_in(app, ADMIN).await;
    let site = sites(app, admin).await[WORKER1_SITE].clone();
    let person = desk.create("person", json!({ "alias": "Probe" }));
    let records = [
        ("persons", person),
        ("contacts", desk.create("contact", contact_fields(Some(&site), Some(person)))),
        ("incidents", desk.create("incident", incident_fields(&site))),
        ("referrals", desk.create("referral", referral_fields(person, &site))),
    ];
    for result in desk.push(app).await {
        assert_eq!(result["status"], "applied", "{result}");
    }
    for (collection, id) in records {
        ids.insert(collection.to_owned(), id.to_string());
    }
    ids
}

/// The cases of one operation: one per string input.
fn cases_of(
    spec: &Spec,
    template: &str,
    method: &str,
    operation: &Value,
    ids: &HashMap<String, String>,
) -> Vec<Case> {
    let collection = template.split('/').nth(2).unwrap_or_default();
    let id = ids.get(collection).cloned().unwrap_or_else(|| Uuid::now_v7().to_string());
    let parameters: Vec<&Value> =
        operation["parameters"].as_array().into_iter().flatten().collect();
    let body_schema = operation["requestBody"]["content"]
        .as_object()
        .and_then(|content| content.values().next())
        .map(|media| media["schema"].clone());
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
    let name = operation["operationId"].as_str().unwrap_or(template).to_owned();

    // The request with NUL in parameter `nul_in` (by name), or in the body
    // at `body_target`.
    let make = |nul_in: Option<&str>, body_target: Option<&[Step]>, place, label: String| {
        let mut path = template.to_owned();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for parameter in &parameters {
            let pname = parameter["name"].as_str().unwrap_or_default();
            let nul = nul_in == Some(pname);
            let plain = plausible(spec.resolve(&parameter["schema"]), pname);
            let plain = plain.as_str().map(str::to_owned).unwrap_or_else(|| plain.to_string());
            match parameter["in"].as_str() {
                Some("path") => {
                    let value = if nul { NUL_IN_URL.to_owned() } else { id.clone() };
                    path = path.replace(&format!("{{{pname}}}"), &value);
                }
                Some("query") if nul => query.push(format!("{pname}={NUL_IN_URL}")),
                Some("query") if parameter["required"] == true => {
                    query.push(format!("{pname}={plain}"));
                }
                Some("header") => {
                    headers.push((pname.to_owned(), if nul { NUL.to_owned() } else { plain }));
                }
                _ => {}
            }
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        let body = body_schema.as_ref().map(|schema| spec.build(schema, "", body_target));
        let label = format!("{name}: {label}");
        Case { place, label, method: method.clone(), target: path, headers, body }
    };

    let mut cases = Vec::new();
    for parameter in &parameters {
        let pname = parameter["name"].as_str().unwrap_or_default();
        let place = match parameter["in"].as_str() {
            Some("path") => "path",
            Some("query") => "query",
            _ => "header",
        };
        cases.push(make(Some(pname), None, place, format!("{place} parameter {pname}")));
    }
    if let Some(schema) = &body_schema {
        for target in spec.string_paths(schema, 6) {
            let label = format!("body {target:?}");
            cases.push(make(None, Some(&target), "body", label));
        }
    }
    cases
}

/// Sends a case whose header values hold a NUL, which no HTTP client
/// library will send: written by hand on a connection of its own.
async fn send_raw(base: &str, token: &str, case: &Case) -> Option<RawAnswer> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nauthorization: Bearer {token}\r\ncontent-type: application/json",
        case.method, case.target
    );
    for (name, value) in &case.headers {
        head.push_str(&format!("\r\n{name}: {value}"));
    }
    let body = case.body.as_ref().map(Value::to_string).unwrap_or_default();
    raw_http(base, &head, &body).await
}

async fn send(app: &TestApp, token: &str, case: &Case) -> Answer {
    app.raw(|client, base| {
        let mut request = client
            .request(case.method.clone(), format!("{base}{}", case.target))
            .bearer_auth(token);
        for (name, value) in &case.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &case.body {
            request = request.json(body);
        }
        request
    })
    .await
}

/// Every operation of the spec, every string input, as the admin; plus the
/// login email, which must be a 422.
#[tokio::test]
async fn a_nul_byte_in_any_input_is_refused_never_a_500() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;

    // Explicit: a NUL in the login email is a 422 `invalid_text`, signed in
    // or not.
    let login = json!({ "email": "admin\u{0}@demo.outpost.test", "password": "x" });
    let answer =
        app.call(Method::POST, "/v1/auth/login", outpost_tests::Auth::None, Some(login)).await;
    let mut failures = Vec::new();
    if answer.status != 422
        || answer.body["code"] != "invalid_text"
        || answer.content_type() != "application/problem+json"
    {
        failures.push(format!("login with a NUL in the email: {} {}", answer.status, answer.text));
    }

    let spec = app.raw(|client, base| client.get(format!("{base}/openapi.json"))).await;
    let spec = Spec(spec.ok().clone());
    let ids = real_ids(&app, &admin).await;
    let mut cases = Vec::new();
    let mut operations = 0;
    for (template, methods) in spec.0["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("operations") {
            let of_operation = cases_of(&spec, template, method, operation, &ids);
            operations += usize::from(!of_operation.is_empty());
            cases.extend(of_operation);
        }
    }
    // Inside a push's free-form `fields`, which the spec cannot describe.
    let mut contact = contact_fields(None, None);
    contact["note"] = json!(NUL);
    for (entity, fields) in [
        ("person", json!({ "alias": NUL })),
        ("contact", contact),
        ("person", json!({ NUL: "probe" })),
    ] {
        let mutation = json!({
            "mutation_id": Uuid::now_v7(), "entity": entity, "id": Uuid::now_v7(), "op": "create",
            "fields": fields,
        });
        cases.push(Case {
            place: "fields",
            label: format!("sync_push: {entity} fields {fields}"),
            method: Method::POST,
            target: "/v1/sync/push".to_owned(),
            headers: Vec::new(),
            body: Some(json!({ "mutations": [mutation] })),
        });
    }

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut by_place: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        *by_place.entry(case.place).or_default() += 1;
        let header_nul = case.headers.iter().any(|(_, v)| v.contains('\0'));
        let (status, content_type, text) = if header_nul {
            match send_raw(&app.base, &admin, case).await {
                Some(raw) => (raw.status, raw.content_type().to_owned(), raw.body),
                None => {
                    failures.push(format!("{}: no answer", case.label));
                    continue;
                }
            }
        } else {
            let answer = send(&app, &admin, case).await;
            (answer.status.as_u16(), answer.content_type().to_owned(), answer.text)
        };
        *statuses.entry(status).or_default() += 1;
        if status >= 500 {
            failures.push(format!("{}: {status} {text}", case.label));
        } else if !(200..300).contains(&status)
            && content_type != "application/problem+json"
            && !header_nul
        {
            failures.push(format!("{}: {status} as {content_type:?}: {text}", case.label));
        } else if header_nul && !(400..500).contains(&status) {
            failures.push(format!("{}: {status} for a NUL in a header", case.label));
        }
    }
    eprintln!(
        "abuse figures: NUL bytes: {} cases over {operations} operations ({by_place:?}) plus the \
         login email; statuses {statuses:?}; {} failures",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{} cases failed: {failures:#?}", failures.len());
    app.get("/v1/me", &admin).await.ok();
}
