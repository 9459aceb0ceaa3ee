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

    /// Parses the opaque form; `None` when it is not one of ours, spelt as
    /// [`Cursor::encode`] spells it.
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
        let cursor = Self { organisation_id, seq, role };
        // One spelling per cursor: an id with hyphens or braces, a number
        // with a sign or leading zeros, decode to a cursor the server never
        // issued in that form.
        (cursor.encode() == text).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Texts near a cursor: the opaque form of a payload made of versions,
    /// organisation ids, numbers and roles in their usual and unusual
    /// spellings, and plain garbage.
    fn cursor_like() -> impl Strategy<Value = String> {
        let id = any::<u128>().prop_flat_map(|n| {
            let id = Uuid::from_u128(n);
            prop_oneof![
                6 => Just(id.simple().to_string()),
                1 => Just(id.hyphenated().to_string()),
                1 => Just(id.braced().to_string()),
                1 => Just(id.urn().to_string()),
                1 => Just(id.simple().to_string().to_uppercase()),
                1 => Just(id.simple().to_string()[..31].to_owned()),
                1 => "[0-9a-fA-F{}-]{0,40}",
            ]
        });
        let seq = prop_oneof![
            6 => (0..i64::MAX).prop_map(|n| n.to_string()),
            1 => any::<i64>().prop_map(|n| n.to_string()),
            1 => (0i64..1000).prop_map(|n| format!("0{n}")),
            1 => (0i64..1000).prop_map(|n| format!("+{n}")),
            1 => Just("99999999999999999999".to_owned()),
            1 => "[0-9 +-]{0,5}",
        ];
        let role = prop_oneof![3 => "[a-z]{1,12}", 1 => ".{0,12}"];
        let version = prop_oneof![
            6 => Just("c1".to_owned()),
            1 => Just("c2".to_owned()),
            1 => "[a-z0-9]{0,3}",
        ];
        let extra = prop::option::weighted(0.2, "[a-z.]{0,6}");
        let payload =
            (version, id, seq, role, extra).prop_map(|(version, id, seq, role, extra)| {
                let mut text = format!("{version}.{id}.{seq}.{role}");
                if let Some(extra) = extra {
                    text.push('.');
                    text.push_str(&extra);
                }
                text
            });
        prop_oneof![
            4 => payload.prop_map(|p| URL_SAFE_NO_PAD.encode(p)),
            1 => prop::collection::vec(any::<u8>(), 0..120).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
            1 => "[A-Za-z0-9_=+/-]{0,120}",
            1 => ".{0,300}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        #[test]
        fn round_trips(seq in 0i64..i64::MAX, role in "[a-z]{1,12}") {
            let cursor = Cursor { organisation_id: Uuid::now_v7(), seq, role };
            prop_assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }

        #[test]
        fn garbage_is_refused_not_a_panic(text in ".{0,300}") {
            let _ = Cursor::decode(&text);
        }

        /// Any text either decodes to a cursor whose opaque form is that
        /// very text, or is refused: a cursor has one spelling, so a device
        /// cannot hold two cursors that mean the same thing, and no text
        /// makes decoding panic.
        #[test]
        fn text_decodes_to_its_own_spelling_or_is_refused(text in cursor_like()) {
            if let Some(cursor) = Cursor::decode(&text) {
                prop_assert_eq!(cursor.encode(), text);
            }
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
