//! Spec and server agree on fields a request body does not have: an object
//! the spec closes (`additionalProperties: false`) is refused with an extra
//! field, naming it (400 `invalid_body`; inside a push's mutation `fields`,
//! that mutation is `rejected` with `unknown_field`), and an object the
//! spec leaves open takes one and ignores it.
//!
//! Every request body of every operation is built from the spec (the
//! required fields, and every field that holds objects, so each nested
//! object is reached) and sent once per object in it with one extra field
//! there. No list of schemas is kept here: what is checked is whatever the
//! spec says, for every object a request can carry.

use std::collections::BTreeSet;

use outpost_tests::{Answer, TestApp, demo::ADMIN, spawn_app};
use reqwest::Method;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The field no object has.
const EXTRA: &str = "not_a_field";

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// An object in a generated body: where it is, the schema it is named
/// by, and whether the spec closes it.
#[derive(Debug)]
struct Place {
    path: Vec<Step>,
    name: Option<String>,
    closed: bool,
}

/// The field at `path`, dotted as the server names fields
/// (`kit_lines[0].not_a_field`).
fn dotted(path: &[Step], last: &str) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if !out.is_empty() {
        out.push('.');
    }
    out + last
}

/// Follows `$ref` and single-member `allOf`; answers the schema and the
/// name of the last schema referred to.
fn resolve<'s>(spec: &'s Value, mut schema: &'s Value) -> (&'s Value, Option<String>) {
    let mut name = None;
    loop {
        if let Some(reference) = schema["$ref"].as_str() {
            let short = reference.trim_start_matches("#/components/schemas/");
            name = Some(short.to_owned());
            schema = &spec["components"]["schemas"][short];
        } else if let Some([only]) = schema["allOf"].as_array().map(Vec::as_slice) {
            schema = only;
        } else {
            return (schema, name);
        }
    }
}

/// Whether values of `schema` hold objects.
fn holds_objects(spec: &Value, schema: &Value) -> bool {
    let (schema, _) = resolve(spec, schema);
    match schema["type"].as_str() {
        Some("object") => true,
        Some("array") => holds_objects(spec, &schema["items"]),
        _ => ["anyOf", "oneOf"].iter().any(|k| {
            schema[k].as_array().is_some_and(|all| all.iter().any(|s| holds_objects(spec, s)))
        }),
    }
}

/// A value of `schema` the server parses, with the objects in it.
fn value(spec: &Value, schema: &Value, at: &[Step], places: &mut Vec<Place>) -> Value {
    let (schema, name) = resolve(spec, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    if let Some(first) = ["anyOf", "oneOf"].iter().find_map(|k| schema[k].as_array()?.first()) {
        return value(spec, first, at, places);
    }
    match schema["type"].as_str() {
        Some("object") => {
            places.push(Place {
                path: at.to_vec(),
                name,
                closed: schema["additionalProperties"] == false,
            });
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let mut object = Map::new();
            for (key, property) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&key.as_str()) || holds_objects(spec, property) {
                    let mut path = at.to_vec();
                    path.push(Step::Key(key.clone()));
                    object.insert(key.clone(), value(spec, property, &path, places));
                }
            }
            Value::Object(object)
        }
        Some("array") => {
            let mut path = at.to_vec();
            path.push(Step::Index(0));
            json!([value(spec, &schema["items"], &path, places)])
        }
        Some("string") => match schema["format"].as_str() {
            Some("uuid") => json!(Uuid::now_v7()),
            Some("date-time") => json!("2026-11-30T21:05:00Z"),
            Some("date") => json!("1990-01-01"),
            _ => json!("Canal"),
        },
        Some("integer") => json!(schema["minimum"].as_f64().map_or(1, |m| (m as i64).max(1))),
        Some("number") => json!(1),
        Some("boolean") => json!(false),
        _ => Value::Null,
    }
}

/// `body` with the extra field in the object at `path`.
fn with_extra(mut body: Value, path: &[Step]) -> Value {
    let mut at = &mut body;
    for step in path {
        at = match step {
            Step::Key(key) => &mut at[key.as_str()],
            Step::Index(i) => &mut at[*i],
        };
    }
    at.as_object_mut().expect("an object").insert(EXTRA.to_owned(), json!(true));
    body
}

async fn send(app: &TestApp, token: &str, method: &str, path: &str, body: &Value) -> Answer {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    app.raw(|client, base| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            // Only the edits read it; a version that is not current is
            // refused after the body is parsed.
            .header("If-Match", "\"1\"")
            .json(body)
    })
    .await
}

/// The schemas the spec closes.
fn closed_schemas(spec: &Value) -> BTreeSet<String> {
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    schemas
        .iter()
        .filter(|(_, s)| s["additionalProperties"] == false)
        .map(|(name, _)| name.clone())
        .collect()
}

