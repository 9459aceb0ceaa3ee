//! Signing, as the Standard Webhooks convention does: each endpoint has a
//! secret `whsec_<base64 of 32 bytes>`, and each delivery carries
//! `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 of
//! HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`. The secret is derived
//! from the server's key and the endpoint's id, so the database never
//! holds it: it is shown once, when the endpoint is made.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The server's key, 32 bytes, from the configured text.
pub fn key_of(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn mac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length: never fails.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// An endpoint's signing secret.
pub fn endpoint_secret(server_key: &[u8; 32], endpoint_id: Uuid) -> String {
    let bytes = mac(server_key, format!("webhook-endpoint:{endpoint_id}").as_bytes());
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` header of a delivery.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap_or_default();
    let signed = mac(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(signed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_as_the_standard_s_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let signed = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn each_endpoint_has_its_own_secret() {
        let key = key_of("a server key");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_ne!(endpoint_secret(&key, a), endpoint_secret(&key, b));
        assert_eq!(endpoint_secret(&key, a), endpoint_secret(&key, a));
        assert_ne!(endpoint_secret(&key_of("another"), a), endpoint_secret(&key, a));
    }
}
