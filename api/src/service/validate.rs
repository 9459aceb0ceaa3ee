//! Field checks shared by the services; each failure names its field.

use super::{ServiceError, ServiceResult};

/// A trimmed, non-empty name of at most `max` characters on one line (the
/// text rule of `crate::text::clean`).
pub fn text(field: &str, value: &str, max: usize) -> ServiceResult<String> {
    let value = crate::text::clean(value, max, false)
        .map_err(|e| ServiceError::invalid(field, e.to_string()))?;
    if value.is_empty() {
        return Err(ServiceError::invalid(field, "must not be empty"));
    }
    Ok(value.to_owned())
}

/// A plausible email address, lower-cased (it is the login name).
pub fn email(field: &str, value: &str) -> ServiceResult<String> {
    let value = text(field, value, 254)?.to_lowercase();
    let valid = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !value.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    };
    if valid { Ok(value) } else { Err(ServiceError::invalid(field, "must be an email address")) }
}

/// A password long enough to resist guessing, short enough to hash cheaply.
pub fn password(field: &str, value: &str) -> ServiceResult<()> {
    let length = value.chars().count();
    if length < 10 {
        return Err(ServiceError::invalid(field, "must be at least 10 characters"));
    }
    if length > 256 {
        return Err(ServiceError::invalid(field, "must be at most 256 characters"));
    }
    Ok(())
}

/// A URL-safe slug: lower-case letters, digits and dashes.
pub fn slug(field: &str, value: &str) -> ServiceResult<String> {
    let value = text(field, value, 100)?;
    if value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        Ok(value)
    } else {
        Err(ServiceError::invalid(field, "may hold only a-z, 0-9 and '-'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(email("e", " Worker@Example.org ").unwrap(), "worker@example.org");
        for bad in ["", "no-at", "@x.org", "a@b", "a@.org", "a b@x.org", "a@b@c.org"] {
            assert!(email("e", bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn texts() {
        assert!(text("n", "   ", 10).is_err());
        assert!(text("n", "abcdefghijk", 10).is_err());
        assert!(text("n", "bad\u{0}", 10).is_err());
        assert_eq!(text("n", "  ok ", 10).unwrap(), "ok");
    }
}