#[tokio::test]
async fn an_extra_field_is_refused_exactly_where_the_spec_closes_the_object() {
    let app = spawn_app().await;
    app.load_demo().await;
    let admin = app.login(ADMIN).await;
    let spec: Value = serde_json::from_str(&outpost_tests::outpost_api::http::spec_json()).unwrap();
    let mut closed_seen = BTreeSet::new();
    let mut open_seen = BTreeSet::new();

    for (template, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            let schema = &content.values().next().unwrap()["schema"];
            let name = format!("{} {template}", method.to_uppercase());
            if operation["operationId"] == "sync_push" {
                push_cases(&app, &admin, &spec, &mut closed_seen).await;
                continue;
            }
            let path = template
                .replace("{id}", &Uuid::now_v7().to_string())
                .replace("{urgency}", "routine");

            let mut places = Vec::new();
            let base = value(&spec, schema, &[], &mut places);
            let answer = send(&app, &admin, method, &path, &base).await;
            assert_ne!(answer.status.as_u16(), 400, "{name} {base}: {}", answer.text);

            for place in places {
                // A fresh body each time: new ids, so no create is a retry.
                let body = with_extra(value(&spec, schema, &[], &mut Vec::new()), &place.path);
                let field = dotted(&place.path, EXTRA);
                let answer = send(&app, &admin, method, &path, &body).await;
                if place.closed {
                    let problem = answer.assert_problem(400, "invalid_body");
                    assert_eq!(problem["field"], field.as_str(), "{name} {body}: {}", answer.text);
                    closed_seen.extend(place.name);
                } else {
                    assert_ne!(
                        answer.status.as_u16(),
                        400,
                        "{name}: an open object refused `{field}`: {}",
                        answer.text
                    );
                    open_seen.extend(place.name);
                }
            }
        }
    }

    // Every schema the spec closes was tried, and refused the field.
    assert_eq!(closed_seen, closed_schemas(&spec), "closed schemas not reached");
    assert!(
        open_seen.contains("LoginRequest") && open_seen.contains("UpdateUser"),
        "{open_seen:?}"
    );
    assert!(closed_seen.contains("KitLineInput") && closed_seen.contains("PersonMutation"));
}

/// A push: an extra field in a mutation's envelope is a malformed request
/// (400, naming it); one in its `fields` refuses that mutation only, as
/// `unknown_field` naming it, for each kind and each of its
/// operations that carries fields.
async fn push_cases(app: &TestApp, token: &str, spec: &Value, closed_seen: &mut BTreeSet<String>) {
    let members = spec["components"]["schemas"]["MutationIn"]["oneOf"].as_array().unwrap();
    for member in members {
        let (member, Some(member_name)) = resolve(spec, member) else { panic!("{member}") };
        let entity = &member["properties"]["entity"]["enum"][0];
        let fields = &member["properties"]["fields"];
        // A create's fields, then an update's when the kind has them.
        let bodies = fields["anyOf"].as_array().cloned().unwrap_or_else(|| vec![fields.clone()]);
        for (op, fields_schema) in ["create", "update"].into_iter().zip(&bodies) {
            let mutation = |fields: Value| {
                json!({
                    "mutation_id": Uuid::now_v7(),
                    "entity": entity,
                    "id": Uuid::now_v7(),
                    "op": op,
                    "base_version": if op == "update" { json!(1) } else { Value::Null },
                    "fields": fields,
                })
            };
            let push = |mutation: Value| json!({ "mutations": [mutation] });
            let case = format!("{entity} {op}");

            let mut places = Vec::new();
            let fields = value(spec, fields_schema, &[], &mut places);
            let answer = app.post("/v1/sync/push", token, push(mutation(fields.clone()))).await;
            let result = &answer.ok()["results"][0];
            assert_ne!(result["problem"]["code"], "unknown_field", "{case}: {result}");

            let mut envelope = mutation(fields);
            envelope[EXTRA] = json!(true);
            let answer = app.post("/v1/sync/push", token, push(envelope)).await;
            let problem = answer.assert_problem(400, "invalid_body");
            assert_eq!(
                problem["field"],
                format!("mutations[0].{EXTRA}"),
                "{case}: {}",
                answer.text
            );
            closed_seen.insert(member_name.clone());

            for place in places {
                assert!(place.closed, "{case}: `fields` has an open object: {place:?}");
                let fields =
                    with_extra(value(spec, fields_schema, &[], &mut Vec::new()), &place.path);
                let answer = app.post("/v1/sync/push", token, push(mutation(fields))).await;
                let result = &answer.ok()["results"][0];
                let field = dotted(&place.path, EXTRA);
                assert_eq!(result["status"], "rejected", "{case} `{field}`: {result}");
                assert_eq!(result["problem"]["code"], "unknown_field", "{case}: {result}");
                assert_eq!(result["problem"]["field"], field.as_str(), "{case}: {result}");
                closed_seen.extend(place.name);
            }
        }
    }
}

/// No schema a response can carry is closed: clients must take new
/// response fields in their stride.
#[test]
fn no_response_schema_is_closed() {
    let spec: Value = serde_json::from_str(&outpost_tests::outpost_api::http::spec_json()).unwrap();
    let mut pending = Vec::new();
    for operations in spec["paths"].as_object().unwrap().values() {
        for operation in operations.as_object().unwrap().values() {
            references(&operation["responses"], &mut pending);
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone()) {
            references(&spec["components"]["schemas"][&name], &mut pending);
        }
    }
    let closed = closed_schemas(&spec);
    assert!(seen.is_disjoint(&closed), "returned and closed: {:?}", seen.intersection(&closed));
    assert!(!closed.is_empty());
}

fn references(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                names.push(reference.trim_start_matches("#/components/schemas/").to_owned());
            }
            object.values().for_each(|v| references(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, names)),
        _ => {}
    }
}
