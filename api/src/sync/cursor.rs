//! The pull cursor: opaque to devices, checked by the server.
//!
//! It carries the organisation (a cursor from another organisation is
//! refused), the change number read up to, and the role it was served
//! under: a role change alters what the user may see in ways per-record
//! evictions do not cover, so it makes the cursor unservable and the device
//! re-syncs (sync.md, guarantee 7).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use uuid::Uuid;

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The organisation it belongs to.
    pub organisation_id: Uuid,
    /// The last change number served.
    pub seq: i64,
    /// The role it was served under (`integrator` for API keys).
    pub role: String,
}

const VERSION: &str = "c1";

impl Cursor {
    /// The opaque form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{VERSION}.{}.{}.{}",
            self.organisation_id.simple(),
            self.seq,
            self.role
        ))
    }

    /// Parses the opaque form; `None` when it is not one of ours.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() > 200 {
            return None;
        }
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let mut parts = raw.split('.');
        if parts.next()? != VERSION {
            return None;
        }
        let organisation_id = Uuid::parse_str(parts.next()?).ok()?;
        let seq: i64 = parts.next()?.parse().ok()?;
        let role = parts.next()?.to_owned();
        if parts.next().is_some() || seq < 0 || role.is_empty() {
            return None;
        }
        Some(Self { organisation_id, seq, role })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn round_trips(seq in 0i64..i64::MAX, role in "[a-z]{1,12}") {
            let cursor = Cursor { organisation_id: Uuid::now_v7(), seq, role };
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }

        #[test]
        fn garbage_is_refused_not_a_panic(text in ".{0,300}") {
            let _ = Cursor::decode(&text);
        }

        #[test]
        fn truncation_is_refused(cut in 1usize..40) {
            let cursor = Cursor { organisation_id: Uuid::now_v7(), seq: 42, role: "worker".into() };
            let text = cursor.encode();
            let cut = cut.min(text.len());
            let truncated = &text[..text.len() - cut];
            prop_assert_ne!(Cursor::decode(truncated), Some(cursor));
        }
    }
}
