//! Which field of a request a parse failure is about.
//!
//! poem-openapi refuses a body that does not fit its schema with a message
//! such as `Expected input type "string", found null (occurred while
//! parsing "SubstanceInput")`, which names a type but not the field. When
//! that happens the body is walked against the operation's schema in the
//! spec (the same document clients are generated from) to find the first
//! value that does not fit: its dotted path (`kit_lines[0].item`, as the
//! 422s name fields) and, for an enumeration, the values allowed. Only the
//! error path pays for it.

use chrono::{DateTime, NaiveDate};
use serde_json::{Map, Value};

/// What is wrong, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct Located {
    /// The field, as a dotted path (empty: the body itself).
    pub field: String,
    /// What the field must be.
    pub detail: String,
    /// Whether the field is one the object does not have.
    pub unknown: bool,
}

/// The first value of `body` that does not fit the request body schema of
/// `method path` in `spec`.
pub fn body_error(spec: &Value, method: &str, path: &str, body: &[u8]) -> Option<Located> {
    let body: Value = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(err) => {
            return Some(Located {
                field: String::new(),
                detail: format!("not JSON: {err}"),
                unknown: false,
            });
        }
    };
    let operation = operation(spec, method, path)?;
    let schema =
        operation["requestBody"]["content"].as_object()?.values().next()?["schema"].clone();
    walk(spec, &schema, &body, String::new())
}

/// The first value of `value` that does not fit `schema` (a schema of
/// `spec`, or a `$ref` to one).
pub fn value_error(spec: &Value, schema: &Value, value: &Value) -> Option<Located> {
    walk(spec, schema, value, String::new())
}

/// The operation for a concrete `path` (`/v1/persons/0190…`).
pub fn operation<'s>(spec: &'s Value, method: &str, path: &str) -> Option<&'s Value> {
    let segments: Vec<&str> = path.split('/').collect();
    spec["paths"].as_object()?.iter().find_map(|(template, operations)| {
        let template: Vec<&str> = template.split('/').collect();
        let fits = template.len() == segments.len()
            && template.iter().zip(&segments).all(|(t, s)| t == s || t.starts_with('{'));
        fits.then(|| operations.get(method.to_ascii_lowercase())).flatten()
    })
}

/// The allowed values of an enumerated query parameter, for its message.
pub fn parameter_values(spec: &Value, method: &str, path: &str, name: &str) -> Option<String> {
    let parameter = operation(spec, method, path)?["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?;
    allowed(&resolve(spec, &parameter["schema"]))
}

/// Follows `$ref` and single-member `allOf` to the schema itself.
fn resolve(spec: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    if let Some([only]) = schema["allOf"].as_array().map(Vec::as_slice) {
        return resolve(spec, only);
    }
    schema.clone()
}

fn allowed(schema: &Value) -> Option<String> {
    let values = schema["enum"].as_array()?;
    Some(values.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
}

fn child(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

fn walk(spec: &Value, schema: &Value, value: &Value, at: String) -> Option<Located> {
    let nullable = schema["nullable"] == true
        || schema["allOf"].as_array().is_some_and(|_| schema["nullable"] == true);
    let schema = resolve(spec, schema);
    let wrong = |detail: String| Some(Located { field: at.clone(), detail, unknown: false });
    if value.is_null() {
        return if nullable || schema["nullable"] == true {
            None
        } else {
            wrong("must not be null".into())
        };
    }
    if let Some(property) = schema["discriminator"]["propertyName"].as_str() {
        return member(spec, &schema, property, value, at);
    }
    if let Some(values) = allowed(&schema) {
        let fits = schema["enum"].as_array().is_some_and(|list| list.contains(value));
        return if fits { None } else { wrong(format!("must be one of: {values}")) };
    }
    match schema["type"].as_str() {
        Some("object") => object(spec, &schema, value, &at),
        Some("array") => {
            let Some(items) = value.as_array() else { return wrong("must be an array".into()) };
            if let Some(max) = schema["maxItems"].as_u64()
                && items.len() as u64 > max
            {
                return wrong(format!("must have at most {max} items"));
            }
            items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(spec, &schema["items"], item, format!("{at}[{i}]")))
        }
        Some("string") => {
            let Some(text) = value.as_str() else { return wrong("must be a string".into()) };
            // Measured as `crate::text::Text` takes it: trimmed.
            if let Some(max) = schema["maxLength"].as_u64()
                && text.trim().chars().count() as u64 > max
            {
                return wrong(format!("must be at most {max} characters"));
            }
            if schema["pattern"] == crate::text::PATTERN
                && text.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return wrong("must not contain control characters".into());
            }
            let fits = match schema["format"].as_str() {
                Some("uuid") => uuid::Uuid::parse_str(text).is_ok(),
                Some("date-time") => DateTime::parse_from_rfc3339(text).is_ok(),
                Some("date") => NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                _ => true,
            };
            if fits {
                None
            } else {
                let format = schema["format"].as_str().unwrap_or_default();
                wrong(format!(
                    "must be a {}",
                    match format {
                        "uuid" => "UUID",
                        "date-time" => "date and time (RFC 3339, e.g. 2026-12-01T22:15:00Z)",
                        _ => "date, YYYY-MM-DD",
                    }
                ))
            }
        }
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            wrong("must be a whole number".into())
        }
        Some("number") if !value.is_number() => wrong("must be a number".into()),
        Some("integer" | "number") => {
            let n = value.as_f64()?;
            match (schema["minimum"].as_f64(), schema["maximum"].as_f64()) {
                (Some(min), Some(max)) if n < min || n > max => {
                    wrong(format!("must be between {min} and {max}"))
                }
                (Some(min), None) if n < min => wrong(format!("must be at least {min}")),
                (None, Some(max)) if n > max => wrong(format!("must be at most {max}")),
                _ => None,
            }
        }
        Some("boolean") if !value.is_boolean() => wrong("must be true or false".into()),
        _ => None,
    }
}

