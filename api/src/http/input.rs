//! Rules every request's input obeys before any operation sees it, so they
//! hold for every field of every operation at once:
//!
//! - A URI of at most 8 KiB (414 beyond), headers of at most 16 KiB (431).
//! - No NUL character anywhere: in the path, a query parameter or a JSON
//!   string (key or value). Postgres cannot store NUL in text, and no
//!   field has a use for it; one rule here instead of one per field (a NUL
//!   in the login email once reached the database and answered 500): 422
//!   `invalid_text`, naming where. Headers cannot carry one: the HTTP
//!   parser refuses them.
//! - A body is JSON sent as `application/json` (with or without a
//!   charset), the one media type the spec declares; a JSON Patch or other
//!   `+json` type is refused with 415 rather than read as something it is
//!   not.

use poem::http::{StatusCode, Uri, header::CONTENT_TYPE};
use serde_json::Value;

use crate::error::Problem;

/// The problem for a NUL found at `field`: 422, as for any value the
/// server cannot take (the spec's strings say so with [`NO_NUL`], but a
/// key of an object or a free-form value has no schema to say it in).
fn nul_at(field: &str) -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_text",
        format!("`{field}` contains a NUL character (\\u0000), which no field accepts"),
    )
    .with_field(field)
}

/// The pattern of a string without NUL, which the spec gives every string
/// a request carries (`client_ready`, rule 8).
pub const NO_NUL: &str = "^[^\\x00]*$";

/// The longest path and query string accepted. Ids and cursors are short;
/// a longer URI is a mistake or an attack. (Past 64 KiB the HTTP parser
/// refuses it before us; `http::connection` gives that answer its body.)
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Refuses a URI longer than `MAX_URI_BYTES`: 414.
pub fn check_uri_length(uri: &Uri) -> Result<(), Problem> {
    let len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if len > MAX_URI_BYTES {
        return Err(Problem::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the request URI is {len} bytes; at most {MAX_URI_BYTES} are accepted"),
        ));
    }
    Ok(())
}

/// The most header bytes (names and values) a request may carry. A token,
/// a key and the usual headers take well under 2 KiB.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses headers larger than `MAX_HEADER_BYTES` in all: 431.
pub fn check_headers(headers: &poem::http::HeaderMap) -> Result<(), Problem> {
    let total: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if total > MAX_HEADER_BYTES {
        return Err(Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request headers hold {total} bytes; at most {MAX_HEADER_BYTES} are accepted"
            ),
        ));
    }
    Ok(())
}

/// Refuses a NUL in the path or the query string (percent-encoded: `%00`).
pub fn check_uri(uri: &Uri) -> Result<(), Problem> {
    if has_encoded_nul(uri.path()) {
        return Err(nul_at("path"));
    }
    for pair in uri.query().unwrap_or_default().split('&') {
        if has_encoded_nul(pair) {
            let name = pair.split('=').next().unwrap_or_default();
            let name = if has_encoded_nul(name) { "query" } else { name };
            return Err(nul_at(name));
        }
    }
    Ok(())
}

fn has_encoded_nul(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Refuses a body that is not `application/json`, and a JSON body with a
/// NUL in any string, naming the field it is in.
pub fn check_body(headers: &poem::http::HeaderMap, body: &[u8]) -> Result<(), Problem> {
    if body.is_empty() {
        return Ok(());
    }
    if let Some(content_type) = headers.get(CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the body as `application/json`, not `{essence}`"),
            ));
        }
    }
    if !has_escaped_nul(body) {
        return Ok(());
    }
    // Rare: parse to say where. A body that does not parse is left to the
    // operation, which answers `invalid_body`.
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => Err(nul_at(&path_of_nul(&value, String::new()).unwrap_or_default())),
        Err(_) => Ok(()),
    }
}

/// Whether JSON text holds the escape `\u0000` (a backslash that is itself
/// escaped, as in `\\u0000`, does not count). A raw NUL byte is not valid
/// JSON and fails parsing anyway.
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json.get(i + 1) == Some(&b'u') && json.get(i + 2..i + 6) == Some(b"0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// The dotted path (`kit_lines[0].note`) of the first string holding NUL.
fn path_of_nul(value: &Value, at: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, v)| path_of_nul(v, format!("{at}[{i}]")))
        }
        Value::Object(map) => map.iter().find_map(|(key, v)| {
            let here = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            if key.contains('\0') { Some(here) } else { path_of_nul(v, here) }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_named() {
        assert!(has_escaped_nul(br#"{"a":"x\u0000y"}"#));
        assert!(!has_escaped_nul(br#"{"a":"x\\u0000y"}"#));
        assert!(has_escaped_nul(br#"{"a":"x\\\u0000y"}"#));
        assert!(!has_escaped_nul(br#"{"a":"\u0001"}"#));
        let body = br#"{"lines":[{"note":"ok"},{"note":"a\u0000"}]}"#;
        let problem = check_body(&Default::default(), body).unwrap_err();
        assert_eq!(problem.field.as_deref(), Some("lines[1].note"));
        assert_eq!(problem.code, "invalid_text");
    }

    #[test]
    fn nul_in_the_uri_is_refused_with_the_parameter() {
        let uri: Uri = "/v1/contacts?limit=5&site_id=a%00b".parse().unwrap();
        assert_eq!(check_uri(&uri).unwrap_err().field.as_deref(), Some("site_id"));
        let uri: Uri = "/v1/persons/%00".parse().unwrap();
        assert_eq!(check_uri(&uri).unwrap_err().field.as_deref(), Some("path"));
        assert!(check_uri(&"/v1/contacts?limit=100".parse().unwrap()).is_ok());
    }

    #[test]
    fn only_json_bodies_are_read() {
        let mut headers = poem::http::HeaderMap::new();
        headers.insert(CONTENT_TYPE, "application/json-patch+json".parse().unwrap());
        assert_eq!(check_body(&headers, b"[]").unwrap_err().code, "unsupported_media_type");
        headers.insert(CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert!(check_body(&headers, b"{}").is_ok());
    }
}
