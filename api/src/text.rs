//! Text as Outpost takes it, one rule everywhere: a JSON string (never a
//! number or a boolean, which poem-openapi would otherwise read as text),
//! trimmed, at most a given number of characters, without control
//! characters (newlines and tabs allowed where text may span lines).
//!
//! [`Text<MAX>`] is that rule as a type: a request field declared with it
//! refuses anything else when the body is parsed, and the spec publishes
//! `maxLength`. [`clean`] is the rule itself, for the record checks
//! (`records::fields::text`) and the services' names
//! (`service::validate::text`).

use std::{borrow::Cow, fmt, ops::Deref};

use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Longer than allowed.
    TooLong(usize),
    /// Holds a control character (a newline or tab where not allowed).
    Control,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong(max) => write!(f, "must be at most {max} characters"),
            Self::Control => f.write_str("must not contain control characters"),
        }
    }
}

/// The pattern [`Text`] publishes: no control characters but newline and
/// tab (what [`clean`] refuses, so schema-valid text is never refused).
pub const PATTERN: &str = "^[^\\u0000-\\u0008\\u000B-\\u001F\\u007F-\\u009F]*$";

/// `value` trimmed, when it is at most `max` characters and holds no
/// control character (but newlines and tabs when `lines`).
pub fn clean(value: &str, max: usize, lines: bool) -> Result<&str, TextError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(TextError::TooLong(max));
    }
    if value.chars().any(|c| c.is_control() && !(lines && (c == '\n' || c == '\t'))) {
        return Err(TextError::Control);
    }
    Ok(value)
}

/// A string field of at most `MAX` characters, trimmed, newlines and tabs
/// allowed, other control characters refused (see the [module](self)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// The text.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> From<Text<MAX>> for String {
    fn from(text: Text<MAX>) -> String {
        text.0
    }
}

impl<const MAX: usize> Deref for Text<MAX> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> Type for Text<MAX> {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("string(max {MAX})").into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            max_length: Some(MAX),
            pattern: Some(PATTERN.to_owned()),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<const MAX: usize> ParseFromJSON for Text<MAX> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) => match clean(&s, MAX, true) {
                Ok(clean) => Ok(Self(clean.to_owned())),
                Err(e) => Err(ParseError::custom(e.to_string())),
            },
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl<const MAX: usize> ToJSON for Text<MAX> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// A password as a request carries it: a JSON string of at most 256
/// characters, taken exactly as sent (never trimmed: spaces may be part of
/// it), and never shown by `Debug`.
#[derive(Clone, Default)]
pub struct Password(String);

impl Password {
    /// The longest password taken (hashing cost stays bounded).
    pub const MAX: usize = 256;

    /// The password.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

impl From<Password> for String {
    fn from(password: Password) -> String {
        password.0
    }
}

impl Deref for Password {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl Type for Password {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string(password)".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("password"),
            max_length: Some(Self::MAX),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Password {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(s) if s.chars().count() <= Self::MAX => Ok(Self(s)),
            Value::String(_) => {
                Err(ParseError::custom(format!("must be at most {} characters", Self::MAX)))
            }
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ToJSON for Password {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_a_trimmed_bounded_string() {
        let parse = |v: Value| Text::<5>::parse_from_json(Some(v)).map(Text::into_inner);
        assert_eq!(parse(json!("  ab c ")).unwrap(), "ab c");
        assert_eq!(parse(json!("a\nb")).unwrap(), "a\nb", "notes keep their lines");
        assert!(parse(json!("abcdef")).is_err(), "too long");
        assert!(parse(json!("a\u{0}b")).is_err(), "NUL");
        assert!(parse(json!(12)).is_err(), "a number is not text");
        assert!(parse(json!(true)).is_err(), "nor is a boolean");
        assert_eq!(Text::<5>::schema_ref().unwrap_inline().max_length, Some(5));
        assert_eq!(clean("a\tb", 5, false), Err(TextError::Control), "names are one line");
    }
}