/// A union discriminated by `property` (a push's mutation): the member
/// its value names. An unknown or missing tag is left to the parser's own
/// message (it says what each value is for). A mutation's `fields` are not
/// the request's: they are checked one mutation at a time
/// (`sync_wire::MutationIn::check`), so the walk leaves them out.
fn member(
    spec: &Value,
    schema: &Value,
    property: &str,
    value: &Value,
    at: String,
) -> Option<Located> {
    let tag = value.get(property).and_then(Value::as_str)?;
    let member = schema["discriminator"]["mapping"].get(tag)?;
    let mut envelope = value.as_object()?.clone();
    envelope.remove("fields");
    walk(spec, &serde_json::json!({ "$ref": member }), &Value::Object(envelope), at)
}

fn object(spec: &Value, schema: &Value, value: &Value, at: &str) -> Option<Located> {
    let Some(fields) = value.as_object() else {
        return Some(Located {
            field: at.to_owned(),
            detail: "must be an object".into(),
            unknown: false,
        });
    };
    let properties = schema["properties"].as_object().cloned().unwrap_or_else(Map::new);
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !fields.contains_key(name) {
            return Some(Located {
                field: child(at, name),
                detail: "is required".into(),
                unknown: false,
            });
        }
    }
    for (name, field) in fields {
        match properties.get(name) {
            Some(property) => {
                if let Some(found) = walk(spec, property, field, child(at, name)) {
                    return Some(found);
                }
            }
            // Only a closed object refuses a field it does not have; an
            // open one ignores it, and free-form maps (`FieldValues`) have
            // no properties at all.
            None if schema["additionalProperties"] == false => {
                return Some(Located {
                    field: child(at, name),
                    detail: format!(
                        "is not a field of this object; its fields are: {}",
                        properties.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                    unknown: true,
                });
            }
            None => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(method: &str, path: &str, body: &str) -> Option<Located> {
        body_error(crate::http::spec_value(), method, path, body.as_bytes())
    }

    #[test]
    fn a_missing_field_is_named() {
        let found = located("POST", "/v1/substances", r#"{"code":"x","name":"X"}"#).unwrap();
        assert_eq!(found.field, "category");
        assert_eq!(found.detail, "is required");
    }

    #[test]
    fn a_bad_enum_value_lists_the_allowed_ones() {
        let body = r#"{"code":"x","name":"X","category":"nonsense"}"#;
        let found = located("POST", "/v1/substances", body).unwrap();
        assert_eq!(found.field, "category");
        assert!(found.detail.starts_with("must be one of: "), "{}", found.detail);
        assert!(found.detail.contains("opioid"), "{}", found.detail);
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let id = uuid::Uuid::now_v7();
        let body = format!(
            r#"{{"id":"{id}","contact_type":"drop_in","occurred_at":"2026-12-01T22:00:00Z",
                "kit_lines":[{{"item":"foil","quantity":2}},{{"item":5,"quantity":1}}]}}"#
        );
        let found = located("POST", "/v1/contacts", &body).unwrap();
        assert_eq!(found.field, "kit_lines[1].item");
        assert_eq!(found.detail, "must be a string");
        let path = format!("/v1/persons/{id}");
        let found = located("PATCH", &path, r#"{"gender":7}"#).unwrap();
        assert_eq!(found.field, "gender");
    }

    #[test]
    fn an_unknown_field_of_a_closed_body_lists_the_known_ones() {
        let path = format!("/v1/persons/{}", uuid::Uuid::now_v7());
        let found = located("PATCH", &path, r#"{"alais":"Rae"}"#).unwrap();
        assert_eq!(found.field, "alais");
        assert!(found.unknown);
        assert!(found.detail.contains("alias, birth_date"), "{}", found.detail);
    }

    #[test]
    fn a_pushed_mutation_is_walked_as_the_kind_it_names() {
        let body = r#"{"mutations":[{"mutation_id":"0193b6a0-0000-7000-8000-000000000021",
            "entity":"person","id":"0193b6a0-0000-7000-8000-000000000011","op":"create",
            "fields":{"alias":"Rae"},"occured_at":"2026-12-01T22:00:00Z"}]}"#;
        let found = located("POST", "/v1/sync/push", body).unwrap();
        assert_eq!(found.field, "mutations[0].occured_at");
        assert!(found.unknown);
    }

    /// An open body ignores fields it does not have: one is never blamed
    /// for a refusal that is about another field.
    #[test]
    fn an_extra_field_of_an_open_body_is_not_blamed() {
        let found =
            located("POST", "/v1/auth/login", r#"{"email":"a","password":7,"a_pin":1}"#).unwrap();
        assert_eq!(found.field, "password");
        assert!(!found.unknown);
    }
}
