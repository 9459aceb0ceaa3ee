//! Strict parsing of text fields in request bodies.
//!
//! poem-openapi parses a JSON number or boolean sent for a `string` field
//! as its text (`"unit": false` is stored as `"false"`), although the spec
//! says `type: string`. Request fields built from `String` name
//! [`text`] as their `deserialize_with`, which refuses such a value with
//! the usual 400 `invalid_body` before the normal parsing.

use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult};
use serde_json::Value;

/// Parses a field whose type is made of `String`s (`String`,
/// `Option<String>`, `MaybeUndefined<String>`, `Vec<String>`), refusing
/// numbers and booleans where the spec promises strings.
pub fn text<T: ParseFromJSON>(value: Option<Value>) -> ParseResult<T> {
    fn coerced(v: &Value) -> bool {
        match v {
            Value::Bool(_) | Value::Number(_) => true,
            Value::Array(items) => items.iter().any(coerced),
            _ => false,
        }
    }
    if let Some(v) = value.as_ref().filter(|v| coerced(v)) {
        return Err(ParseError::custom(format!("expected a string, found {v}")));
    }
    T::parse_from_json(value)
}
